/* A SIGCHLD handler reaps children with waitpid(-1, WNOHANG) in a loop, since one SIGCHLD
 * may stand for several exits. Main blocks SIGCHLD while forking, then sigsuspends until all
 * five are reaped. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 5

static volatile sig_atomic_t reaped, status_sum, handler_calls;

static void on_sigchld(int sig)
{
    (void)sig;
    handler_calls++;
    int status;
    while (waitpid(-1, &status, WNOHANG) > 0) {
        reaped++;
        if (WIFEXITED(status))
            status_sum += WEXITSTATUS(status);
    }
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigchld;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);

    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &old);

    fflush(stdout);
    for (int i = 0; i < CHILDREN; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0)
            _exit(i + 1);
    }
    sigset_t wait_mask = old;
    sigdelset(&wait_mask, SIGCHLD);
    while (reaped < CHILDREN)
        sigsuspend(&wait_mask);
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("reaped %d children, sum of statuses %d, handler ran: %s\n", (int)reaped,
           (int)status_sum, handler_calls >= 1 ? "yes" : "no");
    return reaped == CHILDREN && status_sum == 15 ? 0 : 1;
}

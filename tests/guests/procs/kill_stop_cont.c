/* The parent stops its child with SIGSTOP and sees it with WUNTRACED, continues it with
 * SIGCONT and sees that with WCONTINUED, then lets it exit 0. The child waits on a pipe the
 * whole time, so it is alive at every step. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int fds[2];
    if (pipe(fds) < 0) {
        perror("pipe");
        return 1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        close(fds[1]);
        char c;
        /* stop and continue without a handler do not interrupt this read */
        ssize_t n = read(fds[0], &c, 1);
        _exit(n == 1 && c == 'x' ? 0 : 1);
    }
    close(fds[0]);
    int status = 0;
    kill(pid, SIGSTOP);
    waitpid(pid, &status, WUNTRACED);
    printf("after SIGSTOP: WIFSTOPPED=%d WSTOPSIG=%d (SIGSTOP is %d)\n",
           WIFSTOPPED(status) ? 1 : 0, WIFSTOPPED(status) ? WSTOPSIG(status) : 0, SIGSTOP);
    int stopped = WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP;
    kill(pid, SIGCONT);
    waitpid(pid, &status, WCONTINUED);
    printf("after SIGCONT: WIFCONTINUED=%d\n", WIFCONTINUED(status) ? 1 : 0);
    int continued = WIFCONTINUED(status);
    if (write(fds[1], "x", 1) != 1) {
        perror("write");
        return 1;
    }
    waitpid(pid, &status, 0);
    printf("at the end: WIFEXITED=%d WEXITSTATUS=%d\n", WIFEXITED(status) ? 1 : 0,
           WEXITSTATUS(status));
    return stopped && continued && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

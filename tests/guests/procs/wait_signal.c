/* The child kills itself with SIGTERM; the parent decodes a death by signal. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        kill(getpid(), SIGTERM);
        _exit(99); /* not reached: SIGTERM's default action terminates */
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return 1;
    }
    printf("WIFEXITED=%d WIFSIGNALED=%d WTERMSIG=%d (SIGTERM is %d) WCOREDUMP=%d\n",
           WIFEXITED(status) ? 1 : 0, WIFSIGNALED(status) ? 1 : 0,
           WIFSIGNALED(status) ? WTERMSIG(status) : 0, SIGTERM,
           WIFSIGNALED(status) && WCOREDUMP(status) ? 1 : 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM ? 0 : 1;
}

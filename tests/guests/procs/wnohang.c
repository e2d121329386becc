/* waitpid(WNOHANG) returns 0 while the child lives (it blocks reading a pipe the parent
 * holds open), then, once the parent closes the pipe, polling with WNOHANG reaps it. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
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
        /* blocks until the parent closes its write end: then read returns 0 */
        ssize_t n = read(fds[0], &c, 1);
        _exit(n == 0 ? 5 : 6);
    }
    close(fds[0]);
    int status = 0;
    pid_t first = waitpid(pid, &status, WNOHANG);
    printf("WNOHANG while the child is alive: %d\n", (int)first);
    close(fds[1]);
    pid_t got = 0;
    int polls = 0;
    const struct timespec ms = {0, 1000000};
    while ((got = waitpid(pid, &status, WNOHANG)) == 0 && polls < 10000) {
        polls++;
        nanosleep(&ms, NULL);
    }
    printf("WNOHANG after the pipe closed returned the child: %s\n", got == pid ? "yes" : "no");
    printf("WIFEXITED=%d WEXITSTATUS=%d\n", WIFEXITED(status) ? 1 : 0, WEXITSTATUS(status));
    return first == 0 && got == pid && WEXITSTATUS(status) == 5 ? 0 : 1;
}

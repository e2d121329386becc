/* Writing to a pipe whose read end is closed: with SIGPIPE ignored the write fails with
 * EPIPE; with the default action the writer dies by SIGPIPE. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int fds[2];
    if (pipe(fds) < 0) {
        perror("pipe");
        return 1;
    }
    close(fds[0]);

    signal(SIGPIPE, SIG_IGN);
    ssize_t n = write(fds[1], "x", 1);
    int err = errno;
    printf("ignored: write returned %zd, errno %s (%s)\n", n,
           err == EPIPE ? "EPIPE" : "other", strerror(err));

    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL); /* an ignored disposition is inherited by fork */
        ssize_t r = write(fds[1], "x", 1);
        _exit(r < 0 ? 20 : 21); /* not reached: SIGPIPE kills first */
    }
    close(fds[1]);
    int status = 0;
    waitpid(pid, &status, 0);
    printf("default: WIFSIGNALED=%d WTERMSIG=%d (SIGPIPE is %d)\n",
           WIFSIGNALED(status) ? 1 : 0, WIFSIGNALED(status) ? WTERMSIG(status) : 0, SIGPIPE);
    return n < 0 && err == EPIPE && WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE ? 0 : 1;
}

/*
 * pipe_child.c - a pipe from a parent to its child.
 *
 * pipe() makes two file descriptors: fds[0] reads what fds[1] writes. fork()
 * copies both into the child. Each side closes the end it does not use: the
 * parent writes, the child reads.
 *
 * The child's read sleeps while the pipe is empty, and returns 0 (end of file)
 * only once every write end is closed: the parent's, and the child's own copy,
 * which is why the child closes it first.
 */
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
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        close(fds[1]); /* the child only reads */
        char buf[128];
        ssize_t n, total = 0;
        while ((n = read(fds[0], buf, sizeof buf)) > 0) {
            printf("child: read %zd bytes: %.*s", n, (int)n, buf);
            total += n;
        }
        printf("child: read returned 0: end of file after %zd bytes\n", total);
        return 0;
    }

    close(fds[0]); /* the parent only writes */
    const char *msg = "hello through the pipe\n";
    printf("parent: writing %zu bytes to fd %d\n", strlen(msg), fds[1]);
    fflush(stdout);
    write(fds[1], msg, strlen(msg));
    close(fds[1]); /* the child's read will return 0 after the message */

    int status;
    waitpid(pid, &status, 0);
    printf("parent: child exited with %d\n", WEXITSTATUS(status));
    return 0;
}

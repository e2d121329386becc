/* The parent writes a message into a pipe; the child reads it to EOF and prints it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char message[] = "hello from the parent, through a pipe";

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
        close(fds[1]); /* else the child's own write end keeps EOF from ever coming */
        char buf[256];
        size_t total = 0;
        ssize_t n;
        while ((n = read(fds[0], buf + total, sizeof buf - 1 - total)) > 0)
            total += (size_t)n;
        buf[total] = 0;
        printf("child read %zu bytes: %s\n", total, buf);
        exit(strcmp(buf, message) == 0 ? 0 : 1);
    }
    close(fds[0]);
    if (write(fds[1], message, strlen(message)) != (ssize_t)strlen(message)) {
        perror("write");
        return 1;
    }
    close(fds[1]);
    int status = 0;
    waitpid(pid, &status, 0);
    printf("parent: child WIFEXITED=%d WEXITSTATUS=%d\n", WIFEXITED(status) ? 1 : 0,
           WEXITSTATUS(status));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* Two children write one line each into a pipe and exit; the parent, having closed its own
 * write end, reads until read returns 0: EOF comes only once every writer has closed.
 * The children's lines may arrive in either order, so they are sorted before printing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WRITERS 2

int main(void)
{
    int fds[2];
    if (pipe(fds) < 0) {
        perror("pipe");
        return 1;
    }
    fflush(stdout);
    for (int i = 0; i < WRITERS; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            close(fds[0]);
            char line[32];
            int len = snprintf(line, sizeof line, "line from writer %d\n", i);
            /* one write under PIPE_BUF is atomic: lines never mix */
            _exit(write(fds[1], line, (size_t)len) == len ? 0 : 1);
        }
    }
    close(fds[1]);
    char buf[256];
    size_t total = 0;
    ssize_t n;
    int reads = 0;
    while ((n = read(fds[0], buf + total, sizeof buf - 1 - total)) > 0) {
        total += (size_t)n;
        reads++;
    }
    buf[total] = 0;
    printf("last read returned %zd after %zu bytes\n", n, total);
    char *lines[WRITERS + 1];
    int count = 0;
    for (char *save, *s = strtok_r(buf, "\n", &save); s && count <= WRITERS;
         s = strtok_r(NULL, "\n", &save))
        lines[count++] = s;
    for (int i = 0; i < count; i++)
        for (int j = i + 1; j < count; j++)
            if (strcmp(lines[j], lines[i]) < 0) {
                char *t = lines[i];
                lines[i] = lines[j];
                lines[j] = t;
            }
    for (int i = 0; i < count; i++)
        printf("%s\n", lines[i]);
    int status, failures = 0;
    while (wait(&status) > 0)
        failures += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    printf("writers failed: %d\n", failures);
    return n == 0 && count == WRITERS && failures == 0 ? 0 : 1;
}

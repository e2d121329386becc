/* A grandchild outlives its parent and is adopted: its getppid() changes (to 1, or to a
 * subreaper on a host that has one, so only the change is printed).  The grandchild reports
 * through a pipe that the original process reads to EOF, so the output order is fixed and
 * the original process outlives everyone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
    int report[2], go[2];
    if (pipe(report) < 0 || pipe(go) < 0) {
        perror("pipe");
        return 1;
    }
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        close(report[0]);
        /* taken before the fork: the child may be gone before the grandchild first runs */
        pid_t parent_of_grandchild = getpid();
        pid_t grandchild = fork();
        if (grandchild < 0)
            _exit(10);
        if (grandchild == 0) {
            pid_t before = parent_of_grandchild;
            /* wait until the child says it is about to exit (it closes its end of go) */
            close(go[1]);
            char c;
            while (read(go[0], &c, 1) > 0)
                ;
            const struct timespec ms = {0, 1000000};
            int polls = 0;
            while (getppid() == before && polls < 10000) {
                polls++;
                nanosleep(&ms, NULL);
            }
            char line[64];
            snprintf(line, sizeof line, "grandchild: ppid changed: %s\n",
                     getppid() != before ? "yes" : "no");
            if (write(report[1], line, strlen(line)) < 0)
                _exit(11);
            _exit(0);
        }
        close(go[0]);
        close(report[1]);
        _exit(3); /* closing go[1] here tells the grandchild its parent is gone */
    }
    close(go[0]);
    close(go[1]);
    close(report[1]);
    int status = 0;
    if (waitpid(child, &status, 0) != child) {
        perror("waitpid");
        return 1;
    }
    printf("child exited: WIFEXITED=%d WEXITSTATUS=%d\n", WIFEXITED(status) ? 1 : 0,
           WEXITSTATUS(status));
    char buf[128];
    ssize_t n, total = 0;
    while ((n = read(report[0], buf + total, sizeof buf - 1 - total)) > 0)
        total += n;
    buf[total] = 0;
    printf("%s", buf);
    return strstr(buf, "yes") ? 0 : 1;
}

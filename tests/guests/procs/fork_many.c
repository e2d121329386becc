/* fork 20 children, child i exits with status i, the parent waits for all and sums. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 20

int main(void)
{
    fflush(stdout);
    for (int i = 0; i < CHILDREN; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0)
            _exit(i);
    }
    int reaped = 0, sum = 0, status;
    pid_t pid;
    while ((pid = wait(&status)) > 0) {
        reaped++;
        if (WIFEXITED(status))
            sum += WEXITSTATUS(status);
    }
    int err = errno;
    printf("reaped %d children, sum of exit statuses %d\n", reaped, sum);
    printf("wait after the last child: %s\n", err == ECHILD ? "ECHILD" : "unexpected");
    /* 0 + 1 + ... + 19 */
    return reaped == CHILDREN && sum == 190 ? 0 : 1;
}

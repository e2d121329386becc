/* fork, the child exits 7, the parent collects it with wait4 and decodes the status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    fflush(stdout); /* a line still buffered would otherwise be printed by both processes */
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0)
        exit(7);
    int status = 0;
    struct rusage ru;
    pid_t got = wait4(pid, &status, 0, &ru);
    if (got < 0) {
        perror("wait4");
        return 1;
    }
    printf("wait4 returned the child: %s\n", got == pid ? "yes" : "no");
    printf("WIFEXITED=%d WEXITSTATUS=%d\n", WIFEXITED(status) ? 1 : 0, WEXITSTATUS(status));
    /* the only child is reaped: another wait has nobody to wait for */
    int again;
    pid_t second = wait4(-1, &again, 0, NULL);
    printf("second wait4: %s\n", second < 0 && errno == ECHILD ? "ECHILD" : "unexpected");
    return got == pid && WIFEXITED(status) && WEXITSTATUS(status) == 7 ? 0 : 1;
}

/* popen("echo hi", "r") runs /bin/sh -c and gives its stdout as a FILE; pclose returns
 * the shell's wait status. Needs /bin/sh in the guest. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

int main(void)
{
    fflush(stdout);
    FILE *f = popen("echo hi", "r");
    if (!f) {
        perror("popen");
        return 1;
    }
    char line[64] = "";
    if (!fgets(line, sizeof line, f))
        strcpy(line, "(nothing)\n");
    int status = pclose(f);
    printf("popen read: %s", line);
    printf("pclose: WIFEXITED=%d WEXITSTATUS=%d\n", WIFEXITED(status) ? 1 : 0,
           WEXITSTATUS(status));

    f = popen("exit 9", "r");
    if (!f) {
        perror("popen");
        return 1;
    }
    status = pclose(f);
    printf("pclose of 'exit 9': WIFEXITED=%d WEXITSTATUS=%d\n", WIFEXITED(status) ? 1 : 0,
           WEXITSTATUS(status));
    return strcmp(line, "hi\n") == 0 && WEXITSTATUS(status) == 9 ? 0 : 1;
}

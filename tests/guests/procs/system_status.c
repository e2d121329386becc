/* system() runs /bin/sh -c and returns its wait status. Needs /bin/sh in the guest. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

int main(void)
{
    printf("system() has a shell: %s\n", system(NULL) ? "yes" : "no");
    fflush(stdout); /* the shell writes to the same stdout: keep the order */
    int status = system("echo printed by the shell");
    printf("echo: WIFEXITED=%d WEXITSTATUS=%d\n", WIFEXITED(status) ? 1 : 0,
           WEXITSTATUS(status));
    status = system("exit 3");
    printf("exit 3: WIFEXITED=%d WEXITSTATUS=%d\n", WIFEXITED(status) ? 1 : 0,
           WEXITSTATUS(status));
    return WIFEXITED(status) && WEXITSTATUS(status) == 3 ? 0 : 1;
}

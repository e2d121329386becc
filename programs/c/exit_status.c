/*
 * exit_status.c - what wait() tells a parent about how its child ended.
 *
 * wait4 fills one int, the "status", with two different stories:
 *   - the child called exit(n): WIFEXITED(status) is true and WEXITSTATUS(status)
 *     is n's low 8 bits (the status is n << 8);
 *   - a signal killed the child: WIFSIGNALED(status) is true and
 *     WTERMSIG(status) is the signal's number (the status's low 7 bits).
 * A shell reports the second as 128 + the signal's number ($? = 143 for SIGTERM).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, int status)
{
    printf("%s: status 0x%04x: ", what, status);
    if (WIFEXITED(status))
        printf("WIFEXITED, WEXITSTATUS = %d\n", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("WIFSIGNALED, WTERMSIG = %d\n", WTERMSIG(status));
    else
        printf("neither?\n");
}

static int run_child(void (*body)(void))
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0)
        body(); /* never returns */
    int status;
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        exit(1);
    }
    return status;
}

static void exits_42(void)
{
    exit(42);
}

static void exits_300(void)
{
    exit(300); /* only the low 8 bits survive: 300 & 0xff = 44 */
}

static void killed_by_sigterm(void)
{
    kill(getpid(), SIGTERM); /* SIGTERM's default action ends the process */
    exit(0);                 /* not reached */
}

int main(void)
{
    report("child 1 called exit(42)", run_child(exits_42));
    report("child 2 called exit(300)", run_child(exits_300));
    report("child 3 got SIGTERM", run_child(killed_by_sigterm));
    return 0;
}

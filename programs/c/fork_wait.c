/*
 * fork_wait.c - one process becomes two, and the parent waits for the child.
 *
 * fork() returns twice: in the parent it returns the child's pid, in the child
 * (a copy of the parent: same code, same data, same open files) it returns 0.
 * The return value is the only way each one knows which it is.
 *
 * The parent then calls waitpid(), which sleeps until the child has exited and
 * collects its exit status (glibc and musl make it a wait4 syscall).
 *
 * stdout is flushed before fork(): otherwise text still in libc's buffer would
 * be copied into the child too and printed twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    printf("parent %d: calling fork()\n", getpid());
    fflush(stdout);

    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        /* the child: fork returned 0 here */
        printf("child %d: fork returned 0; my parent is %d\n", getpid(), getppid());
        fflush(stdout);
        exit(0);
    }

    /* the parent: fork returned the child's pid */
    int status;
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return 1;
    }
    printf("parent %d: fork returned %d; waitpid says it exited with %d\n",
           getpid(), pid, WEXITSTATUS(status));
    return 0;
}

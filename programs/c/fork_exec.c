/*
 * fork_exec.c - fork, exec, wait: how a shell runs a command.
 *
 * The parent forks; the child replaces itself with another program (execve),
 * keeping its pid; the parent waits for that pid and reads its exit status.
 * posix_spawn() and system() do the same underneath.
 *
 * BUILD is the build's name (glibc-x86_64, ...), given by build.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef BUILD
#define BUILD "glibc-x86_64"
#endif
#define BIN "/usr/lib/syscall-lab/bin"

extern char **environ;

int main(int argc, char **argv)
{
    char path[256];
    snprintf(path, sizeof path, "%s/echo_args." BUILD, argc > 1 ? argv[1] : BIN);
    char *args[] = {"echo_args", "hello", "from", "the", "child", NULL};

    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        execve(path, args, environ); /* the child becomes echo_args */
        perror("execve");
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("parent: child %d ran echo_args and exited with %d\n", pid, WEXITSTATUS(status));
    return 0;
}

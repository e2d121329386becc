/*
 * pipeline.c - `echo_args ... | upcase`, built the way a shell builds a pipeline.
 *
 *   pipe(fds)               fds[0] reads what fds[1] writes
 *   fork: the left child    dup2(fds[1], 1): its stdout becomes the pipe's write end,
 *                           then execve(echo_args)
 *   fork: the right child   dup2(fds[0], 0): its stdin becomes the pipe's read end,
 *                           then execve(upcase)
 *   the shell               closes both ends and waits for both children
 *
 * Neither program knows about the pipe: they write to fd 1 and read fd 0 as
 * always. dup2 survives execve, which keeps every open fd without O_CLOEXEC.
 * Every process closes the pipe's ends it does not use: upcase sees end of file
 * only when no write end is left open anywhere, the shell's included.
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

static const char *bin = BIN;

static pid_t spawn(const char *name, char **args, int fd, int onto, int fds[2])
{
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        dup2(fd, onto); /* the pipe's end becomes stdin (0) or stdout (1) */
        close(fds[0]);
        close(fds[1]);
        char path[256];
        snprintf(path, sizeof path, "%s/%s.%s", bin, name, BUILD);
        execve(path, args, environ);
        perror("execve");
        _exit(127);
    }
    return pid;
}

static void report(const char *name, int status)
{
    if (WIFEXITED(status))
        printf("shell: %s exited with %d\n", name, WEXITSTATUS(status));
    else
        printf("shell: %s was killed by signal %d\n", name, WTERMSIG(status));
}

int main(int argc, char **argv)
{
    if (argc > 1)
        bin = argv[1]; /* another directory holding the bundled programs */
    char *left[] = {"echo_args", "a", "pipe", "built", "like", "a", "shell", NULL};
    char *right[] = {"upcase", NULL};

    printf("shell: echo_args a pipe built like a shell | upcase\n");
    fflush(stdout);

    int fds[2];
    if (pipe(fds) < 0) {
        perror("pipe");
        return 1;
    }
    pid_t writer = spawn("echo_args", left, fds[1], 1, fds);
    pid_t reader = spawn("upcase", right, fds[0], 0, fds);
    close(fds[0]);
    close(fds[1]); /* or upcase would wait for more input forever */

    int wstatus, rstatus;
    waitpid(writer, &wstatus, 0);
    waitpid(reader, &rstatus, 0);
    report("echo_args", wstatus);
    report("upcase", rstatus);
    return 0;
}

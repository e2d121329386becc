/*
 * exec_echo.c - replacing the running program with another one.
 *
 * execve(path, argv, envp) loads a new program into the calling process: the
 * same pid, the same open files, but new code, data and stack. On success it
 * never returns (there is nothing left to return to); the code after it runs
 * only if it failed.
 *
 * stdout is flushed first: libc's buffer is part of the old program's memory
 * and would be thrown away with it.
 *
 * BUILD is the build's name (glibc-x86_64, ...), given by build.sh: the program
 * runs the echo_args of its own build.
 */
#include <stdio.h>
#include <unistd.h>

#ifndef BUILD
#define BUILD "glibc-x86_64"
#endif
#define BIN "/usr/lib/syscall-lab/bin"

extern char **environ;

int main(int argc, char **argv)
{
    /* argv[1], if given, is another directory holding the bundled programs */
    char path[256];
    snprintf(path, sizeof path, "%s/echo_args." BUILD, argc > 1 ? argv[1] : BIN);
    char *args[] = {"echo_args", "printed", "by", "the", "new", "program", NULL};

    printf("pid %d: execve(\"%s\", ...)\n", getpid(), path);
    fflush(stdout);
    execve(path, args, environ);
    perror("execve"); /* only reached when execve failed */
    return 127;
}

/* execve of this same program with a new argv and envp; the new image prints what it got. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "again") == 0) {
        printf("argc=%d\n", argc);
        for (int i = 0; i < argc; i++)
            printf("argv[%d]=%s\n", i, argv[i]);
        int n = 0;
        for (char **e = environ; *e; e++, n++)
            printf("envp[%d]=%s\n", n, *e);
        return 4;
    }
    printf("before execve\n");
    fflush(stdout); /* execve discards the stdio buffer with the rest of the image */
    char *new_argv[] = {"renamed", "again", "two words", "", NULL};
    char *new_envp[] = {"GREETING=hello", "EMPTY=", "LAB=syscall", NULL};
    execve("/proc/self/exe", new_argv, new_envp);
    perror("execve");
    return 1;
}

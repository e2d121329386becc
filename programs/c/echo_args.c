/*
 * echo_args.c - prints its arguments, separated by spaces, and a newline: like
 * echo. The other process programs execute it (it is in the guest at
 * /usr/lib/syscall-lab/bin/echo_args.<build>).
 */
#include <stdio.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        printf("%s%s", argv[i], i + 1 < argc ? " " : "");
    printf("\n");
    return 0;
}

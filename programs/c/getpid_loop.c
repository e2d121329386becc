/*
 * getpid_loop.c - make N real getpid system calls.
 *
 * Usage: getpid_loop [N]      (default N = 100000)
 *
 * Some libc versions used to cache the pid, so a getpid() call might never
 * reach the kernel.  syscall(SYS_getpid) always traps, so this program is a
 * clean way to measure the cost of one round trip into the kernel.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = 100000;
    long pid = 0;

    if (argc > 1)
        n = strtol(argv[1], NULL, 10);

    for (long i = 0; i < n; i++)
        pid = syscall(SYS_getpid);      /* one trap into the kernel each time */

    if (n <= 0)                         /* no calls made: still report a pid */
        pid = getpid();

    printf("getpid loop: %ld calls, pid %ld\n", n, pid);
    return 0;
}

/*
 * seed.c - "the seed's program": the libc wrapper versus the raw syscall.
 *
 * gettimeofday() from libc usually never enters the kernel: the kernel maps
 * a small shared library, the vDSO, into every process, and libc calls the
 * vDSO's __vdso_gettimeofday / clock_gettime, which reads the time from a
 * page the kernel keeps up to date.  No `syscall`/`int 0x80` instruction is
 * executed, so strace cannot see it.
 *
 * syscall(SYS_gettimeofday, ...) bypasses that: it loads the syscall number
 * into eax/rax and traps into the kernel, so strace does show it.
 *
 * SYS_gettimeofday is 96 on x86-64 and 78 on i386.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

int main(void)
{
    struct timeval tv;

    /* 1. Through the libc wrapper (served by the vDSO when available). */
    if (gettimeofday(&tv, NULL) != 0) {
        perror("gettimeofday");
        return 1;
    }
    printf("libc gettimeofday: %lld.%06ld\n",
           (long long)tv.tv_sec, (long)tv.tv_usec);

    /* 2. The raw system call: always a real trap into the kernel. */
    if (syscall(SYS_gettimeofday, &tv, NULL) != 0) {
        perror("syscall(SYS_gettimeofday)");
        return 1;
    }
    printf("raw syscall(SYS_gettimeofday): %lld.%06ld (syscall number %d)\n",
           (long long)tv.tv_sec, (long)tv.tv_usec, (int)SYS_gettimeofday);

    printf("under strace only the second call shows up "
           "(when the vDSO serves the first)\n");
    return 0;
}

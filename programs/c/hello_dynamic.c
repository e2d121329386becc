/*
 * hello_dynamic.c - the hello world `gcc hello.c` really builds: a dynamically
 * linked PIE.  Before main ran, the kernel mapped this program and the dynamic
 * loader (ld.so, named by PT_INTERP), and ld.so opened and mapped libc.so.6.
 *
 * It prints where each piece landed (all three move from run to run: ASLR),
 * then asks for the time the way programs do: gettimeofday() through libc,
 * which ld.so bound to the vDSO's __vdso_gettimeofday (found through
 * AT_SYSINFO_EHDR in the auxiliary vector), so no syscall is made.  Without a
 * vDSO (syscall-lab run --no-vdso), libc makes the syscall instead.
 */
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/time.h>

int main(void)
{
    struct timeval tv;
    unsigned long vdso = getauxval(AT_SYSINFO_EHDR);  /* 0: run without a vDSO */

    puts("Hello from a dynamically linked program!");
    printf("main   %p  (this program, mapped by the kernel)\n", (void *)main);
    printf("ld.so  %p  (AT_BASE: the loader, mapped by the kernel)\n",
           (void *)getauxval(AT_BASE));
    printf("puts   %p  (in libc.so.6, mapped by ld.so)\n", (void *)puts);
    printf("[vdso] %p  (AT_SYSINFO_EHDR: the kernel's own library)\n", (void *)vdso);
    if (gettimeofday(&tv, NULL) != 0) {
        perror("gettimeofday");
        return 1;
    }
    printf("gettimeofday: %lld.%06ld (%s)\n", (long long)tv.tv_sec, (long)tv.tv_usec,
           vdso ? "served by the vDSO: no syscall" : "no vDSO: a syscall");
    return 0;
}

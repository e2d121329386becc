/* The FPU state a process starts with, and what libc's number formatting and parsing make
 * of it: Linux starts every new image with the x87 control word 0x037F (64-bit precision,
 * every exception masked), an empty register stack, and MXCSR 0x1F80. A fork and a new
 * thread inherit the parent's state; an execve resets it. Prints the same lines on any x86
 * Linux. */
#include <cpuid.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <unistd.h>

/* The status word is shown only where no arithmetic has run yet: its sticky exception
 * flags are the one part of the state Unicorn's x87 does not reproduce (README,
 * "Simplifications"). */
static void show_state(const char *who, int with_status)
{
    unsigned int env[7]; /* fnstenv's 28-byte protected-mode layout: cw, sw, tag, ... */
    unsigned int mxcsr;
    __asm__ volatile("fnstenv %0" : "=m"(env));
    __asm__ volatile("fldenv %0" : : "m"(env)); /* fnstenv masks exceptions: undo that */
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    printf("%s: fcw=%#06x ftw=%#06x mxcsr=%#06x", who, env[0] & 0xFFFF, env[2] & 0xFFFF,
           mxcsr);
    if (with_status)
        printf(" fsw=%#06x", env[1] & 0xFFFF);
    printf("\n");
}

static void show_numbers(void)
{
    volatile double tenth = 0.1, third = 1.0 / 3, big = 1e300;
    volatile long double ltenth = 0.1L, lthird = 1.0L / 3;
    volatile float f = 16777217.0f;
    printf("printf: %f %.17g %g %e %a\n", 1.1, tenth, third, big * 10, third);
    printf("long double: %Lf %.21Lg %.21Lg %La\n", 1.1L, ltenth, lthird, lthird);
    printf("float: %.9g %.9g\n", (double)f, (double)(float)tenth);
    printf("strtod: %a %a %.17g\n", strtod("0.1", NULL), strtod("1e-310", NULL),
           strtod("1.7976931348623157e308", NULL));
    printf("strtold: %La %.21Lg\n", strtold("0.1", NULL), strtold("3.14159265358979323846", NULL));
    volatile double zero = 0.0, one = 1.0;
    printf("fpclassify: %d %d %d %d %d\n", fpclassify(one / zero), fpclassify(zero / zero),
           fpclassify(1e-310), fpclassify(zero), fpclassify(one));
    /* x87 arithmetic at the precision the control word sets: 1 + 2^-60 survives only at
     * 64-bit precision */
    volatile long double eps = 0x1p-60L;
    printf("1 + 2^-60 > 1: %d\n", (1.0L + eps) > 1.0L);
    printf("sqrt(2)=%.17g exp(1)=%.17g\n", sqrt(2.0), exp(1.0));
}

/* What the CPU says of its FPU: XSAVE enabled by the kernel (OSXSAVE), XCR0 with x87 and
 * SSE and nothing CPUID's leaf 0xD does not offer; and AT_HWCAP is CPUID.1:EDX (musl
 * returns the kernel's value; glibc replaces it with its own, on Linux as here). */
static void show_cpu(void)
{
    unsigned a, b, c, d, xa, xb, xc, xd, lo, hi;
    __cpuid(1, a, b, c, d);
    __cpuid_count(0xd, 0, xa, xb, xc, xd);
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    printf("cpu: OSXSAVE %d, XCR0 has x87|SSE %d, XCR0 within CPUID(0xD) %d, "
           "AT_HWCAP == CPUID.1:EDX %d\n", (c >> 27) & 1, (lo & 3) == 3,
           (lo & ~xa) == 0 && (hi & ~xd) == 0, getauxval(AT_HWCAP) == d);
    (void)b, (void)xb, (void)xc;
}

static void *thread_main(void *arg)
{
    show_state("new thread", 0);
    return arg;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        show_state("after execve", 1);
        show_numbers();
        return 0;
    }
    show_state("at start", 1);
    show_cpu();
    show_numbers();
    /* A state of our own, which a fork copies and an execve replaces. */
    unsigned short cw = 0x027F; /* 53-bit precision */
    unsigned int mxcsr = 0x9F80; /* flush to zero */
    __asm__ volatile("fldcw %0" : : "m"(cw));
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
    show_state("changed", 0);
    pthread_t thread;
    pthread_create(&thread, NULL, thread_main, NULL);
    pthread_join(thread, NULL);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        show_state("fork child", 0);
        fflush(stdout);
        char *args[] = {argv[0], "exec", NULL};
        execv("/proc/self/exe", args);
        perror("execv");
        _exit(1);
    }
    int status;
    waitpid(pid, &status, 0);
    show_state("parent after child", 0);
    printf("child status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

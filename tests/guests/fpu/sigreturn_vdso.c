/* i386 handlers installed without SA_RESTORER return through the vDSO: the kernel puts
 * __kernel_sigreturn (old frames) or __kernel_rt_sigreturn (SA_SIGINFO) in the frame's
 * return address (arch/x86/kernel/signal_32.c). The libcs always pass SA_RESTORER, so
 * rt_sigaction is called here directly with `int $0x80`: without SA_SIGINFO the handler
 * gets the old frame (sigframe_ia32), with it the rt one. The old sigaction (67), with
 * its 32-bit mask, installs one more. i386 only. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#ifndef __i386__
#error "i386 only"
#endif

static long sys4(long nr, long a, long b, long c, long d)
{
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d)
                     : "memory");
    return ret;
}

struct rt_sigaction { uint32_t handler, flags, restorer; uint32_t mask[2]; };
struct old_sigaction { uint32_t handler, mask, flags, restorer; };

/* The stack around a handler's first argument, which the compiler cannot see as such. */
static uint32_t *frame_of(int *sig)
{
    uint32_t *p = (uint32_t *)sig;
    __asm__("" : "+r"(p));
    return p - 1;
}

static volatile uint32_t old_return, rt_return, old_fpstate, rt_fpstate;
static volatile int old_calls, rt_calls, hup_calls;

/* The old frame: the return address, then sig, then struct sigcontext (fpstate at +76). */
static void old_handler(int sig)
{
    uint32_t *frame = frame_of(&sig);
    old_return = frame[0];
    old_fpstate = frame[2 + 19];
    old_calls++;
}

static void hup_handler(int sig)
{
    (void)sig;
    hup_calls++;
}

static void rt_handler(int sig, siginfo_t *info, void *uc)
{
    (void)info;
    uint32_t *frame = frame_of(&sig);
    rt_return = frame[0];
    rt_fpstate = ((uint32_t *)((char *)uc + 20))[19]; /* uc_mcontext.fpstate */
    rt_calls++;
}

/* What the return address holds: `pop eax; mov eax, 119; int 0x80` for sigreturn,
 * `mov eax, 173; int 0x80` for rt_sigreturn, and whether it is in the vDSO's pages. */
static void describe(const char *what, uint32_t ret, uint32_t fpstate)
{
    static const uint8_t old_code[] = {0x58, 0xb8, 0x77, 0, 0, 0, 0xcd, 0x80};
    static const uint8_t rt_code[] = {0xb8, 0xad, 0, 0, 0, 0xcd, 0x80};
    uintptr_t vdso = getauxval(AT_SYSINFO_EHDR);
    const uint8_t *code = (const uint8_t *)ret;
    printf("%s: returns into the vDSO: %d, sigreturn code there: %s, fpstate set: %d\n", what,
           vdso != 0 && ret >= vdso && ret < vdso + 2 * 4096,
           memcmp(code, old_code, sizeof old_code) == 0  ? "sigreturn"
           : memcmp(code, rt_code, sizeof rt_code) == 0 ? "rt_sigreturn"
                                                         : "other",
           fpstate != 0);
}

int main(void)
{
    struct rt_sigaction old = {(uint32_t)old_handler, 0, 0, {0, 0}};
    printf("rt_sigaction, old frame: %ld\n", sys4(174, SIGUSR1, (long)&old, 0, 8));
    struct rt_sigaction rt = {(uint32_t)rt_handler, SA_SIGINFO, 0, {0, 0}};
    printf("rt_sigaction, rt frame: %ld\n", sys4(174, SIGUSR2, (long)&rt, 0, 8));
    long pid = getpid();
    for (int i = 0; i < 3; i++) {
        long a = sys4(37, pid, SIGUSR1, 0, 0);
        long b = sys4(37, pid, SIGUSR2, 0, 0);
        printf("round %d: kill %ld %ld, handlers ran %d %d\n", i, a, b, old_calls, rt_calls);
    }
    /* sigaction(67) reads back the rt handler's mask as 32 bits, then installs its own */
    struct rt_sigaction masked = {(uint32_t)old_handler, 0, 0, {1u << 5, 1u << 8}};
    sys4(174, SIGHUP, (long)&masked, 0, 8);
    struct old_sigaction hup = {(uint32_t)hup_handler, 1u << 3, 0, 0}, before;
    memset(&before, 0xff, sizeof before);
    printf("sigaction: %ld\n", sys4(67, SIGHUP, (long)&hup, (long)&before, 0));
    printf("old disposition: handler ok %d, mask %#x, flags %#x, restorer %#x\n",
           before.handler == (uint32_t)old_handler, before.mask, before.flags,
           before.restorer);
    long killed = sys4(37, pid, SIGHUP, 0, 0);
    printf("kill SIGHUP: %ld, handler ran %d\n", killed, hup_calls);
    struct old_sigaction current;
    printf("sigaction(SIGKILL): %ld\n", sys4(67, SIGKILL, (long)&hup, 0, 0));
    sys4(67, SIGHUP, 0, (long)&current, 0);
    printf("now: handler ok %d, mask %#x\n", current.handler == (uint32_t)hup_handler,
           current.mask);
    describe("old frame", old_return, old_fpstate);
    describe("rt frame", rt_return, rt_fpstate);
    sigset_t now;
    sigprocmask(SIG_SETMASK, NULL, &now);
    printf("mask restored: %d\n", !sigismember(&now, SIGUSR1) && !sigismember(&now, SIGUSR2));
    return 0;
}

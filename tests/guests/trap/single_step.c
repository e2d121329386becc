/* Single-stepping with EFLAGS.TF, as a program does it to itself: each instruction after
 * popf sets TF raises #DB, which Linux delivers as SIGTRAP with si_code TRAP_TRACE and
 * si_addr (and the saved ip) at the next instruction. The stepped code makes a syscall on
 * the way; the handler stops the stepping by clearing TF in its ucontext when the ip
 * reaches `stop`. Every trap is printed as offsets from `start`, so the output does not
 * depend on where the program is loaded. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

#define TF 0x100UL

extern char step_start[], step_stop[], step_end[];

#ifdef __x86_64__
#define IP(uc) ((uc)->uc_mcontext.gregs[REG_RIP])
#define FLAGS(uc) ((uc)->uc_mcontext.gregs[REG_EFL])
#define TRAPNO(uc) ((uc)->uc_mcontext.gregs[REG_TRAPNO])
#define SYSCALL "mov $39, %%eax\n\tsyscall\n\t"  /* getpid */
#define SETTF "pushfq\n\torq $0x100, (%%rsp)\n\tpopfq\n\t"
#define CLOBBER "rax", "rcx", "r11", "rdx", "memory"
#else
#define IP(uc) ((uc)->uc_mcontext.gregs[REG_EIP])
#define FLAGS(uc) ((uc)->uc_mcontext.gregs[REG_EFL])
#define TRAPNO(uc) ((uc)->uc_mcontext.gregs[REG_TRAPNO])
#define SYSCALL "mov $20, %%eax\n\tint $0x80\n\t"  /* getpid */
#define SETTF "pushfl\n\torl $0x100, (%%esp)\n\tpopfl\n\t"
#define CLOBBER "eax", "ecx", "edx", "memory"
#endif

static volatile int traps;
static struct { int code; long addr, ip, flags, trapno; } seen[64];

static void on_trap(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    (void)sig;
    if (traps < 64) {
        seen[traps].code = si->si_code;
        seen[traps].addr = (long)si->si_addr;
        seen[traps].ip = IP(uc);
        seen[traps].flags = FLAGS(uc);
        seen[traps].trapno = TRAPNO(uc);
    }
    traps++;
    if ((char *)IP(uc) == step_stop || traps >= 64)
        FLAGS(uc) &= ~TF;  /* stop stepping: sigreturn restores the flags without TF */
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGTRAP, &sa, NULL);

    __asm__ volatile(
        SETTF
        ".globl step_start\nstep_start:\n\t"
        "nop\n\t"
        "mov $5, %%edx\n\t"
        "add $7, %%edx\n\t"
        SYSCALL
        "nop\n\t"
        "xor %%edx, %%edx\n\t"
        ".globl step_stop\nstep_stop:\n\t"
        "nop\n\t"
        "nop\n\t"
        ".globl step_end\nstep_end:\n\t"
        ::: CLOBBER);

    int stepped_after_stop = 0;
    for (int i = 0; i < traps && i < 64; i++) {
        long addr = seen[i].addr - (long)step_start, ip = seen[i].ip - (long)step_start;
        printf("trap %d: si_code=%d si_addr=start%+ld ip=start%+ld TF=%d trapno=%ld\n", i,
               seen[i].code, addr, ip, (seen[i].flags & TF) != 0, seen[i].trapno);
        if (seen[i].ip > (long)step_stop)
            stepped_after_stop = 1;
    }
    printf("traps: %d; stepping %s after stop\n", traps,
           stepped_after_stop ? "went on" : "ended");
    /* TF is clear again here: these are not stepped */
    int before = traps;
    __asm__ volatile("nop\n\tnop\n\tnop" ::: "memory");
    printf("traps after clearing TF: %d\n", traps - before);
    return 0;
}

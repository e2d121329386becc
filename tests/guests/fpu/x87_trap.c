/* An unmasked x87 exception: with divide-by-zero unmasked in the control word, 1/0 leaves
 * the exception pending and the next waiting instruction (`fwait`) raises #MF: SIGFPE with
 * si_code FPE_FLTDIV and si_addr at the fwait (math_error, fpu__exception_code). The
 * handler sees the status word in the frame, clears its exception bits there, and the
 * fwait then runs through when sigreturn loads it. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

extern char trap_here[];
static volatile int calls;

static void handler(int sig, siginfo_t *info, void *ucv)
{
    ucontext_t *uc = ucv;
    uint16_t *fx = (uint16_t *)uc->uc_mcontext.fpregs; /* cwd, swd first */
#ifndef __x86_64__
    fx = (uint16_t *)((char *)fx + 112); /* i386: after the fsave header... */
    uint32_t *header = (uint32_t *)uc->uc_mcontext.fpregs;
    header[1] &= ~0x80bfu; /* ...whose status word is the one loaded */
#endif
    calls++;
    printf("SIGFPE: sig=%d code=%d at the fwait: %d, status word %#06x\n", sig,
           info->si_code, info->si_addr == (void *)trap_here, fx[1] & 0x80ff);
    fx[1] &= ~0x80bf; /* clear B, ES and the exception flags */
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGFPE, &sa, NULL);
    unsigned short cw = 0x037B; /* divide-by-zero unmasked */
    long double result;
    __asm__ volatile("fldcw %1\n\t"
                     "fld1\n\t"
                     "fldz\n\t"
                     "fdivrp\n\t"
                     ".globl trap_here\n"
                     "trap_here:\n\t"
                     "fwait\n\t"
                     "fstpt %0"
                     : "=m"(result)
                     : "m"(cw));
    /* The result is not printed: with the exception unmasked the CPU leaves the stack as
     * it was, where Unicorn stores the masked result (README, "Simplifications"). */
    (void)result;
    printf("after: handler ran %d time(s)\n", calls);
    return 0;
}

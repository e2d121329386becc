/*
 * sigsegv_handler.c - catching a segmentation fault.
 *
 * Reading an unmapped address makes the CPU raise a page fault; the kernel
 * finds no mapping there and sends SIGSEGV. With a handler installed by
 * sigaction(SA_SIGINFO), the kernel builds a signal frame on the user stack
 * (the saved registers plus a siginfo_t) and "calls" the handler: si_addr is
 * the faulting address, si_code SEGV_MAPERR (no mapping) or SEGV_ACCERR (a
 * mapping without that permission).
 *
 * Returning from the handler would re-run the faulting instruction and fault
 * again forever, so we leave with siglongjmp, which also restores the signal
 * mask the kernel set while the handler ran.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sigjmp_buf recover;

static void on_segv(int sig, siginfo_t *info, void *ucontext)
{
    (void)ucontext;
    /* printf is not async-signal-safe: format by hand and write(2) it. */
    char msg[128];
    int n = snprintf(msg, sizeof msg, "caught signal %d (SIGSEGV), si_addr=%p, si_code=%s\n",
                     sig, info->si_addr,
                     info->si_code == SEGV_MAPERR ? "SEGV_MAPERR" : "SEGV_ACCERR");
    write(STDOUT_FILENO, msg, (size_t)n);
    siglongjmp(recover, 1);
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) != 0) {
        perror("sigaction");
        return 1;
    }

    if (sigsetjmp(recover, 1) == 0) {
        volatile int *bad = (volatile int *)0xdead000;   /* nothing is mapped there */
        printf("reading %p...\n", (void *)bad);
        fflush(stdout);
        int value = *bad;                                 /* page fault -> SIGSEGV */
        printf("read %d: not reached\n", value);
        return 1;
    }
    printf("back in main after siglongjmp: recovered\n");
    return 0;
}

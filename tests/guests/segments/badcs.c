/* A SIGUSR1 handler writes cs (argv[1]) and ss (argv[2], if given) into its frame;
 * sigreturn either returns or its iret faults: the SIGSEGV handler prints what it got. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
static unsigned short newcs, newss;
static void usr1(int sig, siginfo_t *si, void *ctx) {
    ucontext_t *uc = ctx;
    unsigned short *csgsfs = (unsigned short *)&uc->uc_mcontext.gregs[REG_CSGSFS];
    printf("frame cs %#x ss %#x flags %#lx\n", csgsfs[0], csgsfs[3], uc->uc_flags);
    csgsfs[0] = newcs;
    if (newss) csgsfs[3] = newss;
    fflush(stdout);
}
static void segv(int sig, siginfo_t *si, void *ctx) {
    ucontext_t *uc = ctx;
    unsigned short *csgsfs = (unsigned short *)&uc->uc_mcontext.gregs[REG_CSGSFS];
    printf("SIGSEGV code %d addr %p cs %#x ss %#x trapno %lld err %lld\n", si->si_code, si->si_addr, csgsfs[0], csgsfs[3],
           uc->uc_mcontext.gregs[REG_TRAPNO], uc->uc_mcontext.gregs[REG_ERR]);
    exit(3);
}
int main(int argc, char **argv) {
    newcs = strtoul(argv[1], 0, 0);
    newss = argc > 2 ? strtoul(argv[2], 0, 0) : 0;
    struct sigaction sa; memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = usr1; sa.sa_flags = SA_SIGINFO; sigaction(SIGUSR1, &sa, 0);
    sa.sa_sigaction = segv; sa.sa_flags = SA_SIGINFO | SA_ONSTACK; sigaction(SIGSEGV, &sa, 0);
    static char stk[65536]; stack_t ss = {.ss_sp = stk, .ss_size = sizeof stk}; sigaltstack(&ss, 0);
    raise(SIGUSR1);
    printf("returned, cs ok\n");
    return 0;
}

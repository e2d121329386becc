/* The FPU state in a signal frame, as a handler finds it through uc_mcontext and as
 * sigreturn gives it back (arch/x86/kernel/fpu/signal.c). x86-64: uc_mcontext.fpregs
 * points at the FXSAVE/XSAVE image; i386: sigcontext.fpstate points at the old fsave
 * header, and the FXSAVE image follows 112 bytes later. Both end the image with
 * _fpx_sw_bytes (magic1 and the sizes) and magic2 after the XSAVE area.
 *
 * The sizes depend on the CPU (its XSAVE features), so the program prints how they relate
 * to what the CPU itself reports (xgetbv, CPUID leaf 0xD) rather than the numbers: the
 * same lines on any x86 Linux. */
#define _GNU_SOURCE /* REG_RSP, REG_ESP */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>
#include <cpuid.h>

#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif
#define MAGIC1 0x46505853u
#define MAGIC2 0x46505845u

struct fxsave { /* struct fxregs_state, with the kernel's sw_reserved bytes */
    uint16_t cwd, swd, twd, fop;
    uint64_t rip, rdp;
    uint32_t mxcsr, mxcsr_mask;
    uint8_t st[8][16];
    uint8_t xmm[16][16];
    uint8_t padding[48];
    uint32_t magic1, extended_size;
    uint64_t xfeatures;
    uint32_t xstate_size, sw_padding[7];
};
struct fsave_header { /* the i386 frame's struct fregs_state part of _fpstate_32 */
    uint32_t cw, sw, tag, ipoff, cssel, dataoff, datasel;
    uint8_t st[80];
    uint16_t status, magic;
};
_Static_assert(sizeof(struct fxsave) == 512, "fxsave layout");
_Static_assert(sizeof(struct fsave_header) == 112, "fsave layout");

static const uint8_t XMM_BEFORE[16] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                                       0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01};
static const uint8_t XMM_BY_FRAME[16] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4,
                                         5, 6, 7, 8, 9, 10, 11, 12};
static const uint8_t XMM_DIRECT[16] = {0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5,
                                       0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a};

/* An x87 register in use across the signal: 1.5 pushed before, 2.5 written by the handler
 * into the frame. */
static const long double ST_BEFORE = 1.5L, ST_BY_FRAME = 2.5L;

static int mode; /* what the handler does */
enum { LOOK_AND_EDIT, CHANGE_DIRECTLY, DROP_FPSTATE, BAD_MXCSR, LEGACY_FXSAVE, ON_ALTSTACK,
       BAD_XSTATE_BV, HEADER_TAIL, TAGS };
static char *altstack_low, *altstack_high;

static uint32_t xsave_size(void)
{
    unsigned a, b, c, d;
    __cpuid_count(0xd, 0, a, b, c, d);
    return b; /* the XSAVE area for the features XCR0 enables */
}

static uint64_t xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static struct fxsave *fxsave_of(void *ucv, struct fsave_header **header)
{
    ucontext_t *uc = ucv;
#ifdef __x86_64__
    *header = NULL;
    return (struct fxsave *)uc->uc_mcontext.fpregs;
#else
    *header = (struct fsave_header *)uc->uc_mcontext.fpregs;
    return *header ? (struct fxsave *)((char *)*header + 112) : NULL;
#endif
}

/* Where get_sigframe() puts things: below the interrupted sp (less the 128-byte red zone
 * on x86-64), the XSAVE area and magic2, 64-byte aligned; the i386 fsave header below it;
 * then the frame proper (rt_sigframe: 440 bytes on x86-64, 268 on i386), aligned so the
 * handler starts as if called. */
static void placement(void *ucv, siginfo_t *info, struct fxsave *fx)
{
    ucontext_t *uc = ucv;
#ifdef __x86_64__
    (void)info;
    uintptr_t sp = uc->uc_mcontext.gregs[REG_RSP] - 128;
    uintptr_t fpstate = (sp - fx->xstate_size - 4) & ~(uintptr_t)63;
    uintptr_t frame = ((fpstate - 440) & ~(uintptr_t)15) - 8;
    printf("fpstate placed as Linux does: %d\n", (uintptr_t)fx == fpstate);
    printf("frame placed as Linux does: %d\n", (uintptr_t)ucv - 8 == frame);
#else
    uintptr_t sp = uc->uc_mcontext.gregs[REG_ESP];
    uintptr_t fpstate = ((sp - fx->xstate_size - 4) & ~(uintptr_t)63) - 112;
    uintptr_t frame = ((fpstate - 268 + 4) & ~(uintptr_t)15) - 4;
    printf("fpstate placed as Linux does: %d\n", (uintptr_t)fx - 112 == fpstate);
    printf("frame placed as Linux does: %d\n", (uintptr_t)info - 16 == frame);
#endif
}

static void look(struct fxsave *fx, struct fsave_header *h)
{
    uint32_t size = xsave_size();
    uint32_t extra = h ? 112 : 0;
    printf("fpregs set: %d, 64-byte aligned: %d\n", fx != NULL,
           fx != NULL && ((uintptr_t)fx & 63) == 0);
    if (!fx)
        return;
    printf("cwd=%#06x mxcsr=%#06x twd(abridged)=%#04x\n", fx->cwd, fx->mxcsr, fx->twd);
    printf("xmm0 as set: %d\n", memcmp(fx->xmm[0], XMM_BEFORE, 16) == 0);
    printf("st0 as pushed: %d\n", memcmp(fx->st[0], &ST_BEFORE, 10) == 0);
    printf("magic1 ok: %d\n", fx->magic1 == MAGIC1);
    printf("xstate_size == CPUID(0xD,0).EBX: %d\n", fx->xstate_size == size);
    printf("extended_size == xstate_size + 4%s: %d\n", h ? " + 112" : "",
           fx->extended_size == fx->xstate_size + 4 + extra);
    printf("xfeatures == XCR0: %d\n", fx->xfeatures == xcr0());
    uint32_t magic2;
    memcpy(&magic2, (char *)fx + fx->xstate_size, 4);
    printf("magic2 ok: %d\n", magic2 == MAGIC2);
    uint64_t header_xfeatures;
    memcpy(&header_xfeatures, (char *)fx + 512, 8);
    printf("xsave header has x87|SSE: %d, only XCR0 bits: %d\n", (header_xfeatures & 3) == 3,
           (header_xfeatures & ~xcr0()) == 0);
    if (h) {
        printf("fsave cw=%#x sw=%#x status=%#x magic=%#x tag=%#x cssel=%#x datasel=%#x\n",
               h->cw, h->sw, h->status, h->magic, h->tag, h->cssel, h->datasel);
        printf("fsave st0 as pushed: %d\n", memcmp(h->st, &ST_BEFORE, 10) == 0);
    }
    /* AT_MINSIGSTKSZ covers the largest frame: the i386 one without SA_SIGINFO (732
     * bytes), the fsave header, the XSAVE area and magic2, and their alignment. (Linux
     * may reserve more: space for XSAVE features only the kernel uses.) */
    unsigned long need = (732 + 15 + fx->xstate_size + 4 + 112 + 63 + 15) & ~15ul;
    printf("AT_MINSIGSTKSZ covers the largest frame: %d\n", getauxval(AT_MINSIGSTKSZ) >= need);
}

/* gcc -m32 lets inline assembly name xmm registers only where SSE is enabled */
#define SSE __attribute__((target("sse2")))

SSE static void handler(int sig, siginfo_t *info, void *ucv)
{
    (void)sig;
    struct fsave_header *h;
    struct fxsave *fx = fxsave_of(ucv, &h);
    ucontext_t *uc = ucv;
    unsigned short cw;
    unsigned int mx;
    switch (mode) {
    case LOOK_AND_EDIT:
        look(fx, h);
        if (fx)
            placement(ucv, info, fx);
        fx->mxcsr = 0x3F80;            /* round down */
        fx->cwd = 0x0E7F;              /* round down, 64-bit precision */
        if (h)
            h->cw = 0xFFFF0C7F;        /* i386: the header's word is the one loaded */
        memcpy(fx->xmm[0], XMM_BY_FRAME, 16);
        memcpy(fx->st[0], &ST_BY_FRAME, 10);
        if (h) { /* i386: the header's registers are the ones loaded, not the image's */
            static const long double ignored = 3.5L;
            memcpy(h->st, &ST_BY_FRAME, 10);
            memcpy(fx->st[0], &ignored, 10);
        }
        break;
    case CHANGE_DIRECTLY:
        __asm__ volatile("stmxcsr %0" : "=m"(mx));
        __asm__ volatile("fnstcw %0" : "=m"(cw));
        uint8_t now[16];
        __asm__ volatile("movdqu %%xmm0, %0" : "=m"(now));
        int clear = 1;
        for (int i = 0; i < 16; i++)
            clear &= now[i] == 0;
        printf("in the handler: fcw=%#06x mxcsr=%#06x xmm0 zero: %d\n", cw, mx, clear);
        cw = 0x067F, mx = 0x5F80;
        __asm__ volatile("fldcw %0" : : "m"(cw));
        __asm__ volatile("ldmxcsr %0" : : "m"(mx));
        __asm__ volatile("movdqu %0, %%xmm0" : : "m"(XMM_DIRECT) : "xmm0");
        break;
    case DROP_FPSTATE:
        uc->uc_mcontext.fpregs = NULL;
        break;
    case BAD_MXCSR:
        fx->mxcsr = 0x80001F80;        /* a reserved bit: sigreturn refuses the frame */
        break;
    case ON_ALTSTACK: {
        /* The frame proper starts at the return address: 8 bytes below the ucontext on
         * x86-64, 16 below the siginfo on i386 (pretcode, sig, &info, &uc). */
#ifdef __x86_64__
        char *frame = (char *)ucv - 8;
#else
        char *frame = (char *)info - 16;
#endif
        printf("on the alternate stack: frame %d, fpstate %d, magic2 %d\n",
               frame >= altstack_low && frame < altstack_high,
               (char *)fx >= altstack_low && (char *)fx < altstack_high,
               (char *)fx + fx->xstate_size + 4 <= altstack_high);
        printf("frame and FPU state within AT_MINSIGSTKSZ: %d\n",
               (unsigned long)(altstack_high - frame) <= getauxval(AT_MINSIGSTKSZ));
        break;
    }
    case TAGS:
        printf("tags: abridged %#04x", fx->twd);
        if (h)
            printf(", fsave %#x", h->tag);
        printf(", status TOP %d\n", (fx->swd >> 11) & 7);
        break;
    case BAD_XSTATE_BV:
        ((uint8_t *)fx)[512 + 7] |= 0x40; /* XSTATE_BV bit 62: no CPU has that component */
        break;
    case HEADER_TAIL:
        ((uint8_t *)fx)[512 + 40] = 1; /* a reserved byte XRSTOR does not check */
        break;
    case LEGACY_FXSAVE:
        fx->magic1 = 0;                /* a plain FXSAVE image: restored all the same */
        fx->mxcsr = 0x7F80;
        break;
    }
}

/* kill(getpid(), SIGUSR1) with xmm0, the control word and MXCSR set just before; what they
 * are right after, when the handler has run and returned. */
SSE static void signal_with_state(const char *what)
{
    uint8_t xmm[16];
    long double st = 0;
    unsigned short cw = 0x027F, cw_after;
    unsigned int mx = 0x9F80, mx_after;
    long pid = getpid();
    __asm__ volatile("fldcw %0" : : "m"(cw));
    __asm__ volatile("ldmxcsr %0" : : "m"(mx));
#ifdef __x86_64__
    long ret;
    __asm__ volatile("fldt %[st_in]\n\t"
                     "movdqu %[in], %%xmm0\n\t"
                     "syscall\n\t"
                     "movdqu %%xmm0, %[out]\n\t"
                     "fstpt %[st_out]"
                     : [out] "=m"(xmm), [st_out] "=m"(st), "=a"(ret)
                     : [in] "m"(XMM_BEFORE), [st_in] "m"(ST_BEFORE), "a"(SYS_kill), "D"(pid),
                       "S"(SIGUSR1)
                     : "rcx", "r11", "xmm0", "memory");
#else
    long ret;
    __asm__ volatile("fldt %[st_in]\n\t"
                     "movdqu %[in], %%xmm0\n\t"
                     "int $0x80\n\t"
                     "movdqu %%xmm0, %[out]\n\t"
                     "fstpt %[st_out]"
                     : [out] "=m"(xmm), [st_out] "=m"(st), "=a"(ret)
                     : [in] "m"(XMM_BEFORE), [st_in] "m"(ST_BEFORE), "a"(SYS_kill), "b"(pid),
                       "c"(SIGUSR1)
                     : "xmm0", "memory");
#endif
    __asm__ volatile("fnstcw %0" : "=m"(cw_after));
    __asm__ volatile("stmxcsr %0" : "=m"(mx_after));
    const char *x = memcmp(xmm, XMM_BEFORE, 16) == 0 ? "as before"
                  : memcmp(xmm, XMM_BY_FRAME, 16) == 0 ? "from the frame"
                  : memcmp(xmm, XMM_DIRECT, 16) == 0 ? "the handler's"
                  : "other";
    int zero = 1;
    for (int i = 0; i < 16; i++)
        zero &= xmm[i] == 0;
    /* With no state restored (fpstate NULL), the pop finds an empty register: what it
     * reads then is not compared. */
    const char *s = mode == DROP_FPSTATE ? "not compared"
                  : memcmp(&st, &ST_BEFORE, 10) == 0 ? "as before"
                  : memcmp(&st, &ST_BY_FRAME, 10) == 0 ? "from the frame"
                  : "other";
    printf("%s: kill=%ld fcw=%#06x mxcsr=%#06x xmm0 %s st0 %s\n", what, ret, cw_after,
           mx_after, zero ? "zero" : x, s);
    unsigned short init_cw = 0x037F;
    unsigned int init_mx = 0x1F80;
    __asm__ volatile("fldcw %0" : : "m"(init_cw));
    __asm__ volatile("ldmxcsr %0" : : "m"(init_mx));
}

/* Four x87 registers of each class the fsave tag word tells apart: valid (1.0), zero,
 * special (a denormal, then infinity); the others empty. */
static void tags(void)
{
    static const long double values[4] = {1.0L, 0.0L, 0x1p-16400L, __builtin_infl()};
    long double out[4];
    mode = TAGS;
    long pid = getpid(), ret;
#ifdef __x86_64__
    __asm__ volatile("fldt 48(%[v])\n\tfldt 32(%[v])\n\tfldt 16(%[v])\n\tfldt (%[v])\n\t"
                     "syscall\n\t"
                     "fstpt (%[o])\n\tfstpt 16(%[o])\n\tfstpt 32(%[o])\n\tfstpt 48(%[o])"
                     : "=a"(ret)
                     : [v] "r"(values), [o] "r"(out), "a"(SYS_kill), "D"(pid), "S"(SIGUSR1)
                     : "rcx", "r11", "memory");
#else
    __asm__ volatile("fldt 36(%[v])\n\tfldt 24(%[v])\n\tfldt 12(%[v])\n\tfldt (%[v])\n\t"
                     "int $0x80\n\t"
                     "fstpt (%[o])\n\tfstpt 12(%[o])\n\tfstpt 24(%[o])\n\tfstpt 36(%[o])"
                     : "=a"(ret)
                     : [v] "S"(values), [o] "D"(out), "a"(SYS_kill), "b"(pid), "c"(SIGUSR1)
                     : "memory");
#endif
    int same = 1;
    for (int i = 0; i < 4; i++)
        same &= memcmp(&out[i], &values[i], 10) == 0; /* the bytes past 10 are padding */
    printf("tags: kill=%ld, registers back: %d\n", ret, same);
}

static void in_child(int how, const char *what)
{
    mode = how;
    pid_t child = fork();
    if (child == 0) {
        signal_with_state(what);
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    printf("%s: child %s %d\n", what, WIFSIGNALED(status) ? "killed by signal" : "exited",
           WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    setvbuf(stdout, NULL, _IONBF, 0);

    mode = LOOK_AND_EDIT;
    signal_with_state("edited in the frame");
    mode = CHANGE_DIRECTLY;
    signal_with_state("changed by the handler");
    mode = DROP_FPSTATE;
    signal_with_state("fpstate NULL");
    mode = LEGACY_FXSAVE;
    signal_with_state("no magic1");

    /* A handler on an alternate stack: the frame and the FPU state are at its top, and
     * take no more than AT_MINSIGSTKSZ of it. */
    static char altstack[65536] __attribute__((aligned(64)));
    altstack_low = altstack;
    altstack_high = altstack + sizeof altstack;
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    printf("sigaltstack: %d\n", sigaltstack(&ss, NULL));
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    mode = ON_ALTSTACK;
    signal_with_state("on the alternate stack");

    /* A reserved MXCSR bit or an XSAVE header bit no CPU has: sigreturn fails and the
     * process gets SIGSEGV. A reserved byte late in the header: x86-64 restores with
     * XRSTOR, which ignores it; i386 copies the header through the kernel, which refuses
     * it. Each in a child, which may die. */
    tags();
    in_child(BAD_MXCSR, "bad mxcsr");
    in_child(BAD_XSTATE_BV, "XSTATE_BV bit 62");
    in_child(HEADER_TAIL, "reserved header byte 40");
    return 0;
}

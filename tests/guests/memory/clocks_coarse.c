/* The COARSE clocks against the precise ones: a CLOCK_REALTIME_COARSE reading taken before
 * a CLOCK_REALTIME one is never the greater (likewise MONOTONIC_COARSE and MONOTONIC), and
 * a coarse clock never goes back. Each pair is read through the vDSO (the libc's
 * clock_gettime), through the raw syscall, and mixed. Prints only counts of violations. */
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef int (*reader)(clockid_t, struct timespec *);

static int vdso_read(clockid_t id, struct timespec *ts) { return clock_gettime(id, ts); }

static int sys_read(clockid_t id, struct timespec *ts)
{
#if defined(__i386__)
    /* The 64-bit time layout, as the libc would use past 2038. */
    struct { long long sec; long long nsec; } t64;
    int r = syscall(403 /* clock_gettime64 */, id, &t64);
    ts->tv_sec = (time_t)t64.sec;
    ts->tv_nsec = (long)t64.nsec;
    return r;
#else
    return syscall(SYS_clock_gettime, id, ts);
#endif
}

static long long ns(const struct timespec *t) { return t->tv_sec * 1000000000LL + t->tv_nsec; }

static int check(const char *what, clockid_t coarse_id, clockid_t precise_id, reader coarse,
                 reader precise, int rounds)
{
    int ahead = 0, back = 0;
    long long last = 0;
    for (int i = 0; i < rounds; i++) {
        struct timespec c, p;
        coarse(coarse_id, &c);
        precise(precise_id, &p);
        if (ns(&c) > ns(&p))
            ahead++;
        if (ns(&c) < last)
            back++;
        last = ns(&c);
    }
    printf("%s: coarse ahead %d, coarse back %d\n", what, ahead, back);
    return ahead + back;
}

/* As Linux's vdso_test_correctness does: a vDSO reading between two syscall readings of
 * the same clock lies between them. */
static int bracket(const char *what, clockid_t id, int rounds)
{
    int out = 0;
    for (int i = 0; i < rounds; i++) {
        struct timespec a, v, b;
        sys_read(id, &a);
        vdso_read(id, &v);
        sys_read(id, &b);
        if (ns(&v) < ns(&a) || ns(&v) > ns(&b))
            out++;
    }
    printf("%s: vDSO outside its syscall bracket %d\n", what, out);
    return out;
}

int main(void)
{
    reader vd = vdso_read, sc = sys_read;
    int bad = 0;
    bad += check("realtime vdso", CLOCK_REALTIME_COARSE, CLOCK_REALTIME, vd, vd, 200000);
    bad += check("monotonic vdso", CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC, vd, vd, 200000);
    bad += check("realtime syscall", CLOCK_REALTIME_COARSE, CLOCK_REALTIME, sc, sc, 20000);
    bad += check("monotonic syscall", CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC, sc, sc, 20000);
    bad += check("realtime vdso/syscall", CLOCK_REALTIME_COARSE, CLOCK_REALTIME, vd, sc, 20000);
    bad += check("realtime syscall/vdso", CLOCK_REALTIME_COARSE, CLOCK_REALTIME, sc, vd, 20000);
    bad += check("monotonic vdso/syscall", CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC, vd, sc,
                 20000);
    bad += check("monotonic syscall/vdso", CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC, sc, vd,
                 20000);
    bad += bracket("realtime coarse", CLOCK_REALTIME_COARSE, 20000);
    bad += bracket("monotonic coarse", CLOCK_MONOTONIC_COARSE, 20000);
    bad += bracket("realtime", CLOCK_REALTIME, 20000);
    bad += bracket("monotonic", CLOCK_MONOTONIC, 20000);
    return bad != 0;
}

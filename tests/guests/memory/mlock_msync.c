/* mlock, mlock2, munlock, mlockall, munlockall (mm/mlock.c) and msync (mm/msync.c) as root
 * (CAP_IPC_LOCK: no RLIMIT_MEMLOCK): the flag checks, ENOMEM for unmapped ranges, EBUSY for
 * MS_INVALIDATE of locked pages. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "errname.h"

#define PG 4096UL
#define R(call) errname((call) ? errno : 0)

int main(void)
{
    char *p = mmap(0, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(p + 3 * PG, PG);
    printf("mlock: %s unaligned: %s length 0: %s\n", R(mlock(p, 2 * PG)), R(mlock(p + 5, 10)),
           R(mlock(p, 0)));
    printf("mlock over a hole: %s munlock over a hole: %s\n", R(mlock(p, 4 * PG)),
           R(munlock(p, 4 * PG)));
    printf("munlock: %s\n", R(munlock(p, 2 * PG)));
    printf("mlock2: %s ONFAULT: %s bad flag: %s\n", R(syscall(SYS_mlock2, p, PG, 0)),
           R(syscall(SYS_mlock2, p, PG, 1)), R(syscall(SYS_mlock2, p, PG, 2)));
    printf("msync locked INVALIDATE: %s ASYNC: %s\n", R(msync(p, PG, MS_INVALIDATE)),
           R(msync(p, PG, MS_ASYNC)));
    munlock(p, PG);
    printf("msync INVALIDATE: %s SYNC: %s ASYNC|SYNC: %s bad flag: %s unaligned: %s\n",
           R(msync(p, PG, MS_INVALIDATE)), R(msync(p, PG, MS_SYNC)),
           R(msync(p, PG, MS_ASYNC | MS_SYNC)), R(msync(p, PG, 8)), R(msync(p + 1, PG, MS_SYNC)));
    printf("msync over a hole: %s length 0: %s unmapped: %s\n", R(msync(p, 4 * PG, MS_SYNC)),
           R(msync(p, 0, MS_SYNC)), R(msync(p + 3 * PG, PG, MS_SYNC)));
    printf("mlockall 0: %s ONFAULT alone: %s bad: %s\n", R(mlockall(0)), R(mlockall(MCL_ONFAULT)),
           R(mlockall(8)));
    printf("mlockall CURRENT|FUTURE: %s munlockall: %s\n", R(mlockall(MCL_CURRENT | MCL_FUTURE)),
           R(munlockall()));
    printf("DONTNEED on locked: %s\n", R(mlock(p, PG) || madvise(p, PG, MADV_DONTNEED)));
    /* MCL_FUTURE: a mapping made afterwards is locked; munlockall ends that. */
    mlockall(MCL_FUTURE);
    char *f = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("after MCL_FUTURE, a new mapping's INVALIDATE: %s\n", R(msync(f, PG, MS_INVALIDATE)));
    munlockall();
    char *g = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("after munlockall: %s\n", R(msync(g, PG, MS_INVALIDATE)));
    return 0;
}

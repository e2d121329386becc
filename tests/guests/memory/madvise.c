/* madvise (mm/madvise.c): which advice values Linux accepts on private and shared anonymous
 * memory, what MADV_DONTNEED, MADV_FREE and MADV_REMOVE do to the pages, what a child sees
 * of MADV_DONTFORK and MADV_WIPEONFORK ranges, and mincore (mm/mincore.c) on them. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errname.h"

#define PG 4096UL

static const char *adv(void *p, size_t len, int advice)
{
    return errname(madvise(p, len, advice) ? errno : 0);
}

static const char *mapped(void *p, size_t len)
{
    unsigned char vec[16];
    return mincore(p, len, vec) == 0 ? "mapped" : errname(errno);
}

static char *fresh(size_t pages, int flags, char fill)
{
    char *p = mmap(0, pages * PG, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
    memset(p, fill, pages * PG);
    return p;
}

int main(void)
{
    /* Every value up to MADV_GUARD_REMOVE, on each kind of anonymous memory; the poisoning
     * ones (100, 101) act on the real host's pages as root, so they are not asked, nor is
     * MADV_COLLAPSE (25), whose answer depends on the host's THP setting. */
    int values[] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,  11,  12,  13, 14,
                    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 26, 99, 102, 103, 104, -1};
    for (int kind = 0; kind < 2; kind++) {
        printf("%s:", kind ? "shared" : "private");
        for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
            char *p = fresh(2, kind ? MAP_SHARED : MAP_PRIVATE, 'x');
            printf(" %d=%s", values[i], adv(p, 2 * PG, values[i]));
            munmap(p, 2 * PG);
        }
        printf("\n");
    }

    /* Each call is made before the printf that reads the pages (argument order). */
    char *p = fresh(2, MAP_PRIVATE, 'a');
    const char *r1 = adv(p, PG, MADV_DONTNEED);
    printf("DONTNEED private: %s reads %d %c\n", r1, p[0], p[PG]);
    char *s = fresh(2, MAP_SHARED, 'a');
    r1 = adv(s, PG, MADV_DONTNEED);
    printf("DONTNEED shared: %s reads %c\n", r1, s[0]);
    r1 = adv(s, PG, MADV_REMOVE);
    printf("REMOVE shared: %s reads %d %c\n", r1, s[0], s[PG]);
    r1 = adv(p + PG, PG, MADV_FREE);
    p[PG] = 'w';
    printf("FREE private: %s then written: %c\n", r1, p[PG]);
    printf("unaligned: %s\n", adv(p + 1, PG, MADV_NORMAL));
    printf("length 0: %s\n", adv(p, 0, MADV_DONTNEED));
    printf("wrapping: %s\n", adv(p, (size_t)-PG, MADV_NORMAL));
    munmap(p + PG, PG);
    printf("partly unmapped: %s\n", adv(p, 2 * PG, MADV_NORMAL));
    printf("partly unmapped, unknown advice: %s\n", adv(p, 2 * PG, 99));

    unsigned char vec[4] = {9, 9, 9, 9};
    char *m = mmap(0, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    m[PG] = 1;
    m[3 * PG] = 1;
    int r = mincore(m, 4 * PG, vec);
    printf("mincore: %d %d%d%d%d\n", r, vec[0] & 1, vec[1] & 1, vec[2] & 1, vec[3] & 1);
    madvise(m + PG, PG, MADV_DONTNEED);
    mincore(m, 4 * PG, vec);
    printf("mincore after DONTNEED: %d%d%d%d\n", vec[0] & 1, vec[1] & 1, vec[2] & 1, vec[3] & 1);
    printf("mincore unaligned: %s\n", errname(mincore(m + 1, PG, vec) ? errno : 0));
    printf("mincore bad vector: %s\n", errname(mincore(m, PG, (void *)8) ? errno : 0));
    munmap(m + 2 * PG, PG);
    printf("mincore with a hole: %s\n", mapped(m, 4 * PG));

    /* fork: a DONTFORK range is not in the child, a WIPEONFORK one is there but zero. */
    char *keep = fresh(1, MAP_PRIVATE, 'k');
    char *gone = fresh(1, MAP_PRIVATE, 'g');
    char *wipe = fresh(1, MAP_PRIVATE, 'w');
    char *back = fresh(1, MAP_PRIVATE, 'b');
    char *wsh = fresh(1, MAP_SHARED, 's');
    const char *r2 = adv(gone, PG, MADV_DONTFORK);
    const char *r3 = adv(wipe, PG, MADV_WIPEONFORK);
    const char *r4 = adv(back, PG, MADV_DONTFORK);
    const char *r5 = adv(back, PG, MADV_DOFORK);
    const char *r6 = adv(wsh, PG, MADV_WIPEONFORK);
    printf("DONTFORK: %s WIPEONFORK: %s DONTFORK+DOFORK: %s %s WIPEONFORK shared: %s\n", r2,
           r3, r4, r5, r6);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        printf("child: keep=%c gone %s wipe=%d back=%c\n", keep[0], mapped(gone, PG), wipe[0],
               back[0]);
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("child status %d\n", status);
    printf("parent: gone=%c wipe=%c\n", gone[0], wipe[0]);
    return 0;
}

/* mremap (mm/mremap.c): growing and shrinking in place, MREMAP_MAYMOVE, MREMAP_FIXED and
 * MREMAP_DONTUNMAP (5.7+; any mapping since 5.13), and the errors for each misuse. Whether a
 * range is still mapped is asked with mincore (ENOMEM for a hole), never by touching it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "errname.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#define PG 4096UL

static const char *res(void *p)
{
    static char buf[64];
    if (p == MAP_FAILED)
        snprintf(buf, sizeof buf, "%s", errname(errno));
    else
        snprintf(buf, sizeof buf, "ok");
    return buf;
}

static const char *mapped(void *p, size_t len)
{
    unsigned char vec[64];
    return mincore(p, len, vec) == 0 ? "mapped" : errno == ENOMEM ? "unmapped" : "?";
}

static char *fresh(size_t pages, int flags)
{
    char *p = mmap(0, pages * PG, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
    for (size_t i = 0; i < pages; i++)
        p[i * PG] = (char)('a' + i);
    return p;
}

int main(void)
{
    /* A hole-free arena: four pages reserved, so growth in place has room to be refused. */
    char *arena = mmap(0, 16 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(arena, 16 * PG);
    char *a = mmap(arena, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    a[0] = 'x';
    char *r = mremap(a, 2 * PG, 4 * PG, 0);
    printf("grow in place: %s same=%d kept=%c new=%d\n", res(r), r == a, a[0], a[3 * PG]);
    r = mremap(a, 4 * PG, PG, 0);
    printf("shrink: %s same=%d tail %s\n", res(r), r == a, mapped(a + PG, 3 * PG));
    char *block = mmap(a + PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    r = mremap(a, PG, 3 * PG, 0);
    printf("grow blocked without MAYMOVE: %s\n", res(r));
    r = mremap(a, PG, 3 * PG, MREMAP_MAYMOVE);
    printf("grow with MAYMOVE: %s moved=%d kept=%c old %s\n", res(r), r != a, r[0],
           mapped(a, PG));
    munmap(block, PG);
    munmap(r, 3 * PG);

    char *b = fresh(2, MAP_PRIVATE);
    char *dest = arena + 8 * PG;
    r = mremap(b, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, dest);
    printf("FIXED: %s at-dest=%d kept=%c%c old %s\n", res(r), r == dest, r[0], r[PG],
           mapped(b, 2 * PG));
    r = mremap(dest, 2 * PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, dest + PG);
    printf("FIXED overlapping: %s\n", res(r));
    r = mremap(dest, 2 * PG, 2 * PG, MREMAP_FIXED, arena);
    printf("FIXED without MAYMOVE: %s\n", res(r));
    r = mremap(dest, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, arena + 1);
    printf("FIXED unaligned: %s\n", res(r));
    r = mremap(dest, 2 * PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, arena);
    printf("FIXED shrinking: %s kept=%c rest %s\n", res(r), r[0], mapped(dest, 2 * PG));
    munmap(arena, 16 * PG);

    char *c = fresh(2, MAP_PRIVATE);
    r = mremap(c, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, (void *)0);
    printf("DONTUNMAP private: %s moved=%d new=%c%c old %s old-reads=%d%d\n", res(r), r != c,
           r[0], r[PG], mapped(c, 2 * PG), c[0], c[PG]);
    c[0] = 'q';
    printf("DONTUNMAP old writable, new unaffected: %c %c\n", c[0], r[0]);
    r = mremap(c, 2 * PG, 2 * PG, MREMAP_DONTUNMAP, (void *)0);
    printf("DONTUNMAP without MAYMOVE: %s\n", res(r));
    r = mremap(c, 2 * PG, 3 * PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, (void *)0);
    printf("DONTUNMAP growing: %s\n", res(r));
    /* Since 5.7 DONTUNMAP takes the fifth argument as a hint, so it must be page aligned
     * (glibc's variadic wrapper passes whatever is in the register when it is left out). */
    r = mremap(c, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, (void *)(PG + 1));
    printf("DONTUNMAP unaligned hint: %s\n", res(r));
    char *s = fresh(1, MAP_SHARED);
    r = mremap(s, PG, PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, (void *)0);
    printf("DONTUNMAP shared: %s new=%c old %s old-reads=%c\n", res(r), r == MAP_FAILED ? '-' :
           r[0], mapped(s, PG), s[0]);
    char *d = fresh(1, MAP_PRIVATE);
    char *e = fresh(1, MAP_PRIVATE);
    r = mremap(d, PG, PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED, e);
    printf("DONTUNMAP|FIXED: %s at-dest=%d new=%c old %s\n", res(r), r == e, e[0],
           mapped(d, PG));

    /* old_size 0 on a shared mapping (a second view of its pages) is left out: not
     * modelled (README, Simplifications). */
    char *pv = fresh(1, MAP_PRIVATE);
    printf("old_size 0 of private: %s\n", res(mremap(pv, 0, PG, MREMAP_MAYMOVE)));
    printf("new_size 0: %s\n", res(mremap(pv, PG, 0, MREMAP_MAYMOVE)));
    printf("unaligned old: %s\n", res(mremap(pv + 1, PG, PG, MREMAP_MAYMOVE)));
    printf("unknown flag: %s\n", res(mremap(pv, PG, PG, 8)));
    munmap(pv, PG);
    printf("unmapped old: %s\n", res(mremap(pv, PG, 2 * PG, MREMAP_MAYMOVE)));
    return 0;
}

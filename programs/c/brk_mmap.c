/*
 * brk_mmap.c - the two ways a process asks the kernel for memory.
 *
 * brk moves the end of the heap: the [heap] line of /proc/self/maps grows.
 * mmap(MAP_ANONYMOUS) maps fresh zero-filled pages anywhere in the mmap area:
 * a new line with no file name. malloc uses both (brk for small blocks, mmap
 * for big ones); here we call them directly, through the raw syscall so that
 * libc's own bookkeeping stays out of the way.
 *
 * The addresses change from run to run (ASLR): run with --seed N to fix them.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Print the lines of /proc/self/maps that cover [lo, hi). */
static void show_maps(unsigned long lo, unsigned long hi)
{
    char buf[8192];
    int fd = open("/proc/self/maps", O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (n < 0) {
        perror("/proc/self/maps");
        return;
    }
    buf[n] = '\0';
    close(fd);
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned long start, end;
        if (sscanf(line, "%lx-%lx", &start, &end) == 2 && start < hi && end > lo)
            printf("    %s\n", line);
    }
}

int main(void)
{
    /* brk(0) fails on purpose: the kernel answers with the current break. */
    unsigned long start = syscall(SYS_brk, 0);
    unsigned long want = start + 3 * 4096;
    unsigned long now = syscall(SYS_brk, want);    /* grow the heap by 3 pages */
    printf("brk: %#lx -> %#lx (+%lu bytes)\n", start, now, now - start);
    if (now != want)
        return 1;
    memset((void *)start, 'h', now - start);        /* the new pages are ours */
    show_maps(start, now);

    char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    printf("mmap: one anonymous page at %p, first byte %d (zero-filled)\n",
           (void *)page, page[0]);
    strcpy(page, "mapped");
    show_maps((unsigned long)page, (unsigned long)page + 4096);
    return 0;
}

/*
 * maps.c - print this process's memory map (a tiny `cat /proc/self/maps`).
 *
 * Uses the plain open/read/write system call wrappers, so the trace is
 * easy to follow: open (openat), a few reads, a write for each chunk,
 * close, exit_group.  The output shows the program's own segments, the
 * heap, the stack, and (on a real kernel) the [vdso] and [vvar] mappings.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* Write all len bytes, retrying after short writes. */
static int write_all(int fd, const char *buf, ssize_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, (size_t)len);
        if (w < 0)
            return -1;
        buf += w;
        len -= w;
    }
    return 0;
}

int main(void)
{
    char buf[4096];
    ssize_t n;
    int fd = open("/proc/self/maps", O_RDONLY);

    if (fd < 0) {
        perror("open /proc/self/maps");
        return 1;
    }
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        if (write_all(STDOUT_FILENO, buf, n) != 0) {
            perror("write");
            return 1;
        }
    }
    if (n < 0) {
        perror("read");
        return 1;
    }
    close(fd);
    return 0;
}

/* mmap of /dev/zero, private and shared, and MAP_SHARED|MAP_ANONYMOUS: what the pages hold,
 * what /proc/self/maps says of them (drivers/char/mem.c mmap_zero, mm/shmem.c), and which
 * protections a read-only /dev/zero allows. Addresses and shmem inode numbers are left out. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void show_maps(unsigned long ino)
{
    char line[512];
    FILE *f = fopen("/proc/self/maps", "r");
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi, off, inode;
        char perms[8], dev[16], name[256] = "";
        if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %255[^\n]", &lo, &hi, perms, &off, dev,
                   &inode, name) < 6)
            continue;
        char *n = name + strspn(name, " ");
        if (strncmp(n, "/dev/zero", 9))
            continue;
        if (strstr(n, "(deleted)"))  /* shmem: device 00:01, a fresh inode each */
            printf("%lu pages %s %08lx %s %s\n", (hi - lo) / 4096, perms, off, dev, n);
        else
            printf("%lu pages %s %08lx inode-is-dev-zero=%d %s\n", (hi - lo) / 4096, perms, off,
                   inode == ino, n);
    }
    fclose(f);
}

static int all_zero(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

int main(void)
{
    int fd = open("/dev/zero", O_RDWR);
    struct stat st;
    fstat(fd, &st);
    char *priv = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 8192);
    char *shared = mmap(0, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *shared_off = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 4096);
    char *anon = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (priv == MAP_FAILED || shared == MAP_FAILED || shared_off == MAP_FAILED ||
        anon == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    /* shared_off is not touched: its shmem file is as long as the mapping (4096), so the
     * page at offset 4096 lies past its end and Linux raises SIGBUS there. */
    printf("zeros: %d %d %d\n", all_zero(priv, 3 * 4096), all_zero(shared, 2 * 4096),
           all_zero(anon, 4096));
    memset(priv, 0x11, 3 * 4096);
    memset(shared, 0x22, 2 * 4096);
    printf("written: %x %x\n", priv[3 * 4096 - 1], shared[2 * 4096 - 1]);
    show_maps(st.st_ino);

    int ro = open("/dev/zero", O_RDONLY);
    void *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
    printf("read-only fd, shared writable: %s\n", p == MAP_FAILED ? strerror(errno) : "ok");
    p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
    printf("read-only fd, private writable: %s\n", p == MAP_FAILED ? strerror(errno) : "ok");
    p = mmap(0, 4096, PROT_READ, MAP_SHARED, ro, 0);
    printf("read-only fd, shared read-only: %s, mprotect write: %s\n",
           p == MAP_FAILED ? strerror(errno) : "ok",
           mprotect(p, 4096, PROT_READ | PROT_WRITE) ? strerror(errno) : "ok");
    int wo = open("/dev/zero", O_WRONLY);
    p = mmap(0, 4096, PROT_READ, MAP_PRIVATE, wo, 0);
    printf("write-only fd: %s\n", p == MAP_FAILED ? strerror(errno) : "ok");
    return 0;
}

/* mmap's MAP_TYPE (mm/mmap.c do_mmap): anonymous memory takes MAP_SHARED, MAP_PRIVATE and,
 * since 6.11, MAP_DROPPABLE (what vgetrandom's states live in: zero in a fork's child); a
 * file (here /dev/zero) also takes MAP_SHARED_VALIDATE but not MAP_DROPPABLE. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errname.h"

#define DROPPABLE 0x08
#define SHARED_VALIDATE 0x03

static const char *res(void *p) { return p == MAP_FAILED ? errname(errno) : "ok"; }

int main(void)
{
    int fd = open("/dev/zero", O_RDWR);
    char *d = mmap(0, 4096, PROT_READ | PROT_WRITE, DROPPABLE | MAP_ANONYMOUS, -1, 0);
    printf("droppable anonymous: %s\n", res(d));
    printf("droppable file: %s\n", res(mmap(0, 4096, PROT_READ, DROPPABLE, fd, 0)));
    printf("type 4: %s\n", res(mmap(0, 4096, PROT_READ, 0x04 | MAP_ANONYMOUS, -1, 0)));
    printf("shared-validate anonymous: %s\n",
           res(mmap(0, 4096, PROT_READ, SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0)));
    printf("shared-validate file: %s\n", res(mmap(0, 4096, PROT_READ, SHARED_VALIDATE, fd, 0)));
    printf("shared-validate file, unknown flag: %s\n",
           res(mmap(0, 4096, PROT_READ, SHARED_VALIDATE | 0x200000, fd, 0)));
    printf("private, unknown flag: %s\n",
           res(mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | 0x200000, -1, 0)));
    if (d != MAP_FAILED) {
        d[0] = 'd';
        fflush(stdout);
        if (fork() == 0) {
            printf("child sees droppable as %d\n", d[0]);
            fflush(stdout);
            _exit(0);
        }
        wait(0);
        printf("parent keeps %c\n", d[0]);
    }
    return 0;
}

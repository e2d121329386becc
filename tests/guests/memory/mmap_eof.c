/* A file mapping longer than its file: the rest of the last page reads as zeros, a page
 * wholly past the end raises SIGBUS (BUS_ADRERR) for a read and for a write, while an access the permissions refuse is SIGSEGV (SEGV_ACCERR). The mapping is
 * one line in /proc/self/maps. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static sigjmp_buf back;
static volatile int got_sig, got_code;

static void on_fault(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    siglongjmp(back, 1);
}

static void touch(const char *what, volatile char *p, int write) {
    got_sig = got_code = 0;
    if (sigsetjmp(back, 1) == 0) {
        if (write)
            *p = 1;
        else
            (void)*p;
        printf("%s: no fault\n", what);
    } else {
        printf("%s: %s code %d\n", what, got_sig == SIGBUS ? "SIGBUS" :
               got_sig == SIGSEGV ? "SIGSEGV" : "other", got_code);
    }
}

static int lines_naming(const char *path) {
    char line[512];
    int n = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, path) != NULL;
    if (f)
        fclose(f);
    return n;
}

int main(void) {
    const char *path = "/tmp/mmap_eof.data";
    long page = sysconf(_SC_PAGESIZE);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &sa, 0);
    sigaction(SIGSEGV, &sa, 0);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    char data[100];
    memset(data, 'x', sizeof data);
    if (fd < 0 || write(fd, data, sizeof data) != sizeof data)
        return 1;
    char *p = mmap(0, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        return 2;
    printf("first byte %c, byte 100 %d, last of page %d\n", p[0], p[100], p[page - 1]);
    printf("maps lines: %d\n", lines_naming(path));
    touch("private read past the end", p + page, 0);
    touch("private write past the end", p + 2 * page + 8, 1);
    mprotect(p + page, page, PROT_NONE);
    touch("read of a PROT_NONE page past the end", p + page, 0);
    printf("maps lines after mprotect: %d\n", lines_naming(path));
    munmap(p, 3 * page);
    close(fd);
    unlink(path);
    return 0;
}

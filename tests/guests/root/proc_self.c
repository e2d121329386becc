/* What a process reads about itself in /proc, checked against what it knows: status and
 * stat fields (state, ids, threads, memory sizes and their relationships, resident pages
 * growing when pages are touched, the signal masks), /proc/self/mem reading and writing its
 * own variables (also through a read-only mapping, its own code, which the next call
 * runs, and EIO where nothing is mapped or for [vvar]),
 * /proc/self/maps showing a mapping made after it was opened, and pagemap's present bit.
 * Every line printed is a yes/no or a value the program chose, so native and syscall-lab
 * runs print the same. Usage: proc_self [status|mem|maps|pagemap] (default: all). */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64 /* i386: addresses above 2 GiB are offsets too (pread64, _llseek) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char text[65536];

static const char *slurp(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return "";
    size_t n = 0;
    ssize_t got;
    while (n < sizeof text - 1 && (got = read(fd, text + n, sizeof text - 1 - n)) > 0)
        n += got;
    text[n] = 0;
    close(fd);
    return text;
}

static long field_kb(const char *status, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s:", name);
    const char *at = strstr(status, key);
    return at ? strtol(at + strlen(key), NULL, 10) : -1;
}

static unsigned long long field_hex(const char *status, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s:", name);
    const char *at = strstr(status, key);
    return at ? strtoull(at + strlen(key), NULL, 16) : ~0ULL;
}

static const char *yes(int b) { return b ? "yes" : "no"; }

static void handler(int sig) { (void)sig; }

static int status(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGUSR2, SIG_IGN);
    signal(SIGHUP, handler);

    char status[8192];
    strcpy(status, "\n");
    strncat(status, slurp("/proc/self/status"), sizeof status - 2);
    const char *state = strstr(status, "\nState:\t");
    printf("State: %.11s\n", state ? state + 8 : "?");
    printf("Pid is getpid: %s\n", yes(field_kb(status, "Pid") == getpid()));
    printf("Tgid is getpid: %s\n", yes(field_kb(status, "Tgid") == getpid()));
    printf("PPid is getppid: %s\n", yes(field_kb(status, "PPid") == getppid()));
    char uid[64];
    snprintf(uid, sizeof uid, "\nUid:\t%d\t%d\t%d\t%d\n", getuid(), geteuid(), getuid(), getuid());
    printf("Uid line: %s\n", yes(strstr(status, uid) != NULL));
    printf("Threads: %ld\n", field_kb(status, "Threads"));
    unsigned long long usr1 = 1ULL << (SIGUSR1 - 1), usr2 = 1ULL << (SIGUSR2 - 1);
    unsigned long long hup = 1ULL << (SIGHUP - 1);
    printf("SigBlk has SIGUSR1: %s\n", yes(field_hex(status, "SigBlk") & usr1));
    printf("SigIgn has SIGUSR2: %s\n", yes(field_hex(status, "SigIgn") & usr2));
    printf("SigCgt has SIGHUP: %s\n", yes(field_hex(status, "SigCgt") & hup));
    printf("SigCgt lacks SIGUSR2: %s\n", yes(!(field_hex(status, "SigCgt") & usr2)));
    long size = field_kb(status, "VmSize"), peak = field_kb(status, "VmPeak");
    long rss = field_kb(status, "VmRSS"), hwm = field_kb(status, "VmHWM");
    long anon = field_kb(status, "RssAnon"), file = field_kb(status, "RssFile");
    long shmem = field_kb(status, "RssShmem");
    printf("0 < VmRSS <= VmSize <= VmPeak: %s\n", yes(0 < rss && rss <= size && size <= peak));
    printf("VmRSS <= VmHWM: %s\n", yes(rss <= hwm));
    printf("RssAnon + RssFile + RssShmem == VmRSS: %s\n", yes(anon + file + shmem == rss));

    /* 512 pages mapped: the size grows at once, the resident set only once touched */
    size_t len = 512 * 4096;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    strcpy(status, "\n");
    strncat(status, slurp("/proc/self/status"), sizeof status - 2);
    long size2 = field_kb(status, "VmSize"), rss2 = field_kb(status, "VmRSS");
    (void)rss;
    printf("VmSize grew by the mapping: %s\n", yes(size2 - size == 2048));
    for (size_t i = 0; i < len; i += 4096)
        p[i] = 1;
    strcpy(status, "\n");
    strncat(status, slurp("/proc/self/status"), sizeof status - 2);
    long rss3 = field_kb(status, "VmRSS"), anon3 = field_kb(status, "RssAnon");
    printf("touching it adds 2048 kB to VmRSS: %s\n", yes(rss3 - rss2 >= 2048 && rss3 - rss2 < 2048 + 256));
    printf("and to RssAnon: %s\n", yes(anon3 - anon >= 2048));
    printf("VmHWM follows: %s\n", yes(field_kb(status, "VmHWM") >= rss3));

    /* stat: "pid (comm) state ppid pgrp session ..." field 20 num_threads, 23 vsize, 24 rss */
    const char *stat = slurp("/proc/self/stat");
    const char *close_paren = strrchr(stat, ')');
    char st;
    long ppid, pgrp, session, fields[64];
    sscanf(close_paren + 2, "%c %ld %ld %ld", &st, &ppid, &pgrp, &session);
    const char *at = close_paren + 2;
    int n = 0;
    while (*at && n < 50) {
        fields[n++] = strtol(at, NULL, 10);
        at = strchr(at, ' ');
        if (!at)
            break;
        at++;
    }
    /* fields[0] is field 3 (state) */
    printf("stat state: %c\n", st);
    printf("stat ppid, pgrp, session: %s %s %s\n", yes(ppid == getppid()),
           yes(pgrp == getpgrp()), yes(session == getsid(0)));
    printf("stat num_threads: %ld\n", fields[20 - 3]);
    printf("stat vsize is VmSize: %s\n", yes(fields[23 - 3] == field_kb(status, "VmSize") * 1024));
    printf("stat rss is positive: %s\n", yes(fields[24 - 3] > 0));
    printf("stat fields: %s\n", yes(n >= 50));
    /* statm: size resident shared text lib data dt, in pages */
    long statm[7] = {0};
    sscanf(slurp("/proc/self/statm"), "%ld %ld %ld %ld %ld %ld %ld", &statm[0], &statm[1],
           &statm[2], &statm[3], &statm[4], &statm[5], &statm[6]);
    printf("statm size is VmSize: %s\n", yes(statm[0] * 4 == field_kb(status, "VmSize")));
    printf("statm text is VmExe, data is VmData + VmStk: %s %s\n",
           yes(statm[3] * 4 == field_kb(status, "VmExe")),
           yes(statm[5] * 4 == field_kb(status, "VmData") + field_kb(status, "VmStk")));
    printf("statm shared <= resident: %s, lib and dt: %ld %ld\n", yes(statm[2] <= statm[1]),
           statm[4], statm[6]);
    return 0;
}

static volatile long long secret = 0x1122334455667788LL;

__attribute__((noinline)) static int answer(void)
{
    return 1;
}

static int (*volatile call_answer)(void) = answer;
static const char rodata[] = "read-only data";

static int mem(void)
{
    int fd = open("/proc/self/mem", O_RDWR);
    if (fd < 0) {
        printf("open /proc/self/mem: %s\n", strerror(errno));
        return 1;
    }
    long long got = 0;
    ssize_t n = pread(fd, &got, sizeof got, (off_t)(uintptr_t)&secret);
    printf("pread of a variable: %zd %s\n", n, yes(got == secret));
    long long value = 0x0102030405060708LL;
    n = pwrite(fd, &value, sizeof value, (off_t)(uintptr_t)&secret);
    printf("pwrite into it: %zd %s\n", n, yes(secret == value));
    /* lseek + read, as dd does */
    off_t where = lseek(fd, (off_t)(uintptr_t)rodata, SEEK_SET);
    char buf[32] = "";
    n = read(fd, buf, sizeof rodata);
    printf("lseek+read of rodata: %s %zd %s\n", yes(where == (off_t)(uintptr_t)rodata), n, buf);
    printf("offset moved: %s\n", yes(lseek(fd, 0, SEEK_CUR) == where + n));
    printf("SEEK_END: %s\n", lseek(fd, 0, SEEK_END) < 0 ? strerror(errno) : "ok");

    /* a read-only mapping is written all the same (FOLL_FORCE) */
    char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    n = pwrite(fd, "forced", 6, (off_t)(uintptr_t)ro);
    printf("pwrite into PROT_READ: %zd %.6s\n", n, ro);
    char *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    n = pread(fd, buf, 4, (off_t)(uintptr_t)none);
    printf("pread of PROT_NONE: %zd\n", n);

    /* two pages, the second unmapped: a read across stops at the hole, one at it fails */
    char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(two + 4096, 4096);
    static char big[8192];
    n = pread(fd, big, 8192, (off_t)(uintptr_t)two);
    printf("pread across the end of a mapping: %zd\n", n);
    errno = 0;
    n = pread(fd, big, 16, (off_t)(uintptr_t)(two + 4096));
    printf("pread of an unmapped page: %zd %s\n", n, strerror(errno));
    errno = 0;
    n = pwrite(fd, big, 16, (off_t)(uintptr_t)(two + 4096));
    printf("pwrite to an unmapped page: %zd %s\n", n, strerror(errno));
    /* the program's own text, read-only and executable, rewritten through mem: the next
     * call runs the new code (mov eax, 42; ret) */
    printf("answer() before: %d\n", call_answer());
    static const unsigned char code[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3};
    n = pwrite(fd, code, sizeof code, (off_t)(uintptr_t)call_answer);
    printf("pwrite into the text: %zd, answer() after: %d\n", n, call_answer());

    /* [vvar] is device memory to the kernel (VM_IO | VM_PFNMAP): EIO; the vDSO is the
     * process's own (copied on write): writable through mem like the program's text */
    unsigned long long vvar = 0, vdso = 0;
    char line[512];
    FILE *m = fopen("/proc/self/maps", "r");
    while (m && fgets(line, sizeof line, m)) {
        if (strstr(line, "[vvar]"))
            sscanf(line, "%llx", &vvar);
        if (strstr(line, "[vdso]"))
            sscanf(line, "%llx", &vdso);
    }
    if (m)
        fclose(m);
    errno = 0;
    n = pread(fd, big, 16, (off_t)vvar);
    printf("pread of [vvar]: %zd %s\n", n, strerror(errno));
    char byte;
    n = pread(fd, &byte, 1, (off_t)vdso + 0x800);
    n = n == 1 ? pwrite(fd, &byte, 1, (off_t)vdso + 0x800) : -1;  /* the same byte back */
    printf("pwrite into the vDSO: %zd\n", n);
    close(fd);
    return 0;
}

static int maps(void)
{
    int fd = open("/proc/self/maps", O_RDONLY);
    static char before[65536], after[65536], pieces[65536];
    ssize_t n = read(fd, before, sizeof before - 1);
    before[n > 0 ? n : 0] = 0;
    /* a distinctive mapping made after the open */
    char *p = mmap((void *)0x5a5a0000, 3 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) {
        printf("mmap: %s\n", strerror(errno));
        return 1;
    }
    printf("before: mapping listed: %s\n", yes(strstr(before, "5a5a0000-5a5a3000 r--p") != NULL));
    lseek(fd, 0, SEEK_SET);
    n = read(fd, after, sizeof after - 1);
    after[n > 0 ? n : 0] = 0;
    printf("same fd, from offset 0 again: listed: %s\n", yes(strstr(after, "5a5a0000-5a5a3000 r--p") != NULL));
    /* read in 7-byte pieces: one consistent text */
    lseek(fd, 0, SEEK_SET);
    size_t total = 0;
    while ((n = read(fd, pieces + total, 7)) > 0)
        total += n;
    pieces[total] = 0;
    printf("7-byte reads give the same text: %s\n", yes(strcmp(pieces, after) == 0));
    close(fd);
    munmap(p, 3 * 4096);
    fd = open("/proc/self/maps", O_RDONLY);
    n = read(fd, after, sizeof after - 1);
    after[n > 0 ? n : 0] = 0;
    printf("after munmap, a new open: listed: %s\n", yes(strstr(after, "5a5a0000-5a5a3000") != NULL));
    close(fd);
    return 0;
}

static int pagemap(void)
{
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0) {
        printf("open pagemap: %s\n", strerror(errno));
        return 1;
    }
    char *p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p[0] = 1;
    uint64_t e[2] = {0, 0};
    ssize_t n = pread(fd, e, sizeof e, (off_t)((uintptr_t)p / 4096 * 8));
    printf("pagemap read: %zd\n", n);
    printf("touched page present: %s\n", yes(e[0] >> 63 & 1));
    printf("touched page exclusive: %s\n", yes(e[0] >> 56 & 1));
    printf("untouched page: %s\n", e[1] == 0 ? "empty" : "present");
    errno = 0;
    n = pread(fd, e, 4, 0);
    printf("partial entry: %zd %s\n", n, strerror(errno));
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "all";
    int all = strcmp(what, "all") == 0, bad = 0;
    if (all || !strcmp(what, "status")) bad |= status();
    if (all || !strcmp(what, "mem")) bad |= mem();
    if (all || !strcmp(what, "maps")) bad |= maps();
    if (all || !strcmp(what, "pagemap")) bad |= pagemap();
    return bad;
}

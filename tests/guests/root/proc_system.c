/* The system-wide /proc files a libc or a tool reads, checked against what the program can
 * learn another way: /proc/sys/kernel against uname, boot_id stable and uuid fresh,
 * /proc/mounts and /proc/self/mountinfo through getmntent and by their format, cpuinfo
 * against the cpuid instruction, meminfo against sysinfo. Prints only yes/no and values
 * that are the same on any Linux 6.x machine. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 16];

static const char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = 0;
    if (f)
        fclose(f);
    return buf;
}

static char *line(const char *path)
{
    char *s = strdup(slurp(path));
    s[strcspn(s, "\n")] = 0;
    return s;
}

static const char *yes(int b) { return b ? "yes" : "no"; }

static int is_uuid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++)
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
            return 0;
    return 1;
}

static void sys(void)
{
    struct utsname u;
    uname(&u);
    printf("ostype: %s\n", line("/proc/sys/kernel/ostype"));
    printf("osrelease is uname's: %s\n", yes(!strcmp(line("/proc/sys/kernel/osrelease"), u.release)));
    printf("version is uname's: %s\n", yes(!strcmp(line("/proc/sys/kernel/version"), u.version)));
    printf("hostname is uname's: %s\n", yes(!strcmp(line("/proc/sys/kernel/hostname"), u.nodename)));
    printf("pid_max above getpid: %s\n", yes(atol(line("/proc/sys/kernel/pid_max")) > getpid()));
    printf("threads-max positive: %s\n", yes(atol(line("/proc/sys/kernel/threads-max")) > 0));
    printf("ngroups_max: %s\n", line("/proc/sys/kernel/ngroups_max"));
    printf("cap_last_cap: %s\n", line("/proc/sys/kernel/cap_last_cap"));
    printf("overflowuid: %s\n", line("/proc/sys/kernel/overflowuid"));
    printf("overflowgid: %s\n", line("/proc/sys/kernel/overflowgid"));
    printf("overcommit_memory: %s\n", line("/proc/sys/vm/overcommit_memory"));
    printf("pipe-max-size: %s\n", line("/proc/sys/fs/pipe-max-size"));
    printf("nr_open: %s\n", line("/proc/sys/fs/nr_open"));
    printf("sysconf(_SC_NGROUPS_MAX) agrees: %s\n",
           yes(sysconf(_SC_NGROUPS_MAX) == atol(line("/proc/sys/kernel/ngroups_max"))));
    char *boot1 = line("/proc/sys/kernel/random/boot_id"), *boot2 = line("/proc/sys/kernel/random/boot_id");
    char *uuid1 = line("/proc/sys/kernel/random/uuid"), *uuid2 = line("/proc/sys/kernel/random/uuid");
    printf("boot_id is a uuid, the same twice: %s %s\n", yes(is_uuid(boot1)), yes(!strcmp(boot1, boot2)));
    printf("uuid is a uuid, new each read: %s %s\n", yes(is_uuid(uuid1)), yes(strcmp(uuid1, uuid2) != 0));
    printf("uuid version 4: %s\n", yes(uuid1[14] == '4'));
}

static void mounts(void)
{
    FILE *f = setmntent("/proc/self/mounts", "r");
    struct mntent *m;
    int proc = 0, shm = 0, dev = 0, n = 0;
    while (f && (m = getmntent(f))) {
        n++;
        if (!strcmp(m->mnt_dir, "/proc"))
            proc = !strcmp(m->mnt_type, "proc");
        if (!strcmp(m->mnt_dir, "/dev/shm"))
            shm = !strcmp(m->mnt_type, "tmpfs") && hasmntopt(m, "rw") != NULL;
        if (!strcmp(m->mnt_dir, "/dev"))
            dev = 1;
    }
    if (f)
        endmntent(f);
    printf("getmntent: /proc is proc: %s, /dev/shm is a rw tmpfs: %s, /dev listed: %s\n",
           yes(proc), yes(shm), yes(dev));
    printf("/proc/mounts is /proc/self/mounts: %s\n",
           yes(!strcmp(strdup(slurp("/proc/mounts")), slurp("/proc/self/mounts"))));
    /* mountinfo: "ID PARENT MAJ:MIN ROOT POINT OPTIONS [optional...] - TYPE SOURCE SUPER" */
    char *info = strdup(slurp("/proc/self/mountinfo"));
    int lines = 0, good = 1, has_root = 0;
    for (char *l = strtok(info, "\n"); l; l = strtok(NULL, "\n")) {
        int id, parent, major, minor;
        char root[256], point[256];
        lines++;
        if (sscanf(l, "%d %d %d:%d %255s %255s", &id, &parent, &major, &minor, root, point) != 6 || !strstr(l, " - "))
            good = 0;
        else if (!strcmp(point, "/"))
            has_root = 1;
    }
    printf("mountinfo: well formed: %s, one line per mount: %s, / listed: %s\n", yes(good),
           yes(lines == n), yes(has_root));
}

static void cpu(void)
{
    unsigned a, b, c, d;
    char vendor[13] = "";
    __cpuid(0, a, b, c, d);
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    const char *info = slurp("/proc/cpuinfo");
    char want[64];
    snprintf(want, sizeof want, "vendor_id\t: %s\n", vendor);
    printf("cpuinfo vendor_id is cpuid's: %s\n", yes(strstr(info, want) != NULL));
    __cpuid(1, a, b, c, d);
    unsigned family = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
    if (family == 0xf)
        family += (a >> 20) & 0xff;
    if (family >= 6)
        model += ((a >> 16) & 0xf) << 4;
    snprintf(want, sizeof want, "cpu family\t: %u\nmodel\t\t: %u\n", family, model);
    printf("cpuinfo family and model are cpuid's: %s\n", yes(strstr(info, want) != NULL));
    const char *flags = strstr(info, "\nflags\t\t: ");
    char fl[4096] = "";
    if (flags)
        sscanf(flags + 10, "%4095[^\n]", fl);
    strcat(fl, " ");
    printf("flags: sse2 %s, fpu %s, cx8 %s\n", yes((strstr(fl, " sse2 ") != NULL) == !!(d & (1 << 26))),
           yes((strncmp(fl, "fpu ", 4) == 0) == !!(d & 1)), yes((strstr(fl, " cx8 ") != NULL) == !!(d & (1 << 8))));
    int processors = 0;
    for (const char *p = info; (p = strstr(p, "processor\t: ")); p++)
        processors++;
    printf("one processor block per online CPU: %s\n", yes(processors == sysconf(_SC_NPROCESSORS_ONLN)));
}

static void mem(void)
{
    struct sysinfo si;
    sysinfo(&si);
    const char *info = slurp("/proc/meminfo");
    unsigned long total = 0, free_kb = 0, avail = 0;
    sscanf(strstr(info, "MemTotal:"), "MemTotal: %lu kB", &total);
    sscanf(strstr(info, "MemFree:"), "MemFree: %lu kB", &free_kb);
    sscanf(strstr(info, "MemAvailable:"), "MemAvailable: %lu kB", &avail);
    printf("MemTotal is sysinfo's totalram: %s\n", yes(total == (unsigned long long)si.totalram * si.mem_unit / 1024));
    printf("MemFree <= MemTotal: %s, MemAvailable <= MemTotal: %s\n", yes(free_kb <= total), yes(avail <= total));
    printf("sysconf(_SC_PHYS_PAGES) agrees: %s\n", yes((unsigned long long)sysconf(_SC_PHYS_PAGES) * (sysconf(_SC_PAGESIZE) / 1024) == total));
    printf("fields: %s %s %s\n", yes(strstr(info, "\nSwapTotal:") != NULL), yes(strstr(info, "\nShmem:") != NULL),
           yes(strstr(info, "\nCommitted_AS:") != NULL));
}

static void counters(void)
{
    struct sysinfo si;
    sysinfo(&si);
    double up = 0, idle = 0;
    sscanf(slurp("/proc/uptime"), "%lf %lf", &up, &idle);
    printf("uptime is sysinfo's: %s, idle >= 0: %s\n", yes(up - si.uptime > -2 && up - si.uptime < 2),
           yes(idle >= 0));
    char *stat = strdup(slurp("/proc/stat"));
    unsigned long long f[10];
    int fields = sscanf(stat, "cpu  %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1], &f[2],
                        &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9]);
    const char *btime = strstr(stat, "\nbtime "), *running = strstr(stat, "\nprocs_running ");
    long boot = btime ? atol(btime + 7) : 0;
    printf("stat: cpu line has 10 times: %s, cpu0 line: %s\n", yes(fields == 10),
           yes(strstr(stat, "\ncpu0 ") != NULL));
    printf("stat: btime + uptime is now: %s\n", yes(labs(boot + (long)up - (long)time(NULL)) <= 2));
    printf("stat: procs_running >= 1: %s, ctxt and processes: %s %s\n",
           yes(running && atol(running + 15) >= 1), yes(strstr(stat, "\nctxt ") != NULL),
           yes(strstr(stat, "\nprocesses ") != NULL));
    int run = 0, total = 0, last = 0;
    double l1, l5, l15;
    int got = sscanf(slurp("/proc/loadavg"), "%lf %lf %lf %d/%d %d", &l1, &l5, &l15, &run, &total, &last);
    printf("loadavg: six fields: %s, 1 <= running <= total: %s, last pid >= ours: %s\n", yes(got == 6),
           yes(1 <= run && run <= total), yes(last >= getpid()));
    /* every type /proc/mounts names is in /proc/filesystems */
    char *fs = strdup(slurp("/proc/filesystems"));
    FILE *f2 = setmntent("/proc/mounts", "r");
    struct mntent *m;
    int all = 1;
    while (f2 && (m = getmntent(f2))) {
        char want[64];
        snprintf(want, sizeof want, "\t%s\n", m->mnt_type);
        all &= strstr(fs, want) != NULL;
    }
    if (f2)
        endmntent(f2);
    printf("every mounted type is in /proc/filesystems: %s\n", yes(all));
}

int main(void)
{
    sys();
    counters();
    mounts();
    cpu();
    mem();
    return 0;
}

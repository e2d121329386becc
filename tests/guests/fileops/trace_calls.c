/* One call of each kind whose strace line syscall-lab must print as strace does; run in
 * the directory argv[1]. The results do not matter here, the lines do. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <sys/fsuid.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <utime.h>

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1]) != 0) return 2;
    int fd = open("f", O_CREAT | O_RDWR | O_TRUNC, 0644);
    write(fd, "hello world", 11);
    struct timespec ts[2] = {{1000000000, 5}, {0, UTIME_OMIT}};
    utimensat(AT_FDCWD, "f", ts, 0);
    ts[0].tv_nsec = UTIME_NOW;
    utimensat(AT_FDCWD, "f", ts, AT_SYMLINK_NOFOLLOW);
    utimensat(AT_FDCWD, "f", NULL, 0);
    ts[0].tv_nsec = -5;
    utimensat(AT_FDCWD, "f", ts, 0);
    struct timeval tv[2] = {{1000000000, 7}, {1000000001, 0}};
    syscall(SYS_futimesat, AT_FDCWD, "f", tv);
#ifdef SYS_utimes
    syscall(SYS_utimes, "f", tv);
#endif
#ifdef SYS_utime
    struct utimbuf ub = {1000000000, 1000000002};
    syscall(SYS_utime, "f", &ub);
    syscall(SYS_utime, "f", NULL);
#endif
    chown("f", 0, 0);
    fchown(fd, -1, 0);
    lchown("f", 0, -1);
    fchownat(AT_FDCWD, "f", 0, 0, AT_SYMLINK_NOFOLLOW);
    truncate("f", 30);
    fallocate(fd, 0, 0, 4096);
    fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0, 100);
    sync();
    syncfs(fd);
    fsync(fd);
    fdatasync(fd);
    int out = open("g", O_CREAT | O_RDWR | O_TRUNC, 0644);
    off_t off = 2;
    sendfile(out, fd, &off, 3);
    sendfile(out, fd, NULL, 3);
    loff_t o1 = 0;
    copy_file_range(fd, &o1, out, NULL, 2, 0);
    rename("g", "h");
    syscall(SYS_renameat2, AT_FDCWD, "h", AT_FDCWD, "f", 2);
    syscall(SYS_renameat2, AT_FDCWD, "h", AT_FDCWD, "f", 9);
    renameat(AT_FDCWD, "h", AT_FDCWD, "i");
    link("f", "l");
    linkat(AT_FDCWD, "f", AT_FDCWD, "l2", AT_SYMLINK_FOLLOW);
    symlink("f", "s");
    symlinkat("f", AT_FDCWD, "s2");
    chmod("f", 0600);
    fchmodat(AT_FDCWD, "f", 0644, 0);
    gid_t g[2] = {5, 6};
    setgroups(2, g);
    getgroups(2, g);
    getgroups(0, NULL);
    syscall(SYS_setgroups, 1, (void *)1);
    uid_t a, b, c;
    setresuid(-1, -1, -1);
    getresuid(&a, &b, &c);
    getresgid(&a, &b, &c);
    setfsgid(0);
    setfsuid(0);
    setuid(0);
    setreuid(-1, 0);
    setregid(0, -1);
    setgid(0);
    struct statfs sf;
    int p[2];
    pipe(p);
    statfs("/proc", &sf);
    fstatfs(p[0], &sf);
    const char *names[] = {"f", "h", "i", "l", "l2", "s", "s2"};
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++) unlink(names[i]);
    return 0;
}

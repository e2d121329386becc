/* Names, attributes and in-kernel copies, in the directory given as argv[1] ("tmp" as
 * argv[2]: a file system where root may give files away, so chown to others is tried).
 * Prints each call's result and errno, and the deterministic stat fields after it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#define RENAME_EXCHANGE 2
#define RENAME_WHITEOUT 4
#endif

static void r(const char *what, long ret) {
    printf("%-40s = %ld", what, ret);
    if (ret < 0) printf(" errno %d", errno);
    printf("\n");
    errno = 0;
}

static void st(const char *path) {
    struct stat s;
    if (lstat(path, &s) != 0) { printf("  %s: lstat errno %d\n", path, errno); return; }
    printf("  %s: mode %o nlink %ld size %lld uid %d gid %d", path, (unsigned)s.st_mode,
           (long)s.st_nlink, (long long)s.st_size, (int)s.st_uid, (int)s.st_gid);
    if (S_ISCHR(s.st_mode)) printf(" rdev %d:%d", major(s.st_rdev), minor(s.st_rdev));
    printf("\n");
}

static void times_of(const char *path) {
    struct stat s;
    lstat(path, &s);
    printf("  %s: atime %lld.%09ld mtime %lld.%09ld\n", path, (long long)s.st_atim.tv_sec,
           s.st_atim.tv_nsec, (long long)s.st_mtim.tv_sec, s.st_mtim.tv_nsec);
}

static long renameat2_(const char *a, const char *b, unsigned flags) {
    return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

static void contents(const char *path) {
    char buf[64] = {0};
    int fd = open(path, O_RDONLY);
    long n = read(fd, buf, sizeof buf - 1);
    close(fd);
    printf("  %s holds %ld bytes:", path, n);
    for (long i = 0; i < n; i++) printf(" %02x", (unsigned char)buf[i]);
    printf("\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1]) != 0) { perror("chdir"); return 2; }
    int tmp = argc > 2 && strcmp(argv[2], "tmp") == 0;
    umask(022);
    int fd = open("f", O_CREAT | O_RDWR | O_TRUNC, 0644);
    r("write f", write(fd, "hello", 5));
    r("mkdir d", mkdir("d", 0755));
    r("mkdir d/sub", mkdir("d/sub", 0755));
    r("mkdir e", mkdir("e", 0755));
    r("mkdir e/x", mkdir("e/x", 0755));

    /* -- links and symlinks -- */
    r("link f l", link("f", "l")); st("f");
    r("symlink f s", symlink("f", "s")); st("s");
    char buf[64] = {0};
    r("readlink s", readlink("s", buf, sizeof buf)); printf("  -> %s\n", buf);
    r("linkat s l2 FOLLOW", linkat(AT_FDCWD, "s", AT_FDCWD, "l2", AT_SYMLINK_FOLLOW)); st("l2");
    r("linkat s l3 (the link itself)", linkat(AT_FDCWD, "s", AT_FDCWD, "l3", 0)); st("l3"); st("s");
    r("symlinkat d/../f sa", symlinkat("d/../f", AT_FDCWD, "sa")); st("sa");
    r("symlink exists", symlink("x", "f"));
    r("symlink empty target", symlink("", "empty"));
    r("link dir", link("d", "dl"));
    r("link missing", link("missing", "m2"));
    r("link onto existing", link("f", "l"));
    r("link to .", link("f", "."));
    r("linkat bad flags", linkat(AT_FDCWD, "f", AT_FDCWD, "q", 0x8000));
    r("link f d/ (trailing slash)", link("f", "nd/"));
    r("unlink l2", unlink("l2")); st("f");

    /* -- rename -- */
    r("rename l g", rename("l", "g")); st("g"); st("l");
    int g2 = open("g2", O_CREAT | O_WRONLY, 0600); close(g2);
    r("rename g2 over g", rename("g2", "g")); st("g");
    r("rename f over g NOREPLACE", renameat2_("f", "g", RENAME_NOREPLACE));
    r("rename f h NOREPLACE", renameat2_("f", "h", RENAME_NOREPLACE)); st("h"); st("f");
    r("renameat h f", renameat(AT_FDCWD, "h", AT_FDCWD, "f"));
    r("exchange f d", renameat2_("f", "d", RENAME_EXCHANGE)); st("f"); st("d");
    r("exchange back", renameat2_("f", "d", RENAME_EXCHANGE)); st("f"); st("d");
    r("exchange with missing", renameat2_("f", "nothere", RENAME_EXCHANGE));
    r("NOREPLACE|EXCHANGE", renameat2_("f", "g", RENAME_NOREPLACE | RENAME_EXCHANGE));
    r("bad flags", renameat2_("f", "g", 8));
    r("dir into itself", rename("d", "d/sub/in"));
    r("dir over its ancestor", rename("d/sub", "d"));
    r("file over dir", rename("f", "d"));
    r("dir over file", rename("d", "f"));
    r("dir over non-empty dir", rename("d", "e"));
    r("dir over empty dir", rename("d/sub", "e/x")); st("e/x"); st("e"); st("d");
    r("rename .", rename(".", "z"));
    r("rename to ..", rename("f", ".."));
    r("rename missing", rename("missing", "z"));
    r("rename f to missing dir", rename("f", "nodir/z"));
    r("rename file with trailing slash", rename("f", "z/"));
    r("rename hard link onto itself", link("f", "fl") + rename("f", "fl")); st("f"); st("fl");
    r("unlink fl", unlink("fl"));
    r("rename symlink", rename("sa", "sb")); st("sb");
    int w = open("w", O_CREAT | O_WRONLY, 0600); close(w);
    r("WHITEOUT w w2", renameat2_("w", "w2", RENAME_WHITEOUT)); st("w"); st("w2");

    /* -- chmod and chown (as root) -- */
    r("chmod f 04755", chmod("f", 04755));
    r("chown f 0 0", chown("f", 0, 0)); printf("  mode now %o\n", ({ struct stat s; stat("f", &s); (unsigned)s.st_mode; }));
    r("fchownat f -1 -1", fchownat(AT_FDCWD, "f", -1, -1, 0)); st("f");
    r("fchownat bad flags", fchownat(AT_FDCWD, "f", 0, 0, 0x8000));
    if (tmp) {
        r("chown f 1000 1001", chown("f", 1000, 1001)); st("f");
        r("lchown s 1002 -1", lchown("s", 1002, -1)); st("s"); st("f");
        r("fchown fd 0 0", fchown(fd, 0, 0)); st("f");
        /* inode_init_owner: a setgid directory hands its group down */
        r("mkdir sg", mkdir("sg", 0755));
        r("chown sg 0 50", chown("sg", 0, 50));
        r("chmod sg 02775", chmod("sg", 02775));
        int in = open("sg/file", O_CREAT | O_WRONLY, 02755); close(in);
        st("sg/file");
        r("mkdir sg/sub", mkdir("sg/sub", 0700)); st("sg/sub");
        unlink("sg/file"); rmdir("sg/sub"); rmdir("sg");
    }
    r("chmod f 0644", chmod("f", 0644));

    /* -- times -- */
    struct timespec ts[2] = {{1000000000, 5}, {1200000000, 123456789}};
    r("utimensat f", utimensat(AT_FDCWD, "f", ts, 0)); times_of("f");
    ts[0].tv_nsec = UTIME_OMIT; ts[1].tv_sec = 1300000000; ts[1].tv_nsec = 0;
    r("utimensat f OMIT atime", utimensat(AT_FDCWD, "f", ts, 0)); times_of("f");
    ts[1].tv_nsec = UTIME_OMIT;
    r("utimensat missing both OMIT", utimensat(AT_FDCWD, "missing", ts, 0));
    ts[0].tv_nsec = 1000000000;
    r("utimensat bad nsec", utimensat(AT_FDCWD, "f", ts, 0));
    r("utimensat bad flags", utimensat(AT_FDCWD, "f", NULL, 0x8000));
    struct timespec ls[2] = {{1100000000, 0}, {1100000001, 0}};
    r("utimensat s NOFOLLOW", utimensat(AT_FDCWD, "s", ls, AT_SYMLINK_NOFOLLOW)); times_of("s"); times_of("f");
    r("futimens fd", futimens(fd, ls)); times_of("f");
    r("utimensat NULL now", utimensat(AT_FDCWD, "f", NULL, 0));
    struct timeval tv[2] = {{1000000000, 7}, {1000000001, 8}};
    r("futimesat f", syscall(SYS_futimesat, AT_FDCWD, "f", tv)); times_of("f");
    tv[0].tv_usec = 1000000;
    r("futimesat bad usec", syscall(SYS_futimesat, AT_FDCWD, "f", tv));
#ifdef SYS_utimes
    tv[0].tv_usec = 0;
    r("utimes f", syscall(SYS_utimes, "f", tv)); times_of("f");
#endif

    /* -- sizes -- */
    r("truncate f 3", truncate("f", 3)); st("f");
    r("truncate d", truncate("d", 0));
    r("truncate -1", truncate("f", -1));
    r("ftruncate 10", ftruncate(fd, 10)); st("f");
    r("fallocate 0 0 8192", fallocate(fd, 0, 0, 8192)); st("f");
    r("fallocate KEEP_SIZE to 20000", fallocate(fd, 1, 0, 20000)); st("f");
    r("fallocate PUNCH without KEEP", fallocate(fd, 2, 0, 2));
    r("pwrite abcd at 0", pwrite(fd, "abcd", 4, 0));
    r("fallocate PUNCH|KEEP 1 2", fallocate(fd, 3, 1, 2)); st("f");
    r("fallocate len 0", fallocate(fd, 0, 0, 0));
    r("fallocate offset -1", fallocate(fd, 0, -1, 10));
    int ro = open("f", O_RDONLY);
    r("fallocate read-only fd", fallocate(ro, 0, 0, 10));
    r("ftruncate 4", ftruncate(fd, 4)); contents("f");

    /* -- statfs -- */
    struct statfs sf;
    r("statfs .", statfs(".", &sf));
    printf("  f_type %lx f_bsize %ld f_namelen %ld f_frsize %ld\n", (long)sf.f_type,
           (long)sf.f_bsize, (long)sf.f_namelen, (long)sf.f_frsize);
    r("fstatfs fd", fstatfs(fd, &sf)); printf("  f_type %lx\n", (long)sf.f_type);
    r("statfs /proc", statfs("/proc", &sf)); printf("  f_type %lx\n", (long)sf.f_type);
    r("statfs missing", statfs("missing", &sf));

    /* -- sync -- */
    int p[2]; pipe2(p, O_NONBLOCK);
    r("sync", (sync(), 0));
    r("syncfs", syncfs(fd));
    r("fsync", fsync(fd));
    r("fdatasync", fdatasync(fd));
    r("fsync pipe", fsync(p[0]));
    r("fsync bad fd", fsync(99));

    /* -- sendfile and copy_file_range -- */
    int out = open("out", O_CREAT | O_RDWR | O_TRUNC, 0644);
    off_t off = 1;
    r("sendfile off 1", sendfile(out, ro, &off, 2)); printf("  off now %ld\n", (long)off);
    r("sendfile NULL", sendfile(out, ro, NULL, 100)); contents("out");
    off = 0;
    r("sendfile to pipe", sendfile(p[1], ro, &off, 3));
    r("read pipe", read(p[0], buf, sizeof buf));
    int app = open("out", O_WRONLY | O_APPEND);
    r("sendfile to O_APPEND", sendfile(app, ro, NULL, 3));
    r("sendfile from pipe", sendfile(out, p[0], NULL, 3));
    loff_t a = 0, b = 8;
    r("copy_file_range", copy_file_range(fd, &a, out, &b, 4, 0));
    printf("  offsets now %lld %lld\n", (long long)a, (long long)b); contents("out");
    r("copy_file_range flags", copy_file_range(fd, NULL, out, NULL, 4, 1));
    a = 0; b = 1;
    r("copy_file_range overlap", copy_file_range(out, &a, out, &b, 4, 0));
    r("copy_file_range dir", copy_file_range(open("d", O_RDONLY), NULL, out, NULL, 4, 0));

    const char *gone[] = {"f", "g", "s", "l3", "sb", "out", "w2", "w", "empty"};
    for (unsigned i = 0; i < sizeof gone / sizeof *gone; i++) unlink(gone[i]);
    rmdir("e/x"); rmdir("e"); rmdir("d/sub"); rmdir("d");
    return 0;
}

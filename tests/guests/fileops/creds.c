/* The uid/gid calls and the permission checks that follow them, in the directory given as
 * argv[1]. Run as root it drops privileges step by step; run as an ordinary user (1000:1000,
 * no supplementary groups) it meets the mode bits. Prints each result and errno. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

static void r(const char *what, long ret) {
    printf("%-36s = %ld", what, ret);
    if (ret < 0) printf(" errno %d", errno);
    printf("\n");
    errno = 0;
}

static void ids(void) {
    uid_t ru, eu, su; gid_t rg, eg, sg;
    getresuid(&ru, &eu, &su); getresgid(&rg, &eg, &sg);
    gid_t groups[8]; int n = getgroups(8, groups);
    printf("  uid %u %u %u fsuid %d gid %u %u %u fsgid %d groups", ru, eu, su,
           setfsuid(-1), rg, eg, sg, setfsgid(-1));
    for (int i = 0; i < n; i++) printf(" %u", groups[i]);
    printf("\n");
}

static void st(const char *path) {
    struct stat s;
    if (lstat(path, &s) != 0) { printf("  %s: lstat errno %d\n", path, errno); return; }
    printf("  %s: mode %o uid %d gid %d\n", path, (unsigned)s.st_mode, (int)s.st_uid,
           (int)s.st_gid);
}

static void as_user(void) {
    ids();
    r("setuid 0", setuid(0));
    r("setgroups", setgroups(0, NULL));
    r("setresuid 1000 1000 1000", setresuid(1000, 1000, 1000));
    r("setreuid -1 0", setreuid(-1, 0));
    r("setfsuid 0 (returns old)", setfsuid(0));
    ids();
    int fd = open("mine", O_CREAT | O_RDWR, 0640); close(fd);
    st("mine");
    r("chmod mine 0", chmod("mine", 0));
    r("open mine r", open("mine", O_RDONLY));
    r("open mine w", open("mine", O_WRONLY));
    r("access mine R", access("mine", R_OK));
    r("access mine F", access("mine", F_OK));
    r("chmod mine 0700", chmod("mine", 0700));
    r("open mine r", fd = open("mine", O_RDONLY)); close(fd);
    r("chown mine 0", chown("mine", 0, -1));
    r("chown mine -1 0", chown("mine", -1, 0));
    r("chown mine 1000 1000", chown("mine", 1000, 1000));
    r("chmod . (root's)", chmod(".", 0777));
    r("utimensat mine now", utimensat(AT_FDCWD, "mine", NULL, 0));
    r("mkdir locked 0500", mkdir("locked", 0500));
    r("create in locked", open("locked/x", O_CREAT | O_WRONLY, 0600));
    r("rename mine into locked", rename("mine", "locked/mine"));
    r("chmod locked 0", chmod("locked", 0));
    r("stat through locked", access("locked/x", F_OK));
    r("chmod locked 0700", chmod("locked", 0700));
    r("rename mine into locked", rename("mine", "locked/mine"));
    r("link it back", link("locked/mine", "again"));
    r("symlink", symlink("locked/mine", "sym"));
    r("exec a 0644 file", (chmod("again", 0644), execl("again", "again", (char *)0)));
    r("truncate read-only file", (chmod("again", 0444), truncate("again", 0)));
    r("unlink", unlink("again") + unlink("sym") + unlink("locked/mine") + rmdir("locked"));
    /* The walk searches from where it starts: what is above the cwd is not searched. */
    r("mkdir outer/inner", mkdir("outer", 0700) + mkdir("outer/inner", 0700));
    r("create outer/inner/f", fd = open("outer/inner/f", O_CREAT | O_WRONLY, 0600)); close(fd);
    r("chdir outer/inner", chdir("outer/inner"));
    r("chmod .. 0", chmod("..", 0));
    r("access f from the cwd", access("f", F_OK));
    r("access via ../inner/f", access("../inner/f", F_OK));
    int here = open(".", O_RDONLY | O_DIRECTORY);
    r("chmod . 0", chmod(".", 0));
    r("access f in a 0 cwd", access("f", F_OK));
    r("access . in a 0 cwd", access(".", F_OK));
    r("access .. in a 0 cwd", access("..", F_OK));
    r("chmod . 0700", chmod(".", 0700));
    r("fchmod by an fd opened before", fchmod(here, 0700));
    r("chmod .. 0700", chmod("..", 0700));
    close(here);
    r("clean up", unlink("f") + chdir("../..") + rmdir("outer/inner") + rmdir("outer"));
}

/* kill_ok_by_cred: an unprivileged child may not signal its root parent; root may. */
static void signals_between_users(void) {
    int ready[2], done[2];
    pipe(ready); pipe(done);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        setresuid(1000, 1000, 1000);
        int ret = kill(getppid(), 0);
        printf("child kill parent 0 = %d errno %d\n", ret, errno);
        fflush(stdout);
        write(ready[1], "r", 1);
        char c; read(done[0], &c, 1);
        _exit(0);
    }
    close(ready[1]);  /* a child that dies early ends the read, not the run */
    close(done[0]);
    char c; read(ready[0], &c, 1);
    r("parent kill child 0", kill(pid, 0));
    write(done[1], "d", 1);
    waitpid(pid, NULL, 0);
}

/* Root reads and writes anything, but executes only what has an x bit. */
static void root_exec(void) {
    int fd = open("noexec", O_CREAT | O_WRONLY, 0644);
    write(fd, "#!/bin/sh\n", 10);
    close(fd);
    r("root exec of a 0644 file", execl("noexec", "noexec", (char *)0));
    r("root access X of it", access("noexec", X_OK));
    r("root access R|W of a 0000 file", (chmod("noexec", 0), access("noexec", R_OK | W_OK)));
    unlink("noexec");
}

/* A child inherits every id and the groups; execve keeps them (no setuid bit here). */
static void in_child_and_after_exec(const char *self) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        printf("child:"); ids(); fflush(stdout);
        execl(self, self, ".", "ids", (char *)0);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("child exited %d\n", WEXITSTATUS(status));
}

static void as_root(void) {
    root_exec();
    signals_between_users();
    ids();
    gid_t g[3] = {30, 10, 20};
    r("setgroups 3", setgroups(3, g));
    ids();
    r("getgroups 1 (too small)", getgroups(1, g));
    r("getgroups 0", getgroups(0, NULL));
    r("setgroups -1 gid", (g[0] = -1, setgroups(1, g)));
    r("setuid -1", setuid(-1));
    int fd = open("rootfile", O_CREAT | O_WRONLY, 0600); close(fd);
    r("setresgid -1 1000 -1", setresgid(-1, 1000, -1));
    r("setresuid -1 1000 -1", setresuid(-1, 1000, -1));
    ids();
    r("open rootfile as euid 1000", open("rootfile", O_RDONLY));
    in_child_and_after_exec("/proc/self/exe");  /* real 0, effective 1000: AT_SECURE */
    r("access rootfile (real uid 0)", access("rootfile", R_OK));
    r("faccessat2 EACCESS", syscall(SYS_faccessat2, AT_FDCWD, "rootfile", R_OK, AT_EACCESS));
    r("setfsuid 0", setfsuid(0));
    r("open rootfile as fsuid 0", fd = open("rootfile", O_RDONLY)); close(fd);
    r("setuid 0 (saved is 0)", setuid(0));
    ids();
    r("setreuid 1000 1000", setreuid(1000, 1000));
    ids();
    r("setuid 0 (saved is 1000 now)", setuid(0));
    r("setresuid 1000 1000 0", setresuid(1000, 1000, 0));
    r("setregid 5 5", setregid(5, 5));
    r("setgid 1000", setgid(1000));
    r("setfsgid 5 (not ours)", setfsgid(5));
    ids();
    r("unlink rootfile", unlink("rootfile"));
}



int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[2], "ids") == 0) {
        printf("after exec: auxv uid %lu euid %lu gid %lu egid %lu secure %lu;",
               getauxval(AT_UID), getauxval(AT_EUID), getauxval(AT_GID), getauxval(AT_EGID),
               getauxval(AT_SECURE));
        ids();
        return 0;
    }
    if (argc < 2 || chdir(argv[1]) != 0) { perror("chdir"); return 2; }
    umask(022);
    if (geteuid() == 0) as_root(); else as_user();
    in_child_and_after_exec("/proc/self/exe");
    return 0;
}

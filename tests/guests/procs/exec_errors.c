/* execve failures: a missing file (ENOENT), a file without execute permission (EACCES),
 * a directory (EACCES), and an executable file in no known format (ENOEXEC). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int try(const char *what, const char *path, int expected, const char *name)
{
    char *argv[] = {(char *)path, NULL};
    char *envp[] = {NULL};
    int r = execve(path, argv, envp);
    int err = errno;
    printf("%s: execve returned %d, errno %s (%s)\n", what, r,
           err == expected ? name : "unexpected", strerror(err));
    return r == -1 && err == expected ? 0 : 1;
}

int main(void)
{
    int failures = 0;
    failures += try("missing file", "/nonexistent/no-such-program", ENOENT, "ENOENT");

    char path[] = "/tmp/exec_errors_XXXXXX";
    int fd = mkstemp(path); /* mode 0600: no execute bit, not even root may execute it */
    if (fd < 0) {
        perror("mkstemp");
        return 1;
    }
    static const char junk[] = "this is not a program\n";
    if (write(fd, junk, sizeof junk - 1) != (ssize_t)(sizeof junk - 1)) {
        perror("write");
        return 1;
    }
    close(fd);
    failures += try("not executable", path, EACCES, "EACCES");
    failures += try("directory", "/tmp", EACCES, "EACCES");
    chmod(path, 0700);
    failures += try("unknown format", path, ENOEXEC, "ENOEXEC");
    unlink(path);
    return failures;
}

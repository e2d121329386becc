/* sendfile of a 200000-byte file into a pipe that a child drains: more than the pipe
 * holds, so the writer waits; every byte arrives once and in order (the checksum), and
 * the offset ends at the end. Run in the directory argv[1]. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/sendfile.h>
#include <sys/wait.h>
#include <unistd.h>

static char buf[200000];

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1]) != 0) return 2;
    int fd = open("big", O_CREAT | O_RDWR | O_TRUNC, 0644);
    for (int i = 0; i < (int)sizeof buf; i++) buf[i] = (char)(i * 7);
    if (write(fd, buf, sizeof buf) != (long)sizeof buf) return 3;
    int p[2];
    if (pipe(p) != 0) return 4;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[1]);
        long total = 0, n;
        unsigned sum = 0;
        static char b[4096];
        while ((n = read(p[0], b, sizeof b)) > 0) {
            for (long i = 0; i < n; i++) sum = sum * 31 + (unsigned char)b[i];
            total += n;
        }
        printf("child read %ld sum %u\n", total, sum);
        fflush(stdout);
        _exit(0);
    }
    close(p[0]);
    off_t off = 0;
    long total = 0, n;
    while ((n = sendfile(p[1], fd, &off, sizeof buf - off)) > 0) total += n;
    printf("parent sent %ld off %ld\n", total, (long)off);
    fflush(stdout);
    close(p[1]);
    waitpid(pid, NULL, 0);
    unlink("big");
    return 0;
}

/* A shared file mapping and its file: what the program stored is in the file after msync
 * (MS_SYNC and MS_ASYNC) and after munmap; a private mapping's stores never are; stores
 * past the file's end (inside the last page) do not grow it. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void show(int fd, const char *when)
{
    char buf[32] = {0};
    struct stat st;
    fstat(fd, &st);
    pread(fd, buf, sizeof buf - 1, 0);
    printf("%s: \"%s\" size %ld\n", when, buf, (long)st.st_size);
}

int main(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/msync-file-%d", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    unlink(path);
    write(fd, "hello, file", 11);
    char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *q = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    memcpy(p, "HELLO", 5);
    memcpy(q, "xxxxxxxxx", 9);
    p[20] = 'z';  /* past the end of the file, inside the page */
    msync(p, 4096, MS_SYNC);
    show(fd, "after MS_SYNC");
    memcpy(p + 7, "FI", 2);
    msync(p, 4096, MS_ASYNC);
    show(fd, "after MS_ASYNC");
    p[9] = 'L';
    munmap(p, 4096);
    show(fd, "after munmap");
    printf("private copy: %.11s\n", q);
    return 0;
}

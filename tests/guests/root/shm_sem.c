/* POSIX shared memory and named semaphores within one process: shm_open, ftruncate, mmap
 * MAP_SHARED, the data written before mmap seen through the mapping, shm_unlink; and
 * sem_open/sem_wait/sem_post/sem_trywait/sem_getvalue/sem_unlink (files under /dev/shm). */
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int shm(void)
{
    const char *name = "/syscall-lab-shm-test";
    shm_unlink(name);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        printf("shm_open: %s\n", strerror(errno));
        return 1;
    }
    if (ftruncate(fd, 8192) != 0) {
        printf("ftruncate: %s\n", strerror(errno));
        return 1;
    }
    if (pwrite(fd, "written first", 13, 4096) != 13)
        return 1;
    struct stat st;
    fstat(fd, &st);
    printf("shm size %ld mode %o regular %d\n", (long)st.st_size, (unsigned)st.st_mode & 0777,
           S_ISREG(st.st_mode));
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        printf("mmap: %s\n", strerror(errno));
        return 1;
    }
    printf("mapping sees the file: %.13s\n", p + 4096);
    strcpy(p, "through the mapping");
    printf("mapping keeps: %s\n", p);
    printf("second open: %s\n", shm_open(name, O_RDWR, 0) >= 0 ? "ok" : strerror(errno));
    printf("exclusive again: %s\n",
           shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600) < 0 ? strerror(errno) : "created");
    munmap(p, 8192);
    close(fd);
    printf("shm_unlink: %d\n", shm_unlink(name));
    printf("open after unlink: %s\n", shm_open(name, O_RDWR, 0) < 0 ? strerror(errno) : "ok");
    return 0;
}

static int sem(void)
{
    const char *name = "/syscall-lab-sem-test";
    sem_unlink(name);
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 2);
    if (s == SEM_FAILED) {
        printf("sem_open: %s\n", strerror(errno));
        return 1;
    }
    int v = -1;
    sem_getvalue(s, &v);
    printf("sem initial %d\n", v);
    sem_wait(s);
    sem_wait(s);
    sem_getvalue(s, &v);
    printf("after two waits %d\n", v);
    errno = 0;
    printf("trywait on zero: %s\n", sem_trywait(s) ? strerror(errno) : "taken");
    sem_post(s);
    sem_getvalue(s, &v);
    printf("after a post %d\n", v);
    sem_t *again = sem_open(name, 0);
    printf("reopened: %s\n", again == SEM_FAILED ? strerror(errno) : "ok");
    printf("exclusive again: %s\n",
           sem_open(name, O_CREAT | O_EXCL, 0600, 0) == SEM_FAILED ? strerror(errno) : "created");
    sem_close(s);
    printf("sem_unlink: %d\n", sem_unlink(name));
    errno = 0;
    printf("sem_unlink again: %s\n", sem_unlink(name) ? strerror(errno) : "ok");
    return 0;
}

int main(int argc, char **argv)
{
    int want_sem = argc < 2 || strcmp(argv[1], "shm") == 0 ? 0 : 1;
    if (argc < 2)
        return shm() || sem();
    return want_sem ? sem() : shm();
}

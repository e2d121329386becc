/* A MAP_SHARED|MAP_ANONYMOUS counter stays shared across fork: children increment it in
 * turn (each waits for the previous one), the parent reads the total; a MAP_PRIVATE one
 * stays each process's own. Then a process-shared mutex and semaphore in shared memory
 * (their futex waits meet across processes), and a shared mapping of a /tmp file. */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 4
#define ROUNDS 1000

int main(void) {
    volatile int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    volatile int *private = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED || private == MAP_FAILED)
        return 1;
    shared[0] = 100;
    private[0] = 100;
    for (int c = 0; c < CHILDREN; c++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (int i = 0; i < ROUNDS; i++) {
                shared[0]++;
                private[0]++;
            }
            shared[1 + c] = private[0];
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);  /* one at a time: the counter needs no lock */
    }
    printf("shared counter %d (expect %d)\n", shared[0], 100 + CHILDREN * ROUNDS);
    printf("private counter %d\n", private[0]);
    for (int c = 0; c < CHILDREN; c++)
        printf("child %d saw its private copy reach %d\n", c, shared[1 + c]);

    /* A grandchild's write reaches the grandparent through the inherited mapping. */
    pid_t pid = fork();
    if (pid == 0) {
        pid_t inner = fork();
        if (inner == 0) {
            strcpy((char *)shared + 512, "written by the grandchild");
            _exit(0);
        }
        waitpid(inner, NULL, 0);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    printf("%s\n", (const char *)shared + 512);

    /* The child unmaps its copy: the parent's mapping is untouched. */
    pid = fork();
    if (pid == 0) {
        shared[0] = 7;
        munmap((void *)shared, 4096);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    printf("after the child's munmap: %d\n", shared[0]);

    /* MADV_DONTNEED drops private pages (zeros after) but not shared ones' data. */
    shared[2] = 42;
    private[2] = 42;
    madvise((void *)shared, 4096, MADV_DONTNEED);
    madvise((void *)private, 4096, MADV_DONTNEED);
    printf("after MADV_DONTNEED: shared %d, private %d\n", shared[2], private[2]);

    /* A process-shared mutex guards a read-yield-write increment by three children at
     * once; a process-shared semaphore tells the parent each child is done. */
    struct shared {
        pthread_mutex_t lock;
        sem_t done;
        int count;
    } *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&sh->lock, &attr);
    sem_init(&sh->done, 1, 0);
    sh->count = 0;
    for (int c = 0; c < 3; c++) {
        if (fork() == 0) {
            for (int i = 0; i < 300; i++) {
                pthread_mutex_lock(&sh->lock);
                int v = sh->count;
                sched_yield();
                sh->count = v + 1;
                pthread_mutex_unlock(&sh->lock);
            }
            sem_post(&sh->done);
            _exit(0);
        }
    }
    for (int c = 0; c < 3; c++)
        sem_wait(&sh->done);
    printf("process-shared mutex count %d (expect 900)\n", sh->count);
    while (wait(NULL) > 0)
        ;

    /* MAP_SHARED of a /tmp file, written by a child. */
    char path[] = "/tmp/ipc-shared-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || ftruncate(fd, 4096) != 0)
        return 2;
    char *file = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (file == MAP_FAILED)
        return 3;
    pid = fork();
    if (pid == 0) {
        strcpy(file, "the child wrote the file mapping");
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    printf("%s\n", file);
    unlink(path);
    return 0;
}

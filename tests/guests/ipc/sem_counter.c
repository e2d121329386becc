/* A counter in a shared memory segment, incremented by several children under a SysV
 * semaphore taken with SEM_UNDO; one child dies holding it, and exit's undo gives it back.
 * Then GETNCNT/GETZCNT see waiters, SETVAL wakes them, and IPC_RMID fails one with EIDRM. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 4
#define ROUNDS 200

static void on_usr1(int sig) { (void)sig; }

static int sem_change(int s, int num, int op, int flags) {
    struct sembuf b = {(unsigned short)num, (short)op, (short)flags};
    return semop(s, &b, 1);
}

static int exit_code(pid_t pid) {
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void wait_for(int s, int num, int cmd, int want) {
    while (semctl(s, num, cmd) != want)
        usleep(1000);
}

int main(void) {
    int s = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    int h = shmget(IPC_PRIVATE, sizeof(int), IPC_CREAT | 0600);
    volatile int *counter = shmat(h, NULL, 0);
    if (s < 0 || h < 0 || counter == (void *)-1)
        return 1;
    semctl(s, 0, SETVAL, 1);
    pid_t kids[CHILDREN];
    for (int c = 0; c < CHILDREN; c++) {
        kids[c] = fork();
        if (kids[c] == 0) {
            for (int i = 0; i < ROUNDS; i++) {
                if (sem_change(s, 0, -1, SEM_UNDO) != 0)
                    _exit(2);
                int v = *counter;
                sched_yield();  /* without the semaphore, another child would slip in */
                *counter = v + 1;
                if (sem_change(s, 0, 1, SEM_UNDO) != 0)
                    _exit(3);
            }
            _exit(0);
        }
    }
    for (int c = 0; c < CHILDREN; c++)
        printf("child %d exited %d\n", c, exit_code(kids[c]));
    printf("counter %d (expect %d), semaphore %d\n", *counter, CHILDREN * ROUNDS,
           semctl(s, 0, GETVAL));

    /* A child takes the semaphore with SEM_UNDO and exits holding it. */
    pid_t pid = fork();
    if (pid == 0) {
        sem_change(s, 0, -1, SEM_UNDO);
        sem_change(s, 1, 5, SEM_UNDO);
        _exit(0);
    }
    int holder = exit_code(pid);
    printf("holder exited %d; semaphores after its undo: %d %d\n", holder,
           semctl(s, 0, GETVAL), semctl(s, 1, GETVAL));
    printf("GETPID is the holder: %s\n", semctl(s, 0, GETPID) == pid ? "yes" : "no");

    /* Waiters: one for an increase, one for zero. */
    semctl(s, 0, SETVAL, 0);
    semctl(s, 1, SETVAL, 1);
    pid_t down = fork();
    if (down == 0)
        _exit(sem_change(s, 0, -2, 0) == 0 ? 0 : 6);
    pid_t zero = fork();
    if (zero == 0)
        _exit(sem_change(s, 1, 0, 0) == 0 ? 0 : 7);
    wait_for(s, 0, GETNCNT, 1);
    wait_for(s, 1, GETZCNT, 1);
    printf("GETNCNT %d GETZCNT %d\n", semctl(s, 0, GETNCNT), semctl(s, 1, GETZCNT));
    unsigned short all[2] = {2, 0};
    semctl(s, 0, SETALL, all);
    int down_code = exit_code(down), zero_code = exit_code(zero);
    printf("after SETALL: down exited %d, zero exited %d, values %d %d\n", down_code,
           zero_code, semctl(s, 0, GETVAL), semctl(s, 1, GETVAL));

    /* Waiting groups are tried in order of arrival after each change: a later, smaller
     * request may pass an earlier one that cannot be met yet. */
    semctl(s, 0, SETVAL, 0);
    pid_t big = fork();
    if (big == 0)
        _exit(sem_change(s, 0, -2, 0) == 0 ? 0 : 10);
    wait_for(s, 0, GETNCNT, 1);
    pid_t small = fork();
    if (small == 0)
        _exit(sem_change(s, 0, -1, 0) == 0 ? 0 : 11);
    wait_for(s, 0, GETNCNT, 2);
    sem_change(s, 0, 1, 0);
    int small_code = exit_code(small);
    printf("after +1: the -1 waiter exited %d, GETNCNT %d\n", small_code,
           semctl(s, 0, GETNCNT));
    sem_change(s, 0, 2, 0);
    int big_code = exit_code(big);
    printf("after +2: the -2 waiter exited %d, value %d\n", big_code, semctl(s, 0, GETVAL));

    /* A signal with a handler (SA_RESTART or not) ends a waiting semop with EINTR. */
    pid = fork();
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr1;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGUSR1, &sa, NULL);
        errno = 0;
        int r = sem_change(s, 0, -5, 0);
        _exit(r < 0 && errno == EINTR ? 0 : 9);
    }
    wait_for(s, 0, GETNCNT, 1);
    kill(pid, SIGUSR1);
    int code = exit_code(pid);
    printf("semop interrupted by a handler exited %d; GETNCNT now %d\n", code,
           semctl(s, 0, GETNCNT));

    /* IPC_RMID under a waiter. */
    pid = fork();
    if (pid == 0) {
        errno = 0;
        int r = sem_change(s, 0, -1, 0);
        _exit(r < 0 && errno == EIDRM ? 0 : 8);
    }
    wait_for(s, 0, GETNCNT, 1);
    semctl(s, 0, IPC_RMID);
    printf("waiter after IPC_RMID exited %d\n", exit_code(pid));
    shmdt((void *)counter);
    shmctl(h, IPC_RMID, NULL);
    return 0;
}

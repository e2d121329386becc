/* A parent and its child play ping-pong over one message queue (type 1 one way, type 2 the
 * other), each waiting in msgrcv for the other's message; then a sender blocked on a full
 * queue, a receiver woken by IPC_RMID (EIDRM), and one interrupted by a signal (EINTR). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>

struct msg { long mtype; char mtext[64]; };

static void on_usr1(int sig) { (void)sig; }

static void wait_sleeping(pid_t pid) {  /* until the task sleeps (in a wait) */
    for (;;) {
        char path[64], state = '?';
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            if (fscanf(f, "%*d %*s %c", &state) != 1)
                state = '?';
            fclose(f);
        }
        if (state == 'S')
            return;
        usleep(1000);
    }
}

static int child_status(pid_t pid) {
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(void) {
    int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (q < 0)
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        struct msg m;
        for (int i = 0; i < 5; i++) {
            if (msgrcv(q, &m, sizeof m.mtext, 1, 0) < 0)
                _exit(2);
            m.mtype = 2;
            size_t n = strlen(m.mtext);
            snprintf(m.mtext + n, sizeof m.mtext - n, " pong%d", i);
            if (msgsnd(q, &m, strlen(m.mtext) + 1, 0) < 0)
                _exit(3);
        }
        _exit(0);
    }
    for (int i = 0; i < 5; i++) {
        struct msg m = {1, ""};
        snprintf(m.mtext, sizeof m.mtext, "ping%d", i);
        msgsnd(q, &m, strlen(m.mtext) + 1, 0);
        memset(&m, 0, sizeof m);
        ssize_t n = msgrcv(q, &m, sizeof m.mtext, 2, 0);
        printf("round %d: %zd bytes, type %ld: %s\n", i, n, m.mtype, m.mtext);
    }
    printf("child exited %d\n", child_status(pid));

    /* A queue of 8 bytes: the second 8-byte message waits until the parent reads. */
    struct msqid_ds ds;
    msgctl(q, IPC_STAT, &ds);
    ds.msg_qbytes = 8;
    msgctl(q, IPC_SET, &ds);
    pid = fork();
    if (pid == 0) {
        struct msg m = {3, "1234567"};
        for (int i = 0; i < 3; i++) {
            m.mtext[0] = (char)('a' + i);
            if (msgsnd(q, &m, 8, 0) < 0)
                _exit(4);
        }
        m.mtype = 9;
        errno = 0;
        int r = msgsnd(q, &m, 8, IPC_NOWAIT);  /* full again unless the parent read */
        _exit(r == 0 ? 10 : errno == EAGAIN ? 11 : 12);
    }
    for (int i = 0; i < 3; i++) {
        struct msg m;
        ssize_t n = msgrcv(q, &m, sizeof m.mtext, 0, 0);
        printf("full queue, message %d: %zd bytes %s\n", i, n, m.mtext);
    }
    int st = child_status(pid);
    printf("sender exited %s\n", st == 10 || st == 11 ? "ok" : "badly");
    struct msg drain;
    while (msgrcv(q, &drain, sizeof drain.mtext, 0, IPC_NOWAIT) >= 0)
        ;

    /* A child waits for type 7; the parent removes the queue under it. */
    pid = fork();
    if (pid == 0) {
        struct msg m;
        errno = 0;
        ssize_t n = msgrcv(q, &m, sizeof m.mtext, 7, 0);
        _exit(n < 0 && errno == EIDRM ? 0 : 5);
    }
    while (1) {  /* until the child sleeps in msgrcv */
        usleep(1000);
        FILE *f;
        char path[64], state = '?';
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        if ((f = fopen(path, "r")) != NULL) {
            if (fscanf(f, "%*d %*s %c", &state) != 1)
                state = '?';
            fclose(f);
        }
        if (state == 'S')
            break;
    }
    msgctl(q, IPC_RMID, NULL);
    printf("receiver after IPC_RMID exited %d\n", child_status(pid));

    /* A message goes to the first waiting receiver whose type test accepts it, in the
     * order they began to wait; one whose buffer is too small gets E2BIG, and the message
     * goes on to the next. Each child exits with what it got. */
    q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    long want[5] = {1, 2, 0, 0, 0};
    size_t room[5] = {64, 64, 64, 2, 64};
    pid_t kids[5];
    for (int c = 0; c < 5; c++) {
        kids[c] = fork();
        if (kids[c] == 0) {
            struct msg m;
            errno = 0;
            ssize_t n = msgrcv(q, &m, room[c], want[c], 0);
            _exit(n >= 0 ? (int)m.mtype * 10 + (int)n : errno == E2BIG ? 99 : 98);
        }
        wait_sleeping(kids[c]);
    }
    struct msg out = {2, "two"};
    msgsnd(q, &out, 4, 0);  /* kid 0 wants 1: kid 1 */
    out.mtype = 3;
    msgsnd(q, &out, 4, 0);  /* kid 2 takes any */
    out.mtype = 5;
    msgsnd(q, &out, 4, 0);  /* kid 3 (2 bytes of room) gets E2BIG, kid 4 the message */
    out.mtype = 1;
    msgsnd(q, &out, 4, 0);  /* kid 0 at last */
    for (int c = 0; c < 5; c++)
        printf("receiver %d (type %ld, %zu bytes) exited %d\n", c, want[c], room[c],
               child_status(kids[c]));
    msgctl(q, IPC_RMID, NULL);

    /* A signal with a handler interrupts a waiting msgrcv: EINTR, never restarted. */
    q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    pid_t parent = getpid();
    pid = fork();
    if (pid == 0) {
        for (;;) {  /* once the parent waits */
            char path[64], state = '?';
            snprintf(path, sizeof path, "/proc/%d/stat", (int)parent);
            FILE *f = fopen(path, "r");
            if (f != NULL) {
                if (fscanf(f, "%*d %*s %c", &state) != 1)
                    state = '?';
                fclose(f);
            }
            if (state == 'S')
                break;
            usleep(1000);
        }
        kill(parent, SIGUSR1);
        _exit(0);
    }
    struct msg m;
    errno = 0;
    ssize_t n = msgrcv(q, &m, sizeof m.mtext, 0, 0);
    printf("msgrcv with SA_RESTART handler: %zd %s\n", n, strerror(errno));
    child_status(pid);
    msgctl(q, IPC_RMID, NULL);
    return 0;
}

/* How ids are handed out: slots cycle (at least 64 of them), and each wrap bumps the
 * sequence number in the id's high bits, so a removed object's id never names its
 * successor. Printed as made, in a fresh IPC namespace. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

int main(void) {
    int first = -1, last = -1;
    for (int i = 0; i < 130; i++) {
        int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        if (i == 0)
            first = q;
        if (i == 63 || i == 64 || i == 65 || i == 128 || i == 129)
            printf("queue %d: id %d\n", i, q);
        msgctl(q, IPC_RMID, NULL);
        last = q;
    }
    struct msqid_ds ds;
    errno = 0;
    int r = msgctl(first, IPC_STAT, &ds);
    printf("the first id after its slot was reused: %d (%s)\n", r, strerror(errno));
    /* Live objects keep their slots: new ones go around them. */
    int a = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    int b = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    msgctl(a, IPC_RMID, NULL);
    int c = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    printf("after %d: %d %d, then %d\n", last, a, b, c);
    /* Each kind counts on its own. */
    printf("first semaphore set %d, first segment %d\n",
           semget(IPC_PRIVATE, 1, IPC_CREAT | 0600), shmget(IPC_PRIVATE, 1, IPC_CREAT | 0600));
    return 0;
}

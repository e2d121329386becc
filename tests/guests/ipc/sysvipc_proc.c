/* /proc/sysvipc/{msg,sem,shm} after making a few objects: printed as read (the test masks
 * the pid and time columns, which differ between any two runs). */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

struct msg { long mtype; char mtext[8]; };

int main(void) {
    int q = msgget(0x1234, IPC_CREAT | 0640);
    struct msg m = {1, "abc"};
    msgsnd(q, &m, 4, 0);
    msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    semget(0x99, 3, IPC_CREAT | 0600);
    int h = shmget(IPC_PRIVATE, 5000, IPC_CREAT | 0600);
    char *p = shmat(h, NULL, 0);
    p[0] = 1;  /* one page resident */
    shmctl(h, IPC_RMID, NULL);
    const char *files[] = {"/proc/sysvipc/msg", "/proc/sysvipc/sem", "/proc/sysvipc/shm"};
    char buf[4096];
    for (int i = 0; i < 3; i++) {
        FILE *f = fopen(files[i], "r");
        if (f == NULL)
            return 1;
        size_t n = fread(buf, 1, sizeof buf, f);
        fwrite(buf, 1, n, stdout);
        fclose(f);
    }
    return 0;
}

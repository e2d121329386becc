/* Every System V IPC call in one process, in the forms strace decodes: the trace of this
 * program is compared with strace's line by line (tests/test_sysv_strace.py), and its
 * output, which prints only what does not depend on the host, with a native run. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_COPY  /* glibc's names, which musl lacks */
#define MSG_COPY 040000
#endif
#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif
#ifndef SHM_LOCKED
#define SHM_LOCKED 02000
#endif

union semun { int val; struct semid_ds *buf; unsigned short *array; struct seminfo *__buf; };
struct msg { long mtype; char mtext[32]; };

static void show(const char *what, long r) {
    printf("%s = %ld", what, r);
    if (r == -1)
        printf(" (%s)", strerror(errno));
    printf("\n");
}

int main(void) {
    key_t key = 0x5e11a;  /* the tests run it in an IPC namespace of its own */
    int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    int keyed = msgget(key, IPC_CREAT | IPC_EXCL | 0640);
    show("msgget IPC_EXCL on a fresh key", keyed >= 0);
    show("msgget same key IPC_EXCL", msgget(key, IPC_CREAT | IPC_EXCL | 0640));
    show("msgget same key", msgget(key, 0) >= 0);
    show("msgget missing key", msgget(key + 1, 0600));
    struct msg m = {5, "hello"};
    show("msgsnd", msgsnd(q, &m, 6, 0));
    m.mtype = 2;
    strcpy(m.mtext, "two");
    show("msgsnd", msgsnd(q, &m, 4, IPC_NOWAIT));
    m.mtype = 0;
    show("msgsnd mtype 0", msgsnd(q, &m, 4, 0));
    struct msg r;
    memset(&r, 0, sizeof r);
    show("msgrcv -5", msgrcv(q, &r, sizeof r.mtext, -5, IPC_NOWAIT));
    printf("got mtype %ld text %s\n", r.mtype, r.mtext);
    show("msgrcv small buffer", msgrcv(q, &r, 2, 0, IPC_NOWAIT));
    show("msgrcv MSG_NOERROR", msgrcv(q, &r, 2, 0, IPC_NOWAIT | MSG_NOERROR));
    show("msgrcv empty", msgrcv(q, &r, sizeof r.mtext, 0, IPC_NOWAIT));
    m.mtype = 3;
    msgsnd(q, &m, 1, 0);
    m.mtype = 4;
    msgsnd(q, &m, 1, 0);
    show("msgrcv MSG_EXCEPT 3", msgrcv(q, &r, sizeof r.mtext, 3, IPC_NOWAIT | MSG_EXCEPT));
    printf("got mtype %ld\n", r.mtype);
    show("msgrcv MSG_COPY 1", msgrcv(q, &r, sizeof r.mtext, 1, IPC_NOWAIT | MSG_COPY));
    printf("copied mtype %ld\n", r.mtype);
    show("msgrcv MSG_COPY 5", msgrcv(q, &r, sizeof r.mtext, 5, IPC_NOWAIT | MSG_COPY));
    show("msgrcv MSG_COPY without IPC_NOWAIT", msgrcv(q, &r, sizeof r.mtext, 0, MSG_COPY));
    struct msqid_ds ds;
    show("msgctl MSG_STAT is the id", msgctl(0, MSG_STAT, &ds) == q);
    show("msgctl MSG_STAT_ANY is the id", msgctl(0, MSG_STAT_ANY, &ds) == q);
    show("msgctl MSG_STAT empty slot", msgctl(5, MSG_STAT, &ds));
    show("msgctl IPC_STAT", msgctl(q, IPC_STAT, &ds));
    printf("qnum %lu cbytes %lu qbytes %lu mode %o\n", (unsigned long)ds.msg_qnum,
           (unsigned long)ds.__msg_cbytes, (unsigned long)ds.msg_qbytes,
           ds.msg_perm.mode);
    ds.msg_qbytes = 1000;
    ds.msg_perm.mode = 0644;
    show("msgctl IPC_SET", msgctl(q, IPC_SET, &ds));
    msgctl(q, IPC_STAT, &ds);
    printf("qbytes %lu mode %o\n", (unsigned long)ds.msg_qbytes, ds.msg_perm.mode);
    struct msginfo mi;
    show("msgctl IPC_INFO >= 0", msgctl(0, IPC_INFO, (struct msqid_ds *)&mi) >= 0);
    printf("msgmax %d msgmnb %d msgmni %d msgssz %d msgseg %d\n", mi.msgmax, mi.msgmnb,
           mi.msgmni, mi.msgssz, mi.msgseg);
    show("msgctl MSG_INFO >= 0", msgctl(0, MSG_INFO, (struct msqid_ds *)&mi) >= 0);
    show("msgctl bad cmd", msgctl(q, 99, &ds));
    show("msgctl IPC_RMID", msgctl(q, IPC_RMID, NULL));
    show("msgsnd removed", msgsnd(q, &m, 1, 0));
    msgctl(keyed, IPC_RMID, NULL);

    int s = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    show("semget nsems 0", semget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
    struct sembuf ops[2] = {{0, 2, SEM_UNDO}, {1, 1, 0}};
    show("semop", semop(s, ops, 2));
    struct sembuf take = {0, -3, IPC_NOWAIT};
    show("semop would block", semop(s, &take, 1));
    struct sembuf big = {7, 1, 0};
    show("semop sem_num too big", semop(s, &big, 1));
    struct timespec ts = {0, 1000};
    take.sem_flg = 0;
    show("semtimedop times out", semtimedop(s, &take, 1, &ts));
    show("GETVAL", semctl(s, 0, GETVAL));
    show("SETVAL", semctl(s, 2, SETVAL, (union semun){.val = 9}));
    unsigned short vals[3];
    show("GETALL", semctl(s, 0, GETALL, (union semun){.array = vals}));
    printf("values %u %u %u\n", vals[0], vals[1], vals[2]);
    unsigned short set[3] = {4, 5, 6};
    show("SETALL", semctl(s, 0, SETALL, (union semun){.array = set}));
    show("GETPID is me", semctl(s, 1, GETPID) == getpid());
    show("GETNCNT", semctl(s, 0, GETNCNT));
    show("GETZCNT", semctl(s, 0, GETZCNT));
    show("SETVAL too big", semctl(s, 0, SETVAL, (union semun){.val = 40000}));
    struct semid_ds sds;
    show("IPC_STAT", semctl(s, 0, IPC_STAT, (union semun){.buf = &sds}));
    printf("nsems %lu mode %o\n", (unsigned long)sds.sem_nsems, sds.sem_perm.mode);
    sds.sem_perm.mode = 0640;
    show("semctl IPC_SET", semctl(s, 0, IPC_SET, (union semun){.buf = &sds}));
    show("SEM_STAT is the id", semctl(0, 0, SEM_STAT, (union semun){.buf = &sds}) == s);
    printf("mode now %o\n", sds.sem_perm.mode);
    struct seminfo si;
    show("SEM_INFO >= 0", semctl(0, 0, SEM_INFO, (union semun){.__buf = &si}) >= 0);
    printf("sets in use %d semaphores %d\n", si.semusz, si.semaem);
    show("IPC_INFO >= 0", semctl(0, 0, IPC_INFO, (union semun){.__buf = &si}) >= 0);
    printf("semmsl %d semopm %d semvmx %d\n", si.semmsl, si.semopm, si.semvmx);
    show("semctl IPC_RMID", semctl(s, 0, IPC_RMID));
    show("GETVAL removed", semctl(s, 0, GETVAL));

    int h = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
    show("shmget size 0", shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
    char *p = shmat(h, NULL, 0);
    strcpy(p, "in the segment");
    char *ro = shmat(h, NULL, SHM_RDONLY);
    printf("read-only view: %s\n", ro);
    show("mprotect a read-only attachment writable",
         mprotect((void *)ro, 4096, PROT_READ | PROT_WRITE));
    show("shmat SHM_REMAP over itself", shmat(h, p, SHM_REMAP) == p);
    show("shmat NULL with SHM_REMAP", (long)shmat(h, NULL, SHM_REMAP));
    show("shmat of a bad id", (long)shmat(h + 1, NULL, 0));
    show("shmget existing key with a bigger size",
         shmget(shmget(0x77, 100, IPC_CREAT | 0600) >= 0 ? 0x77 : 0x78, 200, 0));
    show("shmat unaligned", (long)shmat(h, p + 1, 0));
    show("shmat SHM_RND over a mapping", (long)shmat(h, p + 1, SHM_RND));
    struct shmid_ds hds;
    show("shmctl IPC_STAT", shmctl(h, IPC_STAT, &hds));
    printf("segsz %lu nattch %lu\n", (unsigned long)hds.shm_segsz,
           (unsigned long)hds.shm_nattch);
    hds.shm_perm.mode = 0640;
    show("shmctl IPC_SET", shmctl(h, IPC_SET, &hds));
    show("shmctl SHM_STAT is the id", shmctl(0, SHM_STAT, &hds) == h);
    printf("mode now %o\n", hds.shm_perm.mode);
    show("shmctl SHM_LOCK", shmctl(h, SHM_LOCK, NULL));
    shmctl(h, IPC_STAT, &hds);
    printf("locked: %s\n", hds.shm_perm.mode & SHM_LOCKED ? "yes" : "no");
    show("shmctl SHM_UNLOCK", shmctl(h, SHM_UNLOCK, NULL));
    struct shm_info shinfo;
    show("shmctl SHM_INFO >= 0", shmctl(0, SHM_INFO, (struct shmid_ds *)&shinfo) >= 0);
    printf("segments %d pages %lu resident %lu\n", shinfo.used_ids,
           (unsigned long)shinfo.shm_tot, (unsigned long)shinfo.shm_rss);
    struct shminfo shi;
    show("shmctl IPC_INFO >= 0", shmctl(0, IPC_INFO, (struct shmid_ds *)&shi) >= 0);
    printf("shmmin %lu shmmni %lu\n", (unsigned long)shi.shmmin, (unsigned long)shi.shmmni);
    show("shmctl IPC_RMID", shmctl(h, IPC_RMID, NULL));
    shmctl(h, IPC_STAT, &hds);
    printf("after IPC_RMID: mode %o nattch %lu\n", hds.shm_perm.mode,
           (unsigned long)hds.shm_nattch);
    show("shmdt", shmdt(ro));
    show("shmdt not attached", shmdt(ro));
    show("shmdt", shmdt(p));
    show("shmctl gone", shmctl(h, IPC_STAT, &hds));
    return 0;
}

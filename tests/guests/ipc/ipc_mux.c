/* i386 only: every System V IPC call through the ipc(2) multiplexer, as raw syscalls: both
 * msgrcv versions (0: the {msgp, msgtyp} kludge; 1: msgtyp in the fifth argument), shmat
 * storing the address at its third argument (version 1: EINVAL), and an unknown call. */
#define _GNU_SOURCE
#include <stdio.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
struct mb { int t; char s[16]; };
int main(void){
  long q = syscall(SYS_ipc, 13, IPC_PRIVATE, IPC_CREAT|0600, 0, 0, 0);
  struct mb m = {7, "hey"};
  long r = syscall(SYS_ipc, 11, q, 4, 0, &m, 0);
  struct { void *p; long t; } kl = {&m, 0};
  r = syscall(SYS_ipc, 12, q, 16, IPC_NOWAIT, &kl, 0); printf("rcv0 %ld\n", r);
  r = syscall(SYS_ipc, 11, q, 4, 0, &m, 0);
  r = syscall(SYS_ipc, 12 | (1<<16), q, 16, IPC_NOWAIT, &m, 7); printf("rcv1 %ld\n", r);
  r = syscall(SYS_ipc, 12 | (1<<16), q, 16, IPC_NOWAIT, &m, -2); printf("rcv1 %ld\n", r);
  struct msqid_ds ds;
  r = syscall(SYS_ipc, 14, q, IPC_STAT|0x100, 0, &ds, 0);
  r = syscall(SYS_ipc, 14, q, IPC_RMID, 0, 0, 0);
  long s = syscall(SYS_ipc, 2, IPC_PRIVATE, 1, IPC_CREAT|0600, 0, 0);
  struct sembuf b = {0, 1, SEM_UNDO};
  r = syscall(SYS_ipc, 1, s, 1, 0, &b, 0);
  struct timespec ts = {0, 100};
  b.sem_op = -5; b.sem_flg = 0;
  r = syscall(SYS_ipc, 4, s, 1, 0, &b, &ts); printf("timedop %ld\n", r);
  int val = 0;
  r = syscall(SYS_ipc, 3, s, 0, GETVAL|0x100, &val, 0); printf("getval %ld\n", r);
  r = syscall(SYS_ipc, 3, s, 0, IPC_RMID, &val, 0);
  long h = syscall(SYS_ipc, 23, IPC_PRIVATE, 4096, IPC_CREAT|0600, 0, 0);
  unsigned long ra = 0;
  r = syscall(SYS_ipc, 21, h, 0, &ra, 0, 0); printf("shmat %ld\n", r);
  r = syscall(SYS_ipc, 21 | (1<<16), h, 0, &ra, 0, 0); printf("shmat1 %ld\n", r);
  struct shmid_ds sd;
  r = syscall(SYS_ipc, 24, h, IPC_STAT|0x100, 0, &sd, 0); printf("nattch %d\n", (int)sd.shm_nattch);
  r = syscall(SYS_ipc, 22, 0, 0, 0, (void*)ra, 0);
  r = syscall(SYS_ipc, 24, h, IPC_RMID, 0, 0, 0);
  r = syscall(SYS_ipc, 99, 0, 0, 0, 0, 0); printf("bad %ld\n", r);

  /* Without IPC_64 the *ctl calls use i386's old structs: 16-bit ids, modes and counts. */
  {
    unsigned char raw[128];
    long oq = syscall(SYS_ipc, 13, IPC_PRIVATE, IPC_CREAT | 0640, 0, 0, 0);
    m.t = 4;
    syscall(SYS_ipc, 11, oq, 4, 0, &m, 0);
    memset(raw, 0, sizeof raw);
    r = syscall(SYS_ipc, 14, oq, IPC_STAT, 0, raw, 0);
    unsigned short u16[32];
    memcpy(u16, raw, sizeof u16);
    printf("old msgctl %ld: mode %o cbytes %u qnum %u qbytes %u, first/last/lcbytes/lqbytes zero %d\n",
           r, u16[6], u16[22], u16[23], u16[24],
           raw[16] + raw[20] + raw[36] + raw[40] == 0);
    u16[6] = 0600;
    u16[24] = 500;
    memcpy(raw, u16, sizeof u16);
    r = syscall(SYS_ipc, 14, oq, IPC_SET, 0, raw, 0);
    struct msqid_ds nds;
    syscall(SYS_ipc, 14, oq, IPC_STAT | 0x100, 0, &nds, 0);
    printf("old IPC_SET %ld: mode %o qbytes %lu\n", r, nds.msg_perm.mode, (unsigned long)nds.msg_qbytes);
    syscall(SYS_ipc, 14, oq, IPC_RMID, 0, 0, 0);
    long os = syscall(SYS_ipc, 2, IPC_PRIVATE, 5, IPC_CREAT | 0600, 0, 0);
    void *p = raw;
    memset(raw, 0, sizeof raw);
    r = syscall(SYS_ipc, 3, os, 0, IPC_STAT, &p, 0);
    memcpy(u16, raw, sizeof u16);
    printf("old semctl %ld: mode %o nsems %u\n", r, u16[6], u16[20]);
    syscall(SYS_ipc, 3, os, 0, IPC_RMID, &p, 0);
    long oh = syscall(SYS_ipc, 23, IPC_PRIVATE, 3000, IPC_CREAT | 0600, 0, 0);
    unsigned long oa = 0;
    syscall(SYS_ipc, 21, oh, 0, &oa, 0, 0);
    memset(raw, 0, sizeof raw);
    r = syscall(SYS_ipc, 24, oh, IPC_STAT, 0, raw, 0);
    memcpy(u16, raw, sizeof u16);
    int segsz;
    memcpy(&segsz, raw + 16, 4);
    printf("old shmctl %ld: mode %o segsz %d nattch %u\n", r, u16[6], segsz, u16[18]);
    memset(raw, 0xff, sizeof raw);
    r = syscall(SYS_ipc, 24, oh, IPC_INFO, 0, raw, 0);
    unsigned int w[6];
    memcpy(w, raw, sizeof w);
    printf("old shm IPC_INFO: shmmax %u shmmin %u shmmni %u, untouched after 20 bytes: %s\n",
           w[0], w[1], w[2], w[5] == 0xffffffffu ? "yes" : "no");
    syscall(SYS_ipc, 22, 0, 0, 0, (void *)oa, 0);
    syscall(SYS_ipc, 24, oh, IPC_RMID, 0, 0, 0);
  }

  /* The direct i386 syscalls (Linux 5.1+): always the ipc64 structs, and a command with
   * IPC_64 in it is unknown (EINVAL). */
  q = syscall(SYS_msgget, IPC_PRIVATE, IPC_CREAT | 0600);
  m.t = 3;
  r = syscall(SYS_msgsnd, q, &m, 4, 0);
  r = syscall(SYS_msgrcv, q, &m, 16, -5, IPC_NOWAIT); printf("direct msgrcv %ld type %d\n", r, m.t);
  r = syscall(SYS_msgctl, q, IPC_STAT, &ds); printf("direct msgctl %ld qbytes %lu\n", r, (unsigned long)ds.msg_qbytes);
  r = syscall(SYS_msgctl, q, IPC_STAT | 0x100, &ds); printf("direct msgctl IPC_64 %ld\n", r);
  r = syscall(SYS_msgctl, q, IPC_RMID, 0);
  s = syscall(SYS_semget, IPC_PRIVATE, 2, IPC_CREAT | 0600);
  r = syscall(SYS_semctl, s, 1, SETVAL, 7);
  r = syscall(SYS_semctl, s, 1, GETVAL, 0); printf("direct semctl GETVAL %ld\n", r);
  r = syscall(SYS_semctl, s, 1, GETVAL | 0x100, 0); printf("direct semctl IPC_64 %ld\n", r);
  struct { long long sec; long long nsec; } ts64 = {0, 1000};
  b.sem_num = 1; b.sem_op = -7; b.sem_flg = 0;
  r = syscall(SYS_semtimedop_time64, s, &b, 1, &ts64); printf("semtimedop_time64 %ld\n", r);
  r = syscall(SYS_semctl, s, 0, IPC_RMID, 0);
  h = syscall(SYS_shmget, IPC_PRIVATE, 100, IPC_CREAT | 0600);
  long a = syscall(SYS_shmat, h, 0, SHM_RDONLY); printf("direct shmat %s\n", a != -1 ? "ok" : "failed");
  r = syscall(SYS_shmctl, h, IPC_STAT, &sd); printf("direct shmctl %ld segsz %lu\n", r, (unsigned long)sd.shm_segsz);
  r = syscall(SYS_shmctl, h, IPC_STAT | 0x100, &sd); printf("direct shmctl IPC_64 %ld\n", r);
  r = syscall(SYS_shmdt, a);
  r = syscall(SYS_shmctl, h, IPC_RMID, 0);
  return 0;
}

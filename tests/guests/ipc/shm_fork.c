/* A SysV shared memory segment between a parent and its children: a child's write is the
 * parent's read; fork inherits the attachment (shm_nattch counts it), exit and exec detach;
 * IPC_RMID waits for the last detach; /proc/self/maps names the segment as Linux does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned long nattch(int h) {
    struct shmid_ds ds;
    if (shmctl(h, IPC_STAT, &ds) != 0)
        return 999;
    return (unsigned long)ds.shm_nattch;
}

static int exit_code(pid_t pid) {
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The maps line of the mapping holding addr, without its address range. */
static void show_maps_line(const void *addr, int h, key_t key) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        unsigned long lo, hi, off, ino;
        char perms[8], dev[16], name[256] = "";
        if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %255[^\n]", &lo, &hi, perms, &off, dev,
                   &ino, name) < 6)
            continue;
        if ((unsigned long)addr < lo || (unsigned long)addr >= hi)
            continue;
        char want[64];
        snprintf(want, sizeof want, "/SYSV%08x (deleted)", (unsigned)key);
        printf("maps: %s offset %lx dev %s size %lu inode is the id: %s, name as Linux: %s\n",
               perms, off, dev, hi - lo, ino == (unsigned long)h ? "yes" : "no",
               strcmp(name, want) == 0 ? "yes" : name);
    }
    if (f != NULL)
        fclose(f);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);  /* a child's output never repeats the parent's */
    if (argc > 1) {  /* the exec'd image: no attachment survives exec */
        int h = atoi(argv[1]);
        printf("after exec: nattch %lu\n", nattch(h));
        return 0;
    }
    key_t key = (key_t)0x5badc0de;
    int h = shmget(key, 6000, IPC_CREAT | 0600);
    if (h < 0) {  /* left over from an earlier run: start afresh */
        shmctl(shmget(key, 0, 0), IPC_RMID, NULL);
        h = shmget(key, 6000, IPC_CREAT | 0600);
    }
    char *p = shmat(h, NULL, 0);
    if (h < 0 || p == (void *)-1)
        return 1;
    show_maps_line(p, h, key);
    printf("nattch after shmat %lu\n", nattch(h));
    pid_t pid = fork();
    if (pid == 0) {
        printf("child sees nattch %lu\n", nattch(h));
        strcpy(p, "written by the child");
        p[5999] = 'z';
        _exit(0);
    }
    printf("child exited %d\n", exit_code(pid));
    struct shmid_ds after;
    shmctl(h, IPC_STAT, &after);
    printf("its exit detached: shm_lpid is the child: %s, shm_dtime set: %s\n",
           after.shm_lpid == pid ? "yes" : "no",
           after.shm_dtime != 0 ? "yes" : "no");
    printf("parent reads \"%s\" and '%c'; nattch %lu\n", p, p[5999], nattch(h));

    /* A second attachment, read-only: the same bytes. */
    const char *ro = shmat(h, NULL, SHM_RDONLY);
    printf("read-only attachment reads \"%s\"; nattch %lu\n", ro, nattch(h));
    pid = fork();
    if (pid == 0) {
        *(volatile char *)ro = 'x';  /* SHM_RDONLY: SIGSEGV */
        _exit(0);
    }
    printf("a child writing the read-only attachment: status %d\n", exit_code(pid));
    shmdt(ro);

    /* Attach at a chosen address, rounded with SHM_RND. */
    char *spot = (char *)((unsigned long)p + (1 << 24));
    char *at = shmat(h, spot + 123, SHM_RND);
    printf("SHM_RND attach at the rounded address: %s, reads \"%s\"\n",
           at == spot ? "yes" : "no", at == (void *)-1 ? "" : at);
    if (at != (void *)-1)
        shmdt(at);

    /* exec detaches. */
    pid = fork();
    if (pid == 0) {
        char arg[16];
        snprintf(arg, sizeof arg, "%d", h);
        execl("/proc/self/exe", argv[0], arg, (char *)NULL);
        _exit(127);
    }
    printf("exec'd child exited %d\n", exit_code(pid));
    shmctl(h, IPC_STAT, &after);
    printf("exec detached: shm_lpid is that child: %s\n", after.shm_lpid == pid ? "yes" : "no");

    /* IPC_RMID with the parent still attached: the key is gone, the memory stays. */
    shmctl(h, IPC_RMID, NULL);
    struct shmid_ds ds;
    shmctl(h, IPC_STAT, &ds);
    printf("after IPC_RMID: SHM_DEST %s, key %d, nattch %lu, still reads \"%s\"\n",
           ds.shm_perm.mode & SHM_DEST ? "set" : "clear", (int)ds.shm_perm.__key,
           (unsigned long)ds.shm_nattch, p);
    errno = 0;
    int again = shmget(key, 0, 0);
    printf("shmget by the old key: %d (%s)\n", again, strerror(errno));
    shmdt(p);
    errno = 0;
    int gone = shmctl(h, IPC_STAT, &ds);
    printf("after the last detach IPC_STAT: %d (%s)\n", gone, strerror(errno));
    return 0;
}

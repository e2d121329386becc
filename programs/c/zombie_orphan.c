/*
 * zombie_orphan.c - a child that died before its parent asked, and a child whose
 * parent died first.
 *
 * A zombie: a child that has exited keeps its process-table entry (pid, exit
 * status, resource usage) until its parent collects it with wait. Until then
 * ps, or /proc/<pid>/stat, shows it in state Z. waitid(..., WEXITED | WNOWAIT)
 * waits for the exit without collecting it, so we can look at the zombie.
 *
 * An orphan: when a parent exits before its children, the kernel gives them a
 * new parent, pid 1 (init, which reaps them when they end) or the nearest
 * "subreaper" (systemd --user, a container's init). The grandchild here sees its
 * getppid() change.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The state letter of /proc/<pid>/stat ("1234 (name) Z 1233 ..."), or 0 if the
 * file cannot be opened; the name may contain spaces, so look after the last ')'. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *end = strrchr(buf, ')');
    return end != NULL && end[1] == ' ' ? end[2] : '?';
}

static void zombie(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        _exit(5);

    siginfo_t info;
    waitid(P_PID, pid, &info, WEXITED | WNOWAIT); /* it has exited; not reaped yet */
    char state = proc_state(pid);
    printf("zombie: child %d exited with %d; /proc/%d/stat says state %c\n",
           pid, info.si_status, pid, state ? state : '?');

    int status;
    waitpid(pid, &status, 0); /* now reap it */
    char after = proc_state(pid);
    printf("zombie: after waitpid, /proc/%d/stat %s\n", pid,
           after == 0 && errno == ENOENT ? "is gone (ENOENT): reaped" : "still exists?");
}

static void orphan(void)
{
    int report[2];
    if (pipe(report) < 0) {
        perror("pipe");
        exit(1);
    }
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        pid_t me = getpid();
        pid_t grandchild = fork();
        if (grandchild == 0) {
            /* wait, politely, until our parent has gone */
            while (getppid() == me)
                sched_yield();
            char line[128];
            int n = snprintf(line, sizeof line,
                             "orphan: grandchild %d: parent %d exited, adopted by %d\n",
                             getpid(), me, getppid());
            write(report[1], line, n);
            _exit(0);
        }
        _exit(0); /* the child leaves its own child behind */
    }
    close(report[1]);
    waitpid(child, NULL, 0);
    printf("orphan: child %d exited, leaving its child behind\n", child);
    fflush(stdout);

    /* the grandchild is not ours to wait for: read its report until every write end
     * is closed, which is when it has exited */
    char buf[256];
    ssize_t n;
    while ((n = read(report[0], buf, sizeof buf)) > 0)
        fwrite(buf, 1, n, stdout);
}

int main(void)
{
    zombie();
    orphan();
    return 0;
}

/*
 * sigchld.c - the kernel tells a parent that a child ended: SIGCHLD.
 *
 * Its default action is to do nothing, so a program that wants it installs a
 * handler. The handler reaps the child with waitpid(WNOHANG), which never
 * sleeps: a shell does this for its background jobs.
 *
 * SIGCHLD is blocked before the fork so that it cannot arrive before the
 * parent is ready for it; sigsuspend() then unblocks it and sleeps in one
 * step, and returns (with EINTR) once the handler has run.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t reaped_pid, reaped_status, got_code, got_status;

static void on_sigchld(int sig, siginfo_t *info, void *ucontext)
{
    (void)sig;
    (void)ucontext;
    int status;
    pid_t pid;
    got_code = info->si_code;
    got_status = info->si_status;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) { /* every child that ended */
        reaped_pid = pid;
        reaped_status = WEXITSTATUS(status);
    }
}

int main(void)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = on_sigchld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);

    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);

    printf("parent: SIGCHLD handler installed, forking\n");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        _exit(3);

    while (reaped_pid == 0) {
        /* sleeps until a signal's handler has run, then fails with EINTR */
        if (sigsuspend(&old) < 0 && errno != EINTR) {
            perror("sigsuspend");
            return 1;
        }
    }
    printf("parent: child %d ended; the handler got si_code %s, si_status %d\n", pid,
           got_code == CLD_EXITED ? "CLD_EXITED" : "another code", (int)got_status);
    printf("parent: the handler reaped %s, exit status %d\n",
           reaped_pid == pid ? "that child" : "another child", (int)reaped_status);
    return 0;
}

"""The waits between processes in a C program (pipes, poll, epoll, select, sigsuspend,
sigtimedwait, ppoll, nanosleep, pause), built static at test time with the compilers the
host has (skipped without them) and run natively and in the model: the same output.

i386 glibc is expected to fail until the signal frame uses the vDSO's __kernel_sigreturn:
its handlers are installed without SA_RESTORER, the model then returns through the frame's
own retcode on the stack, and the stack is not executable (SIGSEGV)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import run_guest

SOURCE = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int got;
static const char *ename(int e) {
    switch (e) {
    case 0: return "0";
    case EPIPE: return "EPIPE";
    case EPERM: return "EPERM";
    case EEXIST: return "EEXIST";
    case EBADF: return "EBADF";
    case EINTR: return "EINTR";
    case EAGAIN: return "EAGAIN";
    default: return "other";
    }
}
static void on_usr1(int s) { got = s; }

/* A child that sends SIGUSR1 to its parent every millisecond until the parent says (a
   byte through a pipe) that its wait has ended: a signal that lands before the wait began
   only runs the handler, the next one ends the wait. */
static int back[2];
static pid_t nag(void) {
    pipe2(back, O_NONBLOCK);
    pid_t c = fork();
    if (c == 0) {
        pid_t parent = getppid();
        struct timespec ts = {0, 1000000};
        char b;
        do {
            kill(parent, SIGUSR1);
            nanosleep(&ts, NULL);
        } while (read(back[0], &b, 1) != 1);
        _exit(0);
    }
    return c;
}

static void unnag(pid_t c) {
    write(back[1], "x", 1);
    waitpid(c, NULL, 0);
    close(back[0]);
    close(back[1]);
}

static void show_mask(const char *what) {
    sigset_t m;
    sigprocmask(SIG_BLOCK, NULL, &m);
    printf("%s: USR1 %s USR2 %s\n", what, sigismember(&m, SIGUSR1) ? "blocked" : "open",
           sigismember(&m, SIGUSR2) ? "blocked" : "open");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int r0;
    int p[2];
    pipe(p);
    /* 1. a child writes after the parent blocks in read; EOF after it exits */
    pid_t c = fork();
    if (c == 0) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
        write(p[1], "hi", 2);
        _exit(3);
    }
    close(p[1]);
    char buf[8];
    ssize_t n = read(p[0], buf, 8);
    printf("read %zd %.2s\n", n, buf);
    n = read(p[0], buf, 8);
    printf("read at eof %zd\n", n);
    int st;
    waitpid(c, &st, 0);
    printf("child %d\n", WEXITSTATUS(st));
    close(p[0]);

    /* 2. a 100000-byte write with a slow reader: all of it, in one call */
    pipe(p);
    c = fork();
    if (c == 0) {
        close(p[1]);
        static char big[100000];
        size_t total = 0;
        ssize_t r;
        while ((r = read(p[0], big, sizeof big)) > 0) total += r;
        _exit(total == 100000 ? 0 : 1);
    }
    close(p[0]);
    static char out[100000];
    memset(out, 'a', sizeof out);
    printf("big write %zd\n", write(p[1], out, sizeof out));
    close(p[1]);
    waitpid(c, &st, 0);
    printf("reader saw all: %d\n", WEXITSTATUS(st) == 0);

    /* 3. EPIPE and SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    pipe(p);
    close(p[0]);
    errno = 0;
    n = write(p[1], "x", 1);
    printf("write no reader %zd %s\n", n, ename(errno));
    close(p[1]);

    /* 4. poll and epoll on files */
    int null = open("/dev/null", O_RDWR);
    int reg = open("/proc/self/exe", O_RDONLY);
    struct pollfd pf[3] = {{null, POLLIN | POLLOUT, 0}, {reg, POLLIN, 0}, {99, POLLIN, 0}};
    r0 = poll(pf, 3, 0);
    printf("poll files %d: %#x %#x %#x\n", r0, pf[0].revents, pf[1].revents, pf[2].revents);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 7};
    errno = 0;
    r0 = epoll_ctl(ep, EPOLL_CTL_ADD, reg, &ev);
    printf("epoll_ctl reg %d %s\n", r0, ename(errno));
    errno = 0;
    r0 = epoll_ctl(ep, EPOLL_CTL_ADD, null, &ev);
    printf("epoll_ctl null %d %s\n", r0, ename(errno));
    pipe(p);
    ev.data.u64 = 42;
    printf("epoll add %d\n", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    errno = 0;
    r0 = epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    printf("epoll add again %d %s\n", r0, ename(errno));
    ev.events = EPOLLOUT;
    ev.data.u64 = 43;
    epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev);
    struct epoll_event evs[4];
    n = epoll_wait(ep, evs, 4, 0);
    printf("epoll ready %zd: %#x/%llu\n", n, evs[0].events, (unsigned long long)evs[0].data.u64);
    c = fork();
    if (c == 0) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
        write(p[1], "z", 1);
        _exit(0);
    }
    epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL);
    n = epoll_wait(ep, evs, 4, -1);
    printf("epoll woke %zd: %#x/%llu\n", n, evs[0].events, (unsigned long long)evs[0].data.u64);
    waitpid(c, &st, 0);
    close(p[1]);
    read(p[0], buf, 1);
    n = epoll_wait(ep, evs, 4, -1);
    printf("epoll hup %zd: %#x\n", n, evs[0].events);
    close(p[0]);

    /* 5. select with a timeout: nothing ready, sets cleared, time left 0 */
    pipe(p);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    struct timeval tv = {0, 20000};
    r0 = select(p[0] + 1, &rs, NULL, NULL, &tv);
    printf("select %d isset %d left %ld.%06ld\n", r0, FD_ISSET(p[0], &rs), (long)tv.tv_sec,
           (long)tv.tv_usec);
    FD_SET(p[1], &rs);
    errno = 0;
    FD_SET(77, &rs);
    r0 = select(100, &rs, NULL, NULL, &tv);
    printf("select bad fd %d %s\n", r0, ename(errno));

    /* 6. sigsuspend: the handler runs with the temporary mask's complement, then the old
       mask is back */
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, NULL);
    c = fork();
    if (c == 0) {
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    sigemptyset(&waitmask);
    sigaddset(&waitmask, SIGUSR2);
    errno = 0;
    int r = sigsuspend(&waitmask);
    printf("sigsuspend %d %s got %d\n", r, ename(errno), got);
    show_mask("after sigsuspend");
    waitpid(c, &st, 0);

    /* 7. sigtimedwait: no handler, the number and siginfo */
    c = fork();
    if (c == 0) {
        kill(getppid(), SIGUSR2);
        _exit(0);
    }
    sigset_t two;
    sigemptyset(&two);
    sigaddset(&two, SIGUSR2);
    siginfo_t si;
    r = sigtimedwait(&two, &si, NULL);
    printf("sigtimedwait %d signo %d code %d frompid %d\n", r, si.si_signo, si.si_code,
           si.si_pid == c);
    waitpid(c, &st, 0);
    struct timespec zero = {0, 0};
    errno = 0;
    r = sigtimedwait(&two, &si, &zero);
    printf("sigtimedwait poll %d %s\n", r, ename(errno));

    /* 8. ppoll with a mask that lets USR1 in: EINTR after the handler, mask back */
    got = 0;
    pipe(p);
    c = nag();
    struct pollfd one = {p[0], POLLIN, 0};
    sigset_t none;
    sigemptyset(&none);
    errno = 0;
    r = ppoll(&one, 1, NULL, &none);
    printf("ppoll %d %s got %d\n", r, ename(errno), got);
    show_mask("after ppoll");
    unnag(c);

    /* 9. nanosleep interrupted: EINTR and the time left */
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    c = nag();
    struct timespec req = {10, 0}, rem = {0, 0};
    errno = 0;
    r = nanosleep(&req, &rem);
    printf("nanosleep %d %s rem>9s %d\n", r, ename(errno), rem.tv_sec >= 9);
    unnag(c);

    /* 10. pause */
    c = nag();
    errno = 0;
    r = pause();
    printf("pause %d %s\n", r, ename(errno));
    unnag(c);
    return 0;
}
"""

BUILDS = {
    "glibc-x86_64": (["gcc", "-static", "-O1"], 64),
    "musl-x86_64": (["musl-gcc", "-static", "-O1"], 64),
    "glibc-i386": (["gcc", "-m32", "-static", "-O1"], 32),
}


@pytest.mark.parametrize("build", [
    "glibc-x86_64", "musl-x86_64",
    "glibc-i386",
])
def test_waits_match_the_host_kernel(build, tmp_path: Path):
    cmd, bits = BUILDS[build]
    if shutil.which(cmd[0]) is None:
        pytest.skip(f"{cmd[0]} is not installed")
    src = tmp_path / "waits.c"
    src.write_text(SOURCE)
    exe = tmp_path / "waits"
    built = subprocess.run([*cmd, "-o", str(exe), str(src)], capture_output=True)
    if built.returncode != 0:
        pytest.skip(f"{build} does not build here: {built.stderr.decode()[-200:]}")
    native = subprocess.run([str(exe)], capture_output=True, timeout=60)
    assert native.returncode == 0
    run = run_guest(exe, bits=bits, clock="virtual")
    assert (run.status, run.stdout.decode()) == (0, native.stdout.decode())

/* sendmmsg and recvmmsg over a datagram pair and UDP; a receive interrupted by a signal
 * (EINTR with a handler, restarted with SA_RESTART); the default SIGPIPE death of a writer
 * whose peer is gone. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void batches(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    struct iovec out[3] = {{"one", 3}, {"two!", 4}, {"three", 5}};
    struct mmsghdr msgs[3];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < 3; i++) {
        msgs[i].msg_hdr.msg_iov = &out[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = sendmmsg(sv[0], msgs, 3, 0);
    printf("sendmmsg: %d, lengths %u %u %u\n", n, msgs[0].msg_len, msgs[1].msg_len, msgs[2].msg_len);
    char bufs[4][16];
    struct iovec in[4];
    struct mmsghdr got[4];
    memset(got, 0, sizeof got);
    for (int i = 0; i < 4; i++) {
        in[i].iov_base = bufs[i];
        in[i].iov_len = sizeof bufs[i];
        got[i].msg_hdr.msg_iov = &in[i];
        got[i].msg_hdr.msg_iovlen = 1;
    }
    n = recvmmsg(sv[1], got, 4, MSG_WAITFORONE, NULL);
    printf("recvmmsg with MSG_WAITFORONE: %d, lengths %u %u %u\n", n, got[0].msg_len, got[1].msg_len,
           got[2].msg_len);
    send(sv[0], "late", 4, 0);
    n = recvmmsg(sv[1], got, 4, MSG_DONTWAIT, NULL);
    printf("recvmmsg with MSG_DONTWAIT: %d\n", n);
    n = recvmmsg(sv[1], got, 4, MSG_DONTWAIT, NULL);
    printf("recvmmsg on an empty socket: %d %s\n", n, n < 0 ? strerror(errno) : "");
    close(sv[0]);
    close(sv[1]);
}

static void on_usr1(int sig) { (void)sig; }

/* A child signals the parent while the parent waits in recv (the child sleeps first: long
 * enough for the parent to be waiting), then, the second time, sends a byte. */
static void interrupted(void) {
    int sv[2];
    char c;
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        usleep(200000);
        kill(parent, SIGUSR1);
        _exit(0);
    }
    ssize_t r = recv(sv[0], &c, 1, 0);
    printf("recv interrupted: %zd %s\n", r, r < 0 ? strerror(errno) : "");
    waitpid(pid, NULL, 0);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    pid = fork();
    if (pid == 0) {
        usleep(200000);
        kill(parent, SIGUSR1);
        usleep(200000);  /* the parent's recv must have been restarted to see this */
        write(sv[1], "k", 1);
        _exit(0);
    }
    r = recv(sv[0], &c, 1, 0);
    printf("recv restarted with SA_RESTART: %zd '%c'\n", r, r == 1 ? c : '?');
    waitpid(pid, NULL, 0);
    close(sv[0]);
    close(sv[1]);
}

static void sigpipe_death(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    close(sv[1]);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        write(sv[0], "x", 1);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("writer killed by signal %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    close(sv[0]);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    batches();
    interrupted();
    sigpipe_death();
    return 0;
}

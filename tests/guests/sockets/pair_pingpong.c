/* socketpair(AF_UNIX) across fork: a ping-pong over a stream pair, message boundaries of
 * the seqpacket and datagram pairs, EOF and POLLHUP/POLLRDHUP after the peer's close,
 * EPIPE with MSG_NOSIGNAL and SIGPIPE without, and the socket options a pair has. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int sigpipes;
static void on_sigpipe(int sig) { (void)sig; sigpipes++; }

static int opt(int fd, int name) {
    int v = -1;
    socklen_t l = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, name, &v, &l) < 0) return -errno;
    return v;
}

static void pingpong(void) {
    int sv[2];
    char buf[64];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) { perror("socketpair"); return; }
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        for (;;) {
            ssize_t n = read(sv[1], buf, sizeof buf - 1);
            if (n <= 0) break;
            buf[n] = 0;
            buf[1] = 'o';  /* ping -> pong */
            if (write(sv[1], buf, n) != n) _exit(3);
        }
        _exit(0);
    }
    close(sv[1]);
    for (int i = 0; i < 5; i++) {
        int len = snprintf(buf, sizeof buf, "ping %d", i);
        write(sv[0], buf, len);
        ssize_t n = read(sv[0], buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = 0;
        printf("round %d: %s\n", i, buf);
    }
    shutdown(sv[0], SHUT_WR);
    int status;
    waitpid(pid, &status, 0);
    printf("child exited %d\n", WEXITSTATUS(status));
    struct pollfd p = {sv[0], POLLIN | POLLOUT | POLLRDHUP, 0};
    poll(&p, 1, 0);
    printf("after close: revents%s%s%s%s\n", p.revents & POLLIN ? " POLLIN" : "",
           p.revents & POLLOUT ? " POLLOUT" : "", p.revents & POLLHUP ? " POLLHUP" : "",
           p.revents & POLLRDHUP ? " POLLRDHUP" : "");
    printf("read at EOF: %zd\n", read(sv[0], buf, sizeof buf));
    ssize_t r = send(sv[0], "x", 1, MSG_NOSIGNAL);
    printf("send with MSG_NOSIGNAL: %zd %s\n", r, r < 0 ? strerror(errno) : "");
    signal(SIGPIPE, on_sigpipe);
    r = write(sv[0], "x", 1);
    printf("write: %zd %s, SIGPIPE seen %d\n", r, r < 0 ? strerror(errno) : "", sigpipes);
    close(sv[0]);
}

static void boundaries(int type, const char *name) {
    int sv[2];
    char buf[64];
    if (socketpair(AF_UNIX, type, 0, sv) < 0) { perror("socketpair"); return; }
    send(sv[0], "one", 3, 0);
    send(sv[0], "three", 5, 0);
    ssize_t a = recv(sv[1], buf, sizeof buf, 0);
    ssize_t b = recv(sv[1], buf, 2, 0);
    printf("%s: first recv %zd, short recv %zd\n", name, a, b);
    send(sv[0], "again", 5, 0);
    struct msghdr m = {0};
    struct iovec io = {buf, 3};
    m.msg_iov = &io;
    m.msg_iovlen = 1;
    ssize_t c = recvmsg(sv[1], &m, 0);
    printf("%s: recvmsg %zd, MSG_TRUNC %s\n", name, c, m.msg_flags & MSG_TRUNC ? "set" : "clear");
    printf("%s: SO_TYPE %d, SO_DOMAIN %d, SO_ACCEPTCONN %d\n", name, opt(sv[0], SO_TYPE),
           opt(sv[0], SO_DOMAIN), opt(sv[0], SO_ACCEPTCONN));
    close(sv[0]);
    if (type == SOCK_SEQPACKET) {
        printf("%s: recv after close %zd\n", name, recv(sv[1], buf, sizeof buf, 0));
    } else {
        ssize_t r = recv(sv[1], buf, sizeof buf, MSG_DONTWAIT);
        printf("%s: recv after close %zd %s\n", name, r, r < 0 ? strerror(errno) : "");
        r = send(sv[1], "x", 1, 0);
        printf("%s: send after close %zd %s\n", name, r, r < 0 ? strerror(errno) : "");
    }
    close(sv[1]);
}

static void options(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
    printf("SO_RCVBUF %d SO_SNDBUF %d\n", opt(sv[0], SO_RCVBUF), opt(sv[0], SO_SNDBUF));
    int v = 5000;
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    printf("after 5000: SO_RCVBUF %d SO_SNDBUF %d\n", opt(sv[0], SO_RCVBUF), opt(sv[0], SO_SNDBUF));
    v = 1;
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    printf("after 1: SO_RCVBUF %d SO_SNDBUF %d\n", opt(sv[0], SO_RCVBUF), opt(sv[0], SO_SNDBUF));
    struct ucred cred;
    socklen_t l = sizeof cred;
    getsockopt(sv[1], SOL_SOCKET, SO_PEERCRED, &cred, &l);
    printf("SO_PEERCRED: len %u, pid is mine %d, uid is mine %d\n", l, cred.pid == getpid(),
           cred.uid == getuid());
    printf("SO_ERROR %d, unknown option: %d\n", opt(sv[0], SO_ERROR), opt(sv[0], 999));
    char buf[8];
    ssize_t r = recv(sv[0], buf, sizeof buf, 0);
    printf("empty non-blocking recv: %zd %s\n", r, r < 0 ? strerror(errno) : "");
    struct stat st;
    fstat(sv[0], &st);
    printf("fstat: S_ISSOCK %d\n", S_ISSOCK(st.st_mode));
    r = lseek(sv[0], 0, SEEK_SET);
    printf("lseek: %zd %s\n", r, r < 0 ? strerror(errno) : "");
    int rc = socketpair(AF_INET, SOCK_STREAM, 0, sv);
    printf("socketpair(AF_INET): %d %s\n", rc, strerror(errno));
}

/* A megabyte through a stream pair: the writer waits while the pair is full and the reader
 * drains it; select() says when each side may go on; a non-blocking writer gets EAGAIN. */
static void bulk(void) {
    int sv[2];
    static char chunk[65536];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        long total = 0;
        ssize_t n;
        char buf[4096];
        for (;;) {
            fd_set r;
            FD_ZERO(&r);
            FD_SET(sv[1], &r);
            if (select(sv[1] + 1, &r, NULL, NULL, NULL) != 1) _exit(2);
            if ((n = read(sv[1], buf, sizeof buf)) <= 0) break;
            total += n;
        }
        char line[32];
        int len = snprintf(line, sizeof line, "%ld", total);
        write(sv[1], line, len);
        _exit(0);
    }
    close(sv[1]);
    long sent = 0;
    for (int i = 0; i < 16; i++) sent += write(sv[0], chunk, sizeof chunk);
    shutdown(sv[0], SHUT_WR);
    char line[32] = {0};
    read(sv[0], line, sizeof line - 1);
    int status;
    waitpid(pid, &status, 0);
    printf("bulk: wrote %ld, the reader counted %s, status %d\n", sent, line, WEXITSTATUS(status));
    close(sv[0]);

    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
    long filled = 0;
    ssize_t n;
    while ((n = write(sv[0], chunk, sizeof chunk)) > 0) filled += n;
    printf("non-blocking: EAGAIN after filling some: %d\n", n < 0 && errno == EAGAIN && filled > 0);
    fd_set w;
    FD_ZERO(&w);
    FD_SET(sv[0], &w);
    struct timeval tv = {0, 0};
    printf("select for writing when full: %d\n", select(sv[0] + 1, NULL, &w, NULL, &tv));
    close(sv[0]);
    close(sv[1]);
}

/* MSG_PEEK leaves the bytes; MSG_WAITALL waits for all it asked for, even more than the
 * pair holds at once (the writer waits for room meanwhile). */
static void peek_and_waitall(void) {
    int sv[2];
    static char big[300000], got[300000];
    for (int i = 0; i < (int)sizeof big; i++) big[i] = (char)(i * 7);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        send(sv[1], "peekaboo", 8, 0);
        for (int off = 0; off < (int)sizeof big; off += 50000) write(sv[1], big + off, 50000);
        _exit(0);
    }
    close(sv[1]);
    char a[8], b[8];
    ssize_t p = recv(sv[0], a, 4, MSG_PEEK | MSG_WAITALL);
    ssize_t q = recv(sv[0], b, 8, MSG_WAITALL);
    printf("peek %zd \"%.4s\", then read %zd \"%.8s\"\n", p, a, q, b);
    ssize_t n = recv(sv[0], got, sizeof got, MSG_WAITALL);
    printf("MSG_WAITALL: %zd bytes, the same %d\n", n, n == (ssize_t)sizeof big && !memcmp(big, got, n));
    waitpid(pid, NULL, 0);
    printf("MSG_WAITALL at EOF: %zd\n", recv(sv[0], got, 10, MSG_WAITALL));
    close(sv[0]);
}

/* SO_PASSCRED on the receiver: each message comes with its sender's credentials. */
static void credentials(void) {
    int sv[2], one = 1;
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    send(sv[0], "who", 3, 0);
    char buf[8], cbuf[CMSG_SPACE(sizeof(struct ucred))];
    struct iovec io = {buf, sizeof buf};
    struct msghdr m = {0};
    m.msg_iov = &io; m.msg_iovlen = 1; m.msg_control = cbuf; m.msg_controllen = sizeof cbuf;
    ssize_t n = recvmsg(sv[1], &m, 0);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    struct ucred cred = {0};
    if (c) memcpy(&cred, CMSG_DATA(c), sizeof cred);
    printf("credentials: %zd bytes, SCM_CREDENTIALS %d, pid is mine %d, uid is mine %d\n", n,
           c && c->cmsg_type == SCM_CREDENTIALS, cred.pid == getpid(), cred.uid == getuid());
    close(sv[0]);
    close(sv[1]);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    pingpong();
    boundaries(SOCK_SEQPACKET, "seqpacket");
    boundaries(SOCK_DGRAM, "dgram");
    options();
    bulk();
    credentials();
    peek_and_waitall();
    return 0;
}

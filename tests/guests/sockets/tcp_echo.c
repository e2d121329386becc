/* TCP on 127.0.0.1 between a parent and its child: a listener on an ephemeral port read
 * back with getsockname, an echo until the client's shutdown, addresses on both ends,
 * poll and epoll on the sockets, EADDRINUSE, ECONNREFUSED for a port nobody listens on,
 * a non-blocking connect (EINPROGRESS, then SO_ERROR), and options TCP sockets have. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int in_range(int port) { return port >= 32768 && port <= 60999; }

static void show(const char *what, long rc) {
    printf("%s: %ld %s\n", what, rc, rc < 0 ? strerror(errno) : "");
}

static int opt(int fd, int level, int name) {
    int v = -1;
    socklen_t l = sizeof v;
    if (getsockopt(fd, level, name, &v, &l) < 0) return -errno;
    return v;
}

static void echo(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    printf("SO_RCVBUF %d SO_SNDBUF %d SO_PROTOCOL %d TCP_NODELAY %d\n", opt(s, SOL_SOCKET, SO_RCVBUF),
           opt(s, SOL_SOCKET, SO_SNDBUF), opt(s, SOL_SOCKET, SO_PROTOCOL), opt(s, IPPROTO_TCP, TCP_NODELAY));
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    printf("after setting: TCP_NODELAY %d SO_REUSEADDR %d\n", opt(s, IPPROTO_TCP, TCP_NODELAY),
           opt(s, SOL_SOCKET, SO_REUSEADDR));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    show("bind", bind(s, (struct sockaddr *)&a, sizeof a));
    show("listen", listen(s, 8));
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    printf("listening port odd and in range: %d %d, SO_ACCEPTCONN %d\n", ntohs(a.sin_port) & 1,
           in_range(ntohs(a.sin_port)), opt(s, SOL_SOCKET, SO_ACCEPTCONN));
    struct pollfd p = {s, POLLIN, 0};
    int none = poll(&p, 1, 0);
    printf("poll before a client: %d\n", none);
    pid_t pid = fork();
    if (pid == 0) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) _exit(2);
        const char *msg = "echo me over tcp, please";
        send(c, msg, strlen(msg), 0);
        shutdown(c, SHUT_WR);
        char buf[64];
        size_t got = 0;
        ssize_t n;
        while ((n = recv(c, buf + got, sizeof buf - got, 0)) > 0) got += n;
        if (got != strlen(msg) || memcmp(buf, msg, got)) _exit(3);
        _exit(0);
    }
    int ready = poll(&p, 1, -1);
    printf("poll with a client on the way: %d revents %#x\n", ready, p.revents);
    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;
    int conn = accept4(s, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
    printf("accepted from %s, port even and in range: %d %d, length %u\n", inet_ntoa(peer.sin_addr),
           !(ntohs(peer.sin_port) & 1), in_range(ntohs(peer.sin_port)), plen);
    struct sockaddr_in me;
    len = sizeof me;
    getsockname(conn, (struct sockaddr *)&me, &len);
    printf("accepted socket's address %s, the listener's port %d\n", inet_ntoa(me.sin_addr),
           me.sin_port == a.sin_port);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = 7}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, conn, &ev);
    char buf[64];
    int total = 0;
    for (;;) {
        if (epoll_wait(ep, &out, 1, -1) != 1) break;
        ssize_t n = recv(conn, buf, sizeof buf, 0);
        if (n <= 0) {
            printf("EOF after %d bytes; last events %s%s\n", total, out.events & EPOLLIN ? "EPOLLIN " : "",
                   out.events & EPOLLRDHUP ? "EPOLLRDHUP" : "");
            break;
        }
        total += n;
        send(conn, buf, n, 0);
    }
    close(conn);
    int status;
    waitpid(pid, &status, 0);
    printf("client exited %d\n", WEXITSTATUS(status));
    int again = socket(AF_INET, SOCK_STREAM, 0);
    show("bind a listening port", bind(again, (struct sockaddr *)&a, sizeof a));
    close(again);
    close(s);
    close(ep);
}

static void refused(void) {
    /* A port that was bound and let go: nobody listens there now. */
    int t = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(t, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(t, (struct sockaddr *)&a, &len);
    close(t);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    show("connect to a port nobody listens on", connect(c, (struct sockaddr *)&a, sizeof a));
    show("getpeername", getpeername(c, (struct sockaddr *)&a, &len));
    char b;
    show("recv on it", recv(c, &b, 1, 0));
    close(c);
    int nb = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    show("non-blocking connect", connect(nb, (struct sockaddr *)&a, sizeof a));
    struct pollfd p = {nb, POLLOUT, 0};
    poll(&p, 1, -1);
    printf("poll: POLLOUT %d POLLERR %d POLLHUP %d\n", !!(p.revents & POLLOUT), !!(p.revents & POLLERR),
           !!(p.revents & POLLHUP));
    int err = opt(nb, SOL_SOCKET, SO_ERROR);
    printf("SO_ERROR: %s, then %d\n", strerror(err), opt(nb, SOL_SOCKET, SO_ERROR));
    close(nb);
    int any = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 six = {.sin6_family = AF_INET6};
    bind(any, (struct sockaddr *)&six, sizeof six);
    listen(any, 1);
    len = sizeof six;
    getsockname(any, (struct sockaddr *)&six, &len);
    a.sin_port = six.sin6_port;
    int v4 = socket(AF_INET, SOCK_STREAM, 0);
    show("IPv4 connect to an IPv6 listener on ::", connect(v4, (struct sockaddr *)&a, sizeof a));
    struct sockaddr_in6 peer;
    len = sizeof peer;
    int conn = accept(any, (struct sockaddr *)&peer, &len);
    char text[64];
    printf("accepted from %s, length %u\n", inet_ntop(AF_INET6, &peer.sin6_addr, text, sizeof text), len);
    send(v4, "x", 1, 0);
    close(conn);
    show("recv after the peer closed with unread data", recv(v4, text, 1, 0));
    close(v4);
    close(any);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    echo();
    refused();
    return 0;
}

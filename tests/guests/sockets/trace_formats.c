/* One of each socket call, in one process, for comparing syscall-lab's trace lines with
 * strace's: addresses of every family, msghdr with and without control messages, in/out
 * lengths, socket options, MSG_* flags and errors. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(void) {
    char buf[64];
    socklen_t l;
    int sv[2], v;
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    l = sizeof v;
    getsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &v, &l);
    v = 5000;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    l = 11;
    getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &l);
    struct ucred uc;
    l = sizeof uc;
    getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &uc, &l);
    struct linger lg;
    l = sizeof lg;
    getsockopt(sv[0], SOL_SOCKET, SO_LINGER, &lg, &l);
    l = sizeof v;
    getsockopt(sv[0], SOL_SOCKET, 999, &v, &l);
    struct msghdr m;
    struct iovec io = {"hi", 2}, in = {buf, sizeof buf};
    memset(&m, 0, sizeof m);
    m.msg_iov = &io;
    m.msg_iovlen = 1;
    sendmsg(sv[0], &m, MSG_NOSIGNAL);
    m.msg_iov = &in;
    recvmsg(sv[1], &m, 0);
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    m.msg_iov = &io;
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int one = 1;
    memcpy(CMSG_DATA(c), &one, sizeof one);
    sendmsg(sv[0], &m, 0);
    m.msg_iov = &in;
    m.msg_controllen = sizeof cbuf;
    recvmsg(sv[1], &m, MSG_CMSG_CLOEXEC);
    shutdown(sv[0], SHUT_WR);
    recv(sv[1], buf, sizeof buf, MSG_DONTWAIT);

    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_un ab = {AF_UNIX, "\0trace-formats"};
    bind(s, (struct sockaddr *)&ab, offsetof(struct sockaddr_un, sun_path) + 14);
    listen(s, 5);
    l = sizeof ab;
    getsockname(s, (struct sockaddr *)&ab, &l);
    accept4(s, NULL, NULL, SOCK_CLOEXEC);
    int cl = socket(AF_UNIX, SOCK_STREAM, 0);
    connect(cl, (struct sockaddr *)&ab, offsetof(struct sockaddr_un, sun_path) + 14);
    struct sockaddr_un peer;
    l = sizeof peer;
    int conn = accept(s, (struct sockaddr *)&peer, &l);
    l = sizeof peer;
    getpeername(cl, (struct sockaddr *)&peer, &l);
    send(cl, "abc", 3, 0);
    l = sizeof peer;
    recvfrom(conn, buf, sizeof buf, 0, (struct sockaddr *)&peer, &l);
    struct sockaddr_un missing = {AF_UNIX, "/tmp/no/such/socket"};
    connect(socket(AF_UNIX, SOCK_DGRAM, 0), (struct sockaddr *)&missing, sizeof missing);

    int t = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in any = {.sin_family = AF_INET};
    bind(t, (struct sockaddr *)&any, sizeof any);
    listen(t, 4096);
    l = sizeof any;
    getsockname(t, (struct sockaddr *)&any, &l);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_port = any.sin_port};
    lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sendto(u, "x", 1, 0, (struct sockaddr *)&lo, sizeof lo);
    l = sizeof lo;
    recvfrom(u, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&lo, &l);
    int t6 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 six = {.sin6_family = AF_INET6, .sin6_port = htons(9), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    connect(t6, (struct sockaddr *)&six, sizeof six);
    int v6 = socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
    l = sizeof v;
    getsockopt(v6, SOL_SOCKET, SO_ERROR, &v, &l);
    getsockopt(v6, SOL_SOCKET, SO_TYPE, &v, &l);
    int dv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, dv);
    struct iovec parts[2] = {{"first", 5}, {"second", 6}};
    struct mmsghdr mm[2];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 2; i++) {
        mm[i].msg_hdr.msg_iov = &parts[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    sendmmsg(dv[0], mm, 2, MSG_DONTWAIT);
    struct iovec ins[2] = {{buf, 32}, {buf + 32, 32}};
    for (int i = 0; i < 2; i++) mm[i].msg_hdr.msg_iov = &ins[i];
    recvmmsg(dv[1], mm, 2, MSG_WAITFORONE, NULL);
    recvmmsg(dv[1], mm, 2, MSG_DONTWAIT, NULL);
    return 0;
}

/* The errors of socket calls given the wrong thing: not a socket, no such fd, a family,
 * type or flag nobody has, an operation the socket's type has not. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void show(const char *what, long rc) {
    printf("%s: %ld %s\n", what, rc, rc < 0 ? strerror(errno) : "");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int p[2];
    pipe(p);
    show("send on a pipe", send(p[1], "x", 1, 0));
    show("getsockopt on a pipe", getsockopt(p[0], SOL_SOCKET, SO_TYPE, &(int){0}, &(socklen_t){4}));
    show("send on a closed fd", send(99, "x", 1, 0));
    show("socket(99)", socket(99, SOCK_STREAM, 0));
    show("AF_UNIX type 99", socket(AF_UNIX, 99, 0));
    show("AF_UNIX protocol 7", socket(AF_UNIX, SOCK_STREAM, 7));
    show("unknown type flag", socket(AF_UNIX, SOCK_STREAM | 0x100000, 0));
    show("TCP with UDP's protocol", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
    int d = socket(AF_UNIX, SOCK_DGRAM, 0);
    show("listen on a datagram socket", listen(d, 1));
    show("accept on a datagram socket", accept(d, NULL, NULL));
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    show("listen unbound", listen(s, 1));
    show("accept not listening", accept(s, NULL, NULL));
    show("shutdown how 7", shutdown(s, 7));
    show("shutdown unconnected unix", shutdown(s, SHUT_RDWR));
    show("send unconnected stream", send(s, "x", 1, MSG_NOSIGNAL));
    char b;
    show("recv unconnected unix stream", recv(s, &b, 1, 0));
    struct sockaddr_un shortaddr = {AF_UNIX, ""};
    show("bind with length 1", bind(s, (struct sockaddr *)&shortaddr, 1));
    show("bind with length 200", bind(s, (struct sockaddr *)&shortaddr, 200));
    show("bind with length -1", bind(s, (struct sockaddr *)&shortaddr, -1));
    struct sockaddr_in in = {.sin_family = AF_INET};
    show("bind inet address to a unix socket", bind(s, (struct sockaddr *)&in, sizeof in));
    show("getpeername unconnected", getpeername(s, (struct sockaddr *)&shortaddr, &(socklen_t){110}));
    int t = socket(AF_INET, SOCK_STREAM, 0);
    show("bind short inet address", bind(t, (struct sockaddr *)&in, 8));
    struct sockaddr_in6 six = {.sin6_family = AF_INET6};
    show("bind inet6 address to inet socket", bind(t, (struct sockaddr *)&six, sizeof six));
    in.sin_addr.s_addr = htonl(0x0a000001);
    show("bind a foreign address", bind(t, (struct sockaddr *)&in, sizeof in));
    show("send unconnected tcp", send(t, "x", 1, MSG_NOSIGNAL));
    show("shutdown unconnected tcp", shutdown(t, SHUT_WR));
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    show("sendto port 0", sendto(u, "x", 1, 0, (struct sockaddr *)&in, sizeof in));
    show("listen udp", listen(u, 1));
    show("tcp option on udp", setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &(int){1}, 4));
    show("tcp option on unix", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &(int){1}, 4));
    show("short int option", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &(int){1}, 2));
    show("set SO_TYPE", setsockopt(s, SOL_SOCKET, SO_TYPE, &(int){1}, 4));
    show("getsockopt negative length", getsockopt(s, SOL_SOCKET, SO_TYPE, &(int){0}, &(socklen_t){-1}));
    int v = 0;
    socklen_t len = 2;
    getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &len);
    printf("SO_RCVBUF into 2 bytes: length %u, value %d\n", len, v);
    return 0;
}

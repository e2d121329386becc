/* UDP on 127.0.0.1 and ::1 between a parent and its child: ephemeral ports read back with
 * getsockname, the sender's address from recvfrom, a connected socket, MSG_TRUNC, and the
 * error a connected socket gets for a port nobody has bound (ECONNREFUSED). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int in_range(int port) { return port >= 32768 && port <= 60999; }

static void show(const char *what, long rc) {
    printf("%s: %ld %s\n", what, rc, rc < 0 ? strerror(errno) : "");
}

static void v4(void) {
    int srv = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    show("bind port 0", bind(srv, (struct sockaddr *)&a, sizeof a));
    socklen_t len = sizeof a;
    getsockname(srv, (struct sockaddr *)&a, &len);
    printf("server port in the ephemeral range: %d, address %s\n", in_range(ntohs(a.sin_port)),
           inet_ntoa(a.sin_addr));
    pid_t pid = fork();
    if (pid == 0) {
        int c = socket(AF_INET, SOCK_DGRAM, 0);
        char buf[64];
        for (int i = 0; i < 3; i++) {
            int n = snprintf(buf, sizeof buf, "datagram %d", i);
            sendto(c, buf, n, 0, (struct sockaddr *)&a, sizeof a);
            if (recv(c, buf, sizeof buf, 0) != n) _exit(2);
        }
        _exit(0);
    }
    char buf[64];
    for (int i = 0; i < 3; i++) {
        struct sockaddr_in from;
        socklen_t flen = sizeof from;
        ssize_t n = recvfrom(srv, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &flen);
        buf[n > 0 ? n : 0] = 0;
        printf("got \"%s\" from %s, port in range %d, length %u\n", buf, inet_ntoa(from.sin_addr),
               in_range(ntohs(from.sin_port)), flen);
        sendto(srv, buf, n, 0, (struct sockaddr *)&from, flen);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("client exited %d\n", WEXITSTATUS(status));

    int c = socket(AF_INET, SOCK_DGRAM, 0);
    show("connect", connect(c, (struct sockaddr *)&a, sizeof a));
    show("send", send(c, "a longer datagram", 17, 0));
    ssize_t n = recv(srv, buf, 4, MSG_TRUNC);
    printf("recv with MSG_TRUNC into 4 bytes: %zd\n", n);
    struct sockaddr_in mine;
    len = sizeof mine;
    getsockname(c, (struct sockaddr *)&mine, &len);
    printf("connected socket's address %s\n", inet_ntoa(mine.sin_addr));
    struct sockaddr_in peer;
    len = sizeof peer;
    show("getpeername", getpeername(c, (struct sockaddr *)&peer, &len));
    printf("peer port is the server's: %d\n", peer.sin_port == a.sin_port);

    int other = socket(AF_INET, SOCK_DGRAM, 0);
    show("bind the server's port again", bind(other, (struct sockaddr *)&a, sizeof a));
    close(srv);
    show("send to the closed port", send(c, "x", 1, 0));
    show("recv after that", recv(c, buf, sizeof buf, MSG_DONTWAIT));
    show("recv again", recv(c, buf, sizeof buf, MSG_DONTWAIT));
    show("send without an address", send(other, "x", 1, 0));
    close(c);
    close(other);
}

static void v6(void) {
    int srv = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    show("bind ::1", bind(srv, (struct sockaddr *)&a, sizeof a));
    socklen_t len = sizeof a;
    getsockname(srv, (struct sockaddr *)&a, &len);
    int c = socket(AF_INET6, SOCK_DGRAM, 0);
    sendto(c, "six", 3, 0, (struct sockaddr *)&a, sizeof a);
    char buf[16], text[64];
    struct sockaddr_in6 from;
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
    printf("v6: %zd bytes from %s, length %u\n", n, inet_ntop(AF_INET6, &from.sin6_addr, text, sizeof text), flen);
    close(srv);
    close(c);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    v4();
    v6();
    return 0;
}

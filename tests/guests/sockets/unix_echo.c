/* AF_UNIX by path and by abstract name, across fork: an echo server in the parent, a
 * client in the child; connect's errors (ENOENT, ECONNREFUSED), bind's (EADDRINUSE), the
 * socket file bind leaves, datagrams with their sender's name, and an open file passed
 * from one process to the other with SCM_RIGHTS. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static socklen_t path_addr(struct sockaddr_un *a, const char *name) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    snprintf(a->sun_path, sizeof a->sun_path, "%s/%s", dir, name);
    return sizeof *a;
}

static void show(const char *what, int rc) {
    printf("%s: %d %s\n", what, rc, rc < 0 ? strerror(errno) : "");
}

static void echo_server(void) {
    struct sockaddr_un a;
    socklen_t len = path_addr(&a, "echo.sock");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    show("bind", bind(s, (struct sockaddr *)&a, len));
    show("listen", listen(s, 4));
    struct stat st;
    stat(a.sun_path, &st);
    printf("socket file: S_ISSOCK %d, mode %o\n", S_ISSOCK(st.st_mode), st.st_mode & 0777);
    int fd = open(a.sun_path, O_RDONLY);
    printf("open of the socket file: %d %s\n", fd, fd < 0 ? strerror(errno) : "");
    int again = socket(AF_UNIX, SOCK_STREAM, 0);
    show("bind to the same path", bind(again, (struct sockaddr *)&a, len));
    close(again);
    pid_t pid = fork();
    if (pid == 0) {
        int c = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(c, (struct sockaddr *)&a, len) < 0) _exit(2);
        const char *lines[] = {"hello", "over a unix socket", "bye"};
        char buf[64];
        for (int i = 0; i < 3; i++) {
            send(c, lines[i], strlen(lines[i]), 0);
            ssize_t n = recv(c, buf, sizeof buf, 0);
            if (n != (ssize_t)strlen(lines[i]) || memcmp(buf, lines[i], n)) _exit(3);
        }
        close(c);
        _exit(0);
    }
    struct sockaddr_un peer;
    socklen_t plen = sizeof peer;
    int conn = accept(s, (struct sockaddr *)&peer, &plen);
    printf("accepted: peer address length %u, family %d\n", plen, peer.sun_family);
    struct sockaddr_un me;
    socklen_t mlen = sizeof me;
    getsockname(conn, (struct sockaddr *)&me, &mlen);
    printf("getsockname: the path is ours, with its NUL counted: %d\n",
           strcmp(me.sun_path, a.sun_path) == 0 && mlen == offsetof(struct sockaddr_un, sun_path) + strlen(a.sun_path) + 1);
    char buf[64];
    ssize_t n;
    int total = 0;
    while ((n = recv(conn, buf, sizeof buf, 0)) > 0) {
        total += n;
        send(conn, buf, n, 0);
    }
    printf("echoed %d bytes, then EOF (%zd)\n", total, n);
    int status;
    waitpid(pid, &status, 0);
    printf("client exited %d\n", WEXITSTATUS(status));
    close(conn);
    close(s);
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect after the server closed", connect(c, (struct sockaddr *)&a, len));
    unlink(a.sun_path);
    show("connect to a missing path", connect(c, (struct sockaddr *)&a, len));
    close(c);
}

static void abstract_and_dgram(void) {
    struct sockaddr_un a = {AF_UNIX, "\0syscall-lab-test"};
    socklen_t alen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen("syscall-lab-test");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    show("bind abstract", bind(s, (struct sockaddr *)&a, alen));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect before listen", connect(c, (struct sockaddr *)&a, alen));
    listen(s, 1);
    show("connect abstract", connect(c, (struct sockaddr *)&a, alen));
    struct sockaddr_un got;
    socklen_t glen = sizeof got;
    getpeername(c, (struct sockaddr *)&got, &glen);
    printf("getpeername: length %u, name matches %d\n", glen,
           glen == alen && memcmp(got.sun_path, a.sun_path, alen - 2) == 0);
    int d = socket(AF_UNIX, SOCK_DGRAM, 0);
    show("connect stream name from dgram", connect(d, (struct sockaddr *)&a, alen));
    close(c);
    close(s);

    struct sockaddr_un ra, sa;
    socklen_t rlen = path_addr(&ra, "dgram.r"), slen = path_addr(&sa, "dgram.s");
    int r = socket(AF_UNIX, SOCK_DGRAM, 0), w = socket(AF_UNIX, SOCK_DGRAM, 0);
    bind(r, (struct sockaddr *)&ra, rlen);
    bind(w, (struct sockaddr *)&sa, slen);
    sendto(w, "datagram", 8, 0, (struct sockaddr *)&ra, rlen);
    char buf[32];
    struct sockaddr_un from;
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(r, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
    printf("dgram: %zd bytes from the sender's path %d\n", n, strcmp(from.sun_path, sa.sun_path) == 0);
    int u = socket(AF_UNIX, SOCK_DGRAM, 0);
    sendto(u, "anon", 4, 0, (struct sockaddr *)&ra, rlen);
    flen = sizeof from;
    n = recvfrom(r, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
    printf("dgram from an unbound socket: %zd bytes, address length %u\n", n, flen);
    unlink(ra.sun_path);
    unlink(sa.sun_path);
    close(r); close(w); close(u); close(d);
}

static void pass_fd(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    char path[96];
    snprintf(path, sizeof path, "%s/passed.txt", dir);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        char byte, cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec io = {&byte, 1};
        struct msghdr m = {0};
        m.msg_iov = &io; m.msg_iovlen = 1; m.msg_control = cbuf; m.msg_controllen = sizeof cbuf;
        if (recvmsg(sv[1], &m, 0) != 1) _exit(2);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        if (!c || c->cmsg_type != SCM_RIGHTS) _exit(3);
        int fd;
        memcpy(&fd, CMSG_DATA(c), sizeof fd);
        char text[32] = {0};
        ssize_t n = read(fd, text, sizeof text - 1);  /* shares the sender's offset */
        send(sv[1], text, n, 0);
        _exit(0);
    }
    close(sv[1]);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    write(fd, "0123passed along", 16);
    lseek(fd, 4, SEEK_SET);
    char cbuf[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec io = {"!", 1};
    struct msghdr m = {0};
    m.msg_iov = &io; m.msg_iovlen = 1; m.msg_control = cbuf; m.msg_controllen = sizeof cbuf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    printf("sendmsg with SCM_RIGHTS: %zd\n", sendmsg(sv[0], &m, 0));
    char got[32] = {0};
    recv(sv[0], got, sizeof got - 1, 0);
    int status;
    waitpid(pid, &status, 0);
    printf("the child read \"%s\" through the passed fd (status %d)\n", got, WEXITSTATUS(status));
    printf("our offset moved with it: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    close(fd);
    unlink(path);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    snprintf(dir, sizeof dir, "/tmp/sl-sockets.%d", getpid());
    mkdir(dir, 0700);
    echo_server();
    abstract_and_dgram();
    pass_fd();
    rmdir(dir);
    return 0;
}

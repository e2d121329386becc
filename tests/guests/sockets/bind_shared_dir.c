/* bind() of an AF_UNIX socket to the path given: syscall-lab makes no socket file on the
 * host, so in a --mount'ed directory this fails (EPERM; EROFS when read-only). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    int rc = bind(s, (struct sockaddr *)&a, sizeof a);
    printf("bind: %d %s\n", rc, rc < 0 ? strerror(errno) : "");
    return 0;
}

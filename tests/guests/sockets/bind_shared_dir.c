/* bind() (or, with a second argument "connect", connect()) of an AF_UNIX stream socket to
 * the path given. syscall-lab makes no socket file on the host and never reaches a host
 * socket: in a --mount'ed directory bind fails (EPERM; EROFS when read-only), and connect
 * to a socket file the host made there is refused. */
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
    int connecting = argc > 2 && strcmp(argv[2], "connect") == 0;
    int rc = connecting ? connect(s, (struct sockaddr *)&a, sizeof a)
                        : bind(s, (struct sockaddr *)&a, sizeof a);
    printf("%s: %d %s\n", connecting ? "connect" : "bind", rc, rc < 0 ? strerror(errno) : "");
    return 0;
}

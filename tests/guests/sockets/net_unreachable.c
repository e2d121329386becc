/* Anywhere but loopback: a TCP connect and a UDP send to 8.8.8.8. Natively the result
 * depends on the host's network; under syscall-lab, which has none, both are ENETUNREACH. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *why(int rc) {
    if (rc >= 0) return "";
    return errno == ENETUNREACH ? "ENETUNREACH" : strerror(errno);
}

int main(void) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};
    a.sin_addr.s_addr = inet_addr("8.8.8.8");
    int t = socket(AF_INET, SOCK_STREAM, 0);
    int rc = connect(t, (struct sockaddr *)&a, sizeof a);
    printf("tcp connect: %d %s\n", rc, why(rc));
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    ssize_t n = sendto(u, "q", 1, 0, (struct sockaddr *)&a, sizeof a);
    printf("udp sendto: %zd %s\n", n, why((int)n));
    return 0;
}

/*
 * gettimeofday_loop.c - call the libc gettimeofday() N times.
 *
 * Usage: gettimeofday_loop [N]      (default N = 1000)
 *
 * On a real kernel these calls are normally served by the vDSO (no system
 * call at all); compare with getpid_loop under strace or in the emulator.
 * The program also checks that the time it sees never goes backwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

int main(int argc, char **argv)
{
    long n = 1000;
    int monotonic = 1;
    struct timeval prev = {0, 0}, now;

    if (argc > 1)
        n = strtol(argv[1], NULL, 10);

    for (long i = 0; i < n; i++) {
        if (gettimeofday(&now, NULL) != 0) {
            perror("gettimeofday");
            return 1;
        }
        /* timercmp(a, b, <) is true when a is earlier than b */
        if (i > 0 && timercmp(&now, &prev, <))
            monotonic = 0;
        prev = now;
    }

    printf("gettimeofday loop: %ld calls\n", n);
    printf("monotonic: %s\n", monotonic ? "yes" : "no");
    return 0;
}

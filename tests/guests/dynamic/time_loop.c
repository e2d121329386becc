/* The time functions in a loop: with the vDSO bound by the loader, none of them is a
   system call. Checks what a program may rely on: CLOCK_MONOTONIC never goes back, the
   elapsed time is >= 0, and gettimeofday, clock_gettime(CLOCK_REALTIME) and time()
   agree to within a second. */
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#define ROUNDS 200

int main(void)
{
    struct timespec start, prev, now, wall;
    struct timeval tv;
    int backwards = 0, disagree = 0;
    clock_gettime(CLOCK_MONOTONIC, &start);
    prev = start;
    for (int i = 0; i < ROUNDS; i++) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec < prev.tv_sec ||
            (now.tv_sec == prev.tv_sec && now.tv_nsec < prev.tv_nsec))
            backwards++;
        prev = now;
        clock_gettime(CLOCK_REALTIME, &wall);
        gettimeofday(&tv, NULL);
        time_t t = time(NULL);
        if (tv.tv_sec - t > 1 || t - tv.tv_sec > 1 || wall.tv_sec - t > 1 ||
            t - wall.tv_sec > 1)
            disagree++;
    }
    double elapsed = (double)(prev.tv_sec - start.tv_sec) +
                     (double)(prev.tv_nsec - start.tv_nsec) / 1e9;
    printf("%d rounds\n", ROUNDS);
    printf("monotonic went backwards: %d times\n", backwards);
    printf("elapsed >= 0: %s\n", elapsed >= 0 ? "yes" : "no");
    printf("realtime, gettimeofday and time() disagreed: %d times\n", disagree);
    printf("after 2020: %s\n", time(NULL) > 1577836800 ? "yes" : "no");
    return 0;
}

/* The parent exits first and its child goes on printing after it: under `run --gdb` the
 * child runs undebugged to its end, and gdb hears of the (first) process's exit. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
    printf("parent: forks\n");
    fflush(stdout); /* the child would print the buffered line again */
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        struct timespec t = {0, 100 * 1000 * 1000}; /* the parent exits meanwhile */
        nanosleep(&t, NULL);
        printf("child: still here after the parent\n");
        return 3;
    }
    printf("parent: exits first\n");
    return 5;
}

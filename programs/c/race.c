/*
 * race.c - two threads add 1 to the same counter, with no lock.
 *
 * `counter++` is three instructions: load the counter into a register, add 1,
 * store it back. A thread interrupted between its load and its store writes back
 * a stale value when it runs again, erasing every increment the other thread
 * made meanwhile: lost updates.
 *
 * On a real machine the result changes from run to run (two cores truly run at
 * once, and the timer interrupts at varying points). Under syscall-lab the one
 * modelled CPU switches threads after a fixed number of instructions
 * (--timeslice), so the same increments are lost in every run.
 *
 * `volatile` makes the compiler really load and store the counter each time,
 * as the racing code a student would write does (at -O2 it would otherwise add
 * the whole count at once).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static volatile long counter;
static long loops = 1000000;

static void *work(void *arg)
{
    (void)arg;
    for (long i = 0; i < loops; i++)
        counter++; /* load, add, store: not atomic */
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        loops = atol(argv[1]);
    pthread_t a, b;
    pthread_create(&a, NULL, work, NULL);
    pthread_create(&b, NULL, work, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("two threads, %ld increments each, no lock\n", loops);
    printf("counter = %ld, expected %ld: %ld updates lost\n", counter, 2 * loops,
           2 * loops - counter);
    return 0;
}

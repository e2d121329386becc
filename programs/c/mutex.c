/*
 * mutex.c - the counter of race.c, with a mutex around each increment.
 *
 * pthread_mutex_lock takes a free mutex with one atomic instruction in user
 * mode, no syscall. Only when a thread finds it taken (the holder was switched
 * out in the middle of its increment) does it sleep in the kernel with
 * futex(FUTEX_WAIT); the holder's unlock then sees a waiter and calls
 * futex(FUTEX_WAKE). So the trace shows a few futex calls, one pair per
 * contended moment, and no update is lost.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static long counter;
static long loops = 1000000;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *work(void *arg)
{
    (void)arg;
    for (long i = 0; i < loops; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
    }
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
    printf("two threads, %ld increments each, with a mutex\n", loops);
    printf("counter = %ld, expected %ld: %ld updates lost\n", counter, 2 * loops,
           2 * loops - counter);
    return 0;
}

/* Four threads each add 1 to a shared counter 10000 times under a mutex: 40000, never less. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define THREADS 4
#define ROUNDS 10000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *work(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&lock);
        /* a separate read and write: without the lock, a switch between them loses increments */
        long seen = counter;
        __asm__ volatile("" ::: "memory");
        counter = seen + 1;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        int err = pthread_create(&t[i], NULL, work, NULL);
        if (err) {
            printf("pthread_create: %s\n", strerror(err));
            return 1;
        }
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    printf("counter %ld\n", counter);
    return counter == (long)THREADS * ROUNDS ? 0 : 1;
}

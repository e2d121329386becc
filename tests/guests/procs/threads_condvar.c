/* A producer and a consumer thread share a bounded buffer guarded by a mutex and two
 * condition variables; 1000 items go through it. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define ITEMS 1000
#define SLOTS 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static int buffer[SLOTS];
static int head, count;

static void *producer(void *arg)
{
    (void)arg;
    for (int item = 1; item <= ITEMS; item++) {
        pthread_mutex_lock(&lock);
        while (count == SLOTS)
            pthread_cond_wait(&not_full, &lock);
        buffer[(head + count) % SLOTS] = item;
        count++;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static long sum;
static int received, out_of_order;

static void *consumer(void *arg)
{
    (void)arg;
    for (int expected = 1; expected <= ITEMS; expected++) {
        pthread_mutex_lock(&lock);
        while (count == 0)
            pthread_cond_wait(&not_empty, &lock);
        int item = buffer[head];
        head = (head + 1) % SLOTS;
        count--;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&lock);
        sum += item;
        received++;
        out_of_order += item != expected;
    }
    return NULL;
}

int main(void)
{
    pthread_t p, c;
    int err = pthread_create(&c, NULL, consumer, NULL);
    if (!err)
        err = pthread_create(&p, NULL, producer, NULL);
    if (err) {
        printf("pthread_create: %s\n", strerror(err));
        return 1;
    }
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    printf("received %d items, sum %ld, out of order %d\n", received, sum, out_of_order);
    return received == ITEMS && sum == (long)ITEMS * (ITEMS + 1) / 2 && !out_of_order ? 0 : 1;
}

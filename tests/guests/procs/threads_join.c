/* Four threads each return a value; main joins them in creation order and sums. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define THREADS 4

static void *work(void *arg)
{
    intptr_t i = (intptr_t)arg;
    intptr_t sum = 0;
    for (intptr_t k = 1; k <= 1000 * (i + 1); k++)
        sum += k;
    return (void *)sum;
}

int main(void)
{
    pthread_t t[THREADS];
    for (intptr_t i = 0; i < THREADS; i++) {
        int err = pthread_create(&t[i], NULL, work, (void *)i);
        if (err) {
            printf("pthread_create: %s\n", strerror(err));
            return 1;
        }
    }
    intptr_t total = 0;
    for (int i = 0; i < THREADS; i++) {
        void *ret;
        int err = pthread_join(t[i], &ret);
        if (err) {
            printf("pthread_join: %s\n", strerror(err));
            return 1;
        }
        printf("thread %d returned %ld\n", i, (long)(intptr_t)ret);
        total += (intptr_t)ret;
    }
    printf("total %ld\n", (long)total);
    /* 1..1000, 1..2000, 1..3000, 1..4000: 500500 + 2001000 + 4501500 + 8002000 */
    return total == 15005000 ? 0 : 1;
}

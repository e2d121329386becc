/* While three threads sleep on a condition variable nobody signals and main waits to join
 * one of them, a fourth thread calls exit(3): the whole process ends with status 3. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLEEPERS 3

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static int sleeping;

static void *sleeper(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    sleeping++;
    pthread_cond_signal(&ready);
    for (;;)
        pthread_cond_wait(&never, &lock);
    return NULL;
}

static void *exiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (sleeping < SLEEPERS)
        pthread_cond_wait(&ready, &lock);
    pthread_mutex_unlock(&lock);
    printf("all %d sleepers are waiting; exiting with 3\n", SLEEPERS);
    exit(3); /* exit_group: every thread goes, stdout is flushed once */
}

int main(void)
{
    pthread_t t[SLEEPERS + 1];
    for (int i = 0; i < SLEEPERS; i++)
        if (pthread_create(&t[i], NULL, sleeper, NULL)) {
            printf("pthread_create failed\n");
            return 1;
        }
    if (pthread_create(&t[SLEEPERS], NULL, exiter, NULL)) {
        printf("pthread_create failed\n");
        return 1;
    }
    pthread_join(t[0], NULL); /* never returns: the sleeper never wakes */
    printf("joined a sleeper: cannot happen\n");
    return 1;
}

/* Two threads play ping-pong with two semaphores for 1000 rounds; a shared turn variable
 * checks that they strictly alternate. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>

#define ROUNDS 1000

static sem_t ping, pong;
static int turn; /* 0: ping's turn, 1: pong's turn */
static int violations, pings, pongs;

static void *ponger(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        sem_wait(&pong);
        violations += turn != 1;
        turn = 0;
        pongs++;
        sem_post(&ping);
    }
    return NULL;
}

int main(void)
{
    if (sem_init(&ping, 0, 0) < 0 || sem_init(&pong, 0, 0) < 0) {
        perror("sem_init");
        return 1;
    }
    pthread_t t;
    int err = pthread_create(&t, NULL, ponger, NULL);
    if (err) {
        printf("pthread_create: %s\n", strerror(err));
        return 1;
    }
    for (int i = 0; i < ROUNDS; i++) {
        violations += turn != 0;
        turn = 1;
        pings++;
        sem_post(&pong);
        sem_wait(&ping);
    }
    pthread_join(t, NULL);
    int value = -1;
    sem_getvalue(&ping, &value);
    printf("pings %d, pongs %d, order violations %d, final semaphore value %d\n", pings, pongs,
           violations, value);
    return pings == ROUNDS && pongs == ROUNDS && !violations ? 0 : 1;
}

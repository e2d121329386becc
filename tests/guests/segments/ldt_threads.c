/* An LDT entry cleared by another thread: fs (loaded with the LDT selector 0x7 in this
 * thread) reads 0 once this thread has been switched out and back in, as __switch_to
 * loads the selectors again. Built 32-bit (a 64-bit program's fs is its TLS). */
#include <asm/ldt.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static unsigned int buf[16] = {0x1234};
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int cleared;

static void *clearer(void *arg)
{
    struct user_desc d;
    memset(&d, 0, sizeof d);  /* entry 0, all zero: mode 1 clears it */
    long r = syscall(SYS_modify_ldt, 1, &d, sizeof d);
    pthread_mutex_lock(&lock);
    cleared = r == 0 ? 1 : -1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    return arg;
}

int main(void)
{
    struct user_desc d;
    memset(&d, 0, sizeof d);
    d.entry_number = 0;
    d.base_addr = (unsigned long)buf;
    d.limit = 0xfff;
    d.seg_32bit = 1;
    printf("install: %ld\n", syscall(SYS_modify_ldt, 0x11, &d, sizeof d));
    unsigned short fs, value;
    unsigned v;
    asm volatile("mov %w2, %%fs; mov %%fs, %0; mov %%fs:0, %1" : "=&r"(fs), "=&r"(v) : "r"(7));
    printf("fs %#x reads %#x\n", fs, v);
    pthread_t t;
    pthread_create(&t, NULL, clearer, NULL);
    pthread_mutex_lock(&lock);
    while (!cleared)
        pthread_cond_wait(&cond, &lock);  /* this thread sleeps: switched out and back */
    pthread_mutex_unlock(&lock);
    pthread_join(t, NULL);
    asm volatile("mov %%fs, %0" : "=r"(value));
    printf("cleared by the other thread (%d): fs %#x\n", cleared, value);
    return 0;
}

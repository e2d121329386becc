/* A signal interrupts a waiting read: the parent blocks on a pipe, the child sends it
 * SIGUSR1 (a handler without SA_RESTART) and only then writes. Delivered, the read fails
 * with EINTR; discarded by a debugger (`signal 0`), the read is restarted and returns the
 * byte (tests/test_gdbstub_signals.py). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_usr1(int sig) { (void)sig; got++; }

int main(void)
{
    struct sigaction sa;
    int fds[2];
    char c = 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1; /* no SA_RESTART: an interrupted read fails with EINTR */
    sigaction(SIGUSR1, &sa, NULL);
    if (pipe(fds) != 0)
        return 1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec t = {0, 100 * 1000 * 1000};
        nanosleep(&t, NULL);
        kill(parent, SIGUSR1);
        nanosleep(&t, NULL);
        if (write(fds[1], "x", 1) != 1)
            _exit(1);
        _exit(0);
    }
    ssize_t n = read(fds[0], &c, 1);
    int err = errno;
    printf("read=%zd errno=%s c=%c got=%d\n", n, n < 0 ? strerror(err) : "-",
           n > 0 ? c : '-', (int)got);
    waitpid(pid, NULL, 0);
    return 0;
}

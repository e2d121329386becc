/* Signals a debugger sees: two SIGUSR1 (kill, raise) to a handler that counts, a SIGALRM
 * gdb passes silently, a SIGPIPE from a write to a pipe nobody reads, then SIGTERM's
 * default action. The counts are printed before the end; gdb's `signal` commands change
 * them (tests/test_gdbstub_signals.py). */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t usr1, alrm, pipes;

static void on_usr1(int sig) { (void)sig; usr1++; }
static void on_alrm(int sig) { (void)sig; alrm++; }
static void on_pipe(int sig) { (void)sig; pipes++; }

int main(void)
{
    char line[64];
    int fds[2], n;

    signal(SIGUSR1, on_usr1);
    signal(SIGALRM, on_alrm);
    signal(SIGPIPE, on_pipe);
    kill(getpid(), SIGUSR1);
    raise(SIGUSR1);
    kill(getpid(), SIGALRM);
    if (pipe(fds) == 0) {
        close(fds[0]);
        if (write(fds[1], "x", 1) < 0)
            pipes += 10; /* EPIPE, after the handler */
    }
    n = snprintf(line, sizeof line, "usr1=%d alrm=%d pipe=%d\n", (int)usr1, (int)alrm,
                 (int)pipes);
    if (write(1, line, n) != n)
        return 1;
    raise(SIGTERM);
    return 0;
}

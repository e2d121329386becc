/* `producer | consumer` built by hand the way a shell does it: pipe, fork twice, dup2 the
 * pipe's ends onto stdout and stdin, and execve this same program (/proc/self/exe) with the
 * role as argv[1], so no shell is needed. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int producer(void)
{
    static const char *const fruit[] = {"cherry", "apple", "banana", "date", "elderberry"};
    for (size_t i = 0; i < sizeof fruit / sizeof fruit[0]; i++)
        printf("%s\n", fruit[i]);
    return 0;
}

static int consumer(void)
{
    char line[128];
    int count = 0;
    while (fgets(line, sizeof line, stdin)) {
        count++;
        for (char *p = line; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        printf("%d: %s", count, line);
    }
    printf("consumer read %d lines\n", count);
    return count; /* the parent checks the count through the exit status */
}

static pid_t spawn(const char *role, int fd, int onto, int fds[2])
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (dup2(fd, onto) < 0)
        _exit(126);
    close(fds[0]);
    close(fds[1]);
    char *argv[] = {"pipeline", (char *)role, NULL};
    execve("/proc/self/exe", argv, environ);
    perror("execve");
    _exit(127);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "producer") == 0)
        return producer();
    if (argc > 1 && strcmp(argv[1], "consumer") == 0)
        return consumer();

    int fds[2];
    if (pipe(fds) < 0) {
        perror("pipe");
        return 1;
    }
    fflush(stdout);
    pid_t left = spawn("producer", fds[1], STDOUT_FILENO, fds);
    pid_t right = spawn("consumer", fds[0], STDIN_FILENO, fds);
    if (left < 0 || right < 0) {
        perror("fork");
        return 1;
    }
    close(fds[0]);
    close(fds[1]); /* else the consumer never sees EOF */
    int ls = 0, rs = 0;
    waitpid(left, &ls, 0);
    waitpid(right, &rs, 0);
    printf("producer: WIFEXITED=%d WEXITSTATUS=%d\n", WIFEXITED(ls) ? 1 : 0, WEXITSTATUS(ls));
    printf("consumer: WIFEXITED=%d WEXITSTATUS=%d\n", WIFEXITED(rs) ? 1 : 0, WEXITSTATUS(rs));
    return WIFEXITED(ls) && WEXITSTATUS(ls) == 0 && WIFEXITED(rs) && WEXITSTATUS(rs) == 5 ? 0 : 1;
}

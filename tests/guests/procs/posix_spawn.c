/* posix_spawn of this same program (/proc/self/exe) with a role argument, its stdout
 * redirected into a pipe by a file action; the parent reads the pipe and waits. */
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        printf("child: argv[2]=%s\n", argc > 2 ? argv[2] : "(none)");
        return 6;
    }
    int fds[2];
    if (pipe(fds) < 0) {
        perror("pipe");
        return 1;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    char *child_argv[] = {"posix_spawn", "child", "spawned", NULL};
    pid_t pid;
    int err = posix_spawn(&pid, "/proc/self/exe", &actions, NULL, child_argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) {
        printf("posix_spawn failed: %s\n", strerror(err));
        return 1;
    }
    close(fds[1]);
    char buf[128];
    size_t total = 0;
    ssize_t n;
    while ((n = read(fds[0], buf + total, sizeof buf - 1 - total)) > 0)
        total += (size_t)n;
    buf[total] = 0;
    printf("parent read from the child: %s", buf);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return 1;
    }
    printf("WIFEXITED=%d WEXITSTATUS=%d\n", WIFEXITED(status) ? 1 : 0, WEXITSTATUS(status));

    /* a program that does not exist: posix_spawn reports the exec failure itself */
    char *missing_argv[] = {"missing", NULL};
    err = posix_spawn(&pid, "/nonexistent/program", NULL, NULL, missing_argv, environ);
    printf("spawn of a missing program: %s\n", err == 0 ? "started" : strerror(err));
    if (err == 0)
        waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 6 ? 0 : 1;
}

/*
 * printf_lost.c - buffered output lost by a raw exit.
 *
 * printf() does not write anything yet: it copies the text into stdout's buffer
 * inside libc. The buffer is flushed by a newline (only when stdout is a
 * terminal), by fflush(), or by exit(), which runs the exit handlers and then
 * calls exit_group.
 *
 * syscall(SYS_exit_group, 0) goes straight to the kernel: libc never gets to
 * flush, so the text still in the buffer dies with the process. The trace
 * shows no write at all, and the program still exits with status 0.
 * (Replace the last line with exit(0), or add fflush(stdout), and the text
 * appears.)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    printf("this text is still in libc's buffer");   /* no newline, no flush */
    syscall(SYS_exit_group, 0);                      /* the kernel ends us now */
    return 1;                                        /* never reached */
}

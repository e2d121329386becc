/*
 * hello.c - the classic libc "hello, world".
 *
 * printf() buffers the text inside libc; the actual output happens in a
 * write(1, ...) system call, issued either when the buffer is flushed at
 * exit (stdout is a pipe or file) or at the newline (stdout is a terminal).
 * Returning from main runs the exit handlers (which flush stdio) and then
 * calls exit_group.
 */
#include <stdio.h>

int main(void)
{
    printf("Hello, world!\n");
    return 0;
}

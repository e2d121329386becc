/*
 * errno_enoent.c - how libc turns the kernel's -ENOENT into -1 and errno.
 *
 * The kernel returns a single number: for a failure, minus the error code
 * (-2 for ENOENT) in rax/eax. The libc wrapper checks for a value in
 * [-4095, -1], stores its negation in errno (a per-thread variable) and
 * returns -1. So the C program sees -1 and errno == 2, while a trace of the
 * raw syscall shows "= -1 ENOENT", strace's way of writing rax = -2.
 *
 * Exits with errno (2) so that the shell's $? tells the same story.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    errno = 0;
    int fd = open("/no/such/file", O_RDONLY);
    int saved = errno;                   /* the next libc call may change errno */

    printf("open returned %d\n", fd);
    printf("errno = %d (%s: %s)\n", saved, saved == ENOENT ? "ENOENT" : "?",
           strerror(saved));
    return saved;
}

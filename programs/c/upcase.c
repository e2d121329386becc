/*
 * upcase.c - copies standard input to standard output in capitals, until end of
 * file: a filter, the right-hand side of the pipeline program's `a | b`.
 */
#include <ctype.h>
#include <unistd.h>

int main(void)
{
    char buf[4096];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            buf[i] = (char)toupper((unsigned char)buf[i]);
        if (write(1, buf, n) != n)
            return 1;
    }
    return n < 0 ? 1 : 0;
}

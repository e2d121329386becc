/* Links against libgreet.so (no rpath): the loader must be told where it is. */
#include <stdio.h>

const char *greeting(void);

int main(void)
{
    printf("%s\n", greeting());
    return 0;
}

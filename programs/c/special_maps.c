/* special_maps: print the special lines of this process's own /proc/self/maps: the
 * regions the kernel names in brackets ([heap], [stack], [vvar], [vvar_vclock], [vdso],
 * [vsyscall]). Run it twice: [vdso] and [stack] move (ASLR), [vsyscall] never does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    /* Touch the heap so [heap] exists. */
    char *p = malloc(100);
    if (p == NULL)
        return 1;
    strcpy(p, "heap");

    FILE *maps = fopen("/proc/self/maps", "r");
    if (maps == NULL) {
        perror("/proc/self/maps");
        return 1;
    }
    char line[512];
    while (fgets(line, sizeof line, maps) != NULL) {
        if (strchr(line, '[') != NULL)
            fputs(line, stdout);
    }
    fclose(maps);
    free(p);
    return 0;
}

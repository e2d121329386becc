/* madvise on the vDSO's mappings (6.18 layout: [vvar] 4 pages, [vvar_vclock] 2, then
 * [vdso]): the data pages are VM_PFNMAP|VM_IO, so DONTNEED and DONTFORK are EINVAL there;
 * the text is a special mapping whose pages the kernel supplies again, so DONTNEED is
 * accepted and the vDSO still works after it; MADV_FREE wants anonymous memory (EINVAL). */
#include <errno.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <time.h>

#include "errname.h"

#define R(call) errname((call) ? errno : 0)

int main(void)
{
    char *vdso = (char *)getauxval(AT_SYSINFO_EHDR);
    char *vvar = vdso - 6 * 4096;
    printf("DONTNEED vdso: %s\n", R(madvise(vdso, 8192, MADV_DONTNEED)));
    printf("DONTNEED vvar: %s\n", R(madvise(vvar, 4096, MADV_DONTNEED)));
    printf("DONTFORK vvar: %s\n", R(madvise(vvar, 4096, MADV_DONTFORK)));
    printf("FREE vdso: %s\n", R(madvise(vdso, 4096, MADV_FREE)));
    struct timespec t;
    printf("clock_gettime after: %d, image intact: %d\n", clock_gettime(CLOCK_MONOTONIC, &t),
           vdso[1] == 'E' && vdso[2] == 'L');
    return 0;
}

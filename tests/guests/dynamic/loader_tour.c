/* A dynamically linked guest that makes the loader work: calls into libc through the PLT
   (printf, strtod, qsort calling back into the program), a function pointer into libc
   (&puts: a relocation in the data, not a PLT slot), errno (thread-local, set up by the
   loader's TLS), getenv (the environment ld.so passed on), the time functions (the vDSO,
   found through AT_SYSINFO_EHDR) and, on glibc, dlopen and dlsym of libm at run time.
   Its output is the same on every run: no addresses, no times. Exits with 3. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#ifdef __GLIBC__
#include <dlfcn.h>
#endif

static int ascending(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    printf("printf: %d %s %.2f %c\n", 42, "forty-two", 4.25, '!');

    char *end;
    double d = strtod("3.14159e2 rest", &end);
    printf("strtod: %.5f, stopped at \"%s\"\n", d, end);

    int v[] = {5, 3, 9, 1, 7, 2};
    qsort(v, sizeof v / sizeof v[0], sizeof v[0], ascending);
    printf("qsort:");
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        printf(" %d", v[i]);
    printf("\n");

    int (*say)(const char *) = &puts;
    say("puts through a function pointer");

    errno = 0;
    FILE *f = fopen("/no/such/dir/file", "r");
    int saved = errno;
    printf("fopen of a missing file: %s, errno %d (%s)\n", f ? "opened?!" : "NULL", saved,
           strerror(saved));

    const char *home = getenv("HOME"), *nothing = getenv("NO_SUCH_VARIABLE");
    printf("getenv: HOME=%s, NO_SUCH_VARIABLE %s\n", home ? home : "(unset)",
           nothing ? "set?!" : "unset");

    struct timespec t0, t1, wall;
    struct timeval tv;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_REALTIME, &wall);
    gettimeofday(&tv, NULL);
    time_t now = time(NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int monotonic = t1.tv_sec > t0.tv_sec ||
                    (t1.tv_sec == t0.tv_sec && t1.tv_nsec >= t0.tv_nsec);
    printf("time: monotonic non-decreasing %s, after 2020 %s, clocks agree %s\n",
           monotonic ? "yes" : "no", now > 1577836800 ? "yes" : "no",
           (tv.tv_sec - now <= 1 && now - tv.tv_sec <= 1 &&
            wall.tv_sec - now <= 1 && now - wall.tv_sec <= 1) ? "yes" : "no");

#ifdef __GLIBC__
    void *libm = dlopen("libm.so.6", RTLD_NOW);
    if (libm == NULL) {
        printf("dlopen: %s\n", dlerror());
        return 1;
    }
    double (*cosine)(double) = (double (*)(double))dlsym(libm, "cos");
    printf("dlsym(libm, \"cos\"): cos(0) = %.3f, cos(3.14159265358979/3) = %.3f\n",
           cosine(0.0), cosine(3.14159265358979 / 3));
    dlclose(libm);
#else
    printf("dlopen: not tried (not glibc)\n");
#endif
    return 3;
}

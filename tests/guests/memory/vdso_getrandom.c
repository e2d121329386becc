/* The vDSO's getrandom (6.11+, lib/vdso/getrandom.c), found by its own small lookup in the
 * image's dynamic symbol table (DT_HASH's chain count, DT_SYMTAB, DT_STRTAB): the parameter
 * query, bytes made into a state from MAP_DROPPABLE memory, and the cases that fall back to
 * the syscall or fail. i386 has no such symbol: the guest says so and stops. Prints no bytes,
 * only what Linux guarantees about them. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

typedef long (*vgetrandom_fn)(void *, size_t, unsigned int, void *, size_t);

struct params {
    uint32_t size_of_opaque_state, mmap_prot, mmap_flags, reserved[13];
};

static void *vdso_symbol(const char *want)
{
    ElfW(Ehdr) *eh = (ElfW(Ehdr) *)getauxval(AT_SYSINFO_EHDR);
    if (!eh)
        return NULL;
    ElfW(Phdr) *ph = (ElfW(Phdr) *)((char *)eh + eh->e_phoff);
    uintptr_t bias = 0;
    ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && !bias)
            bias = (uintptr_t)eh + ph[i].p_offset - ph[i].p_vaddr;
        if (ph[i].p_type == PT_DYNAMIC)
            dyn = (ElfW(Dyn) *)((char *)eh + ph[i].p_offset);
    }
    ElfW(Sym) *syms = NULL;
    const char *strs = NULL;
    uint32_t *hash = NULL;
    for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_SYMTAB)
            syms = (ElfW(Sym) *)(bias + dyn->d_un.d_ptr);
        if (dyn->d_tag == DT_STRTAB)
            strs = (const char *)(bias + dyn->d_un.d_ptr);
        if (dyn->d_tag == DT_HASH)
            hash = (uint32_t *)(bias + dyn->d_un.d_ptr);
    }
    if (!syms || !strs || !hash)
        return NULL;
    for (uint32_t i = 0; i < hash[1]; i++)
        if (syms[i].st_shndx != SHN_UNDEF && !strcmp(strs + syms[i].st_name, want))
            return (void *)(bias + syms[i].st_value);
    return NULL;
}

static int looks_random(const unsigned char *a, const unsigned char *b, size_t n)
{
    size_t same = 0, zero = 0;
    for (size_t i = 0; i < n; i++) {
        same += a[i] == b[i];
        zero += a[i] == 0;
    }
    return same < n / 8 && zero < n / 8;  /* two fills differ, and neither is mostly zero */
}

int main(void)
{
    vgetrandom_fn fn = (vgetrandom_fn)vdso_symbol("__vdso_getrandom");
    printf("__vdso_getrandom: %s\n", fn ? "present" : "absent");
    if (!fn)
        return 0;
    struct params p;
    memset(&p, 0xff, sizeof p);
    long r = fn(NULL, 0, 0, &p, ~0UL);
    int reserved_zero = 1;
    for (int i = 0; i < 13; i++)
        reserved_zero &= p.reserved[i] == 0;
    printf("query: %ld size %u prot %#x flags %#x reserved zero %d\n", r,
           p.size_of_opaque_state, p.mmap_prot, p.mmap_flags, reserved_zero);

    char *states = mmap(0, 4096, p.mmap_prot, p.mmap_flags, -1, 0);
    printf("state mmap: %s\n", states == MAP_FAILED ? "failed" : "ok");
    static unsigned char a[1263], b[1263];
    long ra = fn(a, sizeof a, 0, states, p.size_of_opaque_state);
    long rb = fn(b, sizeof b, 0, states, p.size_of_opaque_state);
    printf("two fills: %ld %ld, random-looking %d\n", ra, rb, looks_random(a, b, sizeof a));
    unsigned char c[7] = {0};
    printf("odd length: %ld\n", fn(c, sizeof c, 0, states, p.size_of_opaque_state));
    printf("length 0: %ld\n", fn(a, 0, 0, states, p.size_of_opaque_state));
    printf("insecure, nonblock: %ld %ld\n", fn(a, 16, 4, states, p.size_of_opaque_state),
           fn(a, 16, 1, states, p.size_of_opaque_state));
    /* These go to the syscall, which decides. */
    printf("unknown flag: %ld\n", fn(a, 16, 8, states, p.size_of_opaque_state));
    printf("insecure|random: %ld\n", fn(a, 16, 6, states, p.size_of_opaque_state));
    printf("wrong opaque_len: %ld\n", fn(a, 16, 0, states, 1));
    printf("state across a page: %ld\n",
           fn(a, 16, 0, states + 4096 - 8, p.size_of_opaque_state));
    /* A fork's child finds its state zeroed (MAP_DROPPABLE is wiped on fork), so it fetches a
     * key of its own: its bytes are not the parent's next ones. */
    static unsigned char mine[256], childs[256];
    int pipefd[2];
    pipe(pipefd);
    fflush(stdout);
    if (fork() == 0) {
        fn(childs, sizeof childs, 0, states, p.size_of_opaque_state);
        write(pipefd[1], childs, sizeof childs);
        _exit(0);
    }
    fn(mine, sizeof mine, 0, states, p.size_of_opaque_state);
    read(pipefd[0], childs, sizeof childs);
    wait(NULL);
    printf("fork: child's bytes differ from the parent's %d\n",
           looks_random(mine, childs, sizeof mine));
    /* The libc's getrandom(2) and the raw flags checks of the syscall. */
    errno = 0;
    long s = getrandom(a, 16, 4 | 2);
    printf("getrandom(INSECURE|RANDOM): %ld %s\n", s, errno == EINVAL ? "EINVAL" : "?");
    s = getrandom(a, 16, 0x10);
    printf("getrandom(0x10): %ld %s\n", s, errno == EINVAL ? "EINVAL" : "?");
    printf("getrandom(NONBLOCK|INSECURE): %ld\n", (long)getrandom(a, 16, 1 | 4));
    return 0;
}

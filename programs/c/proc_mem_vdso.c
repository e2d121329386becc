/*
 * proc_mem_vdso.c - the classic trick: copy the vDSO out through /proc/self/mem.
 *
 * /proc/self/maps names the [vdso] line and its address range; /proc/self/mem is the
 * process's memory as a file whose offsets are addresses. So lseek to the vDSO's start
 * and read its length, as `dd if=/proc/self/mem bs=4096 skip=$((base/4096)) count=2`
 * does, gives the image: a complete ELF shared library. This program does exactly that
 * with open/lseek/read (on i386 the addresses are above 2 GiB: the offsets are 64-bit,
 * through _llseek), checks the bytes against the memory it can read directly, and walks
 * the image's section headers to print its soname and the functions it exports.
 *
 * Usage: proc_mem_vdso [FILE]   also writes the image to FILE (share a directory to
 * keep it: syscall-lab run --mount ./out:/out:rw proc-mem-vdso /out/vdso.so).
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(int argc, char **argv)
{
    /* 1. The [vdso] line of /proc/self/maps: "start-end r-xp ... [vdso]" */
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    unsigned long long start = 0, end = 0;
    while (maps && fgets(line, sizeof line, maps))
        if (strstr(line, "[vdso]"))
            sscanf(line, "%llx-%llx", &start, &end);
    if (maps)
        fclose(maps);
    if (!start) {
        printf("no [vdso] line in /proc/self/maps\n");
        return 1;
    }
    size_t size = end - start;
    printf("[vdso] in /proc/self/maps: %zu pages\n", size / 4096);

    /* 2. lseek to the address and read, as dd does */
    unsigned char *image = malloc(size);
    int fd = open("/proc/self/mem", O_RDONLY);
    if (fd < 0 || lseek(fd, (off_t)start, SEEK_SET) != (off_t)start) {
        perror("/proc/self/mem");
        return 1;
    }
    size_t got = 0;
    ssize_t n;
    while (got < size && (n = read(fd, image + got, size - got)) > 0)
        got += n;
    close(fd);
    printf("read %zu bytes at the vDSO's address through /proc/self/mem\n", got);
    printf("the same bytes the process sees there: %s\n",
           memcmp(image, (void *)(uintptr_t)start, size) ? "no" : "yes");
    if (got != size || memcmp(image, ELFMAG, SELFMAG) != 0) {
        printf("not an ELF image\n");
        return 1;
    }
    const ElfW(Ehdr) *eh = (const void *)image;
    printf("ELF magic ok: %s, e_type %s\n", eh->e_ident[EI_CLASS] == ELFCLASS64 ? "ELF64" : "ELF32",
           eh->e_type == ET_DYN ? "ET_DYN (a shared library)" : "not ET_DYN");

    /* 3. Its dynamic section's DT_SONAME, and the functions its .dynsym exports */
    const ElfW(Shdr) *sh = (const void *)(image + eh->e_shoff);
    const char *names[128];
    int count = 0;
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type == SHT_DYNAMIC) {
            const ElfW(Dyn) *dyn = (const void *)(image + sh[i].sh_offset);
            const char *strtab = (const char *)image + sh[sh[i].sh_link].sh_offset;
            for (; dyn->d_tag != DT_NULL; dyn++)
                if (dyn->d_tag == DT_SONAME)
                    printf("soname: %s\n", strtab + dyn->d_un.d_val);
        }
        if (sh[i].sh_type != SHT_DYNSYM)
            continue;
        const ElfW(Sym) *sym = (const void *)(image + sh[i].sh_offset);
        const char *strtab = (const char *)image + sh[sh[i].sh_link].sh_offset;
        size_t nsyms = sh[i].sh_size / sizeof *sym;
        for (size_t s = 0; s < nsyms && count < 128; s++)
            if (ELF64_ST_TYPE(sym[s].st_info) == STT_FUNC && sym[s].st_shndx != SHN_UNDEF)
                names[count++] = strtab + sym[s].st_name;
    }
    qsort(names, count, sizeof *names, by_name);
    printf("%d functions:", count);
    for (int i = 0; i < count; i++)
        printf(" %s", names[i]);
    printf("\n");

    if (argc > 1) {
        fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, image, size) != (ssize_t)size) {
            perror(argv[1]);
            return 1;
        }
        close(fd);
        printf("written to %s\n", argv[1]);
    }
    return 0;
}

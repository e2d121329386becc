/*
 * vdso_dump.c - copy the vDSO out of our own memory into a file.
 *
 * The kernel maps the vDSO, a small ELF shared library, into every process and
 * passes its address in the auxiliary vector (AT_SYSINFO_EHDR); getauxval()
 * reads it. The image is two pages (8192 bytes) of ordinary, readable memory,
 * so a plain write() copies it: afterwards `readelf -a FILE` or `objdump -d FILE`
 * on the host shows its symbols and code.
 *
 * Usage: vdso_dump [FILE]   (default /tmp/vdso.so, in the emulator's memory-only
 * /tmp). To keep the file, share a directory:
 *     syscall-lab run --mount ./out:/out:rw vdso_dump.glibc-x86_64 /out/vdso.so
 *
 * It then reads the file back and prints a few ELF header fields.
 */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#define VDSO_SIZE 8192

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/vdso.so";
    unsigned long base = getauxval(AT_SYSINFO_EHDR);
    if (base == 0) {
        printf("no vDSO: AT_SYSINFO_EHDR is not in the auxiliary vector\n");
        return 1;
    }
    printf("vDSO at AT_SYSINFO_EHDR, %d bytes -> %s\n", VDSO_SIZE, path);

    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, (const void *)base, VDSO_SIZE) != VDSO_SIZE) {
        perror(path);
        return 1;
    }
    close(fd);

    /* Read the header back from the file, as readelf would. */
    unsigned char ident[EI_NIDENT + 16];
    fd = open(path, O_RDONLY);
    if (fd < 0 || read(fd, ident, sizeof ident) != (ssize_t)sizeof ident) {
        perror(path);
        return 1;
    }
    close(fd);
    if (memcmp(ident, ELFMAG, SELFMAG) != 0) {
        printf("not an ELF image\n");
        return 1;
    }
    /* e_type and e_machine sit at the same offsets in both ELF classes. */
    unsigned short e_type, e_machine;
    memcpy(&e_type, ident + 16, 2);
    memcpy(&e_machine, ident + 18, 2);
    printf("ELF magic ok, class %s, %s-endian\n",
           ident[EI_CLASS] == ELFCLASS64 ? "ELF64" : "ELF32",
           ident[EI_DATA] == ELFDATA2LSB ? "little" : "big");
    printf("e_type %s, e_machine %s\n",
           e_type == ET_DYN ? "ET_DYN (a shared library)" : "?",
           e_machine == EM_X86_64 ? "EM_X86_64" : e_machine == EM_386 ? "EM_386" : "?");
    return 0;
}

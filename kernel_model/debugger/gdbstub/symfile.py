"""An assembled program's labels for gdb: the in-memory ELF the assembler made has program
headers only, so gdb could not `break _start`. This adds one section per loaded segment
and a symbol table of the labels, and the stub names the file in qXfer:exec-file:read."""

from __future__ import annotations

import os
import struct
import tempfile

SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_NOBITS = 1, 2, 3, 8
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
PF_X, PF_W = 1, 2


def _segments(elf: bytes, bits: int) -> list[tuple[int, int, int, int, int]]:
    """(offset, vaddr, filesz, memsz, flags) of each PT_LOAD."""
    if bits == 64:
        phoff, = struct.unpack_from("<Q", elf, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    else:
        phoff, = struct.unpack_from("<I", elf, 0x1C)
        phentsize, phnum = struct.unpack_from("<HH", elf, 0x2A)
    out = []
    for i in range(phnum):
        at = phoff + i * phentsize
        if bits == 64:
            ptype, flags, off, vaddr, _, filesz, memsz, _ = struct.unpack_from(
                "<IIQQQQQQ", elf, at)
        else:
            ptype, off, vaddr, _, filesz, memsz, flags, _ = struct.unpack_from(
                "<IIIIIIII", elf, at)
        if ptype == 1:
            out.append((off, vaddr, filesz, memsz, flags))
    return out


def with_symbols(elf: bytes, bits: int, labels: dict[str, int]) -> bytes:
    segs = _segments(elf, bits)[1:]  # the first holds the headers only
    shstr = bytearray(b"\0")

    def name(n: str, table: bytearray) -> int:
        at = len(table)
        table += n.encode() + b"\0"
        return at

    # (name, type, flags, addr, offset, size, link, info, align, entsize)
    sections: list[tuple] = []
    for k, (off, vaddr, filesz, memsz, flags) in enumerate(segs):
        nm = ".text" if flags & PF_X else ".data" if flags & PF_W else ".rodata"
        if any(s[0] == nm for s in sections):
            nm = f"{nm}.{k}"
        sflags = SHF_ALLOC | (SHF_EXECINSTR if flags & PF_X else 0) | (
            SHF_WRITE if flags & PF_W else 0)
        kind = SHT_PROGBITS if filesz else SHT_NOBITS
        sections.append((nm, kind, sflags, vaddr, off, filesz or memsz, 0, 0, 16, 0))
    strtab = bytearray(b"\0")
    syms = []
    for label, addr in sorted(labels.items(), key=lambda kv: kv[1]):
        for i, (_, _, sflags, vaddr, _, size, *_rest) in enumerate(sections):
            if vaddr <= addr < vaddr + max(size, 1):
                stt = 2 if sflags & SHF_EXECINSTR else 1
                syms.append((name(label, strtab), addr, (1 << 4) | stt, i + 1))
                break
    out = bytearray(elf)
    while len(out) % 8:
        out.append(0)
    symtab_off = len(out)
    entsize = 24 if bits == 64 else 16
    out += bytes(entsize)  # the null symbol
    for nm_off, value, info, shndx in syms:
        if bits == 64:
            out += struct.pack("<IBBHQQ", nm_off, info, 0, shndx, value, 0)
        else:
            out += struct.pack("<IIIBBH", nm_off, value, 0, info, 0, shndx)
    strtab_off = len(out)
    out += strtab
    n_prog = len(sections)
    sections.append((".symtab", SHT_SYMTAB, 0, 0, symtab_off, entsize * (len(syms) + 1),
                     n_prog + 2, 1, 8, entsize))
    sections.append((".strtab", SHT_STRTAB, 0, 0, strtab_off, len(strtab), 0, 0, 1, 0))
    names = [name(s[0], shstr) for s in sections]
    shstr_name = name(".shstrtab", shstr)
    shstr_off = len(out)
    out += shstr
    sections.append((".shstrtab", SHT_STRTAB, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0))
    names.append(shstr_name)
    while len(out) % 8:
        out.append(0)
    shoff = len(out)
    out += bytes(64 if bits == 64 else 40)  # section 0
    for nm_off, s in zip(names, sections, strict=True):
        _, kind, flags, addr, off, size, link, info, align, ent = s
        if bits == 64:
            out += struct.pack("<IIQQQQIIQQ", nm_off, kind, flags, addr, off, size, link,
                               info, align, ent)
        else:
            out += struct.pack("<IIIIIIIIII", nm_off, kind, flags, addr, off, size, link,
                               info, align, ent)
    shnum = len(sections) + 1
    if bits == 64:
        struct.pack_into("<Q", out, 0x28, shoff)
        struct.pack_into("<HHH", out, 0x3A, 64, shnum, shnum - 1)
    else:
        struct.pack_into("<I", out, 0x20, shoff)
        struct.pack_into("<HHH", out, 0x2E, 40, shnum, shnum - 1)
    return bytes(out)


def exec_file_for(program) -> tuple[str | None, str | None]:
    """(the path gdb should load, a temporary directory to remove afterwards)."""
    if program is None:
        return None, None
    asm = getattr(program, "assembled", None)
    if asm is None:
        return program.path, None
    labels = {n: a for n, a in asm.labels.items()
              if program.image.lowest <= a < program.image.highest}
    tmp = tempfile.mkdtemp(prefix="syscall-lab-gdb-")
    path = os.path.join(tmp, os.path.basename(program.path).rsplit(".", 1)[0])
    with open(path, "wb") as f:
        f.write(with_symbols(asm.elf, asm.bits, labels))
    os.chmod(path, 0o755)
    return path, tmp

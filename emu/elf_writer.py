"""Writing a minimal static ELF executable: header, program headers, segments.

Used by the assembler so an assembled program is a real ELF in memory (AT_PHDR points at
real program headers, /proc/self/exe reads a real file), loaded by the same path as a
compiled one."""

from __future__ import annotations

import struct
from dataclasses import dataclass

PT_LOAD = 1
PF_X, PF_W, PF_R = 1, 2, 4
EM_386, EM_X86_64 = 3, 62


@dataclass(frozen=True)
class OutSegment:
    vaddr: int
    data: bytes
    memsz: int
    flags: int


def write_executable(bits: int, entry: int, segments: list[OutSegment], base: int) -> bytes:
    """Lay out an ET_EXEC: the first PT_LOAD (read-only) holds the headers at `base`, each
    further segment starts on its own page with file offset == vaddr - base."""
    ehsize, phentsize = (64, 56) if bits == 64 else (52, 32)
    phnum = 1 + len(segments)
    header_size = ehsize + phentsize * phnum
    out = bytearray(header_size)
    phdrs = [(PT_LOAD, PF_R, 0, base, header_size, header_size)]
    for seg in segments:
        offset = seg.vaddr - base
        if len(out) < offset:
            out += bytes(offset - len(out))
        out[offset:offset + len(seg.data)] = seg.data
        phdrs.append((PT_LOAD, seg.flags, offset, seg.vaddr, len(seg.data), seg.memsz))
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 1, 1, 0]) + bytes(8)
    if bits == 64:
        eh = ident + struct.pack("<HHIQQQIHHHHHH", 2, EM_X86_64, 1, entry, ehsize, 0, 0,
                                 ehsize, phentsize, phnum, 64, 0, 0)
    else:
        eh = ident + struct.pack("<HHIIIIIHHHHHH", 2, EM_386, 1, entry, ehsize, 0, 0,
                                 ehsize, phentsize, phnum, 40, 0, 0)
    out[0:ehsize] = eh
    for i, (ptype, flags, off, vaddr, filesz, memsz) in enumerate(phdrs):
        at = ehsize + i * phentsize
        if bits == 64:
            ph = struct.pack("<IIQQQQQQ", ptype, flags, off, vaddr, vaddr, filesz, memsz, 0x1000)
        else:
            ph = struct.pack("<IIIIIIII", ptype, off, vaddr, vaddr, filesz, memsz, flags, 0x1000)
        out[at:at + phentsize] = ph
    return bytes(out)

"""The guest's shared libraries as qXfer:libraries-svr4:read answers them: the loader's
own list (r_debug's chain of link_maps), read from guest memory the way gdb's solib-svr4
finds it (docs/kernel_facts.md §20):

  auxv AT_PHDR/AT_PHNUM -> the program's PT_DYNAMIC in memory -> its DT_DEBUG entry,
  which ld.so fills with &r_debug -> r_map -> link_map, link_map->l_next, ...

The answer is gdb's <library-list-svr4> document: main-lm is the program's own link_map
(the first), each <library> one loaded object with its link_map (lm), load bias (l_addr),
dynamic section (l_ld) and namespace (lmid: the address of its r_debug), as gdbserver
answers. Reads go through registers.read_memory, so a past position shows the list as it
was then."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from kernel_model.debugger.gdbstub.registers import read_memory

# auxv keys (include/uapi/linux/auxvec.h)
AT_PHDR, AT_PHNUM = 3, 5
PT_DYNAMIC, PT_PHDR = 2, 6
DT_NULL, DT_DEBUG = 0, 21
MAX_OBJECTS = 4096  # a longer chain is a corrupt one (or a loop): the walk stops there
MAX_NAME = 4096  # PATH_MAX


class NoDynamicSection(Exception):
    """No DT_DEBUG at all (a static program): there never will be a list."""


@dataclass(frozen=True)
class Library:
    name: str
    lm: int
    l_addr: int
    l_ld: int
    lmid: int


@dataclass(frozen=True)
class Layout:
    """Offsets and sizes in the guest's word size (<link.h>'s structs)."""

    word: int
    phent: int  # sizeof(ElfN_Phdr)
    ehdr: int  # sizeof(ElfN_Ehdr): where every linker puts the program headers
    r_map: int  # r_debug.r_map (after an int and, on 64-bit, its padding)
    r_next: int  # r_debug_extended.r_next (glibc's r_version 2)

    def phdr(self, raw: bytes) -> tuple[int, int, int]:
        """(p_type, p_vaddr, p_memsz) of one program header."""
        if self.word == 8:
            ptype, _, _, vaddr, _, _, memsz, _ = struct.unpack("<IIQQQQQQ", raw)
        else:
            ptype, _, vaddr, _, _, memsz, _, _ = struct.unpack("<IIIIIIII", raw)
        return ptype, vaddr, memsz


LAYOUTS = {64: Layout(word=8, phent=56, ehdr=64, r_map=8, r_next=40),
           32: Layout(word=4, phent=32, ehdr=52, r_map=4, r_next=20)}


class Reader:
    def __init__(self, session):
        self.s = session
        self.lay = LAYOUTS[session.bits]

    def read(self, addr: int, size: int) -> bytes | None:
        got = read_memory(self.s, addr, size)
        return got if len(got) == size else None

    def word(self, addr: int) -> int | None:
        raw = self.read(addr, self.lay.word)
        return None if raw is None else int.from_bytes(raw, "little")

    def string(self, addr: int) -> str:
        out = b""
        while len(out) < MAX_NAME:
            chunk = read_memory(self.s, addr + len(out), 256)
            if not chunk:
                break
            nul = chunk.find(b"\0")
            if nul >= 0:
                return (out + chunk[:nul]).decode("utf-8", "replace")
            out += chunk
        return out.decode("utf-8", "replace")


def r_debug_address(session) -> int:
    """Where DT_DEBUG points: 0 while ld.so has not filled it in yet. Raises
    NoDynamicSection when the program has no PT_DYNAMIC or no DT_DEBUG entry."""
    rd = Reader(session)
    lay = rd.lay
    aux = dict(session.system.process.auxv)
    phdr, phnum = aux.get(AT_PHDR, 0), aux.get(AT_PHNUM, 0)
    headers = []
    for i in range(phnum):
        raw = rd.read(phdr + i * lay.phent, lay.phent)
        if raw is None:
            raise NoDynamicSection(f"the program headers at {phdr:#x} are not readable")
        headers.append(lay.phdr(raw))
    # The load bias: where PT_PHDR says the headers are against where they are. Without
    # PT_PHDR (no linker omits it for a program with an interpreter), they follow the ELF
    # header at the start of the first PT_LOAD, as every linker places them.
    bias = None
    for ptype, vaddr, _ in headers:
        if ptype == PT_PHDR:
            bias = phdr - vaddr
    if bias is None:
        loads = [vaddr for ptype, vaddr, _ in headers if ptype == 1]
        bias = phdr - lay.ehdr - (min(loads) if loads else 0)
    dynamic = [(vaddr, memsz) for ptype, vaddr, memsz in headers if ptype == PT_DYNAMIC]
    if not dynamic:
        raise NoDynamicSection("no PT_DYNAMIC: a static program")
    start, size = dynamic[0]
    at, end = (start + bias) & ((1 << session.bits) - 1), start + bias + size
    while at + 2 * lay.word <= end:
        tag, value = rd.word(at), rd.word(at + lay.word)
        if tag is None or value is None or tag == DT_NULL:
            break
        if tag == DT_DEBUG:
            return value
        at += 2 * lay.word
    raise NoDynamicSection("no DT_DEBUG in the dynamic section")


def libraries(session) -> tuple[int | None, list[Library]]:
    """(the program's link_map, the other loaded objects in the loader's order), named as
    the loader names them, the vDSO too (linux-vdso.so.1, as gdbserver lists it): gdb
    drops that entry itself, knowing the vDSO's range from the guest's maps (vfile.py),
    and reads its symbols from memory."""
    r_debug = r_debug_address(session)
    rd = Reader(session)
    lay = rd.lay
    main_lm: int | None = None
    out: list[Library] = []
    seen: set[int] = set()
    namespace = r_debug
    first_namespace = True
    while namespace and namespace not in seen:
        seen.add(namespace)
        version = rd.read(namespace, 4)
        if version is None or int.from_bytes(version, "little") < 1:
            break  # not filled in yet (r_version 0)
        lm = rd.word(namespace + lay.r_map) or 0
        prev = 0
        while lm and lm not in seen and len(seen) < MAX_OBJECTS:
            seen.add(lm)
            fields = [rd.word(lm + k * lay.word) for k in range(5)]
            if any(f is None for f in fields):
                break
            l_addr, l_name, l_ld, l_next, l_prev = (f or 0 for f in fields)
            if l_prev != prev:
                break  # a chain being rewritten or a corrupt one: stop where it is sure
            name = rd.string(l_name) if l_name else ""
            if first_namespace and prev == 0:
                main_lm = lm  # the program itself comes first
            elif name:
                out.append(Library(name, lm, l_addr, l_ld, namespace))
            prev, lm = lm, l_next
        first_namespace = False
        # glibc's r_debug_extended (r_version 2) chains the other namespaces (dlmopen)
        if int.from_bytes(version, "little") < 2:
            break
        namespace = rd.word(namespace + lay.r_next) or 0
    return main_lm, out


def library_list_xml(session) -> str:
    """gdb's <library-list-svr4> document; empty (and without main-lm) before ld.so has
    filled in DT_DEBUG. Raises NoDynamicSection for a program that has none."""
    main_lm, libs = libraries(session)
    head = '<library-list-svr4 version="1.0"'
    if main_lm is not None:
        head += f' main-lm="{main_lm:#x}"'
    body = "".join(f"<library name={quoteattr(lib.name)} lm=\"{lib.lm:#x}\" "
                   f"l_addr=\"{lib.l_addr:#x}\" l_ld=\"{lib.l_ld:#x}\" "
                   f"lmid=\"{lib.lmid:#x}\"/>" for lib in libs)
    return f"{head}>{body}</library-list-svr4>"

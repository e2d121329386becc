"""Writing the vDSO as an ELF shared object (ET_DYN) by hand, laid out as the kernel's
vdso.lds.S lays out its image (docs/kernel_facts.md §5):

    offset 0  ELF header, program headers
              .hash .gnu.hash .dynsym .dynstr .gnu.version .gnu.version_d .dynamic
              .note .eh_frame_hdr .eh_frame .text            <- one R+X PT_LOAD, vaddr == offset
              .symtab .strtab .shstrtab, section headers      <- not loaded (still in the pages)

Program headers: PT_LOAD (R+X, offset 0 == vaddr 0), PT_DYNAMIC (R: glibc rewrites a
writable dynamic section, and the page is not writable), PT_NOTE, PT_GNU_EH_FRAME.
Dynamic tags: SONAME, HASH, GNU_HASH, STRTAB, SYMTAB, STRSZ, SYMENT, VERDEF, VERDEFNUM,
VERSYM, NULL. No relocations: everything in the image is position independent.

Both symbol hash tables are written: musl reads only DT_HASH, glibc prefers DT_GNU_HASH."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from kernel_model.vdso import eh_frame
from kernel_model.vdso.asm import Fde

ET_DYN = 3
EM_386, EM_X86_64 = 3, 62
PT_LOAD, PT_DYNAMIC, PT_NOTE, PT_GNU_EH_FRAME = 1, 2, 4, 0x6474E550
PF_X, PF_W, PF_R = 1, 2, 4
SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_HASH = 0, 1, 2, 3, 5
SHT_DYNAMIC, SHT_NOTE, SHT_DYNSYM = 6, 7, 11
SHT_GNU_HASH, SHT_GNU_VERDEF, SHT_GNU_VERSYM = 0x6FFFFFF6, 0x6FFFFFFD, 0x6FFFFFFF
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
SHN_UNDEF, SHN_ABS = 0, 0xFFF1
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_NOTYPE, STT_OBJECT, STT_FUNC = 0, 1, 2
DT_NULL, DT_HASH, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT, DT_SONAME = 0, 4, 5, 6, 10, 11, 14
DT_GNU_HASH, DT_VERSYM, DT_VERDEF, DT_VERDEFNUM = 0x6FFFFEF5, 0x6FFFFFF0, 0x6FFFFFFC, 0x6FFFFFFD
VER_FLG_BASE = 1
NT_GNU_BUILD_ID = 3

BINDS = {"local": STB_LOCAL, "global": STB_GLOBAL, "weak": STB_WEAK}
TYPES = {"notype": STT_NOTYPE, "object": STT_OBJECT, "function": STT_FUNC, "func": STT_FUNC}


def elf_hash(name: bytes | str) -> int:
    """The System V ABI hash (DT_HASH, vd_hash)."""
    if isinstance(name, str):
        name = name.encode()
    h = 0
    for c in name:
        h = ((h << 4) + c) & 0xFFFFFFFF
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g & 0xFFFFFFFF
    return h


def gnu_hash(name: bytes | str) -> int:
    """The GNU hash (DT_GNU_HASH): djb2, h * 33 + c."""
    if isinstance(name, str):
        name = name.encode()
    h = 5381
    for c in name:
        h = (h * 33 + c) & 0xFFFFFFFF
    return h


def bucket_count(nsyms: int) -> int:
    """GNU ld's choice for small tables (bfd/elflink.c elf_buckets)."""
    sizes = (1, 3, 17, 37, 67, 97, 131, 197, 263, 521, 1031, 2053, 4099)
    best = sizes[0]
    for i, size in enumerate(sizes):
        best = size
        if i + 1 == len(sizes) or nsyms < sizes[i + 1]:
            break
    return best


@dataclass
class Symbol:
    name: str
    value: int
    size: int = 0
    kind: str = "function"  # function | object | notype
    bind: str = "global"  # global | weak | local
    version: str | None = None  # dynamic symbols: the version that defines them
    abs: bool = False  # SHN_ABS instead of .text


@dataclass
class Note:
    name: str
    type: int
    desc: bytes


@dataclass
class SharedObjectSpec:
    bits: int
    soname: str
    versions: list[str]  # version names, indexes 2, 3, ... (1 is the base: the soname)
    dynsyms: list[Symbol]  # the exported symbols, each with a version
    local_syms: list[Symbol] = field(default_factory=list)  # .symtab only
    notes: list[Note] = field(default_factory=list)
    fdes: list[Fde] = field(default_factory=list)
    entry: int = 0
    image_size: int = 0x2000
    build_id: bool = True
    text_align: int = 16


@dataclass
class Section:
    name: str
    type: int
    flags: int
    align: int
    data: bytes = b""
    offset: int = 0
    link: str | None = None
    info: int = 0
    entsize: int = 0

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class Layout:
    text_offset: int
    load_end: int
    sections: dict[str, Section]


def _align(value: int, a: int) -> int:
    return (value + a - 1) & ~(a - 1)


class _Strtab:
    def __init__(self):
        self.data = bytearray(b"\0")
        self.index: dict[str, int] = {"": 0}

    def add(self, s: str) -> int:
        if s not in self.index:
            self.index[s] = len(self.data)
            self.data += s.encode() + b"\0"
        return self.index[s]


class _Writer:
    def __init__(self, spec: SharedObjectSpec):
        self.spec = spec
        self.b64 = spec.bits == 64
        self.word = 8 if self.b64 else 4
        self.ehsize = 64 if self.b64 else 52
        self.phentsize = 56 if self.b64 else 32
        self.shentsize = 64 if self.b64 else 40
        self.symentsize = 24 if self.b64 else 16
        self.dynentsize = 16 if self.b64 else 8
        self.phnum = 4
        self._order_dynsyms()

    # -- symbols ------------------------------------------------------------------------
    def _order_dynsyms(self) -> None:
        spec = self.spec
        syms = list(spec.dynsyms)
        for name in spec.versions:  # GNU ld defines each version name as an ABS symbol
            syms.append(Symbol(name, 0, 0, "object", "global", name, abs=True))
        self.nbuckets = bucket_count(len(syms))
        # GNU_HASH needs the hashed symbols grouped by bucket (stable otherwise).
        syms.sort(key=lambda s: gnu_hash(s.name) % self.nbuckets)
        self.hashed_syms = syms  # .dynsym after its null entry
        self.dynsyms: list[Symbol | None] = [None, *syms]
        self.version_index = {name: i + 2 for i, name in enumerate(spec.versions)}

    def _sym_bytes(self, sym: Symbol | None, name_off: int, text_index: int) -> bytes:
        if sym is None:
            return bytes(self.symentsize)
        info = (BINDS[sym.bind] << 4) | TYPES[sym.kind]
        shndx = SHN_ABS if sym.abs else text_index
        value = sym.value & ((1 << (8 * self.word)) - 1)
        if self.b64:
            return struct.pack("<IBBHQQ", name_off, info, 0, shndx, value, sym.size)
        return struct.pack("<IIIBBH", name_off, value, sym.size, info, 0, shndx)

    # -- tables -------------------------------------------------------------------------
    def _hash(self) -> bytes:
        n = len(self.dynsyms)
        nb = self.nbuckets
        buckets = [0] * nb
        chains = [0] * n
        for i, sym in enumerate(self.hashed_syms, start=1):
            h = elf_hash(sym.name) % nb
            chains[i] = buckets[h]
            buckets[h] = i
        return struct.pack(f"<II{nb}I{n}I", nb, n, *buckets, *chains)

    def _gnu_hash(self) -> bytes:
        symoffset = 1  # the null symbol is not hashed
        nb = self.nbuckets
        bits = 64 if self.b64 else 32
        hashed = [gnu_hash(s.name) for s in self.hashed_syms]
        words = 1
        while words * bits < len(hashed) * 8:
            words *= 2
        shift = 26  # as lld
        bloom = [0] * words
        for h in hashed:
            bloom[(h // bits) % words] |= (1 << (h % bits)) | (1 << ((h >> shift) % bits))
        buckets = [0] * nb
        chain = []
        for i, h in enumerate(hashed):
            b = h % nb
            if buckets[b] == 0:
                buckets[b] = i + symoffset
            last = i + 1 == len(hashed) or hashed[i + 1] % nb != b
            chain.append((h & ~1) | (1 if last else 0))
        out = struct.pack("<IIII", nb, symoffset, words, shift)
        out += struct.pack(f"<{words}{'Q' if self.b64 else 'I'}", *bloom)
        out += struct.pack(f"<{nb}I", *buckets)
        out += struct.pack(f"<{len(chain)}I", *chain)
        return out

    def _verdef(self, dynstr: _Strtab) -> bytes:
        names = [self.spec.soname, *self.spec.versions]
        out = bytearray()
        for i, name in enumerate(names):
            last = i + 1 == len(names)
            out += struct.pack("<HHHHIII", 1, VER_FLG_BASE if i == 0 else 0, i + 1, 1,
                               elf_hash(name), 20, 0 if last else 28)
            out += struct.pack("<II", dynstr.add(name), 0)
        return bytes(out)

    def _versym(self) -> bytes:
        out = bytearray()
        out += struct.pack("<H", 0)  # the null symbol
        for sym in self.hashed_syms:
            assert sym.version is not None, "every dynamic symbol has a version"
            out += struct.pack("<H", self.version_index[sym.version])
        return bytes(out)

    def _notes(self) -> bytes:
        out = bytearray()
        notes = list(self.spec.notes)
        if self.spec.build_id:
            notes.append(Note("GNU", NT_GNU_BUILD_ID, bytes(20)))
        for note in notes:
            name = note.name.encode() + b"\0"
            out += struct.pack("<III", len(name), len(note.desc), note.type)
            out += name + bytes(_align(len(name), 4) - len(name))
            out += note.desc + bytes(_align(len(note.desc), 4) - len(note.desc))
        return bytes(out)

    def _dynamic(self, addr: dict[str, int], strsz: int) -> bytes:
        tags = [
            (DT_SONAME, self._dynstr.index[self.spec.soname]),
            (DT_HASH, addr[".hash"]),
            (DT_GNU_HASH, addr[".gnu.hash"]),
            (DT_STRTAB, addr[".dynstr"]),
            (DT_SYMTAB, addr[".dynsym"]),
            (DT_STRSZ, strsz),
            (DT_SYMENT, self.symentsize),
            (DT_VERDEF, addr[".gnu.version_d"]),
            (DT_VERDEFNUM, 1 + len(self.spec.versions)),
            (DT_VERSYM, addr[".gnu.version"]),
            (DT_NULL, 0),
        ]
        fmt = "<qQ" if self.b64 else "<iI"
        return b"".join(struct.pack(fmt, t, v) for t, v in tags)

    # -- layout -------------------------------------------------------------------------
    def sections(self, text: bytes, text_offset: int | None) -> Layout:
        """Lay out every section; with text_offset None, only to learn where .text goes."""
        spec = self.spec
        w = self.word
        dynstr = _Strtab()
        self._dynstr = dynstr
        dynstr.add(spec.soname)
        dyn_names = [dynstr.add(s.name) if s else 0 for s in self.dynsyms]
        verdef = self._verdef(dynstr)
        n_fdes = len(spec.fdes)
        secs: list[Section] = [
            Section(".hash", SHT_HASH, SHF_ALLOC, w, self._hash(), link=".dynsym", entsize=4),
            Section(".gnu.hash", SHT_GNU_HASH, SHF_ALLOC, w, self._gnu_hash(), link=".dynsym",
                    entsize=0 if self.b64 else 4),
            Section(".dynsym", SHT_DYNSYM, SHF_ALLOC, w, bytes(self.symentsize *
                                                             len(self.dynsyms)),
                    link=".dynstr", info=1, entsize=self.symentsize),
            Section(".dynstr", SHT_STRTAB, SHF_ALLOC, 1, bytes(dynstr.data)),
            Section(".gnu.version", SHT_GNU_VERSYM, SHF_ALLOC, 2, self._versym(),
                    link=".dynsym", entsize=2),
            Section(".gnu.version_d", SHT_GNU_VERDEF, SHF_ALLOC, w, verdef, link=".dynstr",
                    info=1 + len(spec.versions)),
            # GNU ld marks .dynamic writable even here; the segment (PT_DYNAMIC) is R only.
            Section(".dynamic", SHT_DYNAMIC, SHF_ALLOC | SHF_WRITE, w,
                    bytes(11 * self.dynentsize), link=".dynstr", entsize=self.dynentsize),
            Section(".note", SHT_NOTE, SHF_ALLOC, 4, self._notes()),
            Section(".eh_frame_hdr", SHT_PROGBITS, SHF_ALLOC, 4,
                    bytes(eh_frame.eh_frame_hdr_size(n_fdes))),
            Section(".eh_frame", SHT_PROGBITS, SHF_ALLOC, w,
                    bytes(eh_frame.eh_frame_size(spec.fdes, spec.bits))),
            Section(".text", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, spec.text_align, text),
        ]
        at = self.ehsize + self.phentsize * self.phnum
        for s in secs:
            at = _align(at, s.align)
            s.offset = at
            at += s.size
        by_name = {s.name: s for s in secs}
        result = Layout(by_name[".text"].offset, at, by_name)
        if text_offset is None:
            return result
        if text_offset != by_name[".text"].offset:
            raise ValueError("the text was assembled for another offset")
        addr = {s.name: s.offset for s in secs}
        # Now the contents that depend on addresses.
        text_index = 1 + [s.name for s in secs].index(".text")
        by_name[".dynsym"].data = b"".join(
            self._sym_bytes(s, dyn_names[i], text_index) for i, s in enumerate(self.dynsyms))
        by_name[".dynamic"].data = self._dynamic(addr, len(dynstr.data))
        ehf, table = eh_frame.build_eh_frame(spec.fdes, spec.bits, addr[".eh_frame"])
        by_name[".eh_frame"].data = ehf
        by_name[".eh_frame_hdr"].data = eh_frame.build_eh_frame_hdr(
            addr[".eh_frame_hdr"], addr[".eh_frame"], table)
        # Not loaded: the full symbol table and the section names.
        strtab = _Strtab()
        symtab_syms = [None, *spec.local_syms, *self.dynsyms[1:]]
        symtab = b"".join(self._sym_bytes(s, strtab.add(s.name) if s else 0, text_index)
                          for s in symtab_syms)
        extra = [
            Section(".symtab", SHT_SYMTAB, 0, w, symtab, link=".strtab",
                    info=1 + len(spec.local_syms), entsize=self.symentsize),
            Section(".strtab", SHT_STRTAB, 0, 1, bytes(strtab.data)),
            Section(".shstrtab", SHT_STRTAB, 0, 1, b""),
        ]
        shstr = _Strtab()
        all_secs = secs + extra
        for s in all_secs:
            shstr.add(s.name)
        extra[-1].data = bytes(shstr.data)
        for s in extra:
            at = _align(at, s.align)
            s.offset = at
            at += s.size
        self._all = all_secs
        self._shstr = shstr
        self._shoff = _align(at, w)
        self._end = self._shoff + self.shentsize * (1 + len(all_secs))
        result.sections = {s.name: s for s in all_secs}
        return result

    def write(self, text: bytes, text_offset: int) -> bytes:
        spec = self.spec
        layout = self.sections(text, text_offset)
        if self._end > spec.image_size:
            raise ValueError(f"the vDSO needs {self._end} bytes, more than {spec.image_size}")
        out = bytearray(spec.image_size)
        for s in self._all:
            out[s.offset:s.offset + s.size] = s.data
        names = [s.name for s in self._all]
        index = {n: i + 1 for i, n in enumerate(names)}
        # section headers
        sh = bytearray(self.shentsize)  # SHT_NULL
        for s in self._all:
            link = index[s.link] if s.link else 0
            addr = s.offset if s.flags & SHF_ALLOC else 0
            if self.b64:
                sh += struct.pack("<IIQQQQIIQQ", self._shstr.index[s.name], s.type, s.flags,
                                  addr, s.offset, s.size, link, s.info, s.align, s.entsize)
            else:
                sh += struct.pack("<IIIIIIIIII", self._shstr.index[s.name], s.type, s.flags,
                                  addr, s.offset, s.size, link, s.info, s.align, s.entsize)
        out[self._shoff:self._shoff + len(sh)] = sh
        # program headers
        secs = layout.sections
        load_end = layout.load_end
        phdrs = [
            (PT_LOAD, PF_R | PF_X, 0, load_end, 0x1000),
            (PT_DYNAMIC, PF_R, secs[".dynamic"].offset, secs[".dynamic"].size, self.word),
            (PT_NOTE, PF_R, secs[".note"].offset, secs[".note"].size, 4),
            (PT_GNU_EH_FRAME, PF_R, secs[".eh_frame_hdr"].offset, secs[".eh_frame_hdr"].size,
             4),
        ]
        ph = bytearray()
        for ptype, flags, off, size, align in phdrs:
            if self.b64:
                ph += struct.pack("<IIQQQQQQ", ptype, flags, off, off, off, size, size, align)
            else:
                ph += struct.pack("<IIIIIIII", ptype, off, off, off, size, size, flags, align)
        out[self.ehsize:self.ehsize + len(ph)] = ph
        # ELF header
        ident = b"\x7fELF" + bytes([2 if self.b64 else 1, 1, 1, 0]) + bytes(8)
        machine = EM_X86_64 if self.b64 else EM_386
        shnum = 1 + len(self._all)
        shstrndx = index[".shstrtab"]
        if self.b64:
            eh = ident + struct.pack("<HHIQQQIHHHHHH", ET_DYN, machine, 1, spec.entry,
                                     self.ehsize, self._shoff, 0, self.ehsize, self.phentsize,
                                     self.phnum, self.shentsize, shnum, shstrndx)
        else:
            eh = ident + struct.pack("<HHIIIIIHHHHHH", ET_DYN, machine, 1, spec.entry,
                                     self.ehsize, self._shoff, 0, self.ehsize, self.phentsize,
                                     self.phnum, self.shentsize, shnum, shstrndx)
        out[:self.ehsize] = eh
        if spec.build_id:
            # The build ID is a digest of the image with the ID zeroed (ld --build-id=sha1).
            note = secs[".note"]
            digest = hashlib.sha1(bytes(out)).digest()
            at = note.offset + note.size - 20
            out[at:at + 20] = digest
        return bytes(out)


def text_offset(spec: SharedObjectSpec, text_size: int) -> int:
    """Where .text will start, given the symbols, notes, FDEs and the code's size."""
    return _Writer(spec).sections(bytes(text_size), None).text_offset


def write_shared_object(spec: SharedObjectSpec, text: bytes, at: int) -> bytes:
    """The image: `text` must have been assembled for offset `at` == text_offset(spec, ...)."""
    return _Writer(spec).write(text, at)

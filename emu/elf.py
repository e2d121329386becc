"""Reading an x86 ELF executable (static, or naming its dynamic loader in PT_INTERP) into
what a loader needs. The header and program headers are read with `struct`, as
load_elf_binary reads them; pyelftools is imported only for the symbol table (on first
use) and for the names and words of a few refusals."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Mapping

from emu.arch import I386, X86_64, Arch
from emu.records import Record


class BadProgram(Exception):
    """The file cannot be run; the message is one line for the user (control characters
    from the file, such as a newline in a PT_INTERP string, are shown escaped)."""

    def __init__(self, message: str):
        super().__init__(_one_line(message))


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


class Segment(Record):
    _fields = ("vaddr", "memsz", "filesz", "offset", "flags", "data")
    vaddr: int
    memsz: int
    filesz: int
    offset: int
    flags: int  # PF_R=4, PF_W=2, PF_X=1
    data: bytes

    def __init__(
            self, vaddr: int, memsz: int, filesz: int, offset: int, flags: int, data: bytes,
    ) -> None:
        object.__setattr__(self, "vaddr", vaddr)
        object.__setattr__(self, "memsz", memsz)
        object.__setattr__(self, "filesz", filesz)
        object.__setattr__(self, "offset", offset)
        object.__setattr__(self, "flags", flags)
        object.__setattr__(self, "data", data)


class ElfImage(Record):
    _fields = (
        "arch", "is_pie", "entry", "segments", "phoff", "phentsize", "phnum", "symbols", "raw",
        "interp", "align",
    )
    arch: Arch
    is_pie: bool  # ET_DYN
    entry: int
    segments: tuple[Segment, ...]
    phoff: int
    phentsize: int
    phnum: int
    symbols: Mapping[int, str]  # address -> name (functions and objects), for the screen
    raw: bytes
    interp: str | None = None  # PT_INTERP: the dynamic loader's path, for dynamic programs
    align: int = 0  # the largest PT_LOAD p_align (load_elf_binary aligns the load bias to it)

    def __init__(
            self, arch: Arch, is_pie: bool, entry: int, segments: tuple[Segment, ...], phoff: int,
            phentsize: int, phnum: int, symbols: Mapping[int, str], raw: bytes,
            interp: str | None = None, align: int = 0,
    ) -> None:
        object.__setattr__(self, "arch", arch)
        object.__setattr__(self, "is_pie", is_pie)
        object.__setattr__(self, "entry", entry)
        object.__setattr__(self, "segments", segments)
        object.__setattr__(self, "phoff", phoff)
        object.__setattr__(self, "phentsize", phentsize)
        object.__setattr__(self, "phnum", phnum)
        object.__setattr__(self, "symbols", symbols)
        object.__setattr__(self, "raw", raw)
        object.__setattr__(self, "interp", interp)
        object.__setattr__(self, "align", align)

    @property
    def lowest(self) -> int:
        return min((s.vaddr for s in self.segments), default=0)

    @property
    def highest(self) -> int:
        return max((s.vaddr + s.memsz for s in self.segments), default=0)

    def phdr_vaddr(self) -> int:
        """Where the program headers are in memory (AT_PHDR before adding the load bias):
        inside the first PT_LOAD that maps them from the file, else 0 (load_elf_binary's
        phdr_addr since Linux 5.18)."""
        for s in self.segments:
            if s.offset <= self.phoff < s.offset + s.filesz:
                return s.vaddr + (self.phoff - s.offset)
        return 0


ARCHES = {62: X86_64, 3: I386}  # e_machine: EM_X86_64, EM_386
ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_INTERP = 1, 3
# The fields read, after e_ident: e_type, e_machine, e_entry, e_phoff, e_phentsize, e_phnum
# (the rest skipped); then each program header's p_type, p_flags, p_offset, p_vaddr,
# p_filesz, p_memsz, p_align, in the order of each class's Elf_Phdr.
EHDR = {64: ("HH4xQQ8x4x2xHH6x", 64), 32: ("HH4xII4x4x2xHH6x", 52)}
PHDR = {64: "IIQQ8xQQQ", 32: "III4xIIII"}


def read_elf(data: bytes, name: str = "program") -> ElfImage:
    if data[:4] != b"\x7fELF":
        raise BadProgram(f"{name}: not an ELF executable or assembly file")
    elfclass = {b"\x01": 32, b"\x02": 64}.get(data[4:5])
    if elfclass is None:
        raise BadProgram(f"{name}: truncated or malformed ELF (Invalid EI_CLASS {data[4:5]!r})")
    order = {b"\x01": "<", b"\x02": ">"}.get(data[5:6])
    if order is None:
        raise BadProgram(f"{name}: truncated or malformed ELF (Invalid EI_DATA {data[5:6]!r})")
    layout, size = EHDR[elfclass]
    if len(data) < size:
        raise _short_header(data, name)
    etype, machine, entry, phoff, phentsize, phnum = struct.unpack_from(order + layout,
                                                                         data, 16)
    arch = ARCHES.get(machine)
    if arch is None:
        raise BadProgram(f"{name}: an ELF for {_enum_name('E_MACHINE', machine)}, not x86-64 "
                         "or i386")
    if elfclass != arch.elf_class:
        raise BadProgram(f"{name}: ELF class {elfclass} does not match {arch.elf_machine}")
    if etype not in (ET_EXEC, ET_DYN):
        raise BadProgram(f"{name}: {_enum_name('E_TYPE', etype)} is not an executable")
    _check_phdrs(arch, phoff, phentsize, phnum, len(data), name)
    segments = []
    interp = None
    align = 0
    rows = struct.iter_unpack(order + PHDR[elfclass], data[phoff:phoff + phnum * phentsize])
    if elfclass == 32:  # Elf32_Phdr has p_flags after p_memsz
        rows = ((t, fl, off, va, fs, ms, al) for t, off, va, fs, ms, fl, al in rows)
    for ptype, flags, off, vaddr, filesz, memsz, p_align in rows:
        if ptype == PT_INTERP and interp is None:
            interp = _interp_path(data, off, filesz, name)
        if ptype != PT_LOAD:
            continue
        align = max(align, p_align)
        if off + filesz > len(data):
            raise BadProgram(f"{name}: truncated ELF (a segment runs past the end of the file)")
        segments.append(Segment(vaddr, memsz, filesz, off, flags, data[off:off + filesz]))
    return ElfImage(
        arch=arch,
        is_pie=etype == ET_DYN,
        entry=entry,
        segments=tuple(segments),
        phoff=phoff,
        phentsize=phentsize,
        phnum=phnum,
        symbols=LazySymbols(lambda: _symbols(data)),
        raw=data,
        interp=interp,
        align=align,
    )


def _enum_name(table: str, value: int) -> str | int:
    """A refused header field as the messages name it: pyelftools' name for the value
    (EM_ARM, ET_REL), else the number."""
    from elftools.elf import enums

    names = {v: k for k, v in getattr(enums, "ENUM_" + table).items() if k != "_default_"}
    return names.get(value, value)


def _short_header(data: bytes, name: str) -> BadProgram:
    """A file that ends inside its ELF header: the words pyelftools' parser gives for where
    it ran out ("expected 2, found 0"), as they always were."""
    import io

    from elftools.elf.elffile import ELFFile

    try:
        ELFFile(io.BytesIO(data))
    except Exception as e:
        return BadProgram(f"{name}: truncated or malformed ELF ({e})")
    return BadProgram(f"{name}: truncated or malformed ELF")


def _interp_path(data: bytes, offset: int, size: int, name: str) -> str:
    """load_elf_binary's reading of PT_INTERP: 2 to PATH_MAX bytes inside the file, ending
    with its NUL (else ENOEXEC)."""
    if not 2 <= size <= 4096 or offset + size > len(data) or data[offset + size - 1] != 0:
        raise BadProgram(f"{name}: cannot execute: a malformed PT_INTERP (execve: ENOEXEC, "
                         "Exec format error)")
    return data[offset:offset + size - 1].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _check_phdrs(arch: Arch, phoff: int, phentsize: int, phnum: int, size: int,
                 name: str) -> None:
    """load_elf_phdrs' checks, made before execve's point of no return: execve fails and
    the program never starts (ENOEXEC, or EIO for a table past the end of the file)."""
    entsize = 56 if arch.elf_class == 64 else 32  # sizeof(struct elf_phdr)
    why = None
    if phentsize != entsize:
        why = f"e_phentsize is {phentsize}, not {entsize}"
    elif not 0 < phnum * entsize <= 65536:
        why = f"e_phnum {phnum} is out of range"
    if why:
        raise BadProgram(f"{name}: cannot execute: {why} (execve: ENOEXEC, Exec format error)")
    if phoff + phnum * entsize > size:
        raise BadProgram(f"{name}: truncated ELF: the program headers run past the end of "
                         "the file (execve: EIO, Input/output error)")


class LazySymbols(Mapping[int, str]):
    """A symbol table built on first use: parsing ~2,000 symbols through pyelftools cost
    a plain run most of its start-up, and only the screen and traces read names."""

    def __init__(self, build: Callable[[], Mapping[int, str]]):
        self._build: Callable[[], Mapping[int, str]] | None = build
        self._table: Mapping[int, str] = {}

    def _get(self) -> Mapping[int, str]:
        if self._build is not None:
            self._table, self._build = self._build(), None
        return self._table

    def __getitem__(self, key: int) -> str:
        return self._get()[key]

    def __iter__(self) -> Iterator[int]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __reduce__(self):
        # Sent to another process (the grader's workers): as the plain table, built now
        # (the builder is a closure, which pickle cannot carry).
        return (dict, (dict(self._get()),))

    def __repr__(self) -> str:
        return "LazySymbols(unread)" if self._build is not None else f"LazySymbols({self._table!r})"


def _symbols(data: bytes) -> dict[int, str]:
    import io

    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    out: dict[int, str] = {}
    try:
        tab = ELFFile(io.BytesIO(data)).get_section_by_name(".symtab")
        if not isinstance(tab, SymbolTableSection):
            return out
        for sym in tab.iter_symbols():
            if sym["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE") and sym.name \
                    and sym["st_value"] and sym["st_shndx"] != "SHN_UNDEF":
                out.setdefault(sym["st_value"], sym.name)
    except Exception:  # a damaged symbol table only costs names on screen
        return out
    return out

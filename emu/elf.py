"""Reading an x86 ELF executable (static, or naming its dynamic loader in PT_INTERP) with
pyelftools into what a loader needs."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection
from elftools.elf.segments import InterpSegment

from emu.arch import I386, X86_64, Arch


class BadProgram(Exception):
    """The file cannot be run; the message is one line for the user (control characters
    from the file, such as a newline in a PT_INTERP string, are shown escaped)."""

    def __init__(self, message: str):
        super().__init__(_one_line(message))


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


@dataclass(frozen=True)
class Segment:
    vaddr: int
    memsz: int
    filesz: int
    offset: int
    flags: int  # PF_R=4, PF_W=2, PF_X=1
    data: bytes


@dataclass(frozen=True)
class ElfImage:
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


MACHINES = {"EM_X86_64": X86_64, "EM_386": I386}


def read_elf(data: bytes, name: str = "program") -> ElfImage:
    if data[:4] != b"\x7fELF":
        raise BadProgram(f"{name}: not an ELF executable or assembly file")
    try:
        elf = ELFFile(io.BytesIO(data))
        machine = elf["e_machine"]
        arch = MACHINES.get(machine)
        if arch is None:
            raise BadProgram(f"{name}: an ELF for {machine}, not x86-64 or i386")
        if elf.elfclass != arch.elf_class:
            raise BadProgram(f"{name}: ELF class {elf.elfclass} does not match {machine}")
        etype = elf["e_type"]
        if etype not in ("ET_EXEC", "ET_DYN"):
            raise BadProgram(f"{name}: {etype} is not an executable")
        _check_phdrs(elf, arch, len(data), name)
        segments = []
        interp = None
        align = 0
        for ph in elf.iter_segments():
            ptype = ph["p_type"]
            if isinstance(ph, InterpSegment) and interp is None:  # PT_INTERP
                interp = _interp_path(data, ph["p_offset"], ph["p_filesz"], name)
            if ptype != "PT_LOAD":
                continue
            align = max(align, ph["p_align"])
            off, filesz = ph["p_offset"], ph["p_filesz"]
            if off + filesz > len(data):
                raise BadProgram(f"{name}: truncated ELF (a segment runs past the end of the file)")
            segments.append(
                Segment(ph["p_vaddr"], ph["p_memsz"], filesz, off, ph["p_flags"],
                        data[off:off + filesz])
            )
        return ElfImage(
            arch=arch,
            is_pie=etype == "ET_DYN",
            entry=elf["e_entry"],
            segments=tuple(segments),
            phoff=elf["e_phoff"],
            phentsize=elf["e_phentsize"],
            phnum=elf["e_phnum"],
            symbols=LazySymbols(lambda: _symbols(ELFFile(io.BytesIO(data)))),
            raw=data,
            interp=interp,
            align=align,
        )
    except BadProgram:
        raise
    except (ELFError, ValueError, KeyError, IndexError, AssertionError, OSError) as e:
        raise BadProgram(f"{name}: truncated or malformed ELF ({e})") from None
    except Exception as e:  # pyelftools raises bare struct/construct errors on garbage
        raise BadProgram(f"{name}: truncated or malformed ELF ({type(e).__name__})") from None


def _interp_path(data: bytes, offset: int, size: int, name: str) -> str:
    """load_elf_binary's reading of PT_INTERP: 2 to PATH_MAX bytes inside the file, ending
    with its NUL (else ENOEXEC)."""
    if not 2 <= size <= 4096 or offset + size > len(data) or data[offset + size - 1] != 0:
        raise BadProgram(f"{name}: cannot execute: a malformed PT_INTERP (execve: ENOEXEC, "
                         "Exec format error)")
    return data[offset:offset + size - 1].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _check_phdrs(elf: ELFFile, arch: Arch, size: int, name: str) -> None:
    """load_elf_phdrs' checks, made before execve's point of no return: execve fails and
    the program never starts (ENOEXEC, or EIO for a table past the end of the file)."""
    entsize = 56 if arch.elf_class == 64 else 32  # sizeof(struct elf_phdr)
    phnum, phentsize, phoff = elf["e_phnum"], elf["e_phentsize"], elf["e_phoff"]
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


def _symbols(elf: ELFFile) -> dict[int, str]:
    out: dict[int, str] = {}
    try:
        tab = elf.get_section_by_name(".symtab")
        if not isinstance(tab, SymbolTableSection):
            return out
        for sym in tab.iter_symbols():
            if sym["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE") and sym.name \
                    and sym["st_value"] and sym["st_shndx"] != "SHN_UNDEF":
                out.setdefault(sym["st_value"], sym.name)
    except Exception:  # a damaged symbol table only costs names on screen
        return out
    return out

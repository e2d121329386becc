"""The objects a process has loaded, and their symbols: the main program, each ELF file
mapped from a file (libc.so.6, ld-linux-x86-64.so.2, a library a guest maps itself) and the
vDSO. Names for addresses (`puts@libc.so.6+0x1a`, `main+0x10`) and addresses for names
(`b puts`, `b printf@libc.so.6`), as gdb finds them in its list of shared libraries.

Only the process's VMAs say what is loaded: the file mappings grouped by the file they map
(device, inode, path), each group one object, its load bias found from the mapping of the
file's lowest offset and the ELF's program headers. The symbol tables (.dynsym and, when
the file has one, .symtab) are read with pyelftools only when a name is needed, and kept
per file contents, so a step does not read libc's 3,000 symbols again.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import posixpath
import struct
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# How the debugger reads the file behind a mapping: the VFS, or whatever the loader kept.
ReadObject = Callable[[object], "bytes | None"]

# STT_GNU_IFUNC is STT_LOOS to pyelftools
_SYMBOL_TYPES = ("STT_FUNC", "STT_GNU_IFUNC", "STT_LOOS", "STT_OBJECT", "STT_NOTYPE")
_PAGE = 0x1000
_READ_MAX = 256 << 20  # a file larger than this (as mmap's host limit) gives no names
# Named mappings that are no ELF object: /dev/zero, System V shared memory, the vDSO's.
_NOT_OBJECTS = ("anon", "shm", "vvar", "vdso", "stack", "heap")


@dataclass(frozen=True)
class Load:
    """One PT_LOAD: where its bytes are in the file and where they go (before the bias)."""

    vaddr: int
    offset: int
    filesz: int
    memsz: int
    flags: int


class ElfSymbols:
    """One ELF file: its type, PT_LOADs and interpreter, read at once (cheap); its symbols,
    read on first use (libc's take ~80 ms)."""

    def __init__(self, data: bytes):
        from elftools.elf.elffile import ELFFile
        from elftools.elf.segments import InterpSegment

        self._data: bytes | None = data
        elf = ELFFile(io.BytesIO(data))
        self.etype: str = elf["e_type"]
        self.bits: int = elf.elfclass
        loads = []
        self.interp = ""
        for ph in elf.iter_segments():
            if ph["p_type"] == "PT_LOAD":
                loads.append(Load(ph["p_vaddr"], ph["p_offset"], ph["p_filesz"],
                                  ph["p_memsz"], ph["p_flags"]))
            elif isinstance(ph, InterpSegment):
                self.interp = ph.get_interp_name()
        self.loads = tuple(sorted(loads, key=lambda s: s.offset))
        self._table: tuple[list[int], list[int], list[str]] | None = None
        self.plt: dict[int, tuple[str, int]] = {}  # a PLT entry -> ("puts@plt", size)
        self._by_name: dict[str, int] = {}

    def bias(self, start: int, offset: int) -> int | None:
        """The load bias, from one mapping of the file: `start` holds file offset `offset`
        (page aligned), which lies in some PT_LOAD; its vaddr and offset agree modulo the page
        size, so the bias is exact. ET_EXEC: 0, as mapped."""
        for s in self.loads:
            if s.offset - s.offset % _PAGE <= offset < max(s.offset + s.filesz,
                                                           s.offset + 1):
                return start - (s.vaddr + (offset - s.offset))
        return None

    @property
    def span(self) -> tuple[int, int]:
        """The lowest and highest address the PT_LOADs cover, before the bias."""
        if not self.loads:
            return 0, 0
        return (min(s.vaddr for s in self.loads), max(s.vaddr + s.memsz for s in self.loads))

    # -- symbols -----------------------------------------------------------------------
    def table(self) -> tuple[list[int], list[int], list[str]]:
        """Sorted symbol starts (before the bias), their sizes and names: one name per
        address, the plainest of its aliases (`puts`, not `_IO_puts`)."""
        if self._table is None:
            self._read_symbols()
        assert self._table is not None
        return self._table

    def address_of(self, name: str) -> int | None:
        self.table()
        return self._by_name.get(name)

    def _read_symbols(self) -> None:
        best: dict[int, tuple[tuple, str, int]] = {}
        by_name: dict[str, tuple[tuple, int]] = {}
        try:
            for name, value, size, rank in self._symbols():
                key = (rank[0], _plainness(name), rank[1:])
                have = best.get(value)
                if have is None or key < have[0]:
                    best[value] = (key, name, max(size, have[2] if have else 0))
                elif size > have[2]:
                    best[value] = (have[0], have[1], size)
                old = by_name.get(name)
                if old is None or rank < old[0]:
                    by_name[name] = (rank, value)
        except Exception:  # a damaged symbol table costs names on screen, nothing more
            pass
        try:
            self.plt = self._plt_entries()
        except Exception:
            self.plt = {}
        for addr, (name, size) in self.plt.items():
            best.setdefault(addr, ((True, (9, 0, name), ()), name, size))
            by_name.setdefault(name, ((True, 9, 9), addr))
        starts = sorted(best)
        self._table = (starts, [best[a][2] for a in starts], [best[a][1] for a in starts])
        self._by_name = {n: v for n, (_r, v) in by_name.items()}
        self._data = None  # the bytes are not needed any more

    def _plt_entries(self) -> dict[int, tuple[str, int]]:
        """gdb's and objdump's synthetic `puts@plt` names: each PLT entry's indirect jmp
        goes through a GOT slot, and the relocation of that slot names the function (an
        IRELATIVE one only its resolver: `*ABS*+0x9be70@plt`)."""
        from elftools.elf.elffile import ELFFile
        from elftools.elf.relocation import RelocationSection
        from elftools.elf.sections import SymbolTableSection

        if self._data is None:
            return {}
        elf = ELFFile(io.BytesIO(self._data))
        slots: dict[int, str] = {}
        for sec in elf.iter_sections():
            if not isinstance(sec, RelocationSection) or sec.name not in (
                    ".rela.plt", ".rel.plt", ".rela.dyn", ".rel.dyn"):
                continue
            symtab = elf.get_section(sec["sh_link"]) if sec["sh_link"] else None
            for r in sec.iter_relocations():
                n = r["r_info_sym"]
                if n and isinstance(symtab, SymbolTableSection):
                    name = symtab.get_symbol(n).name
                elif sec.is_RELA():
                    name = f"*ABS*+{r['r_addend']:#x}"
                else:
                    continue
                if name:
                    slots.setdefault(r["r_offset"], name)
        got = elf.get_section_by_name(".got.plt") or elf.get_section_by_name(".got")
        got_addr = got["sh_addr"] if got is not None else 0
        out: dict[int, tuple[str, int]] = {}
        for sec_name in (".plt", ".plt.sec", ".plt.got"):
            plt = elf.get_section_by_name(sec_name)
            if plt is None or plt["sh_type"] != "SHT_PROGBITS":
                continue
            data, base = plt.data(), plt["sh_addr"]
            size = plt["sh_entsize"] if plt["sh_entsize"] in (8, 16) else 16
            for e in range(0, len(data) - size + 1, size):
                slot = _jmp_slot(data[e:e + size], base + e, self.bits, got_addr)
                if slot is not None and slot in slots:
                    out[base + e] = (slots[slot] + "@plt", size)
        return out

    def _symbols(self) -> Iterable[tuple[str, int, int, tuple]]:
        """(name, value, size, rank): rank orders the candidates for one name or address:
        a default version before a hidden one (memcpy@@GLIBC_2.14 before memcpy@GLIBC_2.2.5),
        global before weak before local, .dynsym before .symtab."""
        from elftools.elf.elffile import ELFFile
        from elftools.elf.sections import SymbolTableSection

        if self._data is None:
            return
        elf = ELFFile(io.BytesIO(self._data))
        hidden = _hidden_versions(elf)
        for which, section in enumerate((".dynsym", ".symtab")):
            tab = elf.get_section_by_name(section)
            if not isinstance(tab, SymbolTableSection):
                continue
            for i, sym in enumerate(tab.iter_symbols()):
                info = sym["st_info"]
                shndx = sym["st_shndx"]
                name = sym.name
                if not name or info["type"] not in _SYMBOL_TYPES or shndx in (
                        "SHN_UNDEF", "SHN_ABS") or name.startswith(("$", ".L")):
                    continue
                if info["type"] == "STT_NOTYPE" and info["bind"] == "STB_LOCAL" \
                        and not sym["st_size"]:
                    continue  # assembler labels inside functions
                bind = {"STB_GLOBAL": 0, "STB_WEAK": 1}.get(info["bind"], 2)
                rank = (which == 0 and i in hidden, bind, which)
                yield name, sym["st_value"], sym["st_size"], rank


def _jmp_slot(code: bytes, addr: int, bits: int, got: int) -> int | None:
    """The GOT slot a PLT entry jumps through: `jmp [rip + d]` (x86-64, after an endbr64
    or a bnd prefix), `jmp [abs]` or `jmp [ebx + d]` (i386, PIC: ebx holds the GOT)."""
    i = code.find(b"\xff\x25")
    if bits == 64:
        if i < 0 or i + 6 > len(code):
            return None
        return addr + i + 6 + struct.unpack_from("<i", code, i + 2)[0]
    if i >= 0 and i + 6 <= len(code):
        return struct.unpack_from("<I", code, i + 2)[0]
    i = code.find(b"\xff\xa3")
    if i >= 0 and i + 6 <= len(code):
        return (got + struct.unpack_from("<i", code, i + 2)[0]) & 0xFFFFFFFF
    return None


def _hidden_versions(elf) -> set[int]:
    """The .dynsym indexes whose version is not the default (VERSYM_HIDDEN)."""
    sec = elf.get_section_by_name(".gnu.version")
    if sec is None:
        return set()
    data = sec.data()
    fmt = "<" if elf.little_endian else ">"
    n = len(data) // 2
    return {i for i, (v,) in enumerate(struct.iter_unpack(fmt + "H", data[:n * 2]))
            if v & 0x8000}


def _plainness(name: str) -> tuple[int, int, str]:
    """Among aliases, the one a person would write: fewest leading underscores, shortest."""
    return (len(name) - len(name.lstrip("_")), len(name), name)


# Parsed files, by their contents: shared by every session of the process (a restart, the
# tests), never stale when a file is rewritten in place.
_PARSED: OrderedDict[tuple[int, bytes], ElfSymbols | None] = OrderedDict()
_PARSED_MAX = 16


def parse(data: bytes) -> ElfSymbols | None:
    """The file's ElfSymbols, or None for a file that is not a readable ELF."""
    if data[:4] != b"\x7fELF":
        return None
    key = (len(data), hashlib.blake2b(data, digest_size=16).digest())
    if key in _PARSED:
        _PARSED.move_to_end(key)
        return _PARSED[key]
    try:
        parsed: ElfSymbols | None = ElfSymbols(data)
    except Exception:  # pyelftools raises many kinds on a damaged file
        parsed = None
    _PARSED[key] = parsed
    while len(_PARSED) > _PARSED_MAX:
        _PARSED.popitem(last=False)
    return parsed


# -- the objects of one address space -----------------------------------------------------

@dataclass
class LoadedObject:
    """One object in the address space. kind: "main" (the program: plain names), "lib"
    (names qualified with the file's name) or "vdso"."""

    path: str  # the guest path, or "[vdso]"
    kind: str
    vmas: list = field(default_factory=list)  # its file mappings, by address
    start: int = 0
    end: int = 0  # past its last mapping (and the anonymous bss right after it)
    key: tuple = ()
    elf: ElfSymbols | None = None
    bias: int | None = None
    loaded: bool = False  # the ELF was asked for (elf and bias are what was found)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path) or self.path

    def contains(self, addr: int) -> bool:
        return self.start <= addr < self.end


class LoadedObjects:
    """The loaded objects of one address space, kept up to date by `update` (cheap when the
    mappings have not changed) and asked by the screen and the breakpoints."""

    def __init__(self, read_object: ReadObject):
        self.read_object = read_object
        self.objects: list[LoadedObject] = []
        self._signature: tuple | None = None
        self.generation = 0  # counts the changes `update` saw
        self._seen: dict[tuple, int] = {}  # object key -> when first seen: the load order
        self._files: dict[tuple, ElfSymbols | None] = {}  # (dev, inode, path) -> parsed
        self.main_symbols: dict[int, str] = {}
        self._main_addrs: list[int] = []
        self._main_names: list[str] = []
        self.vdso: tuple[int, int, dict[str, int]] | None = None  # base, size, name -> off
        self._vmas: list = []
        self._vma_starts: list[int] = []

    # -- keeping up with the mappings ----------------------------------------------------
    def update(self, vmas: list, *, main: tuple | None = None,
               main_symbols: dict[int, str] | None = None,
               vdso: tuple[int, int, dict[str, int]] | None = None) -> bool:
        """Follow the address space: `vmas` (Mm.vmas), `main` the program's (dev, inode,
        guest path), its symbols (address -> name, already moved by the load bias), and the
        vDSO's (base, size, name -> offset). Returns whether anything changed."""
        sig = (tuple((v.start, v.end, v.offset, v.dev, v.inode, v.name) for v in vmas
                     if v.name), main, id(main_symbols), vdso and vdso[0])
        if sig == self._signature:
            return False
        self._signature = sig
        self.generation += 1
        self._vmas = list(vmas)
        self._vma_starts = [v.start for v in self._vmas]
        self.main_symbols = main_symbols or {}
        self.vdso = vdso
        self.objects = self._group(vmas, main)
        syms = {a: n for a, n in self.main_symbols.items() if n and not n.startswith("$")}
        if syms:  # the program's PLT entries (`puts@plt`), which its .symtab does not name
            for o in self.objects:
                if o.kind == "main" and self.elf_of(o) is not None and o.bias is not None:
                    assert o.elf is not None
                    o.elf.table()
                    for off, (name, _size) in o.elf.plt.items():
                        syms.setdefault(o.bias + off, name)
        self._main_addrs = sorted(syms)
        self._main_names = [syms[a] for a in self._main_addrs]
        return True

    def _group(self, vmas: list, main: tuple | None) -> list[LoadedObject]:
        objs: list[LoadedObject] = []
        current: dict[tuple, LoadedObject] = {}
        last: LoadedObject | None = None
        for v in vmas:
            if not v.name or v.name.startswith("[") or getattr(v, "hidden", False) or \
                    v.kind in _NOT_OBJECTS:
                # the anonymous bss right after an object's last mapping is still its own
                if last is not None and not v.name and v.start == last.end:
                    last.end = v.end
                last = None
                continue
            key = (v.dev, v.inode, v.name)
            o = current.get(key)
            # A mapping of an earlier part of the file is a second copy of it. Two segments
            # may share a page, so the same offset again is the same copy when it follows
            # right on (a PIE's .rodata page, then its .data on that page).
            prev = o.vmas[-1] if o is not None else None
            if o is None or prev is not None and (v.offset < prev.offset or
                                                  v.offset == prev.offset and
                                                  v.start != prev.end):
                o = LoadedObject(v.name, "main" if key == main else "lib", [], v.start,
                                 v.end, key)
                current[key] = o
                objs.append(o)
            o.vmas.append(v)
            o.end = v.end
            last = o
        if self.vdso is not None:
            base, size, _ = self.vdso
            objs.append(LoadedObject("[vdso]", "vdso", [], base, base + size, ("[vdso]",)))
        for o in objs:
            ident = (o.key, o.start)
            if ident not in self._seen:
                self._seen[ident] = len(self._seen)
        # The loader's lookup scope: the program, the libraries as they were loaded (mmap
        # places each below the last), ld.so itself last: the definition the program's own
        # calls bind to (of gdb's locations for a name two objects define, the first), then
        # the vDSO
        self.objects = objs
        interp = self._interp(objs)
        objs.sort(key=lambda o: (o.kind != "main", o.kind == "vdso", o.name == interp,
                                 self._seen[(o.key, o.start)], -o.start))
        return objs

    def _interp(self, objs: list[LoadedObject]) -> str:
        for o in objs:
            if o.kind == "main":
                elf = self.elf_of(o)
                return posixpath.basename(elf.interp) if elf is not None else ""
        return ""

    # -- one object's file ---------------------------------------------------------------
    def elf_of(self, o: LoadedObject) -> ElfSymbols | None:
        """The object's parsed file and bias, read on first use."""
        if o.loaded or o.kind == "vdso":
            return o.elf
        o.loaded = True
        fkey = o.key
        if fkey not in self._files:
            data = None
            try:
                data = self.read_object(o.vmas[0])
            except Exception:  # the file went away: only its names are lost
                data = None
            self._files[fkey] = parse(data) if data else None
        o.elf = self._files[fkey]
        if o.elf is not None:
            first = min(o.vmas, key=lambda v: v.offset)
            o.bias = o.elf.bias(first.start, first.offset)
            if o.bias is not None:
                lo, hi = o.elf.span
                o.end = max(o.end, min(o.bias + hi, self._next_start(o)))
        return o.elf

    def _next_start(self, o: LoadedObject) -> int:
        later = [x.start for x in self.objects if x.start > o.start]
        return min(later, default=1 << 64)

    # -- addresses to names ----------------------------------------------------------------
    def object_at(self, addr: int) -> LoadedObject | None:
        for o in self.objects:
            if o.contains(addr):
                return o
        return None

    def symbol(self, addr: int, vma=None, *, qualify: bool = True) -> tuple[str, int] | None:
        """(name, offset) for `addr`: the nearest symbol at or below it that covers it (its
        size; a symbol with no size: up to the next one, in the same mapping). A library's
        names are qualified (`puts@libc.so.6`); an address in no symbol of a library is
        `libc.so.6` + its offset from the load bias."""
        o = self.object_at(addr)
        if o is None or o.kind == "main" and self._main_addrs:
            return self._main_symbol(addr, vma)
        if o.kind == "vdso":
            return self._vdso_symbol(addr)
        elf = self.elf_of(o)
        if elf is None or o.bias is None:
            return None
        rel = addr - o.bias
        starts, sizes, names = elf.table()
        i = bisect.bisect_right(starts, rel) - 1
        # the program's names stay plain; gdb's own output never qualifies (`<puts+26>`)
        at = "@" + o.name if o.kind != "main" and qualify else ""
        if i >= 0:
            s, size = starts[i], sizes[i]
            if rel < s + size or (size == 0 and self._same_mapping(o, s + o.bias, addr)):
                return names[i] + ("" if names[i].endswith("@plt") else at), rel - s
        return (o.name, rel) if o.kind != "main" and qualify else None

    def _same_mapping(self, o: LoadedObject, a: int, b: int) -> bool:
        return any(v.start <= a < v.end and v.start <= b < v.end for v in o.vmas)

    def _main_symbol(self, addr: int, vma) -> tuple[str, int] | None:
        # As before libraries: the nearest name at or below, inside the same mapping (an
        # address in [heap] is never "_end+0x1234").
        i = bisect.bisect_right(self._main_addrs, addr) - 1
        if i < 0:
            return None
        base = self._main_addrs[i]
        if vma is None:
            j = bisect.bisect_right(self._vma_starts, addr) - 1
            vma = self._vmas[j] if j >= 0 and addr < self._vmas[j].end else None
        if vma is None or not vma.start <= base < vma.end:
            return None
        return self._main_names[i], addr - base

    def _vdso_symbol(self, addr: int) -> tuple[str, int] | None:
        assert self.vdso is not None
        base, _size, names = self.vdso
        best: tuple[int, str] | None = None
        for name, off in names.items():
            a = base + off
            # the __vdso_ name of aliases, as the vDSO's own listing shows it
            if a <= addr and (best is None or a > best[0] or a == best[0] and (
                    not name.startswith("__"), name) < (not best[1].startswith("__"),
                                                        best[1])):
                best = (a, name)
        return (best[1], addr - best[0]) if best is not None else None

    def symbolize(self, addr: int, vma=None) -> str:
        """`puts@libc.so.6+0x1a`, `main+0x10`, or "" for an address no object names."""
        found = self.symbol(addr, vma)
        if found is None:
            return ""
        name, off = found
        return name if off == 0 else f"{name}+{off:#x}"

    def label(self, addr: int) -> str:
        """The symbol starting exactly at `addr`, if any."""
        found = self.symbol(addr, _Everywhere())
        if found is None or found[1] != 0:
            return ""
        o = self.object_at(addr)
        if o is not None and o.kind == "lib" and "@" not in found[0]:
            return ""  # "libc.so.6" itself, at the bias, is no symbol
        return found[0]

    def symbol_start(self, addr: int, vma=None) -> int | None:
        """Where the symbol holding `addr` starts (for a disassembly that must land on
        instruction boundaries)."""
        found = self.symbol(addr, vma)
        if found is None or "@" not in found[0] and self._is_lib(addr):
            return None
        return addr - found[1]

    def _is_lib(self, addr: int) -> bool:
        o = self.object_at(addr)
        return o is not None and o.kind == "lib"

    def object_name(self, addr: int) -> str:
        """The name of the object holding `addr`: "libc.so.6", "[vdso]", the program's."""
        o = self.object_at(addr)
        return o.name if o is not None else ""

    # -- names to addresses ------------------------------------------------------------------
    def lookup(self, name: str) -> int | None:
        """`puts`, `printf@libc.so.6` (`@libc` also: the file name up to `.so`) or
        `puts@plt`: the program's symbols first, then each library in load order, ld.so,
        the vDSO."""
        name, _, where = name.partition("@")
        if not name:
            return None
        if where == "plt" or where.startswith("plt@"):  # `puts@plt`, `free@plt@libc.so.6`
            name, where = name + "@plt", where[4:]
        for o in self.objects:
            if where and not _names_object(o, where):
                continue
            if o.kind == "main" and self.main_symbols:
                for a, n in self.main_symbols.items():
                    if n == name:
                        return a
                if name.endswith("@plt"):
                    for a, n in zip(self._main_addrs, self._main_names, strict=True):
                        if n == name:
                            return a
                continue
            if o.kind == "vdso":
                assert self.vdso is not None
                off = self.vdso[2].get(name)
                if off is not None:
                    return self.vdso[0] + off
                continue
            elf = self.elf_of(o)
            if elf is None or o.bias is None:
                continue
            value = elf.address_of(name)
            if value is not None:
                return o.bias + value
        if not where and not any(o.kind == "main" for o in self.objects):
            # the program's own names, before its mappings are known (an assembly program)
            for a, n in self.main_symbols.items():
                if n == name:
                    return a
        return None

    def names_an_object(self, where: str) -> bool:
        return any(_names_object(o, where) for o in self.objects)

    def dynamic(self) -> bool:
        """Whether the program names a dynamic loader (PT_INTERP): libraries will come."""
        return bool(self._interp(self.objects))


def _names_object(o: LoadedObject, where: str) -> bool:
    return where in (o.path, o.name) or o.name.split(".so", 1)[0] == where


class _Everywhere:
    """A "mapping" that holds every address: a label at a symbol's very start needs none."""

    start = 0
    end = 1 << 64


def vfs_reader(vfs_of: Callable[[], Any], cred_of: Callable[[], Any]) -> ReadObject:
    """read_object over the guest's files: the file at the mapping's path, when it is still
    the file mapped (same device and inode, when the mapping has them)."""
    def read(vma) -> bytes | None:
        from kernel_model.files.inode import FsError

        try:
            lk = vfs_of().resolve(vma.name, cred=cred_of())
            node = lk.existing()
            if vma.inode and (tuple(node.dev), node.ino) != (tuple(vma.dev), vma.inode):
                return None
            f = node.open(0, lk.path, cred_of())  # O_RDONLY
        except (FsError, OSError):
            return None
        try:
            contents = f.mmap_bytes()
            if contents is not None:
                return bytes(contents[0:len(contents)])
            size, parts, got = f.size(), [], 0
            if size > _READ_MAX:
                return None
            while got < size:  # pread may return less (a host file: 1 MiB at a time)
                part = f.pread(None, got, size - got)
                if not part:
                    break
                parts.append(part)
                got += len(part)
            return b"".join(parts)
        except (FsError, OSError):
            return None
        finally:
            f.release()
    return read


# One table a stepping session, kept beside it (the session does not know of it).
_OF_SESSION: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def objects_of(session) -> LoadedObjects:
    """The session's loaded objects, brought up to date with its running process."""
    objs = _OF_SESSION.get(session)
    if objs is None:
        # weakly: a value of a WeakKeyDictionary that held its key would keep it forever
        ref = weakref.ref(session)

        def kernel():
            alive = ref()
            assert alive is not None  # only the live session asks
            return alive.kernel

        objs = LoadedObjects(vfs_reader(lambda: kernel().vfs,
                                        lambda: kernel().process.creds))
        _OF_SESSION[session] = objs
    p = session.kernel.process
    # the running process's own vDSO (an exec'd i386 child has another than the first's)
    loader = getattr(session.system, "loader", None)
    vdso = (loader.vdso_for(p.machine) if loader is not None else None) or session.system.vdso
    objs.update(session.system.mm.vmas, main=(p.exe_dev, p.exe_ino, p.guest_exe),
                main_symbols=p.symbols,
                vdso=(vdso.base, len(vdso.image.data), vdso.image.symbols)
                if vdso is not None else None)
    return objs

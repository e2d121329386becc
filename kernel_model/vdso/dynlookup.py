"""Finding a symbol in a vDSO image the way the C libraries do, from the raw bytes: start at
the ELF header (AT_SYSINFO_EHDR), find PT_LOAD and PT_DYNAMIC, read the dynamic tags, then

- `lookup_musl`: musl 1.2's __vdsosym (src/internal/vdso.c): the symbol count is DT_HASH's
  nchain (so DT_HASH is required, DT_GNU_HASH ignored), a linear scan, then the version check
  against DT_VERDEF;
- `lookup_sysv`: the System V ABI hash walk, bucket[hash % nbucket] then chain[];
- `lookup_gnu`: glibc's DT_GNU_HASH walk (elf/dl-lookup.c): Bloom filter, bucket, then the
  chain until the entry with the low bit set; the version by versym index -> verdef.

All return the symbol's offset in the image (value - the PT_LOAD's vaddr bias) or None."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from kernel_model.vdso.elf_so import elf_hash, gnu_hash

PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_HASH, DT_STRTAB, DT_SYMTAB = 0, 4, 5, 6
DT_GNU_HASH, DT_VERSYM, DT_VERDEF = 0x6FFFFEF5, 0x6FFFFFF0, 0x6FFFFFFC
VER_FLG_BASE = 1
OK_TYPES = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 5)  # NOTYPE OBJECT FUNC COMMON
OK_BINDS = (1 << 1) | (1 << 2) | (1 << 10)  # GLOBAL WEAK GNU_UNIQUE


@dataclass
class _Dyn:
    data: bytes
    b64: bool
    base: int  # image offset of vaddr 0
    tags: dict[int, int]

    def at(self, tag: int) -> int | None:
        v = self.tags.get(tag)
        return None if v is None else self.base + v

    def need(self, tag: int) -> int:
        """at(tag), for a tag the caller has seen present (the lookups check first)."""
        at = self.at(tag)
        assert at is not None, f"dynamic tag {tag:#x} is missing"
        return at

    def sym(self, i: int) -> tuple[int, int, int, int]:
        """(st_name, st_info, st_shndx, st_value) of symbol i."""
        symtab = self.need(DT_SYMTAB)
        if self.b64:
            name, info, _, shndx, value, _ = struct.unpack_from("<IBBHQQ", self.data,
                                                                  symtab + 24 * i)
        else:
            name, value, _, info, _, shndx = struct.unpack_from("<IIIBBH", self.data,
                                                                  symtab + 16 * i)
        return name, info, shndx, value

    def string(self, off: int) -> str:
        start = self.need(DT_STRTAB) + off
        return self.data[start:self.data.index(b"\0", start)].decode()

    def version_ok(self, i: int, version: str | None) -> bool:
        """musl's checkver: the versym index of symbol i names `version` in DT_VERDEF."""
        if version is None or self.at(DT_VERDEF) is None or self.at(DT_VERSYM) is None:
            return True
        vsym = struct.unpack_from("<H", self.data, self.need(DT_VERSYM) + 2 * i)[0] & 0x7FFF
        at = self.need(DT_VERDEF)
        while True:
            _, flags, ndx, _, vhash, aux, nxt = struct.unpack_from("<HHHHIII", self.data, at)
            if not flags & VER_FLG_BASE and (ndx & 0x7FFF) == vsym:
                break
            if nxt == 0:
                return False
            at += nxt
        name_off = struct.unpack_from("<I", self.data, at + aux)[0]
        return self.string(name_off) == version and vhash == elf_hash(version)


def parse(data: bytes) -> _Dyn:
    if data[:4] != b"\x7fELF":
        raise ValueError("not an ELF image")
    b64 = data[4] == 2
    if b64:
        phoff, = struct.unpack_from("<Q", data, 32)
        phentsize, phnum = struct.unpack_from("<HH", data, 54)
    else:
        phoff, = struct.unpack_from("<I", data, 28)
        phentsize, phnum = struct.unpack_from("<HH", data, 42)
    base = None
    dyn_off = None
    for i in range(phnum):
        at = phoff + i * phentsize
        if b64:
            ptype, _, off, vaddr = struct.unpack_from("<IIQQ", data, at)
        else:
            ptype, off, vaddr = struct.unpack_from("<III", data, at)
        if ptype == PT_LOAD:
            base = off - vaddr  # musl: the last PT_LOAD wins
        elif ptype == PT_DYNAMIC:
            dyn_off = off
    if base is None or dyn_off is None:
        raise ValueError("no PT_LOAD or no PT_DYNAMIC")
    tags: dict[int, int] = {}
    fmt, size = ("<qQ", 16) if b64 else ("<iI", 8)
    at = dyn_off
    while True:
        tag, val = struct.unpack_from(fmt, data, at)
        if tag == DT_NULL:
            break
        tags[tag] = val
        at += size
    return _Dyn(data, b64, base, tags)


def _match(d: _Dyn, i: int, name: str, version: str | None) -> int | None:
    st_name, info, shndx, value = d.sym(i)
    if not (1 << (info & 0xF)) & OK_TYPES or not (1 << (info >> 4)) & OK_BINDS:
        return None
    if shndx == 0 or d.string(st_name) != name or not d.version_ok(i, version):
        return None
    return d.base + value


def lookup_musl(data: bytes, name: str, version: str | None = None) -> int | None:
    d = parse(data)
    if d.at(DT_STRTAB) is None or d.at(DT_SYMTAB) is None or d.at(DT_HASH) is None:
        return None  # musl gives up: no vDSO for this process
    nchain = struct.unpack_from("<I", data, d.need(DT_HASH) + 4)[0]
    for i in range(nchain):
        hit = _match(d, i, name, version)
        if hit is not None:
            return hit
    return None


def lookup_sysv(data: bytes, name: str, version: str | None = None) -> int | None:
    d = parse(data)
    table = d.at(DT_HASH)
    if table is None:
        return None
    nbucket, nchain = struct.unpack_from("<II", data, table)
    i = struct.unpack_from("<I", data, table + 8 + 4 * (elf_hash(name) % nbucket))[0]
    seen = 0
    while i != 0 and seen <= nchain:
        hit = _match(d, i, name, version)
        if hit is not None:
            return hit
        i = struct.unpack_from("<I", data, table + 8 + 4 * nbucket + 4 * i)[0]
        seen += 1
    return None


def lookup_gnu(data: bytes, name: str, version: str | None = None) -> int | None:
    d = parse(data)
    table = d.at(DT_GNU_HASH)
    if table is None:
        return None
    nbuckets, symoffset, bloom_size, bloom_shift = struct.unpack_from("<IIII", data, table)
    word_bits = 64 if d.b64 else 32
    h = gnu_hash(name)
    word_fmt = "<Q" if d.b64 else "<I"
    bloom_at = table + 16
    word = struct.unpack_from(word_fmt, data,
                              bloom_at + (word_bits // 8) * ((h // word_bits) % bloom_size))[0]
    mask = (1 << (h % word_bits)) | (1 << ((h >> bloom_shift) % word_bits))
    if word & mask != mask:
        return None  # the Bloom filter says: certainly not here
    buckets_at = bloom_at + (word_bits // 8) * bloom_size
    chain_at = buckets_at + 4 * nbuckets
    i = struct.unpack_from("<I", data, buckets_at + 4 * (h % nbuckets))[0]
    if i == 0:
        return None
    while True:
        ch = struct.unpack_from("<I", data, chain_at + 4 * (i - symoffset))[0]
        if (ch | 1) == (h | 1):
            hit = _match(d, i, name, version)
            if hit is not None:
                return hit
        if ch & 1:
            return None
        i += 1

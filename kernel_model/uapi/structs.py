"""Linux's user-visible structs, packed and unpacked exactly as the kernel lays them out for
each ABI (little-endian; the x86_64 and i386 layouts of include/uapi and arch/x86).

Each struct is a table of (field, format) per ABI. Formats are `struct` module codes plus
two of our own: `W` is the ABI's unsigned word (`unsigned long`: 8 bytes on x86_64, 4 on
i386) and `w` its signed word (`long`). Fields named with a leading underscore are padding
or reserved: packed as zeros, left out of `unpack`'s result.

    from kernel_model.uapi import structs
    data = structs.pack("timespec", "i386", tv_sec=1, tv_nsec=2)   # 8 bytes
    structs.unpack("timespec", "i386", data)     # {"tv_sec": 1, "tv_nsec": 2}
    structs.sizeof("stat", "x86_64")             # 144

`abi` is "x86_64" / "i386" or an `Abi` (its `.name` is used); `structs.TIMESPEC` and the
like are the same functions bound to one struct. "stat" is the ABI's own
`struct stat`: 144 bytes on x86_64, the old 64-byte one on i386 (stat/fstat/lstat);
i386's stat64/fstat64/fstatat64 use "stat64" (96 bytes), whose truncated inode field is
`__st_ino` (pass it as the kernel's cp_stat64 does).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

WORD = {"x86_64": ("Q", "q"), "i386": ("I", "i")}

# -- layouts -------------------------------------------------------------------------------
# Shared by both ABIs unless a struct gives one table per ABI.
_TIMESPEC = (("tv_sec", "w"), ("tv_nsec", "w"))

LAYOUTS: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "timespec": {"*": _TIMESPEC},
    # struct __kernel_timespec, used by the *_time64 calls on i386 (and by x86_64 natively)
    "timespec64": {"*": (("tv_sec", "q"), ("tv_nsec", "q"))},
    "timeval": {"*": (("tv_sec", "w"), ("tv_usec", "w"))},
    "timezone": {"*": (("tz_minuteswest", "i"), ("tz_dsttime", "i"))},
    # arch/x86/include/uapi/asm/stat.h
    "stat": {
        "x86_64": (
            ("st_dev", "Q"), ("st_ino", "Q"), ("st_nlink", "Q"), ("st_mode", "I"),
            ("st_uid", "I"), ("st_gid", "I"), ("_pad0", "4x"), ("st_rdev", "Q"),
            ("st_size", "q"), ("st_blksize", "q"), ("st_blocks", "q"),
            ("st_atime", "Q"), ("st_atime_nsec", "Q"), ("st_mtime", "Q"),
            ("st_mtime_nsec", "Q"), ("st_ctime", "Q"), ("st_ctime_nsec", "Q"),
            ("_unused", "24x"),
        ),
        # the old i386 struct stat (stat, fstat, lstat on i386)
        "i386": (
            ("st_dev", "I"), ("st_ino", "I"), ("st_mode", "H"), ("st_nlink", "H"),
            ("st_uid", "H"), ("st_gid", "H"), ("st_rdev", "I"), ("st_size", "I"),
            ("st_blksize", "I"), ("st_blocks", "I"), ("st_atime", "I"),
            ("st_atime_nsec", "I"), ("st_mtime", "I"), ("st_mtime_nsec", "I"),
            ("st_ctime", "I"), ("st_ctime_nsec", "I"), ("_unused", "8x"),
        ),
    },
    # i386 struct stat64 (packed: st_size sits at offset 44)
    "stat64": {"*": (
        ("st_dev", "Q"), ("_pad0", "4x"), ("__st_ino", "I"), ("st_mode", "I"),
        ("st_nlink", "I"), ("st_uid", "I"), ("st_gid", "I"), ("st_rdev", "Q"),
        ("_pad3", "4x"), ("st_size", "q"), ("st_blksize", "I"), ("st_blocks", "Q"),
        ("st_atime", "I"), ("st_atime_nsec", "I"), ("st_mtime", "I"),
        ("st_mtime_nsec", "I"), ("st_ctime", "I"), ("st_ctime_nsec", "I"), ("st_ino", "Q"),
    )},
    # include/uapi/linux/stat.h: the same 256 bytes for every ABI
    "statx": {"*": (
        ("stx_mask", "I"), ("stx_blksize", "I"), ("stx_attributes", "Q"),
        ("stx_nlink", "I"), ("stx_uid", "I"), ("stx_gid", "I"), ("stx_mode", "H"),
        ("_spare0", "2x"), ("stx_ino", "Q"), ("stx_size", "Q"), ("stx_blocks", "Q"),
        ("stx_attributes_mask", "Q"),
        ("stx_atime_sec", "q"), ("stx_atime_nsec", "I"), ("_atime_reserved", "4x"),
        ("stx_btime_sec", "q"), ("stx_btime_nsec", "I"), ("_btime_reserved", "4x"),
        ("stx_ctime_sec", "q"), ("stx_ctime_nsec", "I"), ("_ctime_reserved", "4x"),
        ("stx_mtime_sec", "q"), ("stx_mtime_nsec", "I"), ("_mtime_reserved", "4x"),
        ("stx_rdev_major", "I"), ("stx_rdev_minor", "I"),
        ("stx_dev_major", "I"), ("stx_dev_minor", "I"),
        ("stx_mnt_id", "Q"), ("stx_dio_mem_align", "I"), ("stx_dio_offset_align", "I"),
        ("stx_subvol", "Q"), ("stx_atomic_write_unit_min", "I"),
        ("stx_atomic_write_unit_max", "I"), ("stx_atomic_write_segments_max", "I"),
        ("stx_dio_read_offset_align", "I"), ("_spare2", "8x"), ("_spare3", "64x"),
    )},
    "utsname": {"*": tuple((name, "65s") for name in (
        "sysname", "nodename", "release", "version", "machine", "domainname"))},
    # include/uapi/linux/sysinfo.h: the kernel's long/ulong, so the layout follows the ABI
    "sysinfo": {
        "x86_64": (
            ("uptime", "q"), ("loads", "3Q"), ("totalram", "Q"), ("freeram", "Q"),
            ("sharedram", "Q"), ("bufferram", "Q"), ("totalswap", "Q"), ("freeswap", "Q"),
            ("procs", "H"), ("_pad", "6x"), ("totalhigh", "Q"), ("freehigh", "Q"),
            ("mem_unit", "I"), ("_f", "4x"),
        ),
        "i386": (
            ("uptime", "i"), ("loads", "3I"), ("totalram", "I"), ("freeram", "I"),
            ("sharedram", "I"), ("bufferram", "I"), ("totalswap", "I"), ("freeswap", "I"),
            ("procs", "H"), ("_pad", "2x"), ("totalhigh", "I"), ("freehigh", "I"),
            ("mem_unit", "I"), ("_f", "8x"),
        ),
    },
    "tms": {"*": (("tms_utime", "w"), ("tms_stime", "w"), ("tms_cutime", "w"),
                  ("tms_cstime", "w"))},
    "rlimit": {"*": (("rlim_cur", "W"), ("rlim_max", "W"))},
    "rlimit64": {"*": (("rlim_cur", "Q"), ("rlim_max", "Q"))},
    # struct sigaction as the kernel reads it (rt_sigaction): the mask is 64 bits on both
    # ABIs (two 32-bit words on i386, which are one little-endian 64-bit value).
    "sigaction": {"*": (("sa_handler", "W"), ("sa_flags", "W"), ("sa_restorer", "W"),
                        ("sa_mask", "Q"))},
    # i386's old sigaction (number 67): a 32-bit mask, before the flags
    "old_sigaction": {"i386": (("sa_handler", "I"), ("sa_mask", "I"), ("sa_flags", "I"),
                               ("sa_restorer", "I"))},
    "stack_t": {
        "x86_64": (("ss_sp", "Q"), ("ss_flags", "i"), ("_pad", "4x"), ("ss_size", "Q")),
        "i386": (("ss_sp", "I"), ("ss_flags", "i"), ("ss_size", "I")),
    },
    "iovec": {"*": (("iov_base", "W"), ("iov_len", "W"))},
    # asm/ldt.h; the flag bits are unpacked into their own fields (BITFIELDS below)
    "user_desc": {"*": (("entry_number", "I"), ("base_addr", "I"), ("limit", "I"),
                        ("flags", "I"))},
    "winsize": {"*": (("ws_row", "H"), ("ws_col", "H"), ("ws_xpixel", "H"),
                      ("ws_ypixel", "H"))},
    # the kernel's struct termios (TCGETS): 36 bytes, not glibc's 60
    "termios": {"*": (("c_iflag", "I"), ("c_oflag", "I"), ("c_cflag", "I"), ("c_lflag", "I"),
                      ("c_line", "B"), ("c_cc", "19s"))},
    # pointed-to scalars (strace prints them in brackets): ioctl's int, _llseek's result,
    # arch_prctl(ARCH_GET_FS)'s base, pipe's two fds
    "int": {"*": (("value", "i"),)},
    # struct statfs (asm-generic/statfs.h: __statfs_word is long on both ABIs, but i386's
    # f_fsid words are ints too) and i386's struct statfs64 (packed to 4: 84 bytes)
    "statfs": {
        "x86_64": (
            ("f_type", "q"), ("f_bsize", "q"), ("f_blocks", "Q"), ("f_bfree", "Q"),
            ("f_bavail", "Q"), ("f_files", "Q"), ("f_ffree", "Q"), ("f_fsid", "2i"),
            ("f_namelen", "q"), ("f_frsize", "q"), ("f_flags", "q"), ("_spare", "32x"),
        ),
        "i386": (
            ("f_type", "I"), ("f_bsize", "I"), ("f_blocks", "I"), ("f_bfree", "I"),
            ("f_bavail", "I"), ("f_files", "I"), ("f_ffree", "I"), ("f_fsid", "2i"),
            ("f_namelen", "I"), ("f_frsize", "I"), ("f_flags", "I"), ("_spare", "16x"),
        ),
    },
    "statfs64": {"*": (
        ("f_type", "I"), ("f_bsize", "I"), ("f_blocks", "Q"), ("f_bfree", "Q"),
        ("f_bavail", "Q"), ("f_files", "Q"), ("f_ffree", "Q"), ("f_fsid", "2i"),
        ("f_namelen", "I"), ("f_frsize", "I"), ("f_flags", "I"), ("_spare", "16x"),
    )},
    # utimensat's and utimes's two times, utime's struct utimbuf
    "timespec_pair": {"*": (("atime_sec", "w"), ("atime_nsec", "w"), ("mtime_sec", "w"),
                            ("mtime_nsec", "w"))},
    "timespec64_pair": {"*": (("atime_sec", "q"), ("atime_nsec", "q"), ("mtime_sec", "q"),
                              ("mtime_nsec", "q"))},
    "timeval_pair": {"*": (("atime_sec", "w"), ("atime_usec", "w"), ("mtime_sec", "w"),
                           ("mtime_usec", "w"))},
    "utimbuf": {"*": (("actime", "w"), ("modtime", "w"))},
    "uint": {"*": (("value", "I"),)},
    "ushort": {"*": (("value", "H"),)},  # i386's 16-bit uid_t (getresuid)
    "loff_t": {"*": (("value", "q"),)},
    "kptr": {"*": (("value", "W"),)},
    "time_t": {"*": (("value", "w"),)},  # time()'s out pointer: the ABI's signed word
    "int_pair": {"*": (("first", "i"), ("second", "i"))},
    "linux_dirent64_header": {"*": (("d_ino", "Q"), ("d_off", "q"), ("d_reclen", "H"),
                                    ("d_type", "B"))},
}

# Bit fields packed into one word: struct -> (word field, ((name, width), ...) low bit first).
BITFIELDS: dict[str, tuple[str, tuple[tuple[str, int], ...]]] = {
    "user_desc": ("flags", (("seg_32bit", 1), ("contents", 2), ("read_exec_only", 1),
                            ("limit_in_pages", 1), ("seg_not_present", 1), ("useable", 1),
                            ("lm", 1))),
}


# -- the machinery ---------------------------------------------------------------------------
_CODE = re.compile(r"(\d*)([a-zA-Z])")


def _abi_name(abi) -> str:
    return getattr(abi, "name", abi)


@dataclass(frozen=True)
class Layout:
    """One struct for one ABI: its `struct` format and how many values each field takes."""

    name: str
    abi: str
    fields: tuple[tuple[str, str], ...]
    fmt: str = field(init=False)
    size: int = field(init=False)
    counts: tuple[int, ...] = field(init=False)
    kinds: tuple[str, ...] = field(init=False)  # each field's struct code letter

    def __post_init__(self):
        unsigned, signed = WORD[self.abi]
        codes = [f.replace("W", unsigned).replace("w", signed) for _, f in self.fields]
        counts, kinds = [], []
        for code in codes:
            n, kind = _CODE.fullmatch(code).groups()
            counts.append(0 if kind == "x" else 1 if kind in "sp" else int(n or 1))
            kinds.append(kind)
        object.__setattr__(self, "fmt", "<" + "".join(codes))
        object.__setattr__(self, "size", struct.calcsize(self.fmt))
        object.__setattr__(self, "counts", tuple(counts))
        object.__setattr__(self, "kinds", tuple(kinds))

    def offsetof(self, name: str) -> int:
        """Where field `name` starts (the C offsetof)."""
        prefix: list[str] = []
        for field_name, _ in self.fields:
            if field_name == name:
                return struct.calcsize("<" + "".join(prefix))
            prefix.append(self.fmt_of(field_name))
        raise KeyError(name)

    def fmt_of(self, name: str) -> str:
        unsigned, signed = WORD[self.abi]
        return dict(self.fields)[name].replace("W", unsigned).replace("w", signed)

    def pack(self, **values) -> bytes:
        values = _join_bits(self.name, values)
        flat = []
        for (name, _), count, kind in zip(self.fields, self.counts, self.kinds, strict=True):
            value = values.pop(name, None)
            if count == 1:
                flat.append(_wrap(value, kind) if value is not None else _zero(self, name))
            elif count > 1:
                flat.extend(_wrap(v, kind) for v in (value if value is not None
                                                      else (0,) * count))
        if any(not k.startswith("_") for k in values):
            raise TypeError(f"{self.name}: no field(s) {sorted(values)}")
        return struct.pack(self.fmt, *flat)

    def unpack(self, data: bytes) -> dict:
        flat = iter(struct.unpack(self.fmt, bytes(data[:self.size])))
        out = {}
        for (name, _), count in zip(self.fields, self.counts, strict=True):
            value = tuple(next(flat) for _ in range(count)) if count != 1 else next(flat)
            if not name.startswith("_"):
                out[name] = value
        return _split_bits(self.name, out)


_INT_BITS = {"b": 8, "B": 8, "h": 16, "H": 16, "i": 32, "I": 32, "q": 64, "Q": 64}


def _wrap(value, kind: str):
    """Cut an integer to the field's width, as C's assignment does: register values are
    unsigned, so -1 may arrive as 0xffffffff (or the reverse)."""
    bits = _INT_BITS.get(kind)
    if bits is None or not isinstance(value, int):
        return value
    value &= (1 << bits) - 1
    if kind.islower() and value >> (bits - 1):
        value -= 1 << bits
    return value


def _zero(layout: Layout, name: str):
    code = dict(layout.fields)[name]
    return b"" if code.endswith("s") else 0


def _join_bits(name: str, values: dict) -> dict:
    values = dict(values)
    if name in BITFIELDS and any(k in values for k, _ in BITFIELDS[name][1]):
        word, bits = BITFIELDS[name]
        packed, shift = values.get(word, 0), 0
        for bit_name, width in bits:
            packed |= (values.pop(bit_name, 0) & ((1 << width) - 1)) << shift
            shift += width
        values[word] = packed
    return values


def _split_bits(name: str, values: dict) -> dict:
    if name in BITFIELDS:
        word, bits = BITFIELDS[name]
        packed, shift = values[word], 0
        for bit_name, width in bits:
            values[bit_name] = (packed >> shift) & ((1 << width) - 1)
            shift += width
    return values


_CACHE: dict[tuple[str, str], Layout] = {}


def layout(name: str, abi) -> Layout:
    abi = _abi_name(abi)
    key = (name, abi)
    if key not in _CACHE:
        tables = LAYOUTS[name]
        fields = tables.get(abi) or tables.get("*")
        if fields is None:
            raise KeyError(f"struct {name} has no {abi} layout")
        _CACHE[key] = Layout(name, abi, fields)
    return _CACHE[key]


def sizeof(name: str, abi) -> int:
    return layout(name, abi).size


def offsetof(name: str, abi, field_name: str) -> int:
    return layout(name, abi).offsetof(field_name)


def pack(name: str, abi, **values) -> bytes:
    """The struct's bytes; fields not given are 0 (strings: NULs)."""
    return layout(name, abi).pack(**values)


def unpack(name: str, abi, data: bytes) -> dict:
    """The struct's fields by name (arrays as tuples, char arrays as bytes)."""
    return layout(name, abi).unpack(data)


def has(name: str, abi) -> bool:
    tables = LAYOUTS.get(name, {})
    return _abi_name(abi) in tables or "*" in tables


class Struct:
    """One struct by name, for both ABIs: `TIMESPEC.pack("i386", tv_sec=1, tv_nsec=2)`."""

    def __init__(self, name: str):
        self.name = name

    def size(self, abi) -> int:
        return sizeof(self.name, abi)

    def pack(self, abi, **values) -> bytes:
        return pack(self.name, abi, **values)

    def unpack(self, abi, data: bytes) -> dict:
        return unpack(self.name, abi, data)

    def __repr__(self) -> str:
        return f"Struct({self.name!r})"


TIMESPEC, TIMESPEC64, TIMEVAL = Struct("timespec"), Struct("timespec64"), Struct("timeval")
STAT, STAT64, STATX = Struct("stat"), Struct("stat64"), Struct("statx")
UTSNAME, SYSINFO, TMS = Struct("utsname"), Struct("sysinfo"), Struct("tms")
RLIMIT, RLIMIT64 = Struct("rlimit"), Struct("rlimit64")
SIGACTION, STACK_T, IOVEC = Struct("sigaction"), Struct("stack_t"), Struct("iovec")
USER_DESC, WINSIZE, TERMIOS = Struct("user_desc"), Struct("winsize"), Struct("termios")

# Sizes per ABI.
SIZES: dict[str, dict[str, int]] = {
    name: {abi: sizeof(name, abi) for abi in WORD if has(name, abi)} for name in LAYOUTS
}
TIMESPEC_SIZE = SIZES["timespec"]          # x86_64 16, i386 8
TIMESPEC64_SIZE = 16
TIMEVAL_SIZE = SIZES["timeval"]            # 16, 8
STAT_SIZE = SIZES["stat"]                  # 144, 64 (the old i386 struct stat)
STAT64_SIZE = 96
STATX_SIZE = 256
UTSNAME_SIZE = 390
UTSNAME_FIELD = 65
SYSINFO_SIZE = SIZES["sysinfo"]            # 112, 64
TMS_SIZE = SIZES["tms"]                    # 32, 16
RLIMIT_SIZE = SIZES["rlimit"]              # 16, 8
RLIMIT64_SIZE = 16
SIGACTION_SIZE = SIZES["sigaction"]        # 32, 20
STACK_T_SIZE = SIZES["stack_t"]            # 24, 12
IOVEC_SIZE = SIZES["iovec"]                # 16, 8
USER_DESC_SIZE = 16
WINSIZE_SIZE = 8
TERMIOS_SIZE = 36


# -- directory entries (variable length) ----------------------------------------------------
DIRENT64_HEADER = 19  # d_ino, d_off, d_reclen, d_type: the name starts here


def dirent64_reclen(name: bytes | str) -> int:
    """linux_dirent64's d_reclen: header + name + NUL, rounded up to 8 bytes."""
    raw = name.encode() if isinstance(name, str) else name
    return (DIRENT64_HEADER + len(raw) + 1 + 7) & ~7


def pack_dirent64(d_ino: int, d_off: int, d_type: int, name: bytes | str) -> bytes:
    """One struct linux_dirent64 as getdents64 writes it, NUL-padded to d_reclen."""
    raw = name.encode() if isinstance(name, str) else name
    reclen = dirent64_reclen(raw)
    head = pack("linux_dirent64_header", "x86_64", d_ino=d_ino, d_off=d_off,
                d_reclen=reclen, d_type=d_type)
    return (head + raw).ljust(reclen, b"\0")


def unpack_dirents64(data: bytes) -> list[dict]:
    """All entries of a getdents64 buffer: d_ino, d_off, d_reclen, d_type, d_name (bytes)."""
    out, pos = [], 0
    while pos + DIRENT64_HEADER <= len(data):
        entry = unpack("linux_dirent64_header", "x86_64", data[pos:pos + DIRENT64_HEADER])
        if entry["d_reclen"] < DIRENT64_HEADER:
            break
        name = data[pos + DIRENT64_HEADER:pos + entry["d_reclen"]]
        entry["d_name"] = name.split(b"\0", 1)[0]
        out.append(entry)
        pos += entry["d_reclen"]
    return out


# d_type values (include/linux/fs_types.h)
DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK = 0, 1, 2, 4, 6, 8, 10, 12

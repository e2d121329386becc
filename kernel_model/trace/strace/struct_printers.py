"""Structs and signal sets as strace prints them without -v (one printer per struct)."""

from __future__ import annotations

from typing import Callable

from kernel_model.trace.strace.quote import quote
from kernel_model.trace.strace.statfs_text import statfs_text
from kernel_model.trace.strace.values import BITS, abi_name, addr_text
from kernel_model.uapi import constants as C
from kernel_model.uapi import structs as S
from kernel_model.uapi.constants import chex


def sigset_text(data: bytes) -> str:
    """A sigset as strace prints it: [INT TERM], [] or, when 2/3 or more of the bits are
    set, the complement: ~[RTMIN RT_1] (sprintsigmask_n)."""
    words = (min(len(data), C.NSIG_BYTES) + 3) // 4
    bits = words * 32
    mask = int.from_bytes(data[:words * 4].ljust(words * 4, b"\0"), "little")
    prefix = ""
    if bin(mask).count("1") >= bits * 2 // 3:
        mask, prefix = ~mask & ((1 << bits) - 1), "~"
    names = []
    for bit in range(bits):
        if mask >> bit & 1:
            signo = bit + 1
            name = C.signal_name(signo)
            names.append(name[3:] if name else str(signo))
    return f"{prefix}[{' '.join(names)}]"


# -- struct printers ------------------------------------------------------------------------
def _c0x(value: int, width: int) -> str:
    """C's "%#0<width>x" (strace's PRINT_FIELD_0X): 0x0fffff, 00000000 for zero."""
    if value == 0:
        return "0" * width
    return "0x" + format(value, "x").zfill(width - 2)


def _makedev(dev: int) -> str:
    major = ((dev >> 32) & 0xFFFFF000) | ((dev >> 8) & 0xFFF)
    minor = ((dev >> 12) & 0xFFFFFF00) | (dev & 0xFF)
    return f"makedev({chex(major)}, {chex(minor)})"


def _cstring_field(raw: bytes) -> str:
    """A char[N] struct field (PRINT_FIELD_CSTRING): up to N-1 bytes, "..." if no NUL."""
    text = quote(raw[:len(raw) - 1].split(b"\0", 1)[0])
    return text if b"\0" in raw[:len(raw) - 1] else text + "..."


def _fields(*pairs: tuple[str, str]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in pairs) + "}"


def _timespec(f: dict, abi: str) -> str:
    return _fields(("tv_sec", f["tv_sec"]), ("tv_nsec", f["tv_nsec"]))


def _timeval(f: dict, abi: str) -> str:
    return _fields(("tv_sec", f["tv_sec"]), ("tv_usec", f["tv_usec"]))


def _timezone(f: dict, abi: str) -> str:
    return _fields(("tz_minuteswest", f["tz_minuteswest"]), ("tz_dsttime", f["tz_dsttime"]))


def _stat(f: dict, abi: str) -> str:
    """The abbreviated struct stat strace prints without -v."""
    mode = f["st_mode"]
    kind = mode & C.S_IFMT
    last = (("st_rdev", _makedev(f["st_rdev"])) if kind in (0o020000, 0o060000)
            else ("st_size", f["st_size"]))
    return "{" + f"st_mode={C.mode_text(mode)}, {last[0]}={last[1]}, ...}}"


def _statx(f: dict, abi: str) -> str:
    return "{" + ", ".join((
        f"stx_mask={C.flags_text('statx_mask', f['stx_mask'])}",
        f"stx_attributes={C.flags_text('statx_attrs', f['stx_attributes'])}",
        f"stx_mode={C.mode_text(f['stx_mode'])}",
        f"stx_size={f['stx_size']}",
        "...}"))


def _utsname(f: dict, abi: str) -> str:
    return _fields(("sysname", _cstring_field(f["sysname"])),
                   ("nodename", _cstring_field(f["nodename"])))[:-1] + ", ...}"


def _sysinfo(f: dict, abi: str) -> str:
    loads = "[" + ", ".join(str(x) for x in f["loads"]) + "]"
    names = ("uptime", "loads", "totalram", "freeram", "sharedram", "bufferram", "totalswap",
             "freeswap", "procs", "totalhigh", "freehigh", "mem_unit")
    return _fields(*((n, loads if n == "loads" else f[n]) for n in names))


def _tms(f: dict, abi: str) -> str:
    mask = (1 << BITS[abi]) - 1  # clock_t is printed zero-extended
    return _fields(*((n, f[n] & mask) for n in ("tms_utime", "tms_stime", "tms_cutime",
                                                "tms_cstime")))


def _rlim(value: int, bits: int) -> str:
    if value == (1 << bits) - 1:
        return "RLIM64_INFINITY" if bits == 64 else "RLIM_INFINITY"
    if value > 1024 and value % 1024 == 0:
        return f"{value // 1024}*1024"
    return str(value)


def _rlimit(f: dict, abi: str) -> str:
    bits = BITS[abi]  # struct rlimit has the ABI's word: i386 prints RLIM_INFINITY
    return _fields(("rlim_cur", _rlim(f["rlim_cur"], bits)),
                   ("rlim_max", _rlim(f["rlim_max"], bits)))


def _rlimit64(f: dict, abi: str) -> str:
    return _fields(("rlim_cur", _rlim(f["rlim_cur"], 64)), ("rlim_max", _rlim(f["rlim_max"], 64)))


def _sa_handler(handler: int) -> str:
    return C.ENUM_SETS["sa_handler"].values.get(handler) or addr_text(handler)


def _sigaction(f: dict, abi: str) -> str:
    pairs = [("sa_handler", _sa_handler(f["sa_handler"])),
             ("sa_mask", sigset_text(f["sa_mask"].to_bytes(8, "little"))),
             ("sa_flags", C.flags_text("sa", f["sa_flags"]))]
    if f["sa_flags"] & C.SA_RESTORER:
        pairs.append(("sa_restorer", addr_text(f["sa_restorer"])))
    return _fields(*pairs)


def _stack_t(f: dict, abi: str) -> str:
    return _fields(("ss_sp", addr_text(f["ss_sp"])),
                   ("ss_flags", C.flags_text("ss", f["ss_flags"])), ("ss_size", f["ss_size"]))


def _entry_number(value: int) -> str:
    return "-1" if value == 0xFFFFFFFF else str(value)  # PRINT_FIELD_ID


def _user_desc(f: dict, abi: str) -> str:
    pairs = [("entry_number", _entry_number(f["entry_number"])),
             ("base_addr", _c0x(f["base_addr"], 8)), ("limit", _c0x(f["limit"], 8))]
    pairs += [(n, f[n]) for n in ("seg_32bit", "contents", "read_exec_only", "limit_in_pages",
                                  "seg_not_present", "useable")]
    if abi == "x86_64":
        pairs.append(("lm", f["lm"]))  # strace shows lm to 64-bit processes only
    return _fields(*pairs)


def _winsize(f: dict, abi: str) -> str:
    return _fields(*((n, f[n]) for n in ("ws_row", "ws_col", "ws_xpixel", "ws_ypixel")))


def _termios(f: dict, abi: str) -> str:
    return "{" + ", ".join((
        f"c_iflag={C.flags_text('termios_iflag', f['c_iflag'])}",
        f"c_oflag={C.termios_oflag_text(f['c_oflag'])}",
        f"c_cflag={C.termios_cflag_text(f['c_cflag'])}",
        f"c_lflag={C.flags_text('termios_lflag', f['c_lflag'])}",
        "...}"))


def _number(f: dict, abi: str) -> str:
    return f"[{f['value']}]"


def _pointer(f: dict, abi: str) -> str:
    return f"[{chex(f['value'])}]"


def _int_pair(f: dict, abi: str) -> str:
    return f"[{f['first']}, {f['second']}]"


STRUCT_TEXT: dict[str, Callable[[dict, str], str]] = {
    "timespec": _timespec, "timespec64": _timespec, "timeval": _timeval,
    "timezone": _timezone, "stat": _stat, "stat64": _stat, "statx": _statx,
    "utsname": _utsname, "sysinfo": _sysinfo, "tms": _tms, "rlimit": _rlimit,
    "rlimit64": _rlimit64, "sigaction": _sigaction, "old_sigaction": _sigaction,
    "stack_t": _stack_t,
    "user_desc": _user_desc, "winsize": _winsize, "termios": _termios,
    # pointed-to scalars, shown in brackets: [0], [1234], [0x7f...], [3, 4]
    "int": _number, "uint": _number, "ushort": _number, "loff_t": _number, "time_t": _number,
    "kptr": _pointer,
    "int_pair": _int_pair,
    "statfs": statfs_text, "statfs64": statfs_text,
}


def struct_text(name: str, abi, mem, addr: int) -> str:
    """The struct at `addr` as strace prints it; NULL, or the address if unreadable."""
    abi = abi_name(abi)
    if addr == 0:
        return "NULL"
    if not S.has(name, abi):
        return addr_text(addr)
    try:
        data = mem.read(addr, S.sizeof(name, abi))
    except Exception:
        return addr_text(addr)
    fields = S.unpack(name, abi, data)
    printer = STRUCT_TEXT.get(name)
    if printer is None:  # a struct with no strace printer of ours: all fields, in order
        return _fields(*fields.items())
    return printer(fields, abi)

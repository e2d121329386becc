"""The strace decoder: syscall arguments and results as strace 6.1 prints them.

Pure functions; the kernel model calls them around each trap:

    texts = decode_entry(sdef, abi, args, mem)          # in-args; out-args are None
    ... the handler runs ...
    texts = decode_exit(sdef, abi, args, ret, mem, texts)
    line = format_line(format_call(sdef.name, texts), ret, sdef.ret, abi)

`mem` is anything with `read(addr, size) -> bytes` and `read_cstring(addr, limit) -> bytes`
(the bytes before the first NUL, at most `limit` of them) that raise for a bad address.
`abi` is an `Abi` or its name ("x86_64" / "i386").

The rules are strace's own (src/util.c printstr_ex/string_quote, xlat.c printflags, the
per-syscall decoders), checked against strace 6.1 on Linux 6.18: see
tests/test_strace_format.py. An argument's text is "" (OMITTED) when strace leaves that
argument out for these values (openat's mode without O_CREAT, fcntl(F_GETFD)'s third).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from kernel_model.syscalls import argkinds as K
from kernel_model.uapi import constants as C
from kernel_model.uapi import structs as S
from kernel_model.uapi.constants import chex, coct
from kernel_model.uapi.errnos import ERRNOS

OMITTED = ""  # an argument strace does not print (format_call skips it)
PATH_MAX = 4096
MAX_ERRNO = 4095


# -- result and argument texts that carry strace's decoration of the return value ----------
class ArgTexts(list):
    """decode_exit's result: the argument texts, plus `ret_aux`, strace's note after the
    return value (fcntl F_GETFL's "flags O_RDONLY"), and `ret_kind` when this call's value
    is shown in another base than its declaration says (F_GETFL: hex; umask: octal).
    format_call passes both on to format_line."""

    ret_aux: str | None = None
    ret_kind: str | None = None


class CallText(str):
    """format_call's result: `name(args)`, carrying ArgTexts' return decoration."""

    ret_aux: str | None = None
    ret_kind: str | None = None


# -- small values ---------------------------------------------------------------------------
_BITS = {"x86_64": 64, "i386": 32}


def _abi_name(abi) -> str:
    return getattr(abi, "name", abi)


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def addr_text(addr: int) -> str:
    """strace's printaddr: NULL or 0x7ffd...."""
    return "NULL" if addr == 0 else f"{addr:#x}"


def is_error(ret: int | None) -> bool:
    return ret is not None and -MAX_ERRNO <= ret < 0


# strace's names where they differ from errnos.py's (which has the C library's aliases).
# Kernel-internal "restart" errors: strace prints "? ERESTARTSYS (...)" instead of "-1 ...".
_RESTART_ERRORS = {
    512: ("ERESTARTSYS", "To be restarted if SA_RESTART is set"),
    513: ("ERESTARTNOINTR", "To be restarted"),
    514: ("ERESTARTNOHAND", "To be restarted if no handler"),
    516: ("ERESTART_RESTARTBLOCK", "Interrupted by signal"),
}


def errno_text(errno: int) -> str:
    """What strace prints after "= " for a failed call: "-1 ENOENT (No such file or
    directory)", "? ERESTARTSYS (To be restarted if SA_RESTART is set)"."""
    if errno in _RESTART_ERRORS:
        name, message = _RESTART_ERRORS[errno]
        return f"? {name} ({message})"
    name, message = ERRNOS.get(errno, (f"E?{errno}", f"Unknown error {errno}"))
    return f"-1 {name} ({message})"


# -- strings (strace's string_quote and printstr_ex) ----------------------------------------
_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\f"): "\\f", ord("\n"): "\\n",
            ord("\r"): "\\r", ord("\t"): "\\t", ord("\v"): "\\v"}


def quote(data: bytes, *, omit_trailing_nul: bool = False, force_hex: bool = False) -> str:
    """Quote bytes as strace does (no -x): printable ASCII as is, C escapes for \\t \\n etc.,
    the rest in octal (\\0, \\33, \\377; three digits when a digit 0-7 follows, so the
    text stays unambiguous); getrandom's bytes all in hex (`force_hex`)."""
    out = ['"']
    size = len(data)
    for i, c in enumerate(data):
        if force_hex:
            out.append(f"\\x{c:02x}")
        elif omit_trailing_nul and i == size - 1 and c == 0:
            break
        elif c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif 0x20 <= c <= 0x7E:
            out.append(chr(c))
        elif i + 1 < size and 0x30 <= data[i + 1] <= 0x37:
            out.append(f"\\{c:03o}")
        else:
            out.append(f"\\{c:o}")
    out.append('"')
    return "".join(out)


def str_text(mem, addr: int, length: int, limit: int, *, force_hex: bool = False,
             omit_trailing_nul: bool = False) -> str:
    """A buffer of `length` bytes at `addr` (strace's printstrn): at most `limit` of them,
    then "..." after the closing quote when there were more."""
    if addr == 0:
        return "NULL"
    try:
        data = mem.read(addr, min(limit + 1, length))
    except Exception:
        return addr_text(addr)
    text = quote(data[:limit], force_hex=force_hex, omit_trailing_nul=omit_trailing_nul)
    return text + "..." if length > limit else text


def cstr_text(mem, addr: int, limit: int) -> str:
    """A NUL-terminated string, cut at `limit` bytes with "..." (strace's printstr)."""
    if addr == 0:
        return "NULL"
    try:
        data = mem.read_cstring(addr, limit + 1)
    except Exception:
        return addr_text(addr)
    text = quote(data[:limit])
    return text + "..." if len(data) > limit else text


def path_text(mem, addr: int, n: int = PATH_MAX - 1) -> str:
    """A path: printed whole (up to PATH_MAX), never cut at the string limit."""
    return cstr_text(mem, addr, n)


# -- signal sets ----------------------------------------------------------------------------
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
    mask = (1 << _BITS[abi]) - 1  # clock_t is printed zero-extended
    return _fields(*((n, f[n] & mask) for n in ("tms_utime", "tms_stime", "tms_cutime",
                                                "tms_cstime")))


def _rlim(value: int, bits: int) -> str:
    if value == (1 << bits) - 1:
        return "RLIM64_INFINITY" if bits == 64 else "RLIM_INFINITY"
    if value > 1024 and value % 1024 == 0:
        return f"{value // 1024}*1024"
    return str(value)


def _rlimit(f: dict, abi: str) -> str:
    bits = _BITS[abi]  # struct rlimit has the ABI's word: i386 prints RLIM_INFINITY
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
    "rlimit64": _rlimit64, "sigaction": _sigaction, "stack_t": _stack_t,
    "user_desc": _user_desc, "winsize": _winsize, "termios": _termios,
    # pointed-to scalars, shown in brackets: [0], [1234], [0x7f...], [3, 4]
    "int": _number, "uint": _number, "loff_t": _number, "kptr": _pointer,
    "int_pair": _int_pair,
}


def struct_text(name: str, abi, mem, addr: int) -> str:
    """The struct at `addr` as strace prints it; NULL, or the address if unreadable."""
    abi = _abi_name(abi)
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


# -- one call being decoded ------------------------------------------------------------------
@dataclass
class _Call:
    sdef: object
    abi: str
    args: tuple[int, ...]
    mem: object
    limit: int
    ret: int | None = None
    exiting: bool = False

    @property
    def bits(self) -> int:
        return _BITS[self.abi]

    def arg(self, i: int) -> int:
        return self.args[i] & ((1 << self.bits) - 1) if i < len(self.args) else 0

    def int_arg(self, i: int) -> int:
        return _signed(self.arg(i), 32)

    @property
    def failed(self) -> bool:
        return is_error(self.ret)


# -- argument kinds --------------------------------------------------------------------------
def _entry_text(call: _Call, i: int, kind) -> str | None:
    """An in-argument's text at entry; None for the ones shown after the call."""
    if kind.out:
        return None
    v = call.arg(i)
    match kind:
        case K.Int() | K.Fd():
            return str(_signed(v, 32))
        case K.Long():
            return str(_signed(v, call.bits))
        case K.UInt():
            return str(v)
        case K.Hex():
            return chex(v)
        case K.Ptr():
            return addr_text(v)
        case K.DirFd():
            fd = _signed(v, 32)
            return "AT_FDCWD" if fd == C.AT_FDCWD else str(fd)
        case K.Mode():
            return coct(v & 0xFFFFFFFF)
        case K.Path():
            return path_text(call.mem, v)
        case K.InBuf(size_arg=n):
            return str_text(call.mem, v, call.arg(n), call.limit)
        case K.Flags(set=name):
            return C.flags_text(name, v, call.abi)
        case K.Enum(set="signal") | K.Signal():
            return C.signal_text(v)
        case K.Enum(set=name):
            return C.enum_text(name, v, call.abi)
        case K.InStruct(struct=name):
            return struct_text(name, call.abi, call.mem, v)
        case K.SigSet():
            return _sigset_arg(call, v)
        case K.Iovec(count_arg=n):
            return _iovec_text(call, v, call.arg(n), data_size=None)
    return chex(v)


def _exit_text(call: _Call, i: int, kind) -> str:
    """An out-argument's text once the call returned: the raw address if it failed."""
    v = call.arg(i)
    match kind:
        case K.Iovec(count_arg=n):  # readv: the array is shown even when the call failed
            return _iovec_text(call, v, call.arg(n), data_size=None if call.failed else call.ret,
                               addresses_only=call.failed)
    if call.failed or call.ret is None:
        return addr_text(v)
    match kind:
        case K.OutBuf():
            return str_text(call.mem, v, call.ret, call.limit,
                            force_hex=call.sdef.name in HEX_BUFFERS)
        case K.OutStr():
            return str_text(call.mem, v, call.ret, call.limit, omit_trailing_nul=True)
        case K.OutStruct(struct=name) | K.InOutStruct(struct=name):
            return struct_text(name, call.abi, call.mem, v)
        case K.OutSigSet():
            return _sigset_arg(call, v)
    return chex(v)


def _sigset_arg(call: _Call, addr: int) -> str:
    """A sigset_t pointer; its size is the call's sigsetsize argument where it has one,
    and strace shows the address when that size is not one it accepts."""
    size_arg = SIGSET_SIZE_ARG.get(call.sdef.name)
    size = call.arg(size_arg) if size_arg is not None else (
        call.bits // 8 if call.sdef.name in OLD_SIGSET_CALLS else C.NSIG_BYTES)
    if addr == 0:
        return "NULL"
    if size < call.bits // 8 or size > C.NSIG_BYTES:
        return addr_text(addr)
    try:
        return sigset_text(call.mem.read(addr, size))
    except Exception:
        return addr_text(addr)


def _iovec_text(call: _Call, addr: int, count: int, data_size: int | None,
                addresses_only: bool = False) -> str:
    """[{iov_base="hello\\n", iov_len=6}, ...]: at most `limit` elements; for readv only
    the `data_size` bytes the call returned are shown."""
    if addr == 0:
        return "NULL"
    if count == 0:
        return "[]"
    elem = S.sizeof("iovec", call.abi)
    items = []
    for idx in range(count):
        cur = addr + idx * elem
        try:
            iov = S.unpack("iovec", call.abi, call.mem.read(cur, elem))
        except Exception:
            if idx == 0:
                return addr_text(addr)
            items.append(f"... /* {addr_text(cur)} */")
            break
        if idx >= call.limit:
            items.append("...")
            break
        base, length = iov["iov_base"], iov["iov_len"]
        shown = length if data_size is None else min(length, data_size)
        if data_size is not None:
            data_size -= shown
        base_text = (addr_text(base) if addresses_only
                     else str_text(call.mem, base, shown, call.limit))
        items.append(f"{{iov_base={base_text}, iov_len={length}}}")
    return "[" + ", ".join(items) + "]"


# -- syscalls strace decodes in its own way ------------------------------------------------
HEX_BUFFERS = {"getrandom"}  # strace shows these buffers as \x.. bytes
SIGSET_SIZE_ARG = {"rt_sigprocmask": 3, "rt_sigpending": 1, "rt_sigsuspend": 1,
                   "rt_sigtimedwait": 3, "rt_sigtimedwait_time64": 3}
OLD_SIGSET_CALLS = {"sigprocmask", "sigpending", "sigsuspend"}  # word-sized masks


def _open_mode(mode_index: int, flags_index: int):
    """open/openat: strace prints the mode only when the flags can create a file."""
    def fix(call: _Call, texts: list) -> None:
        if (not call.exiting and mode_index < len(texts)
                and not call.arg(flags_index) & (C.O_CREAT | 0o20000000)):
            texts[mode_index] = OMITTED
    return fix


def _statx_call(call: _Call, texts: list) -> None:
    if not call.exiting and len(texts) > 2:
        texts[2] = C.flags_text("statx_flags", call.arg(2))


# fcntl's third argument by command: a flag set, "int", or None (not printed).
_FCNTL_ARG: dict[int, str | None] = {
    0: "int", 1: None, 2: "fd_flags", 3: None, 4: "open", 8: "int", 9: None, 10: "signal",
    11: None, 1024: "int", 1025: None, 1026: "int", 1030: "int", 1031: "int", 1032: None,
    1034: None,
}


_FCNTL_LOCKS = {5, 6, 7, 12, 13, 14, 36, 37, 38}  # struct flock *: shown as the pointer


def _fcntl(call: _Call, texts: list) -> None:
    cmd = call.int_arg(1)
    if len(texts) < 3:
        return
    if not call.exiting:
        texts[1] = C.enum_text("fcntl", cmd, call.abi)
        kind = _FCNTL_ARG.get(cmd, "ptr" if cmd in _FCNTL_LOCKS else "hex")
        v = call.arg(2)
        if kind is None:
            texts[2] = OMITTED
        elif kind == "int":
            texts[2] = str(_signed(v, 32))
        elif kind == "signal":
            texts[2] = C.signal_text(v)
        elif kind == "ptr":
            texts[2] = addr_text(v)
        elif kind == "hex":
            texts[2] = chex(v)
        else:
            texts[2] = C.flags_text(kind, v, call.abi)
    elif not call.failed and call.ret is not None:
        # F_GETFD and F_GETFL decorate their result: "= 0x1 (flags FD_CLOEXEC)".
        if cmd == 1 and call.ret:
            texts.ret_aux, texts.ret_kind = "flags " + C.flags_text("fd_flags", call.ret), "hex"
        elif cmd == 3:
            texts.ret_aux, texts.ret_kind = "flags " + C.flags_text("open", call.ret), "hex"


# ioctl's third argument by request (strace's term.c): (how, what, when).
_IOCTL_ARG: dict[str, tuple[str, str | None, str]] = {
    **{n: ("struct", "termios", "exit") for n in ("TCGETS", "TIOCGLCKTRMIOS")},
    **{n: ("struct", "termios", "entry") for n in (
        "TCSETS", "TCSETSW", "TCSETSF", "TIOCSLCKTRMIOS")},
    "TIOCGWINSZ": ("struct", "winsize", "exit"), "TIOCSWINSZ": ("struct", "winsize", "entry"),
    **{n: ("struct", "int", "exit") for n in (
        "TIOCGPGRP", "TIOCGSID", "TIOCGETD", "TIOCGSOFTCAR", "TIOCGPTN", "FIONREAD",
        "TIOCOUTQ")},
    **{n: ("struct", "int", "entry") for n in (
        "TIOCSPGRP", "TIOCSETD", "FIONBIO", "FIOASYNC", "TIOCPKT", "TIOCSSOFTCAR",
        "TIOCSPTLCK")},
    **{n: ("int", None, "entry") for n in ("TCSBRK", "TCSBRKP", "TIOCSCTTY")},
    "TCXONC": ("enum", "tcxonc", "entry"), "TCFLSH": ("enum", "tcflsh", "entry"),
    **{n: ("none", None, "entry") for n in (
        "TIOCSBRK", "TIOCCBRK", "TIOCCONS", "TIOCNOTTY", "TIOCEXCL", "TIOCNXCL", "FIOCLEX",
        "FIONCLEX", "TIOCSSERIAL")},
    **{n: ("ptr", None, "entry") for n in (
        "TCGETA", "TCSETA", "TCSETAW", "TCSETAF", "TIOCSTI", "TIOCMGET", "TIOCMBIS",
        "TIOCMBIC", "TIOCMSET", "TCGETS2", "TCSETS2", "TCSETSW2", "TCSETSF2")},
}


def _ioctl(call: _Call, texts: list) -> None:
    if len(texts) < 3:
        return
    name = C.IOCTLS.get(call.arg(1) & 0xFFFFFFFF, "").split(" or ")[-1]
    how, what, when = _IOCTL_ARG.get(name, ("hex", None, "entry"))
    v = call.arg(2)
    if not call.exiting:
        texts[1] = C.enum_text("ioctl", call.arg(1), call.abi)
        texts[2] = {"none": OMITTED, "int": str(_signed(v, 32)), "ptr": addr_text(v),
                    "hex": chex(v)}.get(how)
        if how == "enum":
            texts[2] = C.enum_text(what, v, call.abi)
        elif how == "struct":
            texts[2] = struct_text(what, call.abi, call.mem, v) if when == "entry" else None
    elif texts[2] is None:
        texts[2] = addr_text(v) if call.failed else struct_text(what, call.abi, call.mem, v)


def _arch_prctl(call: _Call, texts: list) -> None:
    code = call.arg(0) & 0xFFFFFFFF
    if len(texts) < 2:
        return
    if code == 0x1011:  # ARCH_GET_CPUID has no second argument
        texts[1] = OMITTED
    elif code in (0x1003, 0x1004):  # ARCH_GET_FS/GS write the base: [0x7f...]
        if not call.exiting:
            texts[1] = None
        else:
            texts[1] = (addr_text(call.arg(1)) if call.failed
                        else struct_text("kptr", call.abi, call.mem, call.arg(1)))


def _set_thread_area(call: _Call, texts: list) -> None:
    """strace shows the descriptor as passed in (entry_number=-1) and the entry the kernel
    chose after the value: "= 0 (entry_number=12)"."""
    if not call.exiting:
        texts[0] = struct_text("user_desc", call.abi, call.mem, call.arg(0))
    elif not call.failed and call.ret is not None:
        try:
            desc = S.unpack("user_desc", call.abi, call.mem.read(call.arg(0), 16))
            texts.ret_aux = f"entry_number={desc['entry_number']}"
        except Exception:
            pass


def _mmap2(call: _Call, texts: list) -> None:
    if not call.exiting and len(texts) == 6:  # strace shows mmap2's page offset in bytes
        texts[5] = chex(call.arg(5) * 4096)


def _mremap(call: _Call, texts: list) -> None:
    if not call.exiting and len(texts) == 5 and not call.arg(3) & 2:  # only MREMAP_FIXED
        texts[4] = OMITTED


def _sleep_remainder(index: int):
    """nanosleep's remainder: written only when interrupted, so shown only then."""
    def fix(call: _Call, texts: list) -> None:
        if call.exiting and index < len(texts):
            interrupted = call.ret is not None and -call.ret in _RESTART_ERRORS
            struct = getattr(call.sdef.args[index], "struct", "timespec")
            texts[index] = (struct_text(struct, call.abi, call.mem, call.arg(index))
                            if interrupted else addr_text(call.arg(index)))
    return fix


def _rseq(call: _Call, texts: list) -> None:
    if not call.exiting and len(texts) > 1:
        texts[1] = chex(call.arg(1))  # rseq_len, in hex


def _umask(call: _Call, texts: list) -> None:
    if not call.exiting and texts:
        texts[0] = coct(call.arg(0) & 0xFFFFFFFF)
    elif call.exiting and not call.failed:
        texts.ret_kind = "oct"


def _msync(call: _Call, texts: list) -> None:
    if not call.exiting and len(texts) > 2:
        texts[2] = C.flags_text("msync", call.arg(2))


def time_text(seconds: int) -> str:
    """strace's sprinttime: the host's local time, 2026-11-27T09:27:03+0000."""
    import datetime

    try:
        when = datetime.datetime.fromtimestamp(seconds).astimezone()
    except (OverflowError, OSError, ValueError):
        return ""
    return when.strftime("%Y-%m-%dT%H:%M:%S%z")


def _time(call: _Call, texts: list) -> None:
    """time([1795771623 /* 2026-11-27T09:27:03+0000 */]) = 1795771623 (2026-...)"""
    if not call.exiting or not texts:
        return
    if call.failed or call.ret is None:
        return
    texts.ret_aux = time_text(call.ret) or None
    addr = call.arg(0)
    if addr:
        try:
            value = _signed(int.from_bytes(call.mem.read(addr, call.bits // 8), "little"),
                            call.bits)
            texts[0] = f"[{value} /* {time_text(value)} */]"
        except Exception:
            texts[0] = addr_text(addr)
    else:
        texts[0] = "NULL"


def _sched_getaffinity(call: _Call, texts: list) -> None:
    """The CPUs of the mask the call returned: [0 1]."""
    if call.exiting and len(texts) > 2:
        addr = call.arg(2)
        if call.failed or not addr or call.ret is None:
            texts[2] = addr_text(addr)
            return
        try:
            mask = int.from_bytes(call.mem.read(addr, call.ret), "little")
        except Exception:
            texts[2] = addr_text(addr)
            return
        texts[2] = "[" + " ".join(str(b) for b in range(call.ret * 8) if mask >> b & 1) + "]"


def _getcpu(call: _Call, texts: list) -> None:
    if call.exiting:
        for i in range(min(2, len(texts))):
            addr = call.arg(i)
            texts[i] = (addr_text(addr) if call.failed or not addr
                        else struct_text("uint", call.abi, call.mem, addr))


def _old_mmap(call: _Call, texts: list) -> None:
    """i386's old mmap takes one pointer to its six arguments: strace shows those."""
    if call.exiting or len(texts) != 1 or call.abi != "i386":
        return
    try:
        words = call.mem.read(call.arg(0), 24)
    except Exception:
        return
    args = [int.from_bytes(words[i:i + 4], "little") for i in range(0, 24, 4)]
    texts[0] = ", ".join((addr_text(args[0]), str(args[1]), C.flags_text("prot", args[2]),
                          C.flags_text("map", args[3]), str(_signed(args[4], 32)),
                          chex(args[5])))


def _getdents(reclen_at: Callable[[int], int]):
    """getdents(64) without -v: the buffer's address and how many entries it got."""
    def fix(call: _Call, texts: list) -> None:
        if not call.exiting or len(texts) < 2:
            return
        addr = call.arg(1)
        if call.failed or call.ret is None:
            texts[1] = addr_text(addr)
            return
        try:
            data = call.mem.read(addr, call.ret)
        except Exception:
            texts[1] = addr_text(addr)
            return
        count, pos, at = 0, 0, reclen_at(call.bits)
        while pos + at + 2 <= len(data):
            reclen = int.from_bytes(data[pos + at:pos + at + 2], "little")
            if reclen == 0:
                break
            count, pos = count + 1, pos + reclen
        texts[1] = f"{addr_text(addr)} /* {count} entries */"
    return fix


def _split_offset(lo: int, hi: int):
    """i386 passes a 64-bit offset in two words: strace shows one number where the first
    of them is and leaves the other out."""
    def fix(call: _Call, texts: list) -> None:
        if not call.exiting and call.abi == "i386" and len(texts) > max(lo, hi):
            value = _signed(call.arg(hi) << 32 | call.arg(lo), 64)
            texts[min(lo, hi)], texts[max(lo, hi)] = str(value), OMITTED
    return fix


def _getcwd(call: _Call, texts: list) -> None:
    if call.exiting and texts and not call.failed and call.ret is not None:
        texts[0] = path_text(call.mem, call.arg(0), max(call.ret - 1, 0))


SPECIAL: dict[str, Callable[[_Call, list], None]] = {
    "open": _open_mode(2, 1), "openat": _open_mode(3, 2),
    "statx": _statx_call,
    "fcntl": _fcntl, "fcntl64": _fcntl,
    "ioctl": _ioctl,
    "arch_prctl": _arch_prctl,
    "set_thread_area": _set_thread_area,
    "mmap2": _mmap2,
    "mremap": _mremap,
    "nanosleep": _sleep_remainder(1), "clock_nanosleep": _sleep_remainder(3),
    "clock_nanosleep_time64": _sleep_remainder(3),
    "getcwd": _getcwd,
    "rseq": _rseq,
    "umask": _umask,
    "msync": _msync,
    "time": _time,
    "sched_getaffinity": _sched_getaffinity,
    "getcpu": _getcpu,
    "mmap": _old_mmap,
    # d_reclen follows d_ino and d_off: two u64 in linux_dirent64, two words in linux_dirent
    "getdents64": _getdents(lambda bits: 16),
    "getdents": _getdents(lambda bits: bits // 4),
    # pread64(fd, buf, count, low, high); _llseek(fd, high, low, result, whence)
    "pread64": _split_offset(3, 4), "pwrite64": _split_offset(3, 4),
    "_llseek": _split_offset(2, 1),
}


# -- the public entry points ---------------------------------------------------------------
def decode_entry(sdef, abi, args, mem, string_limit: int = 32) -> list[str | None]:
    """Texts of the arguments known at entry; None for those shown after the call."""
    call = _Call(sdef, _abi_name(abi), tuple(args), mem, string_limit)
    texts = [_entry_text(call, i, kind) for i, kind in enumerate(sdef.args)]
    if sdef.name in SPECIAL:
        SPECIAL[sdef.name](call, texts)
    return texts


def decode_exit(sdef, abi, args, ret, mem, entry_texts, string_limit: int = 32) -> ArgTexts:
    """Every argument's text once the call returned `ret` (signed; -errno on failure)."""
    if entry_texts is None:
        entry_texts = decode_entry(sdef, abi, args, mem, string_limit)
    abi = _abi_name(abi)
    if ret is not None:  # a raw register value works too: -errno is what matters
        ret = _signed(ret, _BITS[abi])
    call = _Call(sdef, abi, tuple(args), mem, string_limit, ret, exiting=True)
    texts = ArgTexts(entry_texts)
    for i, kind in enumerate(sdef.args):
        if texts[i] is None and kind.out:
            texts[i] = _exit_text(call, i, kind)
    if sdef.name in SPECIAL:
        SPECIAL[sdef.name](call, texts)
    for i, text in enumerate(texts):
        if text is None:  # anything a special left undecided
            texts[i] = chex(call.arg(i))
    return texts


def format_call(name: str, arg_texts) -> CallText:
    """`name(a, b, c)`; omitted arguments ("") are skipped."""
    text = CallText(f"{name}({', '.join(t for t in arg_texts if t)})")
    text.ret_aux = getattr(arg_texts, "ret_aux", None)
    text.ret_kind = getattr(arg_texts, "ret_kind", None)
    return text


def format_result(ret: int | None, ret_kind: str = "int", abi="x86_64",
                  aux: str | None = None) -> str:
    """What follows "= ": 3, 0x7f..., ?, -1 ENOENT (No such file or directory)."""
    if ret is None:
        return "?"
    if is_error(ret):
        return errno_text(-ret)
    bits = _BITS[_abi_name(abi)]
    if ret_kind == "hex":
        text = chex(ret & ((1 << bits) - 1))
    elif ret_kind == "oct":
        text = coct(ret)
    elif ret_kind == "uint":
        text = str(ret & ((1 << bits) - 1))
    else:
        text = str(ret)
    return f"{text} ({aux})" if aux else text


def format_line(call_text: str, ret: int | None, ret_kind: str = "int", abi="x86_64") -> str:
    """strace's line: the call, spaces to column 40, "= " and the result."""
    ret_kind = getattr(call_text, "ret_kind", None) or ret_kind
    result = format_result(ret, ret_kind, abi, getattr(call_text, "ret_aux", None))
    return (call_text + " ").ljust(40) + "= " + result


def format_unknown(nr: int, args) -> str:
    """A number with no name in the table: syscall_0x1f4(0x1, 0x2, 0x3, 0x4, 0x5, 0x6)."""
    return f"syscall_{chex(nr)}({', '.join(chex(a) for a in args)})"


def format_raw(name: str, args, abi="x86_64") -> str:
    """A known syscall with no decoder: its arguments in hex, as many as it takes."""
    return f"{name}({', '.join(chex(a) for a in args[:arity(name, abi)])})"


def format_signal(signo: int, code: int, addr: int, pid: int | None = None,
                  uid: int | None = None) -> str:
    """--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10} ---"""
    name = C.signal_name(signo) or str(signo)
    code = _signed(code, 32)
    fields = [f"si_signo={name}", f"si_code={C.si_code_name(signo, code)}"]
    if code <= 0 or (signo not in _FAULT_SIGNALS and (pid or uid)):
        # sent by a process (kill, tgkill): who sent it, not where
        fields += [f"si_pid={pid or 0}", f"si_uid={uid or 0}"]
    elif signo in _FAULT_SIGNALS:
        fields.append(f"si_addr={addr_text(addr)}")
    return f"--- {name} {{{', '.join(fields)}}} ---"


_FAULT_SIGNALS = {4, 5, 7, 8, 11}  # SIGILL SIGTRAP SIGBUS SIGFPE SIGSEGV: they carry si_addr


def format_killed(signo: int, core: bool = False) -> str:
    """+++ killed by SIGSEGV +++ ("(core dumped)" only when a core was written)."""
    name = C.signal_name(signo) or str(signo)
    return f"+++ killed by {name}{' (core dumped)' if core else ''} +++"


def format_exited(code: int) -> str:
    return f"+++ exited with {code & 0xFF} +++"


# -- strace -c ------------------------------------------------------------------------------
def summary_table(rows, abi=None) -> str:
    """strace -c's table (src/count.c), rows sorted by time, descending; ties keep the
    order given. rows: (name, calls, errors, seconds). abi "i386" adds strace's line for
    a 32-bit process. Ends with a newline, as strace's output does."""
    rows = [(name, calls, errors, round(seconds * 1e9))
            for name, calls, errors, seconds in rows if calls]
    rows.sort(key=lambda r: -r[3])
    total_ns = sum(r[3] for r in rows)
    total_s = total_ns / 1e9
    calls = sum(r[1] for r in rows)
    errors = sum(r[2] for r in rows)

    def secs(ns: int) -> float:  # strace's ts_float, in the same double arithmetic
        return ns // 10**9 + (ns % 10**9) / 1e9

    avgs = [int(secs(ns // n) * 1e6) for _, n, _, ns in rows]
    widths = (6, max(11, len(f"{total_s:.6f}")), max(11, len(str(max(avgs, default=0)))),
              max(9, len(str(calls))), max(9, len(str(errors))),
              max(16, max((len(r[0]) for r in rows), default=0) + 1))
    w_pct, w_sec, w_avg, w_calls, w_err, _ = widths

    def line(pct: float, sec: float, avg: int, n: int, err: int, name: str) -> str:
        err_text = str(err) if err else ""  # strace's "%.0u": 0 prints as nothing
        return (f"{pct:{w_pct}.2f} {sec:{w_sec}.6f} {avg:{w_avg}d} {n:{w_calls}d} "
                f"{err_text:>{w_err}} {name}")

    rule = " ".join("-" * w for w in widths)
    out = [] if _abi_name(abi) != "i386" else ["System call usage summary for 32 bit mode:"]
    out.append(f"{'% time':>{w_pct}} {'seconds':>{w_sec}} {'usecs/call':>{w_avg}} "
               f"{'calls':>{w_calls}} {'errors':>{w_err}} syscall")
    out.append(rule)
    for (name, n, err, ns), avg in zip(rows, avgs, strict=True):
        pct = 100.0 * secs(ns)
        if pct != 0.0:
            pct /= secs(total_ns)
        out.append(line(pct, secs(ns), avg, n, err, name))
    out.append(rule)
    out.append(line(100.0, secs(total_ns), int(secs(total_ns) / calls * 1e6) if calls else 0,
                    calls, errors, "total"))
    return "\n".join(out) + "\n"


# -- syscalls with no decoder: how many arguments strace shows -------------------------------
_ARITY_GROUPS: dict[int, str] = {
    0: """fork vfork getpid getppid getuid geteuid getgid getegid gettid sched_yield pause
        sync setsid getpgrp munlockall vhangup inotify_init restart_syscall rt_sigreturn
        sigreturn getuid32 geteuid32 getgid32 getegid32 sgetmask idle""",
    1: """exit exit_group close dup chdir fchdir rmdir unlink umask brk time uname olduname
        oldolduname sysinfo times pipe alarm setuid setgid getpgid getsid personality
        set_tid_address epoll_create epoll_create1 inotify_init1 fsync fdatasync mlockall
        acct chroot swapoff iopl stime nice ssetmask setfsuid setfsgid setuid32 setgid32
        setfsuid32 setfsgid32 shmdt eventfd set_thread_area get_thread_area io_destroy
        timer_getoverrun timer_delete unshare syncfs userfaultfd sched_getscheduler
        sched_get_priority_max sched_get_priority_min memfd_secret uselib vm86old adjtimex
        sigpending
        _sysctl mq_unlink pkey_free get_kernel_syms""",
    2: """access chmod fchmod mkdir rename link symlink truncate ftruncate dup2 kill tkill
        getcwd gettimeofday settimeofday getrlimit setrlimit ugetrlimit getrusage
        clock_gettime clock_settime clock_getres nanosleep munmap mlock munlock sigaltstack
        rt_sigpending rt_sigsuspend pipe2 flock listen shutdown setpgid setreuid setregid
        setreuid32 setregid32 getgroups setgroups getgroups32 setgroups32 umount2
        arch_prctl fstat stat lstat statfs fstatfs creat utime utimes pivot_root ustat
        sethostname setdomainname capget capset timerfd_gettime timer_gettime
        sched_getparam sched_setparam sched_rr_get_interval set_robust_list memfd_create
        inotify_rm_watch eventfd2 clock_gettime64 clock_getres_time64 clock_settime64
        fstat64 stat64 lstat64 swapon ioprio_get getpriority delete_module getitimer
        timerfd_create io_setup msgget fsopen pidfd_open clone3 removexattr lremovexattr
        fremovexattr socketcall vm86 bdflush clock_adjtime clock_adjtime64 timer_gettime64
        timerfd_gettime64 sched_rr_get_interval_time64 signal umount io_uring_setup
        landlock_restrict_self
        fanotify_init mq_notify pkey_alloc setns create_module""",
    3: """read write open lseek ioctl fcntl fcntl64 mprotect madvise msync mincore readv
        writev execve chown fchown lchown chown32 fchown32 lchown32 dup3 getdents
        getdents64 readlink socket connect accept bind getsockname getpeername poll
        sigprocmask tgkill waitpid mknod getrandom mkdirat unlinkat fchmodat symlinkat
        faccessat setresuid setresgid getresuid getresgid setresuid32 setresgid32
        getresuid32 getresgid32 sched_setaffinity sched_getaffinity sched_setscheduler
        setitimer modify_ldt ioperm getcpu set_mempolicy inotify_add_watch signalfd syslog
        sigaction timer_create rt_sigqueueinfo shmat shmget shmctl semget semop recvmsg
        sendmsg ftruncate64 truncate64 readahead listxattr llistxattr flistxattr seccomp
        bpf open_tree fsmount fspick pidfd_getfd close_range lookup_dcookie futimesat
        sched_setattr ioprio_set setpriority sysfs sigsuspend landlock_create_ruleset mseal
        lsm_list_modules init_module finit_module io_cancel io_submit mq_getsetattr msgctl
        mlock2
        get_robust_list membarrier open_by_handle_at nfsservctl""",
    4: """openat newfstatat fstatat64 rt_sigaction rt_sigprocmask rt_sigtimedwait wait4
        pread64 pwrite64 sendfile sendfile64 socketpair accept4 mknodat renameat readlinkat
        prlimit64 clock_nanosleep clock_nanosleep_time64 utimensat utimensat_time64
        fadvise64 fallocate tee epoll_ctl epoll_wait timerfd_settime timer_settime
        timerfd_settime64 timer_settime64 rt_tgsigqueueinfo mq_open quotactl reboot ptrace
        request_key semctl msgsnd rseq openat2 faccessat2 fchmodat2 preadv pwritev vmsplice
        sync_file_range migrate_pages getxattr lgetxattr fgetxattr io_uring_register
        pidfd_send_signal sched_getattr rt_sigtimedwait_time64 kexec_load landlock_add_rule
        lsm_get_self_attr lsm_set_self_attr cachestat map_shadow_stack
        pkey_mprotect signalfd4 futex_wake""",
    5: """mremap select _newselect prctl mount fchownat linkat renameat2 statx waitid keyctl
        add_key setsockopt getsockopt perf_event_open clone ppoll ppoll_time64
        io_getevents move_mount fsconfig execveat name_to_handle_at kcmp get_mempolicy
        process_madvise mount_setattr setxattr lsetxattr fsetxattr msgrcv mq_timedsend
        mq_timedreceive mq_timedsend_time64 mq_timedreceive_time64 semtimedop
        semtimedop_time64 io_pgetevents kexec_file_load _llseek getpmsg putpmsg
        fanotify_mark quotactl_fd listmount statmount open_tree_attr
        remap_file_pages query_module""",
    6: """mmap mmap2 futex futex_time64 sendto recvfrom splice pselect6 pselect6_time64
        epoll_pwait epoll_pwait2 copy_file_range process_vm_readv process_vm_writev mbind
        move_pages preadv2 pwritev2 io_uring_enter ipc fadvise64_64 recvmmsg
        recvmmsg_time64 sendmmsg io_pgetevents_time64 futex_waitv set_mempolicy_home_node
        futex_wait futex_requeue process_mrelease file_getattr file_setattr getxattrat
        setxattrat listxattrat removexattrat""",
}
ARITY: dict[str, int] = {name: n for n, names in _ARITY_GROUPS.items() for name in names.split()}
# Where i386 passes more words (64-bit values split in two) or another count.
ARITY_I386: dict[str, int] = {
    "pread64": 5, "pwrite64": 5, "ftruncate64": 3, "truncate64": 3, "readahead": 4,
    "fadvise64": 5, "sync_file_range": 6, "fallocate": 6, "preadv": 5, "pwritev": 5,
    "select": 1, "mmap": 1, "lookup_dcookie": 4,
}


def arity(name: str, abi="x86_64") -> int:
    """How many arguments strace shows for `name` (6 when unknown)."""
    if _abi_name(abi) == "i386" and name in ARITY_I386:
        return ARITY_I386[name]
    return ARITY.get(name, 6)

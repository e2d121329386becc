"""Syscalls strace decodes in its own way (its per-syscall decoders): each fixes the
texts the argument kinds gave, at entry or after the return."""

from __future__ import annotations

from typing import Callable

from kernel_model.trace.strace.fileops import FILEOPS_SPECIALS
from kernel_model.trace.strace.ipc import IPC_SPECIALS
from kernel_model.trace.strace.kinds import CallDecoding
from kernel_model.trace.strace.line import ArgTexts
from kernel_model.trace.strace.procs import PROCESS_SPECIALS
from kernel_model.trace.strace.quote import cstr_text, path_text
from kernel_model.trace.strace.sockets import SOCKET_SPECIALS
from kernel_model.trace.strace.struct_printers import struct_text
from kernel_model.trace.strace.values import OMITTED, RESTART_ERRORS, addr_text, signed
from kernel_model.uapi import constants as C
from kernel_model.uapi import structs as S
from kernel_model.uapi.constants import chex, coct


def _open_mode(mode_index: int, flags_index: int):
    """open/openat: strace prints the mode only when the flags can create a file."""
    def fix(call: CallDecoding, texts: ArgTexts) -> None:
        if (not call.exiting and mode_index < len(texts)
                and not call.arg(flags_index) & (C.O_CREAT | 0o20000000)):
            texts[mode_index] = OMITTED
    return fix


def _statx_call(call: CallDecoding, texts: ArgTexts) -> None:
    if not call.exiting and len(texts) > 2:
        texts[2] = C.flags_text("statx_flags", call.arg(2))


# fcntl's third argument by command: a flag set, "int", or None (not printed).
_FCNTL_ARG: dict[int, str | None] = {
    0: "int", 1: None, 2: "fd_flags", 3: None, 4: "open", 8: "int", 9: None, 10: "signal",
    11: None, 1024: "int", 1025: None, 1026: "int", 1030: "int", 1031: "int", 1032: None,
    1034: None,
}


_FCNTL_LOCKS = {5, 6, 7, 12, 13, 14, 36, 37, 38}  # struct flock *: shown as the pointer


def _fcntl(call: CallDecoding, texts: ArgTexts) -> None:
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
            texts[2] = str(signed(v, 32))
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


def _ioctl(call: CallDecoding, texts: ArgTexts) -> None:
    if len(texts) < 3:
        return
    name = C.IOCTLS.get(call.arg(1) & 0xFFFFFFFF, "").split(" or ")[-1]
    how, what, when = _IOCTL_ARG.get(name, ("hex", None, "entry"))
    v = call.arg(2)
    if not call.exiting:
        texts[1] = C.enum_text("ioctl", call.arg(1), call.abi)
        texts[2] = {"none": OMITTED, "int": str(signed(v, 32)), "ptr": addr_text(v),
                    "hex": chex(v)}.get(how)
        if how == "enum" and what:
            texts[2] = C.enum_text(what, v, call.abi)
        elif how == "struct" and what:
            texts[2] = struct_text(what, call.abi, call.mem, v) if when == "entry" else None
    elif texts[2] is None and what:  # a struct the call filled in
        texts[2] = addr_text(v) if call.failed else struct_text(what, call.abi, call.mem, v)


def _arch_prctl(call: CallDecoding, texts: ArgTexts) -> None:
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


def _set_thread_area(call: CallDecoding, texts: ArgTexts) -> None:
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


def _modify_ldt(call: CallDecoding, texts: ArgTexts) -> None:
    """strace shows a struct user_desc when bytecount is its size (whatever func says),
    else the pointer. x86-64's modify_ldt returns an unsigned int: strace shows an error
    as its 32-bit value and the errno name, "= 4294967274 EINVAL (Invalid argument)"."""
    if not call.exiting and call.arg(2) == 16:
        texts[1] = struct_text("user_desc", call.abi, call.mem, call.arg(1))
    ret = call.ret
    if call.exiting and call.abi == "x86_64" and ret is not None and \
            0xFFFFF001 <= ret <= 0xFFFFFFFF:
        texts.ret_kind = "u32_errno"


def _mmap2(call: CallDecoding, texts: ArgTexts) -> None:
    if not call.exiting and len(texts) == 6:  # strace shows mmap2's page offset in bytes
        texts[5] = chex(call.arg(5) * 4096)


def _mremap(call: CallDecoding, texts: ArgTexts) -> None:
    if not call.exiting and len(texts) == 5 and not call.arg(3) & 2:  # only MREMAP_FIXED
        texts[4] = OMITTED


def _sleep_remainder(index: int):
    """nanosleep's remainder: written only when interrupted, so shown only then."""
    def fix(call: CallDecoding, texts: ArgTexts) -> None:
        if call.exiting and index < len(texts):
            interrupted = call.ret is not None and -call.ret in RESTART_ERRORS
            struct = getattr(call.sdef.args[index], "struct", "timespec")
            texts[index] = (struct_text(struct, call.abi, call.mem, call.arg(index))
                            if interrupted else addr_text(call.arg(index)))
    return fix


def _rseq(call: CallDecoding, texts: ArgTexts) -> None:
    if not call.exiting and len(texts) > 1:
        texts[1] = chex(call.arg(1))  # rseq_len, in hex


def _umask(call: CallDecoding, texts: ArgTexts) -> None:
    if not call.exiting and texts:
        texts[0] = coct(call.arg(0) & 0xFFFFFFFF)
    elif call.exiting and not call.failed:
        texts.ret_kind = "oct"


def _msync(call: CallDecoding, texts: ArgTexts) -> None:
    if not call.exiting and len(texts) > 2:
        texts[2] = C.flags_text("msync", call.arg(2))


def _mincore(call: CallDecoding, texts: ArgTexts) -> None:
    """mincore(addr, 8192, [0, 1]): the vector's bytes after a successful call, at most
    `limit` of them (strace's print_array)."""
    if len(texts) < 3:
        return
    if not call.exiting:
        texts[2] = None
        return
    vec = call.arg(2)
    pages = (call.arg(1) + 4095) // 4096
    if call.failed or not pages:
        texts[2] = addr_text(vec)
        return
    try:
        data = call.mem.read(vec, min(pages, call.limit))
    except Exception:
        texts[2] = addr_text(vec)
        return
    more = ", ..." if pages > call.limit else ""
    texts[2] = "[" + ", ".join(str(b & 1) for b in data) + more + "]"


def time_text(seconds: int) -> str:
    """strace's sprinttime: the host's local time, 2026-11-27T09:27:03+0000."""
    import datetime

    try:
        when = datetime.datetime.fromtimestamp(seconds).astimezone()
    except (OverflowError, OSError, ValueError):
        return ""
    return when.strftime("%Y-%m-%dT%H:%M:%S%z")


def _time(call: CallDecoding, texts: ArgTexts) -> None:
    """time([1795771623 /* 2026-11-27T09:27:03+0000 */]) = 1795771623 (2026-...)"""
    if not call.exiting or not texts:
        return
    if call.failed or call.ret is None:
        return
    texts.ret_aux = time_text(call.ret) or None
    addr = call.arg(0)
    if addr:
        try:
            value = signed(int.from_bytes(call.mem.read(addr, call.bits // 8), "little"),
                            call.bits)
            texts[0] = f"[{value} /* {time_text(value)} */]"
        except Exception:
            texts[0] = addr_text(addr)
    else:
        texts[0] = "NULL"


def _sched_getaffinity(call: CallDecoding, texts: ArgTexts) -> None:
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


def _getcpu(call: CallDecoding, texts: ArgTexts) -> None:
    if call.exiting:
        for i in range(min(2, len(texts))):
            addr = call.arg(i)
            texts[i] = (addr_text(addr) if call.failed or not addr
                        else struct_text("uint", call.abi, call.mem, addr))


def _old_mmap(call: CallDecoding, texts: ArgTexts) -> None:
    """i386's old mmap takes one pointer to its six arguments: strace shows those."""
    if call.exiting or len(texts) != 1 or call.abi != "i386":
        return
    try:
        words = call.mem.read(call.arg(0), 24)
    except Exception:
        return
    args = [int.from_bytes(words[i:i + 4], "little") for i in range(0, 24, 4)]
    texts[0] = ", ".join((addr_text(args[0]), str(args[1]), C.flags_text("prot", args[2]),
                          C.flags_text("map", args[3]), str(signed(args[4], 32)),
                          chex(args[5])))


def _getdents(reclen_at: Callable[[int], int]):
    """getdents(64) without -v: the buffer's address and how many entries it got."""
    def fix(call: CallDecoding, texts: ArgTexts) -> None:
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
    def fix(call: CallDecoding, texts: ArgTexts) -> None:
        if not call.exiting and call.abi == "i386" and len(texts) > max(lo, hi):
            value = signed(call.arg(hi) << 32 | call.arg(lo), 64)
            texts[min(lo, hi)], texts[max(lo, hi)] = str(value), OMITTED
    return fix


def _getcwd(call: CallDecoding, texts: ArgTexts) -> None:
    if call.exiting and texts and not call.failed and call.ret is not None:
        texts[0] = path_text(call.mem, call.arg(0), max(call.ret - 1, 0))


def _pointer_array(call: CallDecoding, addr: int, most: int = 1 << 20) -> list[int] | None:
    """The pointers of a NULL-terminated array, or None when it cannot be read."""
    word = call.bits // 8
    out: list[int] = []
    try:
        while len(out) < most:
            p = int.from_bytes(call.mem.read(addr + len(out) * word, word), "little")
            if p == 0:
                break
            out.append(p)
    except Exception:
        return None
    return out


def _execve(first: int):
    """strace's decode_execve: the path, argv as an array of strings (at most `-s` of
    them, then ...), envp as its address and a count: 0x7ffd... /* 3 vars */."""
    def fix(call: CallDecoding, texts: ArgTexts) -> None:
        if call.exiting or len(texts) < first + 3:
            return
        argv, envp = call.arg(first + 1), call.arg(first + 2)
        items = _pointer_array(call, argv, call.limit + 1) if argv else None
        if items is None:
            texts[first + 1] = addr_text(argv)
        else:
            shown = [cstr_text(call.mem, p, call.limit) for p in items[:call.limit]]
            if len(items) > call.limit:
                shown.append("...")
            texts[first + 1] = "[" + ", ".join(shown) + "]"
        envs = _pointer_array(call, envp) if envp else None
        if envs is None:
            texts[first + 2] = addr_text(envp)
        else:
            n = len(envs)
            texts[first + 2] = f"{addr_text(envp)} /* {n} var{'' if n == 1 else 's'} */"
    return fix


SPECIAL: dict[str, Callable[[CallDecoding, ArgTexts], None]] = {
    "execve": _execve(0), "execveat": _execve(1),
    "open": _open_mode(2, 1), "openat": _open_mode(3, 2),
    "statx": _statx_call,
    "fcntl": _fcntl, "fcntl64": _fcntl,
    "ioctl": _ioctl,
    "arch_prctl": _arch_prctl,
    "set_thread_area": _set_thread_area,
    "modify_ldt": _modify_ldt,
    "mmap2": _mmap2,
    "mremap": _mremap,
    "nanosleep": _sleep_remainder(1), "clock_nanosleep": _sleep_remainder(3),
    "clock_nanosleep_time64": _sleep_remainder(3),
    "getcwd": _getcwd,
    "rseq": _rseq,
    "umask": _umask,
    "msync": _msync,
    "mincore": _mincore,
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
    # clone, clone3, wait4, waitid, futex, ...: the calls between tasks
    **PROCESS_SPECIALS,
    # utimensat, statfs's neighbours, getgroups, sendfile, ...: files and credentials
    **FILEOPS_SPECIALS,
    # System V IPC, and i386's ipc() shown as the call it makes
    **IPC_SPECIALS,
    # socket, bind, connect, sendmsg, getsockopt, i386's socketcall, ...
    **SOCKET_SPECIALS,
}

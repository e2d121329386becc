"""strace's System V IPC decoders (its ipc_msg.c, ipc_msgctl.c, ipc_sem.c, ipc_shm.c,
ipc_shmctl.c, ipc.c), checked against strace 6.1 on Linux 6.18:

    msgget(IPC_PRIVATE, IPC_CREAT|0600)      msgsnd(0, {mtype=5, mtext="hello\\0"}, 6, 0)
    semop(0, [{sem_num=0, sem_op=1, sem_flg=SEM_UNDO}], 1)      shmat(3, NULL, 0) = 0x7f...
    msgctl(0, IPC_STAT, {msg_perm={uid=0, gid=0, mode=0600, key=0, cuid=0, cgid=0}, ...})

i386's ipc() is shown as the call it multiplexes (`msgrcv(...)`, not `ipc(12, ...)`), its
arguments in that call's order, as strace does; an unknown call number stays `ipc(...)`.
"""

from __future__ import annotations

import struct
from typing import Callable

from kernel_model.trace.strace.kinds import CallDecoding
from kernel_model.trace.strace.line import ArgTexts
from kernel_model.trace.strace.quote import str_text
from kernel_model.trace.strace.struct_printers import struct_text
from kernel_model.trace.strace.values import OMITTED, addr_text, signed

IPC_64 = 0x100
_RESOURCE = (("IPC_CREAT", 0o1000), ("IPC_EXCL", 0o2000), ("IPC_NOWAIT", 0o4000))
_SHM_RESOURCE = (("IPC_CREAT", 0o1000), ("IPC_EXCL", 0o2000), ("SHM_HUGETLB", 0o4000),
                 ("SHM_NORESERVE", 0o10000))
_MSG_FLAGS = (("MSG_NOERROR", 0o10000), ("MSG_EXCEPT", 0o20000), ("MSG_COPY", 0o40000),
              ("IPC_NOWAIT", 0o4000))
_SEM_FLAGS = (("IPC_NOWAIT", 0o4000), ("SEM_UNDO", 0x1000))
_SHM_FLAGS = (("SHM_RDONLY", 0o10000), ("SHM_RND", 0o20000), ("SHM_REMAP", 0o40000),
              ("SHM_EXEC", 0o100000))
_IPC_CMDS = {0: "IPC_RMID", 1: "IPC_SET", 2: "IPC_STAT", 3: "IPC_INFO"}
_MSG_CMDS = {**_IPC_CMDS, 11: "MSG_STAT", 12: "MSG_INFO", 13: "MSG_STAT_ANY"}
_SEM_CMDS = {**_IPC_CMDS, 11: "GETPID", 12: "GETVAL", 13: "GETALL", 14: "GETNCNT",
             15: "GETZCNT", 16: "SETVAL", 17: "SETALL", 18: "SEM_STAT", 19: "SEM_INFO",
             20: "SEM_STAT_ANY"}
_SHM_CMDS = {**_IPC_CMDS, 11: "SHM_LOCK", 12: "SHM_UNLOCK", 13: "SHM_STAT", 14: "SHM_INFO",
             15: "SHM_STAT_ANY"}


def _flags(names, value: int, unknown: str) -> str:
    """printflags: the names in strace's order, then what is left in hex; "0" for none."""
    parts = []
    for name, bit in names:
        if value & bit:
            parts.append(name)
            value &= ~bit
    if value:
        parts.append(f"{value:#x}" if parts else f"{value:#x} /* {unknown} */")
    return "|".join(parts) if parts else "0"


def _key(v: int) -> str:
    v &= 0xFFFFFFFF
    return "IPC_PRIVATE" if v == 0 else f"{v:#x}"


def _mode_flags(names, v: int) -> str:
    """IPC_CREAT|0600: the flags strace knows, then the permission bits in octal."""
    flags = v & ~0o777
    known = [n for n, bit in names if flags & bit]
    return "|".join(known + [_octal(v & 0o777).rjust(3, "0")])


def _octal(v: int) -> str:
    """C's %#o: a leading 0, and just "0" for zero."""
    return f"0{v:o}" if v else "0"


def _cmd(names: dict[int, str], cmd: int, unknown: str) -> str:
    """PRINTCTL: IPC_64| first when set, then the command or its number."""
    cmd &= 0xFFFFFFFF
    head = ""
    if cmd & IPC_64:
        head, cmd = "IPC_64|", cmd & ~IPC_64
    name = names.get(cmd)
    return head + (name if name is not None else f"{cmd:#x} /* {unknown} */")


class _Args:
    """One call's view for these decoders: its arguments in the direct syscall's order
    (ipc() reshuffled), the memory, the ABI's word, and the result."""

    def __init__(self, call: CallDecoding, args: list[int]):
        self.call = call
        self.a = args
        self.bits = call.bits
        self.word = call.bits // 8

    def read(self, addr: int, size: int) -> bytes | None:
        try:
            return bytes(self.call.mem.read(addr, size))
        except Exception:  # noqa: BLE001  an unreadable buffer shows as its address
            return None

    def s32(self, i: int) -> int:
        return signed(self.a[i], 32)

    def slong(self, i: int) -> int:
        return signed(self.a[i], self.bits)


def _msgbuf(x: _Args, addr: int, size: int) -> str:
    head = x.read(addr, x.word)
    if head is None:
        return addr_text(addr)
    mtype = signed(int.from_bytes(head, "little"), x.bits)
    text = str_text(x.call.mem, addr + x.word, size, x.call.limit)
    return f"{{mtype={mtype}, mtext={text}}}"


def _perm(x: _Args, raw: bytes, full: bool) -> str:
    key, uid, gid, cuid, cgid = struct.unpack_from("<iIIII", raw)
    mode = struct.unpack_from("<I" if x.bits == 64 else "<H", raw, 20)[0]
    mode_text = _octal(mode).rjust(3, "0")  # %#03o
    if not full:
        return f"{{uid={uid}, gid={gid}, mode={mode_text}}}"
    return (f"{{uid={uid}, gid={gid}, mode={mode_text}, key={key}, cuid={cuid}, "
            f"cgid={cgid}}}")


def _words(x: _Args, raw: bytes, off: int, n: int) -> list[int]:
    fmt = "<" + ("Q" if x.bits == 64 else "I") * n
    return list(struct.unpack_from(fmt, raw, off))


def _time_words(x: _Args, raw: bytes, off: int, n: int) -> tuple[list[int], int]:
    """n times, each a word (x86-64) or a low and a high word (i386); and the next offset."""
    if x.bits == 64:
        return [signed(w, 64) for w in _words(x, raw, off, n)], off + 8 * n
    w = _words(x, raw, off, 2 * n)
    return [w[2 * i] | w[2 * i + 1] << 32 for i in range(n)], off + 8 * n


def _perm_size(x: _Args) -> int:
    return 48 if x.bits == 64 else 36


def _msqid_ds(x: _Args, addr: int, setting: bool) -> str:
    raw = x.read(addr, 120 if x.bits == 64 else 88)
    if raw is None:
        return addr_text(addr)
    off = _perm_size(x)
    (stime, rtime, ctime), off = _time_words(x, raw, off, 3)
    _cbytes, qnum, qbytes = _words(x, raw, off, 3)
    off += 3 * x.word
    lspid, lrpid = struct.unpack_from("<ii", raw, off)
    if setting:
        return f"{{msg_perm={_perm(x, raw, False)}, msg_qbytes={qbytes}}}"
    return (f"{{msg_perm={_perm(x, raw, True)}, msg_stime={stime}, msg_rtime={rtime}, "
            f"msg_ctime={ctime}, msg_qnum={qnum}, msg_qbytes={qbytes}, msg_lspid={lspid}, "
            f"msg_lrpid={lrpid}}}")


def _msginfo(x: _Args, addr: int) -> str:
    raw = x.read(addr, 30)
    if raw is None:
        return addr_text(addr)
    v = struct.unpack_from("<7iH", raw)
    names = ("msgpool", "msgmap", "msgmax", "msgmnb", "msgmni", "msgssz", "msgtql", "msgseg")
    return "{" + ", ".join(f"{n}={val}" for n, val in zip(names, v, strict=True)) + "}"


def _semid_ds(x: _Args, addr: int, setting: bool) -> str:
    raw = x.read(addr, 104 if x.bits == 64 else 64)
    if raw is None:
        return addr_text(addr)
    off = _perm_size(x)
    if x.bits == 64:
        otime, _u1, ctime, _u2, nsems = _words(x, raw, off, 5)
    else:
        (otime, ctime), off2 = _time_words(x, raw, off, 2)
        nsems = _words(x, raw, off2, 1)[0]
    if setting:
        return f"{{sem_perm={_perm(x, raw, False)}}}"
    return (f"{{sem_perm={_perm(x, raw, True)}, sem_otime={otime}, sem_ctime={ctime}, "
            f"sem_nsems={nsems}}}")


def _seminfo(x: _Args, addr: int) -> str:
    raw = x.read(addr, 40)
    if raw is None:
        return addr_text(addr)
    names = ("semmap", "semmni", "semmns", "semmnu", "semmsl", "semopm", "semume", "semusz",
             "semvmx", "semaem")
    v = struct.unpack("<10i", raw)
    return "{" + ", ".join(f"{n}={val}" for n, val in zip(names, v, strict=True)) + "}"


def _shmid_ds(x: _Args, addr: int, setting: bool) -> str:
    raw = x.read(addr, 112 if x.bits == 64 else 84)
    if raw is None:
        return addr_text(addr)
    off = _perm_size(x)
    segsz = _words(x, raw, off, 1)[0]
    (atime, dtime, ctime), off = _time_words(x, raw, off + x.word, 3)
    cpid, lpid = struct.unpack_from("<ii", raw, off)
    nattch = _words(x, raw, off + 8, 1)[0]
    if setting:
        return f"{{shm_perm={_perm(x, raw, False)}}}"
    return (f"{{shm_perm={_perm(x, raw, True)}, shm_segsz={segsz}, shm_cpid={cpid}, "
            f"shm_lpid={lpid}, shm_nattch={nattch}, shm_atime={atime}, shm_dtime={dtime}, "
            f"shm_ctime={ctime}}}")


def _shminfo(x: _Args, addr: int) -> str:
    raw = x.read(addr, 5 * x.word)
    if raw is None:
        return addr_text(addr)
    v = _words(x, raw, 0, 5)
    names = ("shmmax", "shmmin", "shmmni", "shmseg", "shmall")
    return "{" + ", ".join(f"{n}={val}" for n, val in zip(names, v, strict=True)) + "}"


def _shm_info(x: _Args, addr: int) -> str:
    raw = x.read(addr, 8 + 5 * x.word if x.bits == 64 else 24)
    if raw is None:
        return addr_text(addr)
    used = struct.unpack_from("<i", raw)[0]
    tot, rss, swp, attempts, successes = _words(x, raw, 8 if x.bits == 64 else 4, 5)
    return (f"{{used_ids={used}, shm_tot={tot}, shm_rss={rss}, shm_swp={swp}, "
            f"swap_attempts={attempts}, swap_successes={successes}}}")


# -- each call: its texts in the direct syscall's argument order (None: shown at exit) --
Texts = list


def _msgget(x: _Args, exiting: bool) -> Texts:
    return [_key(x.a[0]), _mode_flags(_RESOURCE, x.a[1])]


def _semget(x: _Args, exiting: bool) -> Texts:
    return [_key(x.a[0]), str(x.s32(1)), _mode_flags(_RESOURCE, x.a[2])]


def _shmget(x: _Args, exiting: bool) -> Texts:
    return [_key(x.a[0]), str(x.a[1] & ((1 << x.bits) - 1)), _mode_flags(_SHM_RESOURCE,
                                                                         x.a[2])]


def _msgsnd(x: _Args, exiting: bool) -> Texts:
    size = x.a[2] & ((1 << x.bits) - 1)
    return [str(x.s32(0)), _msgbuf(x, x.a[1], size), str(size),
            _flags(_MSG_FLAGS, x.a[3], "MSG_???")]


def _msgrcv(x: _Args, exiting: bool, kludge: int | None = None) -> Texts:
    if not exiting:
        return [str(x.s32(0)), None, None, None, None]
    size = x.a[2] & ((1 << x.bits) - 1)
    flags = _flags(_MSG_FLAGS, x.a[4], "MSG_???")
    if kludge is not None and x.call.failed:
        # strace reads ipc()'s {msgp, msgtyp} pair only when the call succeeded
        return [str(x.s32(0)), addr_text(kludge), str(size), OMITTED, flags]
    buf = addr_text(x.a[1]) if x.call.failed else _msgbuf(x, x.a[1], size)
    return [str(x.s32(0)), buf, str(size), str(x.slong(3)), flags]


# Per kind: its command names, strace's name for an unknown one, its *_STAT commands,
# and how it prints its struct (given IPC_SET's short form or not) and its two info structs.
_KINDS = {
    "msg": (_MSG_CMDS, "MSG_???", (2, 11, 13), "_msqid_ds", "_msginfo", "_msginfo"),
    "shm": (_SHM_CMDS, "SHM_???", (2, 13, 15), "_shmid_ds", "_shminfo", "_shm_info"),
}


def _ctl(kind: str) -> Callable[[_Args, bool], Texts]:
    """msgctl and shmctl: the struct as given for IPC_SET, as filled in for the STAT and
    INFO commands that succeeded, the address otherwise."""
    names, unknown, stats, ds, ipc_info, own_info = _KINDS[kind]
    info_cmd = {"msg": 12, "shm": 14}[kind]

    def decode(x: _Args, exiting: bool) -> Texts:
        cmd = x.a[1] & 0xFFFFFFFF
        base = cmd & ~IPC_64
        addr = x.a[2]
        head = [str(x.s32(0)), _cmd(names, cmd, unknown)]
        if base == 1:
            return head + [globals()[ds](x, addr, True)]
        if base not in stats and base not in (3, info_cmd):
            return head + [addr_text(addr)]
        if not exiting:
            return head + [None]
        if x.call.failed:
            return head + [addr_text(addr)]
        if base in stats:
            return head + [globals()[ds](x, addr, False)]
        return head + [globals()[ipc_info if base == 3 else own_info](x, addr)]

    return decode


def _semctl(x: _Args, exiting: bool, indirect: bool = False) -> Texts:
    """The fourth argument: the structs of the STAT, INFO and SET commands; otherwise the
    semun word as a pointer, in brackets when ipc() passed a pointer to it."""
    cmd = x.a[2] & 0xFFFFFFFF
    base = cmd & ~IPC_64
    head = [str(x.s32(0)), str(x.s32(1)), _cmd(_SEM_CMDS, cmd, "SEM_???")]
    arg = x.a[3]
    word = f"[{addr_text(arg)}]" if indirect else addr_text(arg)
    if base == 1:
        return head + [_semid_ds(x, arg, True)]
    if base not in (2, 3, 18, 19, 20):
        return head + [word]
    if not exiting:
        return head + [None]
    if x.call.failed:
        return head + [word]
    if base in (3, 19):
        return head + [_seminfo(x, arg)]
    return head + [_semid_ds(x, arg, False)]


def _sembufs(x: _Args, addr: int, n: int) -> str:
    if addr == 0:
        return "NULL"
    items = []
    for i in range(n):
        if i >= x.call.limit:
            items.append("...")
            break
        raw = x.read(addr + 6 * i, 6)
        if raw is None:
            if i == 0:
                return addr_text(addr)
            items.append(f"... /* {addr_text(addr + 6 * i)} */")
            break
        num, op, flg = struct.unpack("<HhH", raw)
        flags = _flags(_SEM_FLAGS, flg, "SEM_???")
        items.append(f"{{sem_num={num}, sem_op={op}, sem_flg={flags}}}")
    return "[" + ", ".join(items) + "]"


def _semop(x: _Args, exiting: bool) -> Texts:
    n = x.a[2] & 0xFFFFFFFF
    return [str(x.s32(0)), _sembufs(x, x.a[1], n), str(n)]


def _semtimedop(time64: bool) -> Callable[[_Args, bool], Texts]:
    def decode(x: _Args, exiting: bool) -> Texts:
        ts = x.a[3]
        name = "timespec64" if time64 else "timespec"
        shown = "NULL" if ts == 0 else struct_text(name, x.call.abi, x.call.mem, ts)
        return _semop(x, exiting) + [shown]
    return decode


def _shmat(x: _Args, exiting: bool) -> Texts:
    return [str(x.s32(0)), addr_text(x.a[1]), _flags(_SHM_FLAGS, x.a[2], "SHM_???")]


def _shmdt(x: _Args, exiting: bool) -> Texts:
    return [addr_text(x.a[0])]


_DIRECT: dict[str, Callable[[_Args, bool], Texts]] = {
    "msgget": _msgget, "semget": _semget, "shmget": _shmget, "msgsnd": _msgsnd,
    "msgrcv": _msgrcv, "msgctl": _ctl("msg"), "shmctl": _ctl("shm"), "semctl": _semctl,
    "semop": _semop, "semtimedop": _semtimedop(False), "semtimedop_time64": _semtimedop(True),
    "shmat": _shmat, "shmdt": _shmdt,
}


def _fill(texts: ArgTexts, new: Texts) -> None:
    """Replace the texts, keeping the list as long as the declaration's (decode_exit
    indexes it by argument)."""
    width = max(len(texts), len(new))
    texts[:] = list(new) + [OMITTED] * (width - len(new))


def _direct(name: str):
    decode = _DIRECT[name]

    def special(call: CallDecoding, texts: ArgTexts) -> None:
        _fill(texts, decode(_Args(call, [call.arg(i) for i in range(len(call.args))]),
                            call.exiting))
    return special


SUBCALLS = {1: "semop", 2: "semget", 3: "semctl", 4: "semtimedop", 11: "msgsnd",
            12: "msgrcv", 13: "msgget", 14: "msgctl", 21: "shmat", 22: "shmdt", 23: "shmget",
            24: "shmctl"}


def shown_name(name: str, args) -> str:
    """The name strace gives a call: i386's ipc() is named for the call it makes (its -c
    table counts msgrcv, not ipc), unless that number is unknown."""
    if name == "ipc" and args:
        return SUBCALLS.get(args[0] & 0xFFFF, name)
    return name


def _ipc(call: CallDecoding, texts: ArgTexts) -> None:
    """ipc(call, first, second, third, ptr, fifth) shown as the call it makes."""
    a = [call.arg(i) for i in range(6)]
    version, sub = a[0] >> 16, a[0] & 0xFFFF
    name = SUBCALLS.get(sub)
    if name is None:
        texts[:] = [str(signed(v, 32)) for v in a]
        return
    texts.shown_name = name
    first, second, third, ptr, fifth = a[1:]
    exiting = call.exiting
    if sub == 12:  # msgrcv
        if version == 0:
            pair = None
            if exiting and not call.failed:
                try:
                    pair = struct.unpack("<Ii", bytes(call.mem.read(ptr, 8)))
                except Exception:  # noqa: BLE001
                    pair = None
            msgp, msgtyp = pair if pair is not None else (ptr, 0)
            new = _msgrcv(_Args(call, [first, msgp, second, msgtyp, third]), exiting,
                          kludge=ptr if pair is None else None)
        else:
            new = _msgrcv(_Args(call, [first, ptr, second, fifth, third]), exiting)
    elif sub == 3:
        pad = 0
        try:
            pad = struct.unpack("<I", bytes(call.mem.read(ptr, 4)))[0]
        except Exception:  # noqa: BLE001
            pad = 0
        new = _semctl(_Args(call, [first, second, third, pad]), exiting, indirect=True)
    elif sub == 21 and exiting and not call.failed:
        new = _shmat(_Args(call, [first, ptr, second]), exiting)
        try:  # the address the call stored at `third` is the result strace shows
            texts.ret_override = struct.unpack("<I", bytes(call.mem.read(third, 4)))[0]
        except Exception:  # noqa: BLE001
            pass
        texts.ret_kind = "hex"
    else:
        direct = {1: [first, ptr, second], 2: [first, second, third], 4: [first, ptr, second,
                  fifth], 11: [first, ptr, second, third], 13: [first, second],
                  14: [first, second, ptr], 21: [first, ptr, second], 22: [ptr],
                  23: [first, second, third], 24: [first, second, ptr]}[sub]
        new = _DIRECT[name](_Args(call, direct), exiting)
    _fill(texts, new)


IPC_SPECIALS: dict[str, Callable[[CallDecoding, ArgTexts], None]] = {
    **{name: _direct(name) for name in _DIRECT}, "ipc": _ipc,
}

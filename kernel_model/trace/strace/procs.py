"""strace's decoders of the calls that make, wait for and synchronise tasks: clone, clone3,
wait4, waitid, futex, get_robust_list (strace's clone.c, wait.c, futex.c). Checked against
strace 6.1 tracing small C programs on Linux 6.18 (tests/test_trace_multitask.py).

Each is a SPECIAL: it rewrites the texts the argument kinds gave. A text left None at
entry is shown after the call, so `<unfinished ...>` stops there, where strace stops."""

from __future__ import annotations

import struct

from kernel_model.trace.strace.kinds import CallDecoding
from kernel_model.trace.strace.line import ArgTexts, siginfo_fields
from kernel_model.trace.strace.struct_printers import struct_text
from kernel_model.trace.strace.values import OMITTED, addr_text
from kernel_model.uapi import constants as C
from kernel_model.uapi.constants import EnumSet, FlagSet, chex

# -- clone and clone3 -------------------------------------------------------------------------
CSIGNAL = 0xFF
CLONE_PIDFD, CLONE_SETTLS, CLONE_PARENT_SETTID = 0x1000, 0x80000, 0x100000
CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID = 0x200000, 0x1000000
CLONE_INTO_CGROUP = 0x200000000

# strace's clone_flags table, in its (ascending) order; CLONE_DETACHED (0x400000) is not
# in it, so musl's pthread_create shows "|0x400000".
CLONE_FLAGS = FlagSet((
    ("CLONE_NEWTIME", 0x80), ("CLONE_VM", 0x100), ("CLONE_FS", 0x200),
    ("CLONE_FILES", 0x400), ("CLONE_SIGHAND", 0x800), ("CLONE_PIDFD", 0x1000),
    ("CLONE_PTRACE", 0x2000), ("CLONE_VFORK", 0x4000), ("CLONE_PARENT", 0x8000),
    ("CLONE_THREAD", 0x10000), ("CLONE_NEWNS", 0x20000), ("CLONE_SYSVSEM", 0x40000),
    ("CLONE_SETTLS", 0x80000), ("CLONE_PARENT_SETTID", 0x100000),
    ("CLONE_CHILD_CLEARTID", 0x200000), ("CLONE_UNTRACED", 0x800000),
    ("CLONE_CHILD_SETTID", 0x1000000), ("CLONE_NEWCGROUP", 0x2000000),
    ("CLONE_NEWUTS", 0x4000000), ("CLONE_NEWIPC", 0x8000000), ("CLONE_NEWUSER", 0x10000000),
    ("CLONE_NEWPID", 0x20000000), ("CLONE_NEWNET", 0x40000000), ("CLONE_IO", 0x80000000),
    ("CLONE_CLEAR_SIGHAND", 0x100000000), ("CLONE_INTO_CGROUP", 0x200000000),
), "CLONE_???", bits=64)


def _tls_text(call: CallDecoding, tls: int) -> str:
    """x86-64 passes the new fs base; i386 a struct user_desc, which strace prints."""
    if call.abi == "i386":
        return struct_text("user_desc", call.abi, call.mem, tls)
    return addr_text(tls)


def _int_at(call: CallDecoding, addr: int) -> str:
    """strace's printnum_int: [value], or the address when it cannot be read."""
    return struct_text("int", call.abi, call.mem, addr)


def _clone(call: CallDecoding, texts: ArgTexts) -> None:
    """clone(child_stack=..., flags=...|SIGCHLD, parent_tid=[N], tls=..., child_tidptr=...),
    whatever the ABI's argument order (i386 passes tls before child_tidptr)."""
    if len(texts) < 5:
        return
    i386 = call.abi == "i386"
    raw_flags = call.arg(0)
    flags, sig = raw_flags & ~CSIGNAL, raw_flags & CSIGNAL
    ptid, ctid, tls = call.arg(2), call.arg(4 if i386 else 3), call.arg(3 if i386 else 4)
    if not call.exiting:
        texts.sep_at_exit = True  # strace prints ", parent_tid=..." as one piece at exit
        if flags:
            shown = C.flags_text(CLONE_FLAGS, flags)
            if sig:
                shown += "|" + C.signal_text(sig)
        else:
            shown = C.signal_text(sig) if sig else "0"
        texts[0], texts[1] = f"child_stack={addr_text(call.arg(1))}", f"flags={shown}"
        later = flags & (CLONE_PARENT_SETTID | CLONE_PIDFD | CLONE_CHILD_SETTID
                         | CLONE_CHILD_CLEARTID | CLONE_SETTLS)
        texts[2:5] = [None, None, None] if later else [OMITTED] * 3
        return
    if not any(t is None for t in texts[2:5]):
        return
    texts[2:5] = [OMITTED] * 3
    if flags & (CLONE_PARENT_SETTID | CLONE_PIDFD):
        texts[2] = f"parent_tid={addr_text(ptid) if call.failed else _int_at(call, ptid)}"
    if flags & CLONE_SETTLS:
        texts[3] = f"tls={_tls_text(call, tls)}"
    if flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID):
        texts[4] = f"child_tidptr={addr_text(ctid)}"


CLONE_ARGS_VER0, CLONE_ARGS_VER2 = 64, 88
_CLONE3_FIELDS = ("flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack",
                  "stack_size", "tls", "set_tid", "set_tid_size", "cgroup")


def _clone_args(call: CallDecoding) -> dict[str, int] | None:
    addr, size = call.arg(0), call.arg(1)
    fetch = min(size, CLONE_ARGS_VER2)
    if fetch < CLONE_ARGS_VER0:
        return None
    try:
        raw = call.mem.read(addr, fetch)
    except Exception:
        return None
    words = struct.unpack(f"<{fetch // 8}Q", raw[:fetch // 8 * 8])
    args = dict.fromkeys(_CLONE3_FIELDS, 0)
    args.update(zip(_CLONE3_FIELDS, words, strict=False))
    args["_fetched"] = fetch
    return args


def _clone3(call: CallDecoding, texts: ArgTexts) -> None:
    """clone3({flags=..., exit_signal=SIGCHLD, stack=..., stack_size=0x9000}, 88), and
    ` => {parent_tid=[N]}` once the call returned for a CLONE_PARENT_SETTID."""
    if len(texts) < 2:
        return
    addr = call.arg(0)
    if not call.exiting:
        texts[1] = str(call.arg(1))
        args = _clone_args(call)
        if args is None:
            texts[0] = addr_text(addr)
            return
        flags = args["flags"]
        fields = [f"flags={C.flags_text(CLONE_FLAGS, flags)}"]
        if flags & CLONE_PIDFD:
            fields.append(f"pidfd={addr_text(args['pidfd'])}")
        if flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID):
            fields.append(f"child_tid={addr_text(args['child_tid'])}")
        if flags & CLONE_PARENT_SETTID:
            fields.append(f"parent_tid={addr_text(args['parent_tid'])}")
        fields.append(f"exit_signal={C.signal_text(args['exit_signal'] & 0xFFFFFFFF)}")
        fields.append(f"stack={addr_text(args['stack'])}")
        fields.append(f"stack_size={chex(args['stack_size'])}")
        if flags & CLONE_SETTLS:
            fields.append(f"tls={_tls_text(call, args['tls'])}")
        if args["set_tid"] or args["set_tid_size"]:
            fields.append(f"set_tid={addr_text(args['set_tid'])}")
            fields.append(f"set_tid_size={args['set_tid_size']}")
        if args["_fetched"] > 80 and (args["cgroup"] or flags & CLONE_INTO_CGROUP):
            fields.append(f"cgroup={args['cgroup']}")
        texts[0] = "{" + ", ".join(fields) + "}"
        if flags & (CLONE_PIDFD | CLONE_PARENT_SETTID):
            # What the kernel wrote back is shown after the call, then the size.
            texts.sep_at_exit = True
            texts[1] = None
        return
    if texts[1] is not None:
        return
    texts[1] = str(call.arg(1))
    if call.failed:
        return
    args = _clone_args(call)
    if args is None:
        texts[0] += f" => {addr_text(addr)}"
        return
    written = []
    if args["flags"] & CLONE_PIDFD:
        written.append(f"pidfd={_int_at(call, args['pidfd']).strip('[]')}")
    if args["flags"] & CLONE_PARENT_SETTID:
        written.append(f"parent_tid={_int_at(call, args['parent_tid'])}")
    if written:
        texts[0] += " => {" + ", ".join(written) + "}"


# -- wait4 and waitid --------------------------------------------------------------------------
WAIT_OPTIONS = FlagSet((
    ("WNOHANG", 1), ("WEXITED", 4), ("WSTOPPED", 2), ("WCONTINUED", 8),
    ("WNOWAIT", 0x01000000), ("__WCLONE", 0x80000000), ("__WALL", 0x40000000),
    ("__WNOTHREAD", 0x20000000),
), "W???")
IDTYPES = EnumSet({0: "P_ALL", 1: "P_PID", 2: "P_PGID", 3: "P_PIDFD"}, "P_???")


def wait_status_text(status: int) -> str:
    """A wait status as strace decodes it (printstatus): [{WIFEXITED(s) && WEXITSTATUS(s)
    == 7}], [{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL && WCOREDUMP(s)}], ..."""
    status &= 0xFFFFFFFF
    low = status & 0x7F
    if status & 0xFF == 0x7F:
        sig = (status >> 8) & 0xFF
        text = (f"WIFSTOPPED(s) && WSTOPSIG(s) == {C.signal_text(sig & 0x7F)}"
                f"{' | 0x80' if sig & 0x80 else ''}")
        rest = status & ~((sig << 8) | 0x7F)
    elif low and low != 0x7F:
        core = status & 0x80
        text = (f"WIFSIGNALED(s) && WTERMSIG(s) == {C.signal_text(low)}"
                f"{' && WCOREDUMP(s)' if core else ''}")
        rest = status & ~(low | core)
    elif low == 0:
        text = f"WIFEXITED(s) && WEXITSTATUS(s) == {(status >> 8) & 0xFF}"
        rest = status & ~0xFF00
    elif status == 0xFFFF:
        text, rest = "WIFCONTINUED(s)", 0
    else:
        return f"[{chex(status)}]"
    if rest >> 16:
        text += f" | {chex(rest >> 16)} << 16"
        rest &= 0xFFFF
    if rest:
        text += f" | {chex(rest)}"
    return f"[{{{text}}}]"


def rusage_text(call: CallDecoding, addr: int) -> str:
    """struct rusage without -v: its two times, then "...". i386's is the compat one, with
    32-bit timevals."""
    if addr == 0:
        return "NULL"
    word = 8 if call.bits == 64 else 4
    size = 18 * word
    try:
        raw = call.mem.read(addr, size)
    except Exception:
        return addr_text(addr)
    fmt = "<qqqq" if word == 8 else "<iiii"
    us, uu, ss, su = struct.unpack(fmt, raw[:4 * word])
    return (f"{{ru_utime={{tv_sec={us}, tv_usec={uu}}}, "
            f"ru_stime={{tv_sec={ss}, tv_usec={su}}}, ...}}")


def _wait4(call: CallDecoding, texts: ArgTexts) -> None:
    """wait4(pid, [status], options, rusage): the pid at entry, the rest after the call;
    the status and rusage are shown only when a child was reported (the result > 0)."""
    if len(texts) < 3:
        return
    if not call.exiting:
        texts[0] = str(call.int_arg(0))
        texts[1] = None
        texts[2] = C.flags_text(WAIT_OPTIONS, call.arg(2))
        if len(texts) > 3:
            texts[3] = addr_text(call.arg(3))  # the rusage, if the call is interrupted
        return
    reported = call.ret is not None and call.ret > 0
    status_addr = call.arg(1)
    if reported and status_addr:
        try:
            raw = call.mem.read(status_addr, 4)
            texts[1] = wait_status_text(int.from_bytes(raw, "little"))
        except Exception:
            texts[1] = addr_text(status_addr)
    else:
        texts[1] = addr_text(status_addr)
    if len(texts) > 3 and reported:
        texts[3] = rusage_text(call, call.arg(3))


def siginfo_text(call: CallDecoding, addr: int) -> str:
    """A siginfo_t the kernel filled in: {} when nothing was reported (si_signo 0)."""
    if addr == 0:
        return "NULL"
    try:
        raw = call.mem.read(addr, 128)
    except Exception:
        return addr_text(addr)
    signo, _errno, code = struct.unpack_from("<iii", raw, 0)
    if signo == 0:
        return "{}"
    if call.bits == 64:
        pid, uid, status = struct.unpack_from("<iIi", raw, 16)
        utime, stime = struct.unpack_from("<qq", raw, 32)
        addr_field = struct.unpack_from("<Q", raw, 16)[0]
    else:
        pid, uid, status, utime, stime = struct.unpack_from("<iIiii", raw, 12)
        addr_field = struct.unpack_from("<I", raw, 12)[0]
    if signo == 17 and code > 0:
        fields = siginfo_fields(signo, code, 0, pid, uid, status, utime, stime)
    else:
        fields = siginfo_fields(signo, code, addr_field, pid, uid)
    return "{" + ", ".join(fields) + "}"


def _waitid(call: CallDecoding, texts: ArgTexts) -> None:
    """waitid(P_PID, pid, {si_signo=SIGCHLD, ...}, WEXITED, NULL)."""
    if len(texts) < 4:
        return
    if not call.exiting:
        texts[0] = C.enum_text(IDTYPES, call.arg(0))
        texts[1] = str(call.int_arg(1))
        texts[2] = None
        texts[3] = C.flags_text(WAIT_OPTIONS, call.arg(3))
        if len(texts) > 4:
            texts[4] = addr_text(call.arg(4))
        return
    infop = call.arg(2)
    texts[2] = addr_text(infop) if call.failed else siginfo_text(call, infop)
    if len(texts) > 4 and not call.failed:
        texts[4] = rusage_text(call, call.arg(4))


# -- futex -----------------------------------------------------------------------------------
(FUTEX_WAIT, FUTEX_WAKE, FUTEX_FD, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP,
 FUTEX_LOCK_PI, FUTEX_UNLOCK_PI, FUTEX_TRYLOCK_PI, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET,
 FUTEX_WAIT_REQUEUE_PI, FUTEX_CMP_REQUEUE_PI, FUTEX_LOCK_PI2) = range(14)
FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME = 128, 256
_FUTEX_CMDS = ("FUTEX_WAIT", "FUTEX_WAKE", "FUTEX_FD", "FUTEX_REQUEUE", "FUTEX_CMP_REQUEUE",
               "FUTEX_WAKE_OP", "FUTEX_LOCK_PI", "FUTEX_UNLOCK_PI", "FUTEX_TRYLOCK_PI",
               "FUTEX_WAIT_BITSET", "FUTEX_WAKE_BITSET", "FUTEX_WAIT_REQUEUE_PI",
               "FUTEX_CMP_REQUEUE_PI")


def _futex_ops() -> dict[int, str]:
    """strace 6.1's futexops table: whole values, not flags. Every command alone and with
    _PRIVATE; FUTEX_CLOCK_REALTIME only with the waits that take it; FUTEX_LOCK_PI2 (Linux
    5.14) is not in it."""
    ops: dict[int, str] = {}
    for cmd, name in enumerate(_FUTEX_CMDS):
        ops[cmd] = name
        ops[cmd | FUTEX_PRIVATE_FLAG] = (f"{name}_PRIVATE" if cmd != FUTEX_FD
                                         else "FUTEX_FD|FUTEX_PRIVATE_FLAG")
    for cmd in (FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI):
        for private in (0, FUTEX_PRIVATE_FLAG):
            ops[cmd | private | FUTEX_CLOCK_REALTIME] = (
                ops[cmd | private] + "|FUTEX_CLOCK_REALTIME")
    return ops


FUTEX_OPS = EnumSet(_futex_ops(), "FUTEX_???")
FUTEX_BITSET_MATCH_ANY = 0xFFFFFFFF
_WAKE_OPS = ("FUTEX_OP_SET", "FUTEX_OP_ADD", "FUTEX_OP_OR", "FUTEX_OP_ANDN", "FUTEX_OP_XOR")
_WAKE_CMPS = ("FUTEX_OP_CMP_EQ", "FUTEX_OP_CMP_NE", "FUTEX_OP_CMP_LT", "FUTEX_OP_CMP_LE",
              "FUTEX_OP_CMP_GT", "FUTEX_OP_CMP_GE")


def wake_op_text(val3: int) -> str:
    """FUTEX_WAKE_OP's encoded operation: FUTEX_OP_SET<<28|0<<12|FUTEX_OP_CMP_GT<<24|0x1."""
    op, cmp = (val3 >> 28) & 0xF, (val3 >> 24) & 0xF
    parts = []
    if op & 8:
        parts.append("FUTEX_OP_OPARG_SHIFT<<28")
        op &= 7
    parts.append(f"{_WAKE_OPS[op]}<<28" if op < len(_WAKE_OPS)
                 else f"{chex(op)}<<28 /* FUTEX_OP_??? */")
    parts.append(f"{chex((val3 >> 12) & 0xFFF)}<<12")
    parts.append(f"{_WAKE_CMPS[cmp]}<<24" if cmp < len(_WAKE_CMPS)
                 else f"{chex(cmp)}<<24 /* FUTEX_OP_CMP_??? */")
    parts.append(chex(val3 & 0xFFF))
    return "|".join(parts)


def _futex(call: CallDecoding, texts: ArgTexts) -> None:
    """futex(uaddr, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME, 0, NULL,
    FUTEX_BITSET_MATCH_ANY): the arguments each operation uses, all known at entry."""
    if call.exiting or len(texts) < 6:
        return
    op = call.arg(1) & 0xFFFFFFFF
    cmd = op & 127
    val, val2, val3 = call.arg(2) & 0xFFFFFFFF, call.arg(3) & 0xFFFFFFFF, call.arg(5) & 0xFFFFFFFF
    timeout, uaddr2 = call.arg(3), call.arg(4)
    struct_name = "timespec64" if call.sdef.name == "futex_time64" else "timespec"

    def when(addr: int) -> str:
        return struct_text(struct_name, call.abi, call.mem, addr)

    def bitset(v: int) -> str:
        return "FUTEX_BITSET_MATCH_ANY" if v == FUTEX_BITSET_MATCH_ANY else chex(v)

    rest: list[str]
    if cmd == FUTEX_WAIT:
        rest = [str(val), when(timeout)]
    elif cmd in (FUTEX_LOCK_PI, FUTEX_LOCK_PI2):
        rest = [when(timeout)]
    elif cmd == FUTEX_WAIT_BITSET:
        rest = [str(val), when(timeout), bitset(val3)]
    elif cmd == FUTEX_WAKE_BITSET:
        rest = [str(val), bitset(val3)]
    elif cmd == FUTEX_REQUEUE:
        rest = [str(val), str(val2), addr_text(uaddr2)]
    elif cmd in (FUTEX_CMP_REQUEUE, FUTEX_CMP_REQUEUE_PI):
        rest = [str(val), str(val2), addr_text(uaddr2), str(val3)]
    elif cmd == FUTEX_WAIT_REQUEUE_PI:
        rest = [str(val), when(timeout), addr_text(uaddr2)]
    elif cmd == FUTEX_WAKE_OP:
        rest = [str(val), str(val2), addr_text(uaddr2), wake_op_text(val3)]
    elif cmd in (FUTEX_WAKE, FUTEX_FD):
        rest = [str(val)]
    elif cmd in (FUTEX_UNLOCK_PI, FUTEX_TRYLOCK_PI):
        rest = []
    else:
        rest = [str(val), addr_text(timeout), addr_text(uaddr2), chex(val3)]
    texts[0] = addr_text(call.arg(0))
    texts[1] = C.enum_text(FUTEX_OPS, op)
    texts[2:6] = rest + [OMITTED] * (4 - len(rest))


# -- robust lists, process ids ---------------------------------------------------------------
def _get_robust_list(call: CallDecoding, texts: ArgTexts) -> None:
    """get_robust_list(0, [0x...], [24]): the head pointer and length the kernel wrote."""
    if len(texts) < 3:
        return
    if not call.exiting:
        texts[0] = str(call.int_arg(0))
        texts[1] = texts[2] = None
        return
    head, size = call.arg(1), call.arg(2)
    if call.failed:
        texts[1], texts[2] = addr_text(head), addr_text(size)
        return
    texts[1] = struct_text("kptr", call.abi, call.mem, head)
    word = call.bits // 8
    try:
        texts[2] = f"[{int.from_bytes(call.mem.read(size, word), 'little')}]" if size \
            else "NULL"
    except Exception:
        texts[2] = addr_text(size)


PROCESS_SPECIALS = {
    "clone": _clone, "clone3": _clone3,
    "wait4": _wait4, "waitpid": _wait4, "waitid": _waitid,
    "futex": _futex, "futex_time64": _futex,
    "get_robust_list": _get_robust_list,
}

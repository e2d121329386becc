"""The event stream: what the machine and the kernel model did, as small frozen records.

Every consumer (the strace printer, the JSON trace, the -c summary, the grader, the TUI)
reads these and nothing else. Names are in the past tense: each records something done.

The records are emu.records.Record classes written out, not dataclasses: this
module is imported by every run, traced or not, and fifteen dataclasses cost each start
about 11 ms (issue 16). They behave as the frozen dataclasses they were: the same
constructor, repr, equality and hash, `kind` last among the fields (as a dataclass field
with init=False it was), and event_to_dict gives what dataclasses.asdict gave.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, is_dataclass

from emu.records import Record
from kernel_model.entry.mechanism import Mechanism


class RegChange(Record):
    __slots__ = ("name", "old", "new")
    _fields = ("name", "old", "new")
    name: str
    old: int
    new: int

    def __init__(self, name: str, old: int, new: int) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "name", name)
        setattr_(self, "old", old)
        setattr_(self, "new", new)


class StackPush(Record):
    """A value the CPU pushed on the kernel stack during a trap (the `int 0x80` frame)."""

    __slots__ = ("name", "value")
    _fields = ("name", "value")
    name: str
    value: int

    def __init__(self, name: str, value: int) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "name", name)
        setattr_(self, "value", value)


class MemAccess(Record):
    """Guest memory the kernel read (copy_from_user) or wrote (copy_to_user)."""

    __slots__ = ("addr", "size", "write")
    _fields = ("addr", "size", "write")
    addr: int
    size: int
    write: bool

    def __init__(self, addr: int, size: int, write: bool) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "addr", addr)
        setattr_(self, "size", size)
        setattr_(self, "write", write)


class ProcessStarted(Record):
    _fields = ("arch", "path", "argv", "envp", "auxv", "entry", "sp", "pid", "kind")
    __match_args__ = ("arch", "path", "argv", "envp", "auxv", "entry", "sp", "pid")
    arch: str
    path: str
    argv: tuple[str, ...]
    envp: tuple[str, ...]
    auxv: tuple[tuple[int, int], ...]
    entry: int
    sp: int
    pid: int
    kind = "start"

    def __init__(
            self, arch: str, path: str, argv: tuple[str, ...], envp: tuple[str, ...],
            auxv: tuple[tuple[int, int], ...], entry: int, sp: int, pid: int,
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "arch", arch)
        setattr_(self, "path", path)
        setattr_(self, "argv", argv)
        setattr_(self, "envp", envp)
        setattr_(self, "auxv", auxv)
        setattr_(self, "entry", entry)
        setattr_(self, "sp", sp)
        setattr_(self, "pid", pid)


class SyscallEntered(Record):
    """A trap reached the kernel. `pc` is the trap instruction; `regs` the user registers at
    the trap; `cpu_effects` what the CPU itself changed on the way in (rcx/r11 for
    `syscall`, the frame pushed for `int 0x80`); `table` is the table `nr` indexes."""

    _fields = (
        "seq", "mechanism", "abi", "table", "entry", "nr", "name", "implemented", "args", "pc",
        "regs", "cpu_effects", "kind",
    )
    __match_args__ = (
        "seq", "mechanism", "abi", "table", "entry", "nr", "name", "implemented", "args", "pc",
        "regs", "cpu_effects",
    )
    seq: int
    mechanism: Mechanism  # one of entry.mechanism.TRAPS
    abi: str  # "x86_64" or "i386"
    table: str  # "sys_call_table" or "ia32_sys_call_table"
    entry: str  # the kernel entry point the CPU jumped to, e.g. "entry_SYSCALL_64"
    nr: int
    name: str | None  # None: no such entry in the table
    implemented: bool
    args: tuple[int, ...]
    pc: int
    regs: dict[str, int]
    cpu_effects: tuple[RegChange | StackPush, ...]
    kind = "syscall_entry"

    def __init__(
            self, seq: int, mechanism: Mechanism, abi: str, table: str, entry: str, nr: int,
            name: str | None, implemented: bool, args: tuple[int, ...], pc: int,
            regs: dict[str, int], cpu_effects: tuple[RegChange | StackPush, ...],
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "seq", seq)
        setattr_(self, "mechanism", mechanism)
        setattr_(self, "abi", abi)
        setattr_(self, "table", table)
        setattr_(self, "entry", entry)
        setattr_(self, "nr", nr)
        setattr_(self, "name", name)
        setattr_(self, "implemented", implemented)
        setattr_(self, "args", args)
        setattr_(self, "pc", pc)
        setattr_(self, "regs", regs)
        setattr_(self, "cpu_effects", cpu_effects)


class SyscallReturned(Record):
    """The handler finished and the return path ran. `ret` is what the return register got
    (signed; -errno on failure) or None for calls that never return (exit). `text` is the
    strace line. `return_pc` is where user mode resumes."""

    _fields = (
        "seq", "mechanism", "abi", "nr", "name", "args", "ret", "pc", "return_pc", "text",
        "effects", "return_effects", "note", "cost_ns", "cost_source", "resumed_from", "kind",
    )
    __match_args__ = (
        "seq", "mechanism", "abi", "nr", "name", "args", "ret", "pc", "return_pc", "text",
        "effects", "return_effects", "note", "cost_ns", "cost_source", "resumed_from",
    )
    seq: int
    mechanism: Mechanism
    abi: str
    nr: int
    name: str | None
    args: tuple[int, ...]
    ret: int | None
    pc: int
    return_pc: int
    text: str
    effects: tuple[MemAccess, ...]
    return_effects: tuple[RegChange, ...]
    note: str
    cost_ns: float  # modelled cost of the crossing on real hardware (entry.costs)
    cost_source: str
    # Non-zero: the call had blocked (SyscallBlocked with this seq) and ends here, after
    # other tasks ran: strace -f's `<... NAME resumed>` line.
    resumed_from: int
    kind = "syscall"

    def __init__(
            self, seq: int, mechanism: Mechanism, abi: str, nr: int, name: str | None,
            args: tuple[int, ...], ret: int | None, pc: int, return_pc: int, text: str,
            effects: tuple[MemAccess, ...] = (), return_effects: tuple[RegChange, ...] = (),
            note: str = "", cost_ns: float = 0.0, cost_source: str = "", resumed_from: int = 0,
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "seq", seq)
        setattr_(self, "mechanism", mechanism)
        setattr_(self, "abi", abi)
        setattr_(self, "nr", nr)
        setattr_(self, "name", name)
        setattr_(self, "args", args)
        setattr_(self, "ret", ret)
        setattr_(self, "pc", pc)
        setattr_(self, "return_pc", return_pc)
        setattr_(self, "text", text)
        setattr_(self, "effects", effects)
        setattr_(self, "return_effects", return_effects)
        setattr_(self, "note", note)
        setattr_(self, "cost_ns", cost_ns)
        setattr_(self, "cost_source", cost_source)
        setattr_(self, "resumed_from", resumed_from)


class SyscallBlocked(Record):
    """The call must wait (`what`, in words): the task sleeps and others run. `text` is
    strace -f's `NAME(args <unfinished ...>` line."""

    _fields = ("seq", "name", "what", "text", "pid", "tid", "kind")
    __match_args__ = ("seq", "name", "what", "text", "pid", "tid")
    seq: int
    name: str
    what: str
    text: str
    pid: int
    tid: int
    kind = "blocked"

    def __init__(self, seq: int, name: str, what: str, text: str, pid: int, tid: int) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "seq", seq)
        setattr_(self, "name", name)
        setattr_(self, "what", what)
        setattr_(self, "text", text)
        setattr_(self, "pid", pid)
        setattr_(self, "tid", tid)


class TaskSwitched(Record):
    """The scheduler gave the CPU to another task (context_switch): `why` in words;
    `prev_state` is what the previous task became (R preempted, S waiting, Z/X gone)."""

    _fields = ("prev_pid", "prev_tid", "pid", "tid", "why", "prev_state", "kind")
    __match_args__ = ("prev_pid", "prev_tid", "pid", "tid", "why", "prev_state")
    prev_pid: int
    prev_tid: int
    pid: int
    tid: int
    why: str
    prev_state: str
    kind = "switch"

    def __init__(
            self, prev_pid: int, prev_tid: int, pid: int, tid: int, why: str, prev_state: str,
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "prev_pid", prev_pid)
        setattr_(self, "prev_tid", prev_tid)
        setattr_(self, "pid", pid)
        setattr_(self, "tid", tid)
        setattr_(self, "why", why)
        setattr_(self, "prev_state", prev_state)


class ProcessForked(Record):
    """fork/vfork/clone made a new task: a process (thread False) or a thread."""

    _fields = ("parent_pid", "parent_tid", "pid", "tid", "thread", "flags", "text", "kind")
    __match_args__ = ("parent_pid", "parent_tid", "pid", "tid", "thread", "flags", "text")
    parent_pid: int
    parent_tid: int
    pid: int
    tid: int
    thread: bool
    flags: int
    text: str
    kind = "fork"

    def __init__(
            self, parent_pid: int, parent_tid: int, pid: int, tid: int, thread: bool, flags: int,
            text: str,
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "parent_pid", parent_pid)
        setattr_(self, "parent_tid", parent_tid)
        setattr_(self, "pid", pid)
        setattr_(self, "tid", tid)
        setattr_(self, "thread", thread)
        setattr_(self, "flags", flags)
        setattr_(self, "text", text)


class SignalDelivered(Record):
    """A signal reached the process. action: "handler" (a frame was built and the handler
    runs), "ignored", or "killed" (the default action ends the process)."""

    _fields = (
        "signo", "name", "code", "code_name", "addr", "pc", "handler", "action", "text", "kind",
    )
    __match_args__ = (
        "signo", "name", "code", "code_name", "addr", "pc", "handler", "action", "text",
    )
    signo: int
    name: str
    code: int
    code_name: str
    addr: int
    pc: int
    handler: int
    action: str
    text: str
    kind = "signal"

    def __init__(
            self, signo: int, name: str, code: int, code_name: str, addr: int, pc: int,
            handler: int, action: str, text: str,
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "signo", signo)
        setattr_(self, "name", name)
        setattr_(self, "code", code)
        setattr_(self, "code_name", code_name)
        setattr_(self, "addr", addr)
        setattr_(self, "pc", pc)
        setattr_(self, "handler", handler)
        setattr_(self, "action", action)
        setattr_(self, "text", text)


class ProcessExited(Record):
    _fields = ("status", "code", "signal", "text", "pid", "kind")
    __match_args__ = ("status", "code", "signal", "text", "pid")
    status: int  # the exit status a shell sees: the code, or 128+N when killed by signal N
    code: int | None
    signal: int | None
    text: str
    pid: int
    kind = "exit"

    def __init__(
            self, status: int, code: int | None, signal: int | None, text: str, pid: int = 0,
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "status", status)
        setattr_(self, "code", code)
        setattr_(self, "signal", signal)
        setattr_(self, "text", text)
        setattr_(self, "pid", pid)


class RunStopped(Record):
    """The emulator stopped the guest for a reason of its own (instruction budget, time)."""

    _fields = ("reason", "pc", "text", "kind")
    __match_args__ = ("reason", "pc", "text")
    reason: str
    pc: int
    text: str
    kind = "stopped"

    def __init__(self, reason: str, pc: int, text: str) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "reason", reason)
        setattr_(self, "pc", pc)
        setattr_(self, "text", text)


class VdsoCalled(Record):
    """A call into the vDSO returned: answered in user mode, no crossing, strace never
    sees it. `name` is the vDSO symbol; `fallback` names the syscall the vDSO made itself
    when it could not answer (a clock it does not serve)."""

    _fields = (
        "name", "args", "ret", "pc", "return_pc", "text", "cost_ns", "cost_source", "fallback",
        "kind",
    )
    __match_args__ = (
        "name", "args", "ret", "pc", "return_pc", "text", "cost_ns", "cost_source", "fallback",
    )
    name: str
    args: tuple[int, ...]
    ret: int
    pc: int
    return_pc: int
    text: str
    cost_ns: float
    cost_source: str
    fallback: str
    kind = "vdso"

    def __init__(
            self, name: str, args: tuple[int, ...], ret: int, pc: int, return_pc: int, text: str,
            cost_ns: float, cost_source: str, fallback: str = "",
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "name", name)
        setattr_(self, "args", args)
        setattr_(self, "ret", ret)
        setattr_(self, "pc", pc)
        setattr_(self, "return_pc", return_pc)
        setattr_(self, "text", text)
        setattr_(self, "cost_ns", cost_ns)
        setattr_(self, "cost_source", cost_source)
        setattr_(self, "fallback", fallback)


class VsyscallCalled(Record):
    """A call into the vsyscall page. mode "native": its code ran in user mode; "emulate" /
    "xonly": the fetch faulted and the kernel emulated the call and a `ret` (changes: only
    rax, rip, rsp)."""

    _fields = (
        "name", "mode", "args", "ret", "pc", "return_pc", "text", "changes", "cost_ns",
        "cost_source", "kind",
    )
    __match_args__ = (
        "name", "mode", "args", "ret", "pc", "return_pc", "text", "changes", "cost_ns",
        "cost_source",
    )
    name: str
    mode: str
    args: tuple[int, ...]
    ret: int
    pc: int
    return_pc: int
    text: str
    changes: tuple[tuple[str, int, int], ...]
    cost_ns: float
    cost_source: str
    kind = "vsyscall"

    def __init__(
            self, name: str, mode: str, args: tuple[int, ...], ret: int, pc: int, return_pc: int,
            text: str, changes: tuple[tuple[str, int, int], ...], cost_ns: float, cost_source: str,
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "name", name)
        setattr_(self, "mode", mode)
        setattr_(self, "args", args)
        setattr_(self, "ret", ret)
        setattr_(self, "pc", pc)
        setattr_(self, "return_pc", return_pc)
        setattr_(self, "text", text)
        setattr_(self, "changes", changes)
        setattr_(self, "cost_ns", cost_ns)
        setattr_(self, "cost_source", cost_source)


class KernelNote(Record):
    """Something the kernel said that is not a syscall line (dmesg-style warnings)."""

    _fields = ("text", "kind")
    __match_args__ = ("text",)
    text: str
    kind = "note"

    def __init__(self, text: str) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "text", text)


Event = (ProcessStarted | SyscallEntered | SyscallReturned | SignalDelivered | ProcessExited
         | RunStopped | VdsoCalled | VsyscallCalled | KernelNote | SyscallBlocked
         | TaskSwitched | ProcessForked)


def event_to_dict(event) -> dict:
    d = _plain(event)
    d["kind"] = event.kind
    return d


def _plain(value):
    """As dataclasses.asdict: records become dicts of their fields, recursively through
    tuples, lists and dicts; anything else is deep-copied."""
    if isinstance(value, Record):
        return {f: _plain(getattr(value, f)) for f in value._fields}
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return type(value)(*[_plain(v) for v in value])
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return type(value)((_plain(k), _plain(v)) for k, v in value.items())
    return copy.deepcopy(value)

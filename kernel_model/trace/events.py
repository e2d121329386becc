"""The event stream: what the machine and the kernel model did, as small frozen records.

Every consumer (the strace printer, the JSON trace, the -c summary, the grader, the TUI)
reads these and nothing else. Names are in the past tense: each records something done.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from kernel_model.entry.mechanism import Mechanism


@dataclass(frozen=True, slots=True)
class RegChange:
    name: str
    old: int
    new: int


@dataclass(frozen=True, slots=True)
class StackPush:
    """A value the CPU pushed on the kernel stack during a trap (the `int 0x80` frame)."""

    name: str
    value: int


@dataclass(frozen=True, slots=True)
class MemAccess:
    """Guest memory the kernel read (copy_from_user) or wrote (copy_to_user)."""

    addr: int
    size: int
    write: bool


@dataclass(frozen=True)
class ProcessStarted:
    arch: str
    path: str
    argv: tuple[str, ...]
    envp: tuple[str, ...]
    auxv: tuple[tuple[int, int], ...]
    entry: int
    sp: int
    pid: int
    kind: str = field(default="start", init=False)


@dataclass(frozen=True)
class SyscallEntered:
    """A trap reached the kernel. `pc` is the trap instruction; `regs` the user registers at
    the trap; `cpu_effects` what the CPU itself changed on the way in (rcx/r11 for
    `syscall`, the frame pushed for `int 0x80`); `table` is the table `nr` indexes."""

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
    kind: str = field(default="syscall_entry", init=False)


@dataclass(frozen=True)
class SyscallReturned:
    """The handler finished and the return path ran. `ret` is what the return register got
    (signed; -errno on failure) or None for calls that never return (exit). `text` is the
    strace line. `return_pc` is where user mode resumes."""

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
    effects: tuple[MemAccess, ...] = ()
    return_effects: tuple[RegChange, ...] = ()
    note: str = ""
    cost_ns: float = 0.0  # modelled cost of the crossing on real hardware (entry.costs)
    cost_source: str = ""
    # Non-zero: the call had blocked (SyscallBlocked with this seq) and ends here, after
    # other tasks ran: strace -f's `<... NAME resumed>` line.
    resumed_from: int = 0
    kind: str = field(default="syscall", init=False)


@dataclass(frozen=True)
class SyscallBlocked:
    """The call must wait (`what`, in words): the task sleeps and others run. `text` is
    strace -f's `NAME(args <unfinished ...>` line."""

    seq: int
    name: str
    what: str
    text: str
    pid: int
    tid: int
    kind: str = field(default="blocked", init=False)


@dataclass(frozen=True)
class TaskSwitched:
    """The scheduler gave the CPU to another task (context_switch): `why` in words;
    `prev_state` is what the previous task became (R preempted, S waiting, Z/X gone)."""

    prev_pid: int
    prev_tid: int
    pid: int
    tid: int
    why: str
    prev_state: str
    kind: str = field(default="switch", init=False)


@dataclass(frozen=True)
class ProcessForked:
    """fork/vfork/clone made a new task: a process (thread False) or a thread."""

    parent_pid: int
    parent_tid: int
    pid: int
    tid: int
    thread: bool
    flags: int
    text: str
    kind: str = field(default="fork", init=False)


@dataclass(frozen=True)
class SignalDelivered:
    """A signal reached the process. action: "handler" (a frame was built and the handler
    runs), "ignored", or "killed" (the default action ends the process)."""

    signo: int
    name: str
    code: int
    code_name: str
    addr: int
    pc: int
    handler: int
    action: str
    text: str
    kind: str = field(default="signal", init=False)


@dataclass(frozen=True)
class ProcessExited:
    status: int  # the exit status a shell sees: the code, or 128+N when killed by signal N
    code: int | None
    signal: int | None
    text: str
    pid: int = 0
    kind: str = field(default="exit", init=False)


@dataclass(frozen=True)
class RunStopped:
    """The emulator stopped the guest for a reason of its own (instruction budget, time)."""

    reason: str
    pc: int
    text: str
    kind: str = field(default="stopped", init=False)


@dataclass(frozen=True)
class VdsoCalled:
    """A call into the vDSO returned: answered in user mode, no crossing, strace never
    sees it. `name` is the vDSO symbol; `fallback` names the syscall the vDSO made itself
    when it could not answer (a clock it does not serve)."""

    name: str
    args: tuple[int, ...]
    ret: int
    pc: int
    return_pc: int
    text: str
    cost_ns: float
    cost_source: str
    fallback: str = ""
    kind: str = field(default="vdso", init=False)


@dataclass(frozen=True)
class VsyscallCalled:
    """A call into the vsyscall page. mode "native": its code ran in user mode; "emulate" /
    "xonly": the fetch faulted and the kernel emulated the call and a `ret` (changes: only
    rax, rip, rsp)."""

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
    kind: str = field(default="vsyscall", init=False)


@dataclass(frozen=True)
class KernelNote:
    """Something the kernel said that is not a syscall line (dmesg-style warnings)."""

    text: str
    kind: str = field(default="note", init=False)


Event = (ProcessStarted | SyscallEntered | SyscallReturned | SignalDelivered | ProcessExited
         | RunStopped | VdsoCalled | VsyscallCalled | KernelNote | SyscallBlocked
         | TaskSwitched | ProcessForked)


def event_to_dict(event) -> dict:
    d = asdict(event)
    d["kind"] = event.kind
    return d

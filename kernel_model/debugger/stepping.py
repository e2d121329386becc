"""What the stepping sessions share: their stop, breakpoint and walk records, the
constants of the engine, and the SteppingSession protocol both sessions satisfy.

It imports no machine: the TUI names the protocol when it replays a recording, where no
guest (and no Unicorn) is loaded."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from kernel_model.debugger.timeline import Mark
from kernel_model.entry.mechanism import TRAPS

if TYPE_CHECKING:
    from kernel_model.debugger.view_records import StopView, Transition

DEFAULT_BUDGET = 256 << 20
INDEX_CHUNK = 1 << 16  # how far a forward replay may run instead of restoring a nearer mark
# A virtual clock's reading after a free run counts the run by one replay with a counting
# hook (~0.5 us a basic block) up to this many instructions, by bisection beyond.
COUNT_REPLAY_MAX = 1 << 20
# Chunk sizes when counting a free run (step_replay._locate): coarse points are kept.
LOCATE_CHUNKS = (1 << 20, 1 << 16, 1 << 12)
TRAP_KINDS = TRAPS
# "switch": a context switch, the kernel's own work between two tasks (no trap of its own:
# it follows a blocking call, an exit, or the timer interrupt that ends a time slice).
CROSSINGS = TRAP_KINDS + ("signal", "vsyscall", "switch")
FAULT = "fault"  # a path step: run until the recorded fault
# vDSO functions that are the syscall path itself, not a way around it.
VDSO_STUBS = {"__kernel_vsyscall", "__kernel_sigreturn", "__kernel_rt_sigreturn",
              "int80_landing_pad"}
VSYSCALL_ADDR = 0xFFFFFFFFFF600000


def instructions_of(mark: Mark) -> int:
    """Instructions a mark's own step executed: a trap or an rdtsc (the session ran it);
    a signal delivery or an emulated vsyscall executes none."""
    return 1 if mark.applied and mark.kind in TRAP_KINDS + ("rdtsc",) else 0


@dataclass(frozen=True)
class Switch:
    """A context switch the kernel will make before any more user code runs: why the
    running task gives up the CPU ("it waits: ...", "it exited", "its time slice ended",
    "it yielded"), and whether a timer interrupt (not a trap) ended its run."""

    why: str
    timer: bool = False


PREEMPTED = "the time slice ended: the timer interrupt is next"
_PID_SUFFIX = re.compile(r"\s+pid\s+(\d+)\s*$")


def split_pid(spec: str) -> tuple[str, int | None]:
    """A breakpoint's or catch's `... pid N` suffix: ("write", 4243) from "write pid 4243"
    (gdb limits a breakpoint to a thread with `thread N`; here the unit is the process)."""
    m = _PID_SUFFIX.search(spec)
    if m is None:
        return spec.strip(), None
    return spec[:m.start()].strip(), int(m.group(1))


class ReplayDiverged(Exception):
    """A replay did not reach the recorded state: a bug, reported rather than hidden."""


@dataclass
class Breakpoint:
    spec: str  # what the user typed: an address, a label, or "syscall NAME"
    address: int | None = None
    syscall: str | None = None
    enabled: bool = True
    hits: int = 0
    number: int = 0  # gdb's breakpoint number: 1, 2, ... never reused in a session
    pid: int | None = None  # stop only in this process (`b ADDR pid N`); None: in any

    def applies_to(self, pid: int) -> bool:
        return self.enabled and (self.pid is None or self.pid == pid)


@dataclass
class SessionStop:
    """Why a command returned. reason: step, breakpoint, transition, syscall (a caught
    syscall), fault, exited, interrupted, input (the guest waits for stdin), start (reverse
    reached the beginning of history), phase (walking a transition), limit (history),
    watch (a watchpoint: after the accessing instruction going forward, before it going
    back), syscall_entry / syscall_return (a caught syscall number, step_watch.py),
    signal (gdb mode: a signal is about to be delivered, step_signals.py)."""

    reason: str
    message: str = ""
    pc: int = 0
    data_addr: int | None = None  # watch: the watched address accessed (in the range)
    watch_kind: str = ""  # watch: "write", "read" or "access" (gdb: watch, rwatch, awatch)
    access_pc: int | None = None  # watch: the instruction that made the access
    syscall_nr: int | None = None  # syscall_entry / syscall_return: the number (its ABI's)
    signo: int | None = None  # signal: the signal held for the tracer (step_signals.py)


@dataclass
class Walk:
    """Walking through a transition one phase at a time."""

    transition: Transition
    phase: int
    before: StopView  # the view at the trap, shown while the phases run
    before_pos: tuple
    after_pos: tuple


@dataclass
class RunPolicy:
    """What makes a free run stop (beyond guards, which always stop it)."""

    transitions: bool = False  # stop before traps / at calls into the vDSO or vsyscall page
    syscalls: frozenset = frozenset()  # stop before these syscalls
    syscall_pid: int | None = None  # ... made by this process only (None: by any)
    breakpoints: bool = True
    temp: dict = field(default_factory=dict)  # address -> sp the return must restore


class StopRecord(Protocol):
    """What a session's command returns (SessionStop live, RecordedStop in a replay)."""

    reason: str
    message: str
    pc: int


@runtime_checkable
class SteppingSession(Protocol):
    """What the screen (tui/) and a lesson drive: the live session (session.DebugSession)
    and a recording played back (recording.RecordedSession) both satisfy it. Each command
    returns where it stopped; `view()` is the immutable snapshot every panel draws from."""

    program: object | None  # emu.program.Program, None for a replay
    breakpoints: list
    previous_regs: dict[str, int] | None

    @property
    def walk(self) -> object | None: ...  # the transition being walked, if any

    def view(self): ...  # a view_records.StopView

    def quick(self, method: str) -> bool: ...

    def step(self) -> StopRecord: ...

    def next(self) -> StopRecord: ...

    def finish(self) -> StopRecord: ...

    def cont(self) -> StopRecord: ...

    def run_to_transition(self) -> StopRecord: ...

    def run_to_syscall(self, name: str) -> StopRecord: ...

    def reverse_step(self) -> StopRecord: ...

    def reverse_continue(self) -> StopRecord: ...

    def reverse_to_transition(self) -> StopRecord: ...

    def goto_start(self) -> StopRecord: ...

    def goto_end(self) -> StopRecord: ...

    def goto_mark(self, mark, before: bool = ...) -> StopRecord: ...

    def add_breakpoint(self, spec: str): ...

    def remove_breakpoint(self, b) -> None: ...

    def feed_input(self, text: str) -> None: ...

    def close_input(self) -> None: ...

    def interrupt(self) -> None: ...

    def close(self) -> None: ...

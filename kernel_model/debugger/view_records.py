"""What the panels draw at one stop, as plain records: the stepping engine makes them from
the machine, a recording stores and reloads them. No machine import here, so a replay can
use them without Unicorn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kernel_model.entry.abi import TrapPreview


@dataclass(frozen=True)
class CodeLine:
    address: int
    raw: bytes
    intel: str
    att: str
    label: str  # a symbol or label starting at this address ("" if none)
    where: str  # "name+0x12" when inside a known symbol
    source: str  # the assembly source line, for assembly programs
    current: bool
    breakpoint: bool
    kind: str  # the instruction's kind (syscall, int 0x80, sysenter, rdtsc, call, ret...)
    region: str  # the VMA's name, e.g. "[vdso]"
    ref: str = ""  # what an operand points at: "<ts_sys>", "<print_line>"


@dataclass(frozen=True)
class StackWord:
    address: int
    value: int
    note: str
    is_sp: bool
    is_fp: bool


@dataclass(frozen=True)
class MapLine:
    start: int
    end: int
    perms: str
    name: str
    kind: str
    text: str
    has_pc: bool
    has_sp: bool


@dataclass(frozen=True)
class EventLine:
    index: int
    text: str
    kind: str  # syscall, vdso, vsyscall, signal, exit, note
    mechanism: str
    past: bool
    current: bool
    mark: object = field(compare=False, repr=False)
    before: bool = True  # selecting it goes to the point before the crossing


@dataclass(frozen=True)
class OutputChunk:
    stream: str  # stdout, stderr, stdin
    text: str


@dataclass(frozen=True)
class ProcessLine:
    """One task in the Processes pane: a process's main thread, or one of its threads."""

    pid: int
    tid: int
    ppid: int
    state: str  # R running or runnable, S waiting, T stopped, Z zombie (ps's letters)
    waits: str  # what it waits for (a waiting call's words), "" when it does not
    insns: int | None  # user instructions it has run so far (None: not counted yet)
    current: bool  # the task the CPU runs
    name: str  # the program, as ps shows its command


@dataclass(frozen=True)
class HistoryInfo:
    marks: int
    used: int
    budget: int
    dropped: int
    thinned: int
    at_live_end: bool
    can_go_back: bool
    horizon: str
    position: str


@dataclass(frozen=True)
class WalkView:
    transition: Transition
    phase: int
    before: StopView  # the view at the trap


@dataclass(frozen=True)
class StopView:
    program: str
    arch: str
    bits: int
    pc: int
    sp: int
    regs: dict
    previous: dict | None
    code: tuple[CodeLine, ...]
    stack: tuple[StackWord, ...]
    maps: tuple[MapLine, ...]
    events: Sequence[EventLine]  # a tuple, or a long history's lazy rows (view_events)
    output: tuple[OutputChunk, ...]
    upcoming: tuple | None
    walk: WalkView | None
    exited: bool
    exit_text: str
    history: HistoryInfo
    breakpoints: tuple[str, ...]
    waiting_input: bool
    pending_fault: str
    symbol: str  # where the pc is, "name+0x12"
    upcoming_name: str = ""  # the symbol a call into the vDSO goes to
    upcoming_trap: TrapPreview | None = None  # a trap's table row and arguments, decoded
    clock: str = ""  # the guest's clock: "virtual clock", "frozen clock", "real clock"
    processes: tuple[ProcessLine, ...] = ()  # every task, the process table's order
    pending_switch: str = ""  # a context switch is next: why the task gives up the CPU


# -- a transition told in phases (kernel_model.debugger.transition builds them) ---------

@dataclass(frozen=True)
class Change:
    what: str  # a register name, "CPL", "stack", "[vvar]"...
    before: str
    after: str


@dataclass(frozen=True)
class TableRow:
    nr: int
    name: str
    handler: str
    implemented: bool
    current: bool


@dataclass(frozen=True)
class Phase:
    key: str  # user, cpu, frame, pt_regs, table, handler, return, call, vvar, tsc, math, ret...
    title: str
    text: tuple[str, ...]
    changes: tuple[Change, ...] = ()
    cost_ns: float | None = None  # this phase's share of the modelled cost (None: free)
    details: tuple[str, ...] = ()  # argument lines, effects, instructions
    table: tuple[TableRow, ...] = ()
    table_name: str = ""
    warning: str = ""
    kernel: bool = False  # runs at CPL 0
    # The CPU's registers during a kernel phase, modelled (debugger/kernel_regs.py): name ->
    # a number, or the text standing for a kernel address. Empty: the user's are shown.
    regs: tuple[tuple[str, int | str], ...] = ()


@dataclass(frozen=True)
class Transition:
    kind: str  # syscall, int 0x80, sysenter, vdso, vsyscall, signal
    title: str  # the strace-like line
    phases: tuple[Phase, ...]
    total_ns: float | None
    cost_source: str
    banner: str = ""  # e.g. the kernel never ran
    crossed: bool = True  # whether CPL went to 0
    comparison: tuple[tuple[str, float], ...] = field(default_factory=tuple)

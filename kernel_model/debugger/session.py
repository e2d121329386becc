"""A debugging session over one System: step, run, stop at transitions and breakpoints, and
go back in time.

How it runs. Single steps are `emu_start(count=1)`. Everything longer runs freely at full
speed: no per-instruction hook, only code hooks restricted to single addresses (breakpoints,
and "guards" on every `syscall`/`int 0x80`/`sysenter`/`rdtsc` found in executable memory),
which cost nothing until the guest executes them. A guard stops the CPU just *before* its
instruction; the session then executes that one instruction itself, so every crossing into
the kernel is a boundary it sees from both sides.

How it goes back (see timeline.py). After every crossing the session saves the state: the
CPU, the pages that changed, the kernel model's state, the host files behind fds 0-2. A
crossing is never executed twice: a replay that reaches one loads the saved outcome. Between
two saved states only user code runs, and user code is deterministic, so any point is
reached by restoring the state before it and running forward a counted number of
instructions. A free run is not counted; its end is found again by its breakpoint or guard
("the k-th time pc X was reached"), and turned into a count by binary search only when
someone steps back into it.

Many tasks. Each process has its own CPU and memory (a Machine); `machine` is always the
running task's (the kernel's). A saved state holds every live address space (state.Spaces)
and the kernel's state, in which the other tasks keep their registers (Task.context); the
Machines themselves are shared, never copied, so a state from before a fork simply has no
child, and going forward again restores the child from the fork's mark. At the live end the
session does what the run loop does between two resumes (step_live.py: loop.schedule,
loop.finish_wait, time slices counted as loop.resume counts them); a context switch is a
stop and a crossing of its own ("switch" marks, walked in phases by switch_walk.py).

Threads: commands run on one thread at a time (the TUI's worker); `interrupt()` may be
called from any thread to stop a running command.

Where the parts are: step_guards.py (hooks and exits), step_breakpoints.py, step_history.py
(marks, capture and restore, positions), step_replay.py (replaying paths, counting free
runs), step_live.py (live execution: kernel_model.run's step, one stop at a time),
step_forward.py and step_reverse.py (the commands), step_walks.py (transition walks,
with switch_walk.py for a context switch's phases), step_signals.py (signals as gdb sees
them: ptrace's signal-delivery-stop);
stepping.py holds the records they share and the SteppingSession protocol, and
session_parts.py their common base, which declares for the type checker the state this
class sets and the methods one part calls on another.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from emu.arch import REG_IDS
from kernel_model.clock import KnownCount
from kernel_model.debugger import insn as insns
from kernel_model.debugger.guestio import GuestIo
from kernel_model.debugger.state import KernelState
from kernel_model.debugger.step_breakpoints import Breakpoints
from kernel_model.debugger.step_forward import ForwardCommands
from kernel_model.debugger.step_guards import Guards
from kernel_model.debugger.step_history import History
from kernel_model.debugger.step_live import LiveExecution
from kernel_model.debugger.step_replay import Replay
from kernel_model.debugger.step_reverse import ReverseCommands
from kernel_model.debugger.step_signals import SignalStops
from kernel_model.debugger.step_walks import TransitionWalks
from kernel_model.debugger.step_watch import Watches
from kernel_model.debugger.stepping import (
    DEFAULT_BUDGET,
    TRAP_KINDS,
    VDSO_STUBS,
    VSYSCALL_ADDR,
    RunPolicy,
    SessionStop,
    Switch,
)
from kernel_model.debugger.timeline import Timeline, known_length
from kernel_model.trace.events import (
    SignalDelivered,
    SyscallEntered,
    SyscallReturned,
)

if TYPE_CHECKING:
    from kernel_model.debugger.view_records import StopView

EXTRA_REGS = tuple((name, REG_IDS[name]) for name in (
    "eflags", "fs_base", "gs_base", "cs", "ss", "ds", "es", "fs", "gs"))


class DebugSession(Guards, Breakpoints, History, Replay, LiveExecution, ForwardCommands,
                   ReverseCommands, TransitionWalks, Watches, SignalStops):
    """The live stepping session (a SteppingSession, see stepping.py): its parts live in
    the step_* modules, one seam each; this class holds the state they share."""

    def __init__(self, system, io: GuestIo, *, budget: int = DEFAULT_BUDGET, program=None):
        self.system = system
        self.kernel = system.kernel  # its machine is the running task's (self.machine)
        self.io = io
        self.program = program
        self.bits = system.arch.bits
        self.kstate = KernelState(system)
        self.timeline = Timeline(budget)
        self.breakpoints = []
        self._breakpoints_made = 0
        self.walk = None
        self.watchpoints = []  # step_watch.Watchpoint
        self.caught_numbers = None  # syscall numbers caught (None: all, when catching)
        self._catching = False
        self._data_hooks = {}  # each CPU's memory hooks (only while watchpoints exist)
        self._watch_log = []  # watched accesses seen since the log was last taken
        self._watch_pcs = set()  # accessing instructions hooked for the running command
        self.notes = []  # remarks for the status line, newest last
        self._lock = threading.RLock()
        self._interrupt = threading.Event()

        # live execution bookkeeping
        self._events = []  # events from the kernel since the last mark
        self._event_count = 0
        self._replaying = False
        self._diverged = None
        self._path = ()  # from the last mark to the live position
        self._hook_mode = None  # None, "live", "count", "target", "policy"
        self._hits = {}
        self._stopped_by = None
        self._guards = set()
        self._target = None
        self._policy = RunPolicy()
        self._kinds = {}
        self._handles = {}
        self._guard_cache = {}
        self._guarded = None
        self._slice = None  # one task alone: never preempted (kernel_model.proc.sched)
        self._exec_regions = ()
        self._last_kernel = None
        self._kernel_fp = None
        self._live_memory = None
        self._live_kernel = None
        self._machine_at = None  # the position the machine is in, if known
        self._vreturns = {}  # vDSO return address -> sp after the return
        self._running = False
        self._seq = 0
        self._last_seq = {}
        self._counting = False  # whether translated blocks carry Unicorn's counting hook
        self._current_io = None
        # A virtual clock's instruction count, kept here (no hook: free runs keep full
        # speed) and made exact where the time is read (see _sync_insns).
        counter = getattr(system.clock, "counter", None)
        self._insns = counter if isinstance(counter, KnownCount) else None

        # The session's hooks on the vDSO's entries go in before the vDSO watcher's (made by
        # the first attach): Unicorn calls a stopped address's later hooks only when the run
        # resumes, so the watcher then sees each call once.
        self._hook_vdso_entries()
        self.kernel.attach(self._on_event)
        system.start()
        self._tick()
        self._scan_guards()
        start = self._snapshot("start", None, applied=True, full=True)
        start.extra["insns"] = 0
        start.extra["task_insns"] = {}
        start.events.extend(self._take_events())
        self.timeline.append(start)
        self.pos = (start, 0)
        self._machine_at = self.pos
        self.previous_regs = None

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def create(cls, program, argv: list[str], options, *, budget: int = DEFAULT_BUDGET):
        """A System for `program` (emu.program.Program) with the session's stdio files."""
        from dataclasses import replace

        from kernel_model.system import System

        io = GuestIo()
        # Never the host's clock: a person pausing between steps must not be time the guest
        # sees, and replays must read what the recorded run read. `real` means a virtual
        # clock starting now; a frozen one stays frozen.
        clock = "virtual" if options.clock in ("", "real") else options.clock
        options = replace(options, stdin_fd=io.stdin_fd, stdout_fd=io.stdout_fd,
                          stderr_fd=io.stderr_fd, max_insns=None, timeout=None, clock=clock,
                          count_hook=False)
        system = System(program.image, program.path, argv, options, symbols=program.symbols)
        return cls(system, io, budget=budget, program=program)

    def close(self) -> None:
        self.io.close()

    # -- the event stream -----------------------------------------------------------------
    def _on_event(self, event) -> None:
        if self._replaying:
            if isinstance(event, (SyscallEntered, SyscallReturned, SignalDelivered)):
                self._diverged = event  # a replay must never reach the kernel
                self.machine.stop()
            return
        self._events.append(event)
        self._event_count += 1

    def _take_events(self) -> list:
        out, self._events = self._events, []
        return out

    # -- registers -------------------------------------------------------------------------
    def regs(self) -> dict[str, int]:
        """General registers, pc, flags, segment selectors (and fs/gs bases, 64-bit)."""
        m = self.machine
        extra = EXTRA_REGS if self.bits == 64 else tuple(
            r for r in EXTRA_REGS if not r[0].endswith("_base"))
        names = [n for n, _ in m.arch.gprs] + [n for n, _ in extra]
        ids = tuple(i for _, i in m.arch.gprs) + tuple(i for _, i in extra)
        return dict(zip(names, m.regs(ids), strict=True))

    def _reg_by_name(self, name: str) -> int:
        return self.machine.reg(REG_IDS[name])

    def _segment_base(self, seg: str) -> int:
        if self.bits == 64:
            return self._reg_by_name(seg + "_base")
        # i386: the base of the descriptor the selector names, read from the GDT.
        sel = self._reg_by_name(seg)
        gdt = self.system.gdt
        entries = getattr(gdt, "entries", [])
        i = sel >> 3
        if i >= len(entries):
            return 0
        d = entries[i]
        return ((d >> 16) & 0xFFFFFF) | (((d >> 56) & 0xFF) << 24)

    # -- instructions ----------------------------------------------------------------------
    def insn_at(self, pc: int) -> insns.Insn | None:
        try:
            code = self.machine.read(pc, insns.MAX_INSN)
        except Exception:
            try:
                code = self.machine.read(pc, 1 + (0xFFF - (pc & 0xFFF)))
            except Exception:
                return None
        return insns.decode(code, pc, self.bits)

    def upcoming(self) -> tuple[str, int | None] | None:
        """The transition the instruction at pc starts, if any: ("syscall"|"int 0x80"|
        "sysenter", None), ("vdso"|"vsyscall", target), or ("switch", None) where the
        kernel is about to switch to another task."""
        if self._exited():
            return None
        if isinstance(self.pending_here(), Switch):
            return "switch", None  # the kernel switches tasks before anything else runs
        if not self._task_runs():
            return None
        insn = self.insn_at(self.machine.pc)
        if insn is None:
            return None
        if insn.kind in TRAP_KINDS:
            return insn.kind, None
        # A call into the vDSO, or a jump: a dynamic program's PLT jumps straight to the
        # vDSO function glibc's IFUNC resolver chose (gettimeofday, time).
        if insn.kind in ("call", "jump"):
            target = insns.call_target(insn, self._reg_by_name,
                                       self.machine.read_word, self._segment_base)
            if target is None:
                return None
            if VSYSCALL_ADDR <= target < VSYSCALL_ADDR + 0x1000 and self.bits == 64:
                return "vsyscall", target
            vdso = self.system.vdso
            if vdso is not None and vdso.contains(target):
                name = self.vdso_name(target)
                if name not in VDSO_STUBS:
                    return "vdso", target
        return None

    def pending_here(self):
        """What the kernel must do at the current point before any more user code runs:
        a fault's delivery or a context switch (kept by the mark at this point), or None."""
        mark, n = self.pos
        if n is None:
            return None
        if n:  # a plain mark at this very point (a stretch replayed to its end) keeps it
            mark, n = self._normalize(mark, n)
        return mark.info.get("pending") if n == 0 else None

    def vdso_name(self, addr: int) -> str | None:
        """The vDSO symbol at exactly `addr` (the __vdso_ name when there are aliases)."""
        vdso = self.system.vdso
        if vdso is None:
            return None
        names = [n for n, off in vdso.image.symbols.items() if vdso.base + off == addr]
        names.sort(key=lambda n: (not n.startswith("__"), n))
        return names[0] if names else None

    # -- the commands ------------------------------------------------------------------------------
    def interrupt(self) -> None:
        """Stop a running command (from any thread). emu_stop is repeated for a moment in
        case the run was between two emu_starts when asked."""
        self._interrupt.set()

        def keep_stopping():
            for _ in range(100):
                if not self._running:
                    return
                self.machine.stop()
                self._interrupt.wait(0.02)

        self.machine.stop()
        threading.Thread(target=keep_stopping, daemon=True).start()

    def _command(self, fn, *args) -> SessionStop:
        with self._lock:
            self._interrupt.clear()
            self.notes.clear()
            self._running = True
            try:
                self._ensure()
                self.previous_regs = self.regs()
                stop = fn(*args)
            finally:
                self._running = False
            if self._machine_at is None:
                self._ensure()
            return stop

    def quick(self, method: str) -> bool:
        """Whether a command is sure to be short (one instruction, one phase, one step back
        inside counted history): the screen may then run it without a worker thread."""
        if method in ("step", "reverse_step") and self.walk is not None:
            return True
        if method == "step":
            up = self.upcoming()
            return up is None or up[0] in TRAP_KINDS or up[0] == "switch"
        if method == "next":
            insn = self.insn_at(self.machine.pc)
            return self.walk is not None or insn is None or insn.kind != "call"
        if method == "reverse_step":
            mark, n = self.pos
            # (n is None only at an uncounted live end, which has a path)
            if n is None or n > 0 or (self.at_live_end() and self._path):
                return not self._path or known_length(self._path) is not None
            return mark.arrive is None or mark.length is not None
        return False

    # -- input -------------------------------------------------------------------------------------
    def feed_input(self, text: str) -> None:
        self.io.feed(text)

    def close_input(self) -> None:
        self.io.close_input()

    # -- what the screen shows -------------------------------------------------------------------
    def view(self) -> StopView:
        from kernel_model.debugger.view import build_view

        return build_view(self)

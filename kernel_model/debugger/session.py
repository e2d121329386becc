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

Threads: commands run on one thread at a time (the TUI's worker); `interrupt()` may be
called from any thread to stop a running command.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

from emu.arch import REG_IDS
from emu.machine import PROT_EXEC
from kernel_model.clock import KnownCount
from kernel_model.debugger import insn as insns
from kernel_model.debugger.guestio import GuestIo
from kernel_model.debugger.state import (
    KernelState,
    capture_io,
    capture_memory,
    restore_io,
    restore_memory,
)
from kernel_model.debugger.timeline import Hit, Mark, Offset, Timeline, join, known_length
from kernel_model.run import loop
from kernel_model.run.causes import (
    KERNEL_WORK,
    Exited,
    Fault,
    Halted,
    Interrupted,
    VsyscallFetch,
)
from kernel_model.signals import delivery as signals
from kernel_model.syscalls.timekeeping import READS_CLOCK
from kernel_model.trace.events import (
    SignalDelivered,
    SyscallEntered,
    SyscallReturned,
    VdsoCalled,
)

DEFAULT_BUDGET = 256 << 20
INDEX_CHUNK = 1 << 16  # how far a forward replay may run instead of restoring a nearer mark
# A virtual clock's reading after a free run counts the run by one replay with a counting
# hook (~0.5 us a basic block) up to this many instructions, by bisection beyond.
COUNT_REPLAY_MAX = 1 << 20
# Chunk sizes when counting a free run (session._locate): coarse points are kept.
LOCATE_CHUNKS = (1 << 20, 1 << 16, 1 << 12)
TRAP_KINDS = ("syscall", "int 0x80", "sysenter")
CROSSINGS = TRAP_KINDS + ("signal", "vsyscall")
FAULT = "fault"  # a path step: run until the recorded fault
# vDSO functions that are the syscall path itself, not a way around it.
VDSO_STUBS = {"__kernel_vsyscall", "__kernel_sigreturn", "__kernel_rt_sigreturn",
              "int80_landing_pad"}
VSYSCALL_ADDR = 0xFFFFFFFFFF600000

EXTRA_REGS = tuple((name, REG_IDS[name]) for name in (
    "eflags", "fs_base", "gs_base", "cs", "ss", "ds", "es", "fs", "gs"))


def _executed(mark: Mark) -> int:
    """Instructions a mark's own step executed: a trap or an rdtsc (the session ran it);
    a signal delivery or an emulated vsyscall executes none."""
    return 1 if mark.applied and mark.kind in TRAP_KINDS + ("rdtsc",) else 0


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


@dataclass
class SessionStop:
    """Why a command returned. reason: step, breakpoint, transition, syscall (a caught
    syscall), fault, exited, interrupted, input (the guest waits for stdin), start (reverse
    reached the beginning of history), phase (walking a transition), limit (history)."""

    reason: str
    message: str = ""
    pc: int = 0


@dataclass
class Walk:
    """Walking through a transition one phase at a time."""

    transition: object  # debugger.transition.Transition
    phase: int
    before: object  # the StopView at the trap, shown while the phases run
    before_pos: tuple
    after_pos: tuple


@dataclass
class _Policy:
    """What makes a free run stop (beyond guards, which always stop it)."""

    transitions: bool = False  # stop before traps / at calls into the vDSO or vsyscall page
    syscalls: frozenset = frozenset()  # stop before these syscalls
    breakpoints: bool = True
    temp: dict = field(default_factory=dict)  # address -> sp the return must restore


class DebugSession:
    def __init__(self, system, io: GuestIo, *, budget: int = DEFAULT_BUDGET, program=None):
        self.system = system
        self.machine = system.machine
        self.kernel = system.kernel
        self.io = io
        self.program = program
        self.bits = system.arch.bits
        self.kstate = KernelState(system)
        self.timeline = Timeline(budget)
        self.breakpoints: list[Breakpoint] = []
        self._breakpoints_made = 0
        self.walk: Walk | None = None
        self.notes: list[str] = []  # remarks for the status line, newest last
        self._lock = threading.RLock()
        self._interrupt = threading.Event()

        # live execution bookkeeping
        self._events: list = []  # events from the kernel since the last mark
        self._event_count = 0
        self._replaying = False
        self._diverged: object | None = None
        self._path: tuple = ()  # from the last mark to the live position
        self._hook_mode: str | None = None  # None, "live", "count", "target", "policy"
        self._hits: dict[int, int] = {}
        self._stopped_by: int | None = None
        self._guards: set[int] = set()
        self._target: tuple[int, int] | None = None
        self._policy = _Policy()
        self._kinds: dict[int, set[str]] = {}
        self._handles: dict[int, int] = {}
        self._exec_regions: tuple = ()
        self._last_kernel = None
        self._kernel_fp = None
        self._live_memory = None
        self._live_kernel = None
        self._machine_at: tuple | None = None  # the position the machine is in, if known
        self._vreturns: dict[int, int] = {}  # vDSO return address -> sp after the return
        self._running = False
        self._seq = 0
        self._last_seq: dict[int, int] = {}
        self._counting = False  # whether translated blocks carry Unicorn's counting hook
        self._current_io = None
        self._stdin_reads = ("read", "readv")
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
        start.events.extend(self._take_events())
        self.timeline.append(start)
        self.pos: tuple[Mark, int] = (start, 0)
        self._machine_at = self.pos
        self.previous_regs: dict[str, int] | None = None

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
    def insn_at(self, pc: int):
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
        "sysenter", None) or ("vdso"|"vsyscall", target)."""
        if self.system.process.exited:
            return None
        insn = self.insn_at(self.machine.pc)
        if insn is None:
            return None
        if insn.kind in TRAP_KINDS:
            return insn.kind, None
        if insn.kind == "call":
            target = insns.call_target(insn, self._reg_by_name,
                                       self.machine.read_word, self._segment_base)
            if target is None:
                return None
            if VSYSCALL_ADDR <= target < VSYSCALL_ADDR + 0x1000 and self.bits == 64:
                return "vsyscall", target
            vdso = self.system.vdso
            if vdso is not None and vdso.contains(target):
                name = self._vdso_name(target)
                if name not in VDSO_STUBS:
                    return "vdso", target
        return None

    def _vdso_name(self, addr: int) -> str | None:
        """The vDSO symbol at exactly `addr` (the __vdso_ name when there are aliases)."""
        vdso = self.system.vdso
        if vdso is None:
            return None
        names = [n for n, off in vdso.image.symbols.items() if vdso.base + off == addr]
        names.sort(key=lambda n: (not n.startswith("__"), n))
        return names[0] if names else None

    # -- hooks: guards, breakpoints, temporary stops ----------------------------------------
    def _hook(self, addr: int, kind: str) -> None:
        kinds = self._kinds.setdefault(addr, set())
        kinds.add(kind)
        if addr not in self._handles:
            self._handles[addr] = self.machine.hook_code(self._on_hook, addr, addr)

    def _unhook(self, addr: int, kind: str) -> None:
        kinds = self._kinds.get(addr)
        if not kinds:
            return
        kinds.discard(kind)
        if not kinds:
            del self._kinds[addr]
            self.machine.unhook(self._handles.pop(addr))

    def _scan_guards(self) -> None:
        """Guard every trap and rdtsc in executable memory. Guards are Unicorn "exits":
        the CPU stops before such an instruction, checked in translated code, with no
        Python call and no slowdown (even in counted runs, where every code hook costs on
        every instruction). A pattern that matches inside another instruction is simply
        never reached."""
        regions = tuple(r for r in self.machine.regions() if r[2] & PROT_EXEC)
        if regions == self._exec_regions:
            return
        self._exec_regions = regions
        patterns = dict(insns.TRAPS)
        if self.bits == 32:
            del patterns[b"\x0f\x05"]  # not a trap in 32-bit code: a #UD (insn._make)
        patterns.update(insns.TSC_READS)
        guards = set()
        for begin, end, _prot in regions:
            data = self.machine.read(begin, end - begin + 1)
            for off, _name in insns.find_patterns(data, patterns):
                guards.add(begin + off)
        self._guards = guards
        self._set_exits()

    def _set_exits(self, skip: int | None = None) -> None:
        self.machine.set_exits(self._guards - {skip} if skip is not None else self._guards)

    def _at_guard(self) -> int | None:
        """The guard the last run stopped at, if it stopped at one (not by a hook)."""
        pc = self.machine.pc
        return pc if self._stopped_by is None and pc in self._guards else None

    def _hook_vdso_entries(self) -> None:
        vdso = self.system.vdso
        if vdso is not None:
            for name, off in vdso.image.symbols.items():
                if name.startswith("__vdso_") or name in ("gettimeofday", "time",
                                                          "clock_gettime", "getcpu"):
                    self._hook(vdso.base + off, "vdso")
        if self.system.vsyscall_mode == "native":
            for off in (0, 0x400, 0x800):
                self._hook(VSYSCALL_ADDR + off, "vdso")

    def _on_hook(self, uc, addr, size, _user_data) -> None:
        mode = self._hook_mode
        if mode is None:
            return
        k = self._hits.get(addr, 0) + 1
        self._hits[addr] = k
        if mode == "count":
            self._seq += 1
            self._last_seq[addr] = self._seq
            if self._target == (addr, k):
                self.machine.stop()  # never run past what is being looked for (a trap, say)
            return
        if mode == "target":
            if self._target == (addr, k):
                self._stopped_by = addr
                self.machine.stop()
            return
        if self._policy_stops(addr, self._kinds.get(addr, ())):
            self._stopped_by = addr
            self.machine.stop()

    def _policy_stops(self, addr: int, kinds) -> bool:
        p = self._policy
        if "bp" in kinds and p.breakpoints:
            if any(b.enabled and b.address == addr for b in self.breakpoints):
                return True
        if "temp" in kinds and addr in p.temp:
            want_sp = p.temp[addr]
            if want_sp is None or self.machine.sp == want_sp:
                return True
        if "vreturn" in kinds and self._vreturns.get(addr) == self.machine.sp:
            return self._hook_mode == "live"
        if "vdso" in kinds:
            # Live runs stop at every call into the vDSO (its return is then watched, so the
            # call's event gets a place in history); replays only when asked to.
            return self._hook_mode == "live" or p.transitions
        return False

    # -- capturing and restoring --------------------------------------------------------
    def _kernel_fingerprint(self):
        s = self.system
        return (self._event_count, tuple(s.mm.vmas), s.mm.brk, len(s.signals.pending),
                s.process.exited)

    def _capture_kernel(self):
        fp = self._kernel_fingerprint()
        if fp != self._kernel_fp or self._last_kernel is None:
            self._last_kernel = self.kstate.capture()
            self._kernel_fp = fp
        return self._last_kernel

    def _watchers(self):
        """The kernel model's call watchers (vDSO, native vsyscall page): objects whose
        code hooks follow calls in user mode, with the calls in progress in `pending`."""
        for name in ("vdso_watcher", "vsyscall_watcher"):
            w = getattr(self.system, name, None)
            if w is not None and hasattr(w, "pending"):
                yield name, w

    def _watcher_state(self) -> dict:
        return {name: [{k: v for k, v in call.items() if k != "hook"} for call in w.pending]
                for name, w in self._watchers()}

    def _restore_watcher(self, state: dict | None) -> None:
        state = state or {}
        for name, w in self._watchers():
            hooked = getattr(w, "_return_hooks", None)
            for call in w.pending:
                if "hook" in call:  # a one-shot hook per call
                    self.machine.unhook(call["hook"])
            w.pending = []
            for call in state.get(name, []):
                call = dict(call)
                if hooked is None:
                    call["hook"] = self.machine.hook_code(w._returned, call["return_pc"],
                                                          call["return_pc"])
                elif call["return_pc"] not in hooked:  # hooks kept for good, one a site
                    hooked.add(call["return_pc"])
                    w._hook(w._returned, call["return_pc"])
                w.pending.append(call)

    def _snapshot(self, kind: str, arrive, *, applied: bool, full: bool = False,
                  memory: bool = True) -> Mark:
        """A mark of the machine as it is now. Without `full`, pages of read-only regions
        are taken from the last capture (only user code ran since, and it cannot write
        them)."""
        m = self.machine
        mem = None
        if memory:
            mem = capture_memory(m, self._live_memory, writable_only=not full)
            self._live_memory = mem
        kernel = self._capture_kernel()
        self._live_kernel = kernel
        mark = Mark(kind=kind, arrive=arrive, applied=applied, ctx=m.save_context(), pc=m.pc,
                    kernel=kernel, io=self._current_io if self._replaying else
                    capture_io(self.io.fds), memory=mem)
        mark.extra["watcher"] = self._watcher_state()
        mark.extra["regs"] = self.regs()
        mark.extra["clock"] = self.system.clock.state()
        return mark

    def _add_mark(self, mark: Mark) -> Mark:
        """Append a mark at the live end; it becomes the current position."""
        last = self.timeline.last if len(self.timeline) else None
        if last is not None and "insns" in last.extra and mark.arrive is not None:
            n = known_length(mark.arrive)
            if n is not None:  # instructions since the start, when known without a replay
                mark.extra["insns"] = last.extra["insns"] + n + _executed(mark)
        self.timeline.append(mark)
        self._path = ()
        self.pos = (mark, 0)
        self._machine_at = self.pos
        if self.timeline.over_budget():
            self.timeline.thin(keep_after=mark)
        return mark

    def _load(self, mark: Mark) -> None:
        """Make the machine exactly `mark` (which holds its memory)."""
        restore_memory(self.machine, mark.memory, self._live_memory)
        self._live_memory = mark.memory
        self._apply(mark)

    def _apply(self, mark: Mark) -> None:
        """A mark's CPU, kernel and host-file state (its memory is already in place)."""
        self.machine.restore_context(mark.ctx)
        # User code changes the kernel too (a fault that grows the stack): the live state
        # may have moved on from the image it was last restored from.
        if mark.kernel is not self._live_kernel or \
                self._kernel_fingerprint() != self._kernel_fp:
            self.kstate.restore(mark.kernel)
            self._live_kernel = mark.kernel
            self._last_kernel = mark.kernel
            self._kernel_fp = self._kernel_fingerprint()
        restore_io(mark.io)
        self._current_io = mark.io  # replays never write: the same all along the stretch
        if "clock" in mark.extra:  # the guest's time there (a virtual one: its progress)
            self.system.clock.restore(mark.extra["clock"])
        self._restore_watcher(mark.extra.get("watcher"))
        self.system.cpu_faults.forget()  # any cause left by an earlier run
        self._scan_guards()

    def _materialize(self, mark: Mark) -> None:
        """Put the machine in `mark`'s state, replaying from an earlier mark when this one
        keeps no memory of its own."""
        chain = [mark]
        while chain[-1].memory is None:
            prev = self.timeline.prev(chain[-1])
            if prev is None:
                raise ReplayDiverged("no saved memory to start a replay from")
            chain.append(prev)
        self._load(chain.pop())
        while chain:
            m = chain.pop()
            self._replay_path(m.arrive)
            if m.applied:
                self._apply(m)
            if self.machine.pc != m.pc:
                raise ReplayDiverged(f"replay reached {self.machine.pc:#x}, "
                                     f"recorded {m.pc:#x}")

    # -- running: the primitives -------------------------------------------------------------
    def _run(self, count: int = 0):
        """One step of the run loop (loop.resume) from the current pc, with the hooks as
        the caller set them; returns its StopCause."""
        self.system.cpu_faults.forget()  # any cause left by an earlier run
        self._stopped_by = None
        if count and not self._counting:
            # Unicorn 2.1 counts instructions with a hook compiled into each translated
            # block, and a block translated during a free run has none: without this flush
            # a counted run through such a block would run past its count.
            self.machine.flush_translations()
        self._counting = bool(count)
        return loop.resume(self.system, count, interrupted=self._interrupt.is_set)

    def _run_guarded(self, count: int):
        """Run the instruction at a guard itself (an exit would stop the CPU before it)."""
        pc = self.machine.pc
        if pc not in self._guards:
            return self._run(count=count)
        self._set_exits(skip=pc)
        try:
            return self._run(count=count)
        finally:
            self._set_exits()

    @staticmethod
    def _faulted(cause):
        """The cause, if it is one the kernel must handle (a fault, a vsyscall fetch)."""
        return cause if isinstance(cause, KERNEL_WORK) else None

    def _clear_fault(self) -> None:
        self.system.cpu_faults.forget()

    def _replay_path(self, path) -> None:
        """Run a recorded path from the current state: user code only, never the kernel."""
        if path is None:
            raise ReplayDiverged("this part of history was not recorded step by step")
        self._replaying = True
        try:
            for step in path:
                if isinstance(step, Offset):
                    if step.n:
                        self._hook_mode = None
                        stop = self._run(count=step.n)
                        if self._faulted(stop):
                            raise ReplayDiverged(f"fault during replay at {self.machine.pc:#x}")
                elif isinstance(step, Hit):
                    self._hits = {}
                    self._target = (step.pc, step.k)
                    self._hook_mode = "target"
                    with self._hooked(step.pc):
                        self._run()
                    self._hook_mode = None
                    if self._stopped_by is None and self._at_guard() != step.pc:
                        raise ReplayDiverged(f"replay missed {step.pc:#x} (hit {step.k})")
                else:  # FAULT: run until the recorded fault
                    self._hook_mode = None
                    stop = self._run()
                    if self._faulted(stop) is None:
                        raise ReplayDiverged("replay did not fault where recorded")
                if self._diverged is not None:
                    event, self._diverged = self._diverged, None
                    raise ReplayDiverged(f"replay entered the kernel: {event}")
        finally:
            self._hook_mode = None
            self._replaying = False
            self._target = None
            self._clear_fault()

    @contextmanager
    def _hooked(self, addr: int):
        """A hook on `addr` for the time of a replay: the stop a path was recorded at may
        have been a temporary one (a return address, a deleted breakpoint)."""
        if addr in self._guards:
            yield
            return
        self._hook(addr, "replay")
        try:
            yield
        finally:
            self._unhook(addr, "replay")

    # -- positions -----------------------------------------------------------------------------
    def _normalize(self, mark: Mark, n: int) -> tuple[Mark, int]:
        """The same point, counted from the last plain mark (an index point) before it."""
        while True:
            nxt = self.timeline.next(mark)
            if nxt is None or nxt.applied or nxt.length is None or nxt.length > n:
                return mark, n
            n -= nxt.length
            mark = nxt

    def _stretch_ahead(self) -> Mark | None:
        """Normalize the current position and count the stretch from it to the next mark;
        returns that mark (see _counted)."""
        here = self.pos
        mark, n, nxt = self._counted(*here)
        self.pos = (mark, n)
        if self._machine_at == here:
            self._machine_at = self.pos
        return nxt

    def _counted(self, mark: Mark, n: int) -> tuple[Mark, int, Mark | None]:
        """A position normalized, with the stretch from it to the next mark counted, and
        that mark (None after the last mark; its `arrive` None when the stretch was not
        recorded step by step). Normalizing comes first: it may move the position past a
        plain mark at this very point, into the stretch after that mark, which is the one
        to count (a free run, say, from a stop at a breakpoint)."""
        while True:
            mark, n = self._normalize(mark, n)
            nxt = self.timeline.next(mark)
            if nxt is None or nxt.arrive is None or nxt.length is not None:
                return mark, n, nxt
            self.gap_length(nxt)  # may insert index points: normalize again

    def _goto(self, mark: Mark, n: int) -> None:
        """Move to n instructions after `mark` (within the stretch that follows it)."""
        mark, n = self._normalize(mark, n)
        here = self._machine_at
        if here is not None and here[0] in self.timeline.marks:
            here = self._normalize(*here)
        else:
            here = None
        if here is not None and here[0] is mark and here[1] <= n and (
                n - here[1] <= INDEX_CHUNK or mark.memory is None):
            ahead = n - here[1]  # already on the way: just run forward
        else:
            self._materialize(mark)
            ahead = n
        if ahead:
            self._replay_path((Offset(ahead),))
        self.pos = (mark, n)
        self._path = ()
        self._machine_at = self.pos

    def _ensure(self) -> None:
        """Bring the machine back to the current position (indexing moves it around)."""
        if self._machine_at is None or self._machine_at[0] is not self.pos[0] or \
                self._machine_at[1] != self.pos[1]:
            self._goto(*self.pos)

    def _at_frontier(self) -> bool:
        """Whether the current position is the live end of history, where the kernel runs
        for real."""
        mark, n = self.pos
        return mark is self.timeline.last and (bool(self._path) or n == 0)

    def _freeze(self) -> None:
        """Before leaving the live end of history, keep it as a mark (a plain stop)."""
        if self._at_frontier() and self._path:
            self._add_mark(self._snapshot("stop", self._path, applied=False))

    def gap_length(self, mark: Mark) -> int | None:
        """Instructions from the previous mark to the point just before `mark`. A stretch
        that was run freely is counted now, by replay, leaving index points on the way."""
        if mark.arrive is None:
            return None
        n = mark.length
        if n is not None:
            return n
        prev = self.timeline.prev(mark)
        self._materialize(prev)
        self._machine_at = None
        total = 0
        points: list[tuple[int, Mark]] = []
        for step in mark.arrive:
            if isinstance(step, Offset):
                if step.n:
                    self._replay_path((step,))
                total += step.n
            else:
                found, chunk_points = self._locate(step, mark.pc)  # leaves the machine there
                points.extend((total + off, p) for off, p in chunk_points)
                total += found
        # Index points make later steps back into this stretch cheap.
        anchor, at = prev, 0
        for off, point in points:
            if off <= at or off >= total:
                continue
            point.arrive = (Offset(off - at),)
            self.timeline.insert_after(anchor, point)
            anchor, at = point, off
        mark.arrive = (Offset(total - at),)
        if self.timeline.over_budget():
            self.timeline.thin(keep_after=self.pos[0])
        return mark.length

    def _locate(self, step, fault_pc: int | None = None) -> tuple[int, list]:
        if isinstance(step, Hit):
            with self._hooked(step.pc):
                return self._locate_hooked(step, fault_pc)
        return self._locate_hooked(step, fault_pc)

    def _locate_hooked(self, step, fault_pc: int | None = None) -> tuple[int, list]:
        """How many instructions `step` (a Hit, or FAULT) runs from the current state.

        Counted runs sweep forward in chunks of 1M instructions, then 64k, then 4k inside
        the chunk where the step ends, keeping a point before each chunk; the last 4k are
        bisected. Returns (count, index points worth keeping) and leaves the machine at the
        end of the step. A fault is reached once the faulting instruction is tried, which
        for a fetch fault can be before Unicorn counts it: `fault_pc` settles which."""
        self._replaying = True
        keep: list[tuple[int, Mark]] = []
        self._target = (step.pc, step.k) if isinstance(step, Hit) else None
        # A guard stops a counted run *at* it (an exit), where a hook's count includes it.
        at_exit = isinstance(step, Hit) and step.pc in self._guards
        try:
            self._hits = {}
            base = 0
            if at_exit and self.machine.pc == step.pc:
                return 0, keep
            point = self._point()
            for level, size in enumerate(LOCATE_CHUNKS):
                while True:
                    self._hook_mode = "count"
                    stop = self._run(count=size)
                    self._hook_mode = None
                    if self._reached(step, stop):
                        break
                    fault = self._faulted(stop)
                    self._clear_fault()
                    if fault is not None or self._diverged is not None or self._exited() \
                            or self._at_guard() is not None:
                        self._diverged = None
                        raise ReplayDiverged("indexing ran into a fault or a crossing "
                                             "before the point it looks for")
                    base += size
                    point = self._point()
                    if level < len(LOCATE_CHUNKS) - 1:
                        keep.append((base, point))
                self._load_point(point)
            lo, hi = 1, LOCATE_CHUNKS[-1]  # the smallest m with the step ended after m
            while lo < hi:
                mid = (lo + hi) // 2
                self._load_point(point)
                self._hook_mode = "count"
                stop = self._run(count=mid)
                self._hook_mode = None
                if self._reached(step, stop):
                    hi = mid
                else:
                    lo = mid + 1
            found = lo if at_exit else lo - 1
            if step == FAULT and fault_pc is not None:
                self._load_point(point)
                if found:
                    self._run(count=found)
                if self.machine.pc != fault_pc:
                    found = lo
            self._load_point(point)
            if found:
                self._hook_mode = "count"
                self._run(count=found)
                self._hook_mode = None
            return base + found, keep
        finally:
            self._hook_mode = None
            self._replaying = False
            self._target = None
            self._clear_fault()

    def _point(self) -> Mark:
        """An index point: a plain mark made during a replay (no kernel work since the
        stretch began, so read-only memory and host files are as at its start)."""
        m = self.machine
        mem = capture_memory(m, self._live_memory, writable_only=True)
        self._live_memory = mem
        point = Mark(kind="index", arrive=None, applied=False, ctx=m.save_context(), pc=m.pc,
                     kernel=self._capture_kernel(), io=self._current_io, memory=mem)
        self._live_kernel = point.kernel
        point.extra["watcher"] = self._watcher_state()
        point.extra["hits"] = dict(self._hits)
        point.extra["clock"] = self.system.clock.state()
        return point

    def _reached(self, step, stop) -> bool:
        if isinstance(step, Hit):
            if step.pc in self._guards:
                return self.machine.pc == step.pc
            return self._hits.get(step.pc, 0) >= step.k
        reached = self._faulted(stop) is not None
        self._clear_fault()
        return reached

    def _load_point(self, point: Mark) -> None:
        restore_memory(self.machine, point.memory, self._live_memory)
        self._live_memory = point.memory
        self._apply(point)
        self._hits = dict(point.extra.get("hits", {}))

    # -- live execution ------------------------------------------------------------------------
    def _exited(self) -> bool:
        return self.system.process.exited

    def _exit_text(self) -> str:
        p = self.system.process
        if p.killed_by is not None:
            return f"killed by {signals.name(p.killed_by)}"
        if p.stopped_by is not None:
            return (f"stopped by {signals.name(p.stopped_by)} (the model has no job control: "
                    "nothing can continue it)")
        return f"exited with status {p.status}"

    def _syscall_name(self, kind: str) -> str | None:
        """The syscall the trap at pc is about to make (None: not in the table)."""
        from kernel_model.entry.abi import I386_ABI, X86_64_ABI

        abi = X86_64_ABI if kind == "syscall" else I386_ABI
        nr = self.machine.reg(REG_IDS["rax" if self.bits == 64 else "eax"])
        return abi.table.get(abi.signed(nr & abi.mask))

    def _stdin_wait(self, kind: str) -> bool:
        """Whether the trap at pc reads fd 0 with nothing typed yet (the read would see
        end-of-file: the user must type first, or close the input)."""
        if self.io.eof or self.io.input_pending() > 0:
            return False
        if self._syscall_name(kind) not in ("read", "readv"):
            return False
        reg = REG_IDS["rdi" if kind == "syscall" else "ebx"]
        fd = self.machine.reg(reg) & 0xFFFFFFFF
        fds = self.system.process.fds
        f = fds.get(fd) if fds is not None else None
        return getattr(f, "host_fd", None) == self.io.stdin_fd

    def _live_step(self) -> SessionStop | None:
        """Execute the instruction at pc for real, at the live end of history. Returns a
        Stop when something the user should see happened (a crossing, a fault, the end)."""
        m = self.machine
        if self._exited():
            return SessionStop("exited", self._exit_text())
        mark = self.pos[0]
        pending = mark.info.get("pending") if not self._path else None
        if pending is not None:
            return self._deliver(pending)
        pc = m.pc
        insn = self.insn_at(pc)
        kind = insn.kind if insn else "bad"
        if kind in TRAP_KINDS:
            if self._stdin_wait(kind):
                return SessionStop("input", "the program reads its standard input: type a line "
                            "(or close the input)", pc)
            if self._insns is not None and self._syscall_name(kind) in READS_CLOCK:
                # As a hooked count sees it: Unicorn reports `int 0x80` with the pc past
                # it (counted), `syscall` and `sysenter` at it (not yet).
                self._sync_insns(1 if kind == "int 0x80" else 0)
            before = self.regs()
            self._hook_mode = None
            self._run_guarded(count=1)
            return self._after_crossing(kind, before)
        if kind in ("rdtsc", "rdtscp"):
            # Its value differs on every run: keep the result (registers only) as a mark.
            self._sync_insns()  # a virtual clock's counter: exact here
            self._hook_mode = None
            self._run_guarded(count=1)
            self._add_mark(self._snapshot("rdtsc", self._path, applied=True, memory=False))
            return None
        if kind == "hlt":
            return self._stop_at_fault(Halted(pc), self._path)
        n_events = len(self._events)
        self._hook_mode = None
        stop = self._run(count=1)
        fault = self._faulted(stop)
        if fault is not None:
            return self._stop_at_fault(fault, self._path)
        self._path = join(self._path, Offset(1))
        self.pos = (self.pos[0], known_length(self._path))
        self._machine_at = self.pos
        if len(self._events) > n_events:
            # A user-mode event (the vDSO watcher saw a call return): give it a mark here.
            self._add_mark(self._snapshot("vdso", self._path, applied=False))
            self.pos[0].events.extend(self._take_events())
        return None

    # -- the virtual clock's instruction count ---------------------------------------------
    def _sync_insns(self, extra: int = 0) -> None:
        """Make the instruction count exact at the live position, before something reads
        the time there (a time syscall, rdtsc, an emulated vsyscall). Free runs since the
        last counted mark are counted by replay (as stepping back into them would), so the
        reading is the same however the user got here: stepping, or running freely.
        Elsewhere the clock keeps the count of its last reading (plus each crossing's
        modelled cost). `extra`: instructions of the trap itself the hooked count of
        `run --clock virtual` includes at that point."""
        if self._insns is None:
            return
        mark, path = self.pos[0], self._path
        moved = "insns" not in mark.extra
        base = self._insns_at(mark)  # may replay earlier stretches: the machine moves
        n = known_length(path)
        if n is None:
            n = self._replay_counting(mark, path)  # ends at the live end again
            if n is None:  # too long for the hook: by bisection, from a mark kept here
                self._materialize(mark)
                self._replay_path(path)
                self._freeze()
                base, n = self._insns_at(self.pos[0]), 0
                self._ensure()
        elif moved:
            self._materialize(mark)  # back to the live end
            self._replay_path(path)
        # Never backwards, even where history was dropped before anything counted it.
        self._insns.count = max(self._insns.count, base + n + extra)

    def _replay_counting(self, mark: Mark, path) -> int | None:
        """The length of `path` from `mark`, by replaying it once with a block-counting
        hook: cheap for the short runs between two time reads, and it leaves no mark
        behind. None (the machine then somewhere on the path) when it is longer than
        COUNT_REPLAY_MAX; the caller counts it by bisection, at Unicorn's full speed."""
        from emu.counter import InstructionCounter

        self._materialize(mark)
        counter = InstructionCounter(self.machine, budget=COUNT_REPLAY_MAX)
        self.machine.flush_translations()  # blocks translated before the hook would not call it
        try:
            self._replay_path(path)
        except ReplayDiverged:
            if not counter.exceeded:
                raise
        finally:
            counter.remove()
            self.machine.flush_translations()  # free runs keep full speed
        return None if counter.exceeded else counter.count

    def _insns_at(self, mark: Mark) -> int:
        """Instructions executed from the start to `mark`'s state, counting stretches that
        were run freely by replay (the machine then moves). An interrupted run (Esc) cannot
        be counted: its instructions are left out."""
        while True:
            chain, known = [], mark
            while "insns" not in known.extra:
                prev = self.timeline.prev(known)
                if prev is None:
                    break
                chain.append(known)
                known = prev
            count = known.extra.get("insns", 0)
            prev = known
            for m in reversed(chain):
                n = m.length
                if n is None and m.arrive is not None:
                    n = self._replay_counting(prev, m.arrive)
                    self._machine_at = None
                    if n is None:
                        # Counted by bisection, which leaves index points before `m`:
                        # walk the chain again, through them.
                        self.gap_length(m)
                        break
                count += (n or 0) + _executed(m)
                m.extra["insns"] = count
                prev = m
            else:
                return count

    def _tick(self) -> None:
        """The kernel's timer tick (the clock data the vDSO and the vsyscall page read).
        System.run runs it from a timer thread while the CPU runs; a session runs it only at
        crossings, where the state is saved right after, so that replays, which never tick,
        read the very bytes the recorded run read. Between crossings the coarse clocks
        stand still, as on a tickless CPU; the precise ones extrapolate with rdtsc."""
        for job in getattr(self.system, "tick_jobs", ()):
            job()

    def _after_crossing(self, kind: str, before: dict) -> SessionStop:
        s = self.system
        if not self._exited() and s.signals.deliverable():
            s.signals.deliver_pending()  # on the way back to user mode
        if self._exited():
            s.finish()
        else:
            self._tick()
        mark = self._snapshot(kind, self._path, applied=True, full=True)
        mark.events.extend(self._take_events())
        mark.info["before"] = before
        self._add_mark(mark)
        self._scan_guards()
        if self._exited():
            return SessionStop("exited", self._exit_text())
        return SessionStop("crossed", kind, self.machine.pc)

    def _stop_at_fault(self, fault, path) -> SessionStop:
        """The instruction at pc faulted: stop before it, as gdb does. The next step
        delivers the signal (or, in the vsyscall page, lets the kernel emulate the call)."""
        self._clear_fault()
        mark = self._snapshot("fault", path, applied=False)
        mark.info["pending"] = fault
        mark.info["text"] = fault.text(self.machine.pc)
        self._add_mark(mark)
        return self._fault_stop(mark)

    def _fault_stop(self, mark: Mark) -> SessionStop:
        """The stop at a fault mark, the same when it is recorded and when a replay
        reaches it again."""
        reason = "vsyscall" if isinstance(mark.info["pending"], VsyscallFetch) else "fault"
        return SessionStop(reason, mark.info["text"], mark.pc)

    def _deliver(self, pending) -> SessionStop:
        """The crossing after a fault stop: the kernel delivers the signal, or emulates the
        vsyscall."""
        s = self.system
        vsyscall = isinstance(pending, VsyscallFetch)
        if vsyscall:
            self._sync_insns()  # the emulated call reads the time
        before = self.regs()
        loop.enter_kernel(s, pending)
        if not self._exited():
            s.signals.deliver_pending()
        if self._exited():
            s.finish()
        else:
            self._tick()
        mark = self._snapshot("vsyscall" if vsyscall else "signal", (),
                              applied=True, full=True)
        mark.events.extend(self._take_events())
        mark.info["before"] = before
        self._add_mark(mark)
        self._scan_guards()
        if self._exited():
            return SessionStop("exited", self._exit_text())
        return SessionStop("crossed", mark.kind, self.machine.pc)

    def _live_run(self) -> tuple[str, object]:
        """Run freely from the live position until a hook, a fault or an interrupt stops
        the CPU: ("hook", addr) with the path extended, ("fault", fault) with the path
        extended, ("interrupt", None) or ("exited", None)."""
        self._hits = {}
        self._hook_mode = "live"
        try:
            cause = self._run()
        finally:
            self._hook_mode = None
        if isinstance(cause, (Fault, VsyscallFetch)):
            # Before any hook or guard: a fault the CPU met before the block's end (an
            # `in`, a 32-bit `syscall`) came before what the rest of the block ran into.
            self._path = join(self._path, FAULT)
            return "fault", cause
        if self._stopped_by is not None:
            addr = self._stopped_by
            self._path = join(self._path, Hit(addr, self._hits[addr]))
            return "hook", addr
        guard = self._at_guard()
        if guard is not None:  # a run stops at the first guard it meets: always the 1st hit
            self._path = join(self._path, Hit(guard, 1))
            return "hook", guard
        if isinstance(cause, Exited):
            return "exited", None
        if isinstance(cause, Interrupted):
            return "interrupt", None
        # Halted (or a queued signal): the kernel's work, as for a fault.
        self._path = join(self._path, FAULT)
        return "fault", cause

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
            return up is None or up[0] in TRAP_KINDS
        if method == "next":
            insn = self.insn_at(self.machine.pc)
            return self.walk is not None or insn is None or insn.kind != "call"
        if method == "reverse_step":
            mark, n = self.pos
            if n > 0 or (self._at_frontier() and self._path):
                return not self._path or known_length(self._path) is not None
            return mark.arrive is None or mark.length is not None
        return False

    def step(self) -> SessionStop:
        """`s`/`si`: one instruction; at a transition, into it; while walking one, the next
        phase."""
        return self._command(self._cmd_step)

    def _cmd_step(self) -> SessionStop:
        if self.walk is not None:
            return self._walk_forward()
        up = self.upcoming()
        if up is not None:
            return self._enter_transition(up)
        return self._step_one()

    def _step_one(self) -> SessionStop:
        """One instruction forward: for real at the live end, from the record before it."""
        nxt = self._stretch_ahead()
        if self._at_frontier():
            stop = self._live_step()
            return stop if stop is not None else SessionStop("step", "", self.machine.pc)
        mark, n = self.pos
        if nxt.arrive is None:  # an interrupted free run: it can only be jumped over
            self._goto(nxt, 0)
            return SessionStop("step", "jumped over a stretch that was not recorded step by "
                        "step", self.machine.pc)
        if n < nxt.length:
            self._goto(mark, n + 1)
            return SessionStop("step", "", self.machine.pc)
        # the end of the stretch (normalized: `nxt` is applied): its recorded outcome
        self._goto(nxt, 0)
        if self._exited():
            return SessionStop("exited", self._exit_text())
        if nxt.kind in CROSSINGS:
            return SessionStop("crossed", nxt.kind, self.machine.pc)
        return SessionStop("step", "", self.machine.pc)

    def next(self) -> SessionStop:
        """`n`/`ni`: one instruction, over calls, and over a whole transition."""
        return self._command(self._cmd_next)

    def _cmd_next(self) -> SessionStop:
        if self.walk is not None:
            return self._walk_finish()
        up = self.upcoming()
        if up is not None and up[0] in TRAP_KINDS:
            return self._over_crossing()
        insn = self.insn_at(self.machine.pc)
        if insn is not None and insn.kind == "call":
            ret = self.machine.pc + insn.size
            return self._run_until(_Policy(temp={ret: self.machine.sp}))
        return self._step_one()

    def finish(self) -> SessionStop:
        """`f`: run until the current function returns to its caller."""
        return self._command(self._cmd_finish)

    def _cmd_finish(self) -> SessionStop:
        if self.walk is not None:
            return self._walk_finish()
        ret = self._return_slot()
        if ret is None:
            return SessionStop("step", "no return address found on the stack", self.machine.pc)
        slot, addr = ret
        return self._run_until(_Policy(temp={addr: slot + self.machine.arch.word}))

    def _return_slot(self) -> tuple[int, int] | None:
        """The nearest stack word holding an address right after a call instruction (how
        gdb's heuristic unwinder finds a caller without frame information)."""
        m = self.machine
        word = m.arch.word
        sp = m.sp
        for i in range(512):
            slot = sp + i * word
            try:
                value = m.read_word(slot)
            except Exception:
                return None
            vma = self.system.mm.find(value)
            if vma is None or not vma.prot & PROT_EXEC:
                continue
            for back in (5, 2, 3, 6, 7, 4):
                try:
                    code = m.read(value - back, back)
                except Exception:
                    continue
                d = insns.decode(code, value - back, self.bits)
                if d is not None and d.kind == "call" and d.size == back:
                    return slot, value
        return None

    def cont(self) -> SessionStop:
        """`c`: run until a breakpoint, a fault or the end."""
        return self._command(self._run_until, _Policy())

    def run_to_transition(self) -> SessionStop:
        """`t`: run to the next syscall, int 0x80, sysenter, or call into the vDSO or the
        vsyscall page, and stop before it."""
        return self._command(self._run_until, _Policy(transitions=True))

    def run_to_syscall(self, name: str) -> SessionStop:
        """Like gdb's `catch syscall NAME`: stop before the next call of that syscall."""
        return self._command(self._run_until, _Policy(syscalls=frozenset([name])))

    def _wants_stop_here(self, policy: _Policy) -> SessionStop | None:
        """Does the running command stop at the current point?"""
        m = self.machine
        pc = m.pc
        if self._exited():
            return SessionStop("exited", self._exit_text())
        if policy.breakpoints:
            for b in self.breakpoints:
                if b.enabled and b.address == pc:
                    b.hits += 1
                    return SessionStop("breakpoint", f"breakpoint {b.spec}", pc)
        if pc in policy.temp:
            want = policy.temp[pc]
            if want is None or m.sp == want:
                return SessionStop("step", "", pc)
        up = self.upcoming()
        if up is None:
            return None
        if policy.transitions:
            return SessionStop("transition", up[0], pc)
        if up[0] in TRAP_KINDS:
            name = self._syscall_name(up[0])
            caught = policy.syscalls | {b.syscall for b in self.breakpoints
                                        if b.enabled and b.syscall and policy.breakpoints}
            if name in caught:
                for b in self.breakpoints:
                    if b.enabled and b.syscall == name and policy.breakpoints:
                        b.hits += 1
                return SessionStop("syscall", f"catch syscall {name}", pc)
        return None

    def _run_until(self, policy: _Policy) -> SessionStop:
        """The loop behind c, t, n over a call, finish, catch syscall: the first
        instruction is stepped (so a breakpoint here does not stop it again), then free runs
        (live at the end of history, replayed before it: the same loop for both) stop at
        every guard or hook, where the session decides.

        A free run cannot stop before a call into the vDSO or the vsyscall page: it finds
        the call after the fact, at its target (the vDSO function's entry hook, the fault of
        fetching the vsyscall page), and `t` then goes back to the call. `unchecked` says
        whether the instruction that led to the current point ran inside a free run, unseen
        by `_wants_stop_here`: only then was the call not already passed by the rules (the
        command's own first instruction, a call `t` is at, is stepped, not unchecked)."""
        self.walk = None
        for b in self.breakpoints:
            if b.address is not None:
                self._hook(b.address, "bp")
        for addr in policy.temp:
            self._hook(addr, "temp")
        self._policy = policy
        try:
            stop, unchecked = self._step_one(), False
            while True:
                if unchecked and policy.transitions and self._entered_call(stop):
                    return self._stop_at_call()
                if stop.reason == "vsyscall":
                    stop, unchecked = self._step_one(), False  # the kernel emulates it
                    continue
                if stop.reason in ("exited", "fault", "input", "interrupted"):
                    return stop
                if stop.reason == "hook" and stop.message == "live":
                    self._live_hook(stop.pc)
                here = self._wants_stop_here(policy)
                if here is not None:
                    return self._settle(here)
                if self._interrupt.is_set():
                    return self._settle(SessionStop("interrupted", "stopped", self.machine.pc))
                if stop.reason == "hook":  # stopped before this instruction: run it first
                    stop, unchecked = self._step_one(), False
                    continue
                stop, unchecked = self._free_run(policy, unchecked)
        finally:
            for addr in policy.temp:
                self._unhook(addr, "temp")
            self._policy = _Policy()

    def _entered_call(self, stop: SessionStop) -> bool:
        """Whether a run is at the target of a call into the vDSO or the vsyscall page: a
        vDSO function's entry (hooked), or the vsyscall page, whose fetch faulted (the
        kernel emulates the call, or with vsyscall=none sends SIGSEGV)."""
        pc = self.machine.pc
        if stop.reason in ("vsyscall", "fault"):
            return self.bits == 64 and VSYSCALL_ADDR <= pc < VSYSCALL_ADDR + 0x1000
        return "vdso" in self._kinds.get(pc, ())

    def _stop_at_call(self) -> SessionStop:
        """`t` found a call after the fact, at its target: the stop is at the call itself,
        one instruction back (where `_wants_stop_here` would have stopped)."""
        self._settle(SessionStop("transition"))
        back = self._reverse_one()
        up = self.upcoming()
        return SessionStop("transition", up[0] if up else "vdso", back.pc)

    def _live_hook(self, addr: int) -> None:
        """What the live end keeps of a hook a run stopped at: a vDSO call's return gets a
        mark (the watcher's event is placed there), a call into the vDSO a mark at its entry
        and a watch on its return."""
        kinds = self._kinds.get(addr, set())
        if "vreturn" in kinds and self._vreturns.get(addr) == self.machine.sp:
            del self._vreturns[addr]
            self._unhook(addr, "vreturn")
            self._add_mark(self._snapshot("vdso", self._path, applied=False))
            self.pos[0].events.extend(self._take_events())
        elif "vdso" in kinds:
            self._add_mark(self._snapshot("vdso-call", self._path, applied=False))
            self._watch_return()

    def _free_run(self, policy: _Policy, unchecked: bool) -> tuple[SessionStop, bool]:
        """Run from the current point (the stop rules passed its instruction) until a
        hook, a guard, a fault, or the end of a recorded stretch: live at the end of
        history, else a replay. Returns (why it stopped: a SessionStop whose reason is "hook" for
        a hook or a guard, before the instruction at its pc, its message "live" or
        "replayed"; or step, crossed, fault, vsyscall, exited, interrupted; and
        `unchecked`, see _run_until)."""
        nxt = self._stretch_ahead()
        mark, n = self.pos
        if n == 0 and "pending" in mark.info:
            # A recorded fault right here, reached by a step (the stop recorded there, taken
            # from a fault stop, would have delivered it): a run faults at once, as it did.
            return self._fault_stop(mark), unchecked
        if self._at_frontier():
            return self._live_free_run(unchecked)
        return self._replay_run(policy, nxt)

    def _live_free_run(self, unchecked: bool) -> tuple[SessionStop, bool]:
        """The free run at the live end: the guest runs for real (see _live_run)."""
        start = self.machine.pc
        why, detail = self._live_run()
        if why == "exited":
            return SessionStop("exited", self._exit_text()), False
        if why == "interrupt":
            self._add_mark(self._snapshot("interrupt", None, applied=False, full=True))
            return SessionStop("interrupted", "stopped", self.machine.pc), False
        if why == "fault":
            stop = self._stop_at_fault(detail, self._path)
            return stop, unchecked if self.machine.pc == start else True
        # A hook fires before the run's first instruction too: there, nothing ran.
        first = detail == start and self._hits.get(detail, 1) == 1
        return SessionStop("hook", "live", detail), unchecked if first else True

    def _replay_run(self, policy: _Policy, nxt: Mark) -> tuple[SessionStop, bool]:
        """The free run before the live end: forward through the recorded stretch up to
        `nxt` (from the normalized current position) as a counted replay with the policy's
        hooks; a stop inside it is located by bisection. A crossing at the end of the
        stretch is loaded, not replayed."""
        mark, n = self.pos
        if nxt.arrive is None:
            self._goto(nxt, 0)
            self.notes.append("jumped over a stretch that was not recorded step by step")
            return SessionStop("step", "", self.machine.pc), False
        self._goto(mark, n)
        left = nxt.length - n
        if left == 0:  # (normalized: `nxt` is applied) the crossing recorded right here
            self._goto(nxt, 0)
            return SessionStop("crossed", nxt.kind, self.machine.pc), False
        # the instruction at the current point was checked by the caller
        self._replay_path((Offset(1),))
        start = (mark, n + 1)
        self.pos = self._machine_at = start
        if left > 1:
            self._hits = {}
            self._replaying = True
            self._hook_mode = "policy"
            try:
                self._run(count=left - 1)
            finally:
                self._hook_mode = None
                self._replaying = False
            if self._stopped_by is not None:
                hit = Hit(self._stopped_by, self._hits[self._stopped_by])
                self._goto(*start)
                found, _ = self._locate(hit)
                self._goto(mark, n + 1 + found)
                return SessionStop("hook", "replayed", hit.pc), found > 0
            if self._interrupt.is_set():  # stopped somewhere in the stretch
                self._machine_at = None
                self._goto(*start)
                return SessionStop("interrupted", "stopped", self.machine.pc), False
            self.pos = (mark, n + left)
            self._machine_at = self.pos
        return SessionStop("step", "", self.machine.pc), left > 1

    def _watch_return(self) -> None:
        m = self.machine
        ret = m.read_word(m.sp)
        self._vreturns[ret] = m.sp + m.arch.word
        self._hook(ret, "vreturn")

    def _settle(self, stop: SessionStop) -> SessionStop:
        """A command stops here: at the live end, keep the point as a mark."""
        if self._at_frontier() and self._path:
            self._add_mark(self._snapshot("stop", self._path, applied=False))
            self.pos[0].info["stop"] = stop.reason
        return stop

    # -- moving back ---------------------------------------------------------------------------
    def reverse_step(self) -> SessionStop:
        """One instruction back (while walking a transition: one phase back)."""
        return self._command(self._cmd_reverse_step)

    def _cmd_reverse_step(self) -> SessionStop:
        if self.walk is not None:
            return self._walk_back()
        return self._reverse_one()

    def _reverse_one(self) -> SessionStop:
        self._freeze()
        mark, n = self.pos
        if n > 0:
            self._goto(mark, n - 1)
            return SessionStop("step", "", self.machine.pc)
        prev = self.timeline.prev(mark)
        if prev is None:
            return SessionStop("start", "at " + self._horizon_text(), self.machine.pc)
        if mark.arrive is None:
            self._goto(prev, 0)
            return SessionStop("step", "stepped back over a run that was interrupted (not recorded "
                        "step by step): now at its start", self.machine.pc)
        if mark.applied:  # just before the crossing (or the rdtsc): no need to count
            self._goto(self._split_before(mark), 0)
            return SessionStop("step", "", self.machine.pc)
        length = self.gap_length(mark)
        prev = self.timeline.prev(mark)  # indexing may have put points in between
        self.pos = (prev, length)  # a plain mark: the same state as the point before it
        self._machine_at = None
        return self._reverse_one()

    def _horizon_text(self) -> str:
        t = self.timeline
        if t.dropped:
            return (f"the start of the recorded history ({t.dropped} older points were dropped "
                    f"to stay within the {t.budget >> 20} MiB history budget)")
        return "the start of the program"

    def reverse_continue(self) -> SessionStop:
        """Back to the previous breakpoint hit or caught syscall; without any, to the
        start of the recorded history."""
        return self._command(self._cmd_reverse, False)

    def reverse_to_transition(self) -> SessionStop:
        """Back to the point before the previous crossing into the kernel (or vDSO call)."""
        return self._command(self._cmd_reverse, True)

    def _cmd_reverse(self, transitions: bool) -> SessionStop:
        self.walk = None
        self._freeze()
        bps = {b.address for b in self.breakpoints if b.enabled and b.address is not None}
        caught = {b.syscall for b in self.breakpoints if b.enabled and b.syscall}
        mark, n = self.pos
        while True:
            if bps:  # hits after `mark`, before the current point (or the end of its stretch)
                if n is None:
                    n = self.gap_length(self.timeline.next(mark))
                off = self._last_hit(mark, n, bps)
                if off is not None:
                    self._goto(mark, off)
                    return SessionStop("breakpoint", "breakpoint (going backwards)",
                                       self.machine.pc)
            prev = self.timeline.prev(mark)
            if prev is None:
                self._goto(mark, 0)
                return SessionStop("start", "at " + self._horizon_text(), self.machine.pc)
            if mark.arrive is None:
                mark, n = prev, 0
                self.notes.append("went back over a run that was not recorded step by step")
                continue
            crossing = mark.applied and mark.kind in CROSSINGS
            if crossing and (transitions or self._caught(mark, caught)):
                self._goto(self._split_before(mark), 0)
                if mark.kind == "vsyscall" and transitions:
                    self._reverse_one()  # from the faulting fetch back to the call
                return SessionStop("transition", mark.kind, self.machine.pc)
            if mark.kind == "vdso-call" and transitions:
                self._goto(mark, 0)
                back = self._reverse_one()
                return SessionStop("transition", "vdso", back.pc)
            called = next((e for e in mark.events if isinstance(e, VdsoCalled)), None)
            if called is not None and transitions and not mark.applied:
                return self._back_to_call(mark, called)
            if mark.applied and bps:
                before = mark.info.get("before", {})
                if before.get(self.machine.arch.pc_name) in bps:
                    self._goto(self._split_before(mark), 0)
                    return SessionStop("breakpoint", "breakpoint (going backwards)",
                                       self.machine.pc)
            # on to the stretch before: counted only if breakpoints must be looked for in it
            mark, n = self.timeline.prev(mark), None

    def _split_before(self, mark: Mark) -> Mark:
        """A plain mark at the point just before `mark`'s crossing, found by replaying the
        stretch before it freely (no counting): going back to a crossing costs a replay of
        that stretch at full speed, not its count."""
        prev = self.timeline.prev(mark)
        if mark.arrive is None or prev is None:
            return mark
        if not mark.arrive or mark.length == 0:
            return prev
        self._materialize(prev)
        self._replay_path(mark.arrive)
        self._replaying = True
        try:
            point = self._point()
        finally:
            self._replaying = False
        point.kind = "stop"
        point.arrive = mark.arrive
        point.info["stop"] = "before " + mark.kind
        self.timeline.insert_after(prev, point)
        mark.arrive = (Offset(0),)
        self._machine_at = (point, 0)
        return point

    def _back_to_call(self, mark: Mark, called) -> SessionStop:
        """From the point a vDSO call returned to, back to the call instruction itself."""
        self._goto(mark, 0)
        for back in (2, 3, 5, 6, 7):
            site = called.return_pc - back
            try:
                d = insns.decode(self.machine.read(site, back), site, self.bits)
            except Exception:
                continue
            if d is not None and d.kind == "call" and d.size == back:
                break
        else:
            return SessionStop("transition", "vdso", self.machine.pc)
        for _ in range(10_000):
            if self._reverse_one().reason == "start" or self.machine.pc == site:
                break
        return SessionStop("transition", "vdso", self.machine.pc)

    def _caught(self, mark: Mark, names: set) -> bool:
        return any(getattr(e, "name", None) in names for e in mark.events
                   if isinstance(e, SyscallEntered))

    def _last_hit(self, mark: Mark, n: int, addrs: set) -> int | None:
        """The offset (< n) of the last breakpoint hit in the n instructions after `mark`."""
        if not addrs or n <= 0:
            return None
        self._goto(mark, 0)
        for a in addrs:
            self._hook(a, "bp")
        self._hits = {}
        self._last_seq = {}
        self._target = None
        self._replaying = True
        self._hook_mode = "count"
        try:
            self._run(count=n)
        finally:
            self._hook_mode = None
            self._replaying = False
        self._machine_at = None
        seen = [(self._last_seq[a], a) for a in addrs if a in self._last_seq]
        if not seen:
            return None
        addr = max(seen)[1]
        hit = Hit(addr, self._hits[addr])
        self._goto(mark, 0)
        found, _ = self._locate(hit)
        return found

    def goto(self, where) -> SessionStop:
        """Go to a point in the recorded history, leaving any transition being walked.
        `where` is a Mark (the point it keeps) or a position (mark, n): n instructions
        after the mark, as `pos` and a Walk's `before_pos` and `after_pos` hold them."""
        mark, n = (where, 0) if isinstance(where, Mark) else where
        return self._command(self._cmd_goto, mark, False, n)

    def goto_mark(self, mark: Mark, before: bool = False) -> SessionStop:
        """Jump to a mark; with `before`, to the point just before its crossing."""
        return self._command(self._cmd_goto, mark, before)

    def _cmd_goto(self, mark: Mark, before: bool, n: int = 0) -> SessionStop:
        self.walk = None
        self._freeze()
        if mark not in self.timeline.marks:
            return SessionStop("step", "that point is no longer in the history", self.machine.pc)
        if before and mark.applied and mark.arrive is not None:
            self._goto(self._split_before(mark), 0)
            return SessionStop("step", "", self.machine.pc)
        if n != 0 and not self._recorded(mark, n):
            return SessionStop("step", "that point is not in the history", self.machine.pc)
        self._goto(mark, n)
        return SessionStop("step", "", self.machine.pc)

    def _recorded(self, mark: Mark, n) -> bool:
        """Whether n instructions after `mark` is a point in the recorded stretches after
        it (counted if need be)."""
        if not isinstance(n, int) or n < 0:
            return False
        _, rest, nxt = self._counted(mark, n)
        return rest == 0 or (nxt is not None and nxt.length is not None and rest <= nxt.length)

    def goto_start(self) -> SessionStop:
        return self.goto_mark(self.timeline.marks[0])

    def goto_end(self) -> SessionStop:
        return self.goto_mark(self.timeline.last)

    # -- transitions ------------------------------------------------------------------------------
    def _enter_transition(self, up) -> SessionStop:
        from kernel_model.debugger import transition as tr

        kind, target = up
        before_pos = self.pos
        before_view = self.view()
        before_regs = self.regs()
        if kind in TRAP_KINDS:
            stop = self._step_one()
            if stop.reason != "crossed" and stop.reason != "exited":
                return stop
            t = tr.from_crossing(self.pos[0], before_regs, self.regs(), self)
        else:
            t = self._walk_call(kind, target, before_regs)
        # The first step shows phase 1 of every transition (for a trap, the user registers
        # and the ABI): a student counts the phases from the first, as the screen numbers them.
        self.walk = Walk(t, 0, before_view, before_pos, self.pos)
        return self._phase_stop()

    def _walk_call(self, kind, target, before_regs):
        """Step through a call into the vDSO or the vsyscall page until it returns,
        keeping what each instruction did (and what it read from [vvar])."""
        from kernel_model.debugger import transition as tr

        m = self.machine
        ret_sp = m.sp
        call = self.insn_at(m.pc)
        ret_pc = m.pc + call.size
        trace = []
        reads: list[tuple[int, int, int]] = []
        vvar = self._vvar_range()

        def on_read(addr, size):
            if vvar and vvar[0] <= addr < vvar[1]:
                reads.append((addr, size, int.from_bytes(m.read(addr, size), "little")))

        h = m.hook_reads(on_read)
        try:
            for _ in range(10_000):
                pc = m.pc
                i = self.insn_at(pc)
                reads.clear()
                regs_before = self.regs()
                stop = self._step_one()
                trace.append({"pc": pc, "insn": i, "reads": list(reads), "regs": regs_before,
                              "after": self.regs(), "stop": stop, "mark": self.pos[0]})
                if stop.reason in ("exited", "fault", "input"):
                    break
                if m.pc == ret_pc and m.sp == ret_sp:
                    break
        finally:
            m.unhook(h)
        return tr.from_call(kind, target, trace, before_regs, self,
                            title=self._vdso_call_text(ret_pc))

    def _vdso_call_text(self, ret_pc: int) -> str | None:
        """The [vdso] line the watcher will print when the call returns (its event comes
        only when the instruction after the call runs)."""
        w = self.system.vdso_watcher
        call = next((c for c in reversed(getattr(w, "pending", []))
                     if c.get("return_pc") == ret_pc), None)
        if call is None:
            return None
        try:
            from kernel_model.vdso.watch import SIGNATURES

            kinds, _ = SIGNATURES[call["name"]]
            ret = self.machine.reg(REG_IDS["rax" if self.bits == 64 else "eax"])
            ret = ret - (1 << self.bits) if ret >> (self.bits - 1) else ret
            texts = [w._arg_text(k, v, ret, call) for k, v in zip(kinds, call["args"],
                                                                  strict=False)]
            return f"[vdso] {call['name']}({', '.join(texts)}) = {ret}"
        except Exception:  # the watcher's formatting is its own business: fall back
            return None

    def _vvar_range(self):
        vdso = self.system.vdso
        if vdso is None:
            return None
        return (vdso.vvar, vdso.base)

    def _over_crossing(self) -> SessionStop:
        stop = self._step_one()
        if stop.reason == "crossed":
            return SessionStop("step", stop.message, self.machine.pc)
        return stop

    def _walk_forward(self) -> SessionStop:
        w = self.walk
        if w.phase + 1 >= len(w.transition.phases):
            self.walk = None
            return self._cmd_step()
        w.phase += 1
        return self._phase_stop()

    def _walk_back(self) -> SessionStop:
        w = self.walk
        if w.phase <= 0:
            self.walk = None
            self._goto(*w.before_pos)
            return SessionStop("step", "", self.machine.pc)
        w.phase -= 1
        return self._phase_stop()

    def _walk_finish(self) -> SessionStop:
        w = self.walk
        w.phase = len(w.transition.phases) - 1
        return self._phase_stop()

    def _phase_stop(self) -> SessionStop:
        w = self.walk
        phase = w.transition.phases[w.phase]
        return SessionStop("phase", phase.title, self.machine.pc)

    # -- breakpoints -----------------------------------------------------------------------------
    def resolve(self, spec: str) -> int | None:
        """An address from a number, a symbol or an assembly label."""
        spec = spec.strip()
        try:
            return int(spec, 0)
        except ValueError:
            pass
        name, _, off = spec.partition("+")
        offset = int(off, 0) if off else 0
        if self.program is not None and self.program.assembled is not None:
            addr = self.program.assembled.labels.get(name)
            if addr is not None:
                return addr + offset
        for addr, n in self.system.process.symbols.items():
            if n == name:
                return addr + offset
        vdso = self.system.vdso
        if vdso is not None:
            a = vdso.symbol(name)
            if a is not None:
                return a + offset
        return None

    def add_breakpoint(self, spec: str) -> Breakpoint:
        spec = spec.strip()
        if spec.startswith(("syscall ", "catch ")):
            name = spec.split(None, 1)[1].strip()
            from kernel_model.entry.abi import ABIS

            if not any(abi.number_of(name) is not None for abi in ABIS.values()):
                raise ValueError(f"{name}: not a syscall name")
            b = Breakpoint(spec=f"syscall {name}", syscall=name)
        else:
            addr = self.resolve(spec)
            if addr is None:
                raise ValueError(f"{spec}: no such address, symbol or label")
            b = Breakpoint(spec=spec, address=addr)
            self._hook(addr, "bp")
        self._breakpoints_made += 1
        b.number = self._breakpoints_made
        self.breakpoints.append(b)
        return b

    def remove_breakpoint(self, b: Breakpoint) -> None:
        self.breakpoints.remove(b)
        if b.address is not None and not any(x.address == b.address for x in self.breakpoints):
            self._unhook(b.address, "bp")

    def toggle_breakpoint_at(self, addr: int) -> Breakpoint | None:
        for b in self.breakpoints:
            if b.address == addr:
                self.remove_breakpoint(b)
                return None
        return self.add_breakpoint(hex(addr))

    # -- input -------------------------------------------------------------------------------------
    def feed_input(self, text: str) -> None:
        self.io.feed(text)

    def close_input(self) -> None:
        self.io.close_input()

    # -- what the screen shows -------------------------------------------------------------------
    def view(self):
        from kernel_model.debugger.view import build_view

        return build_view(self)

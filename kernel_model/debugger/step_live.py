"""Live execution at the end of history: one step of the run loop (kernel_model.run) at
a time, the kernel entered for real at each crossing, each crossing saved as a mark.

Part of the stepping session (session.DebugSession); see session.py for how it runs
and goes back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from emu.arch import REG_IDS
from kernel_model.debugger.session_parts import SessionParts
from kernel_model.debugger.stepping import (
    FAULT,
    TRAP_KINDS,
    SessionStop,
)
from kernel_model.debugger.timeline import Hit, Mark, Offset, join, known_length
from kernel_model.run import loop
from kernel_model.run.causes import (
    Exited,
    Fault,
    Halted,
    Interrupted,
    VsyscallFetch,
)
from kernel_model.signals import delivery as signals
from kernel_model.syscalls.timekeeping import READS_CLOCK

if TYPE_CHECKING:
    from kernel_model.files.fdtable import FdTable

class LiveExecution(SessionParts):
    # -- live execution ------------------------------------------------------------------------
    def _exited(self) -> bool:
        return self.system.process.exited

    def exit_text(self) -> str:
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

    def stdin_wait(self, kind: str) -> bool:
        """Whether the trap at pc reads fd 0 with nothing typed yet (the read would see
        end-of-file: the user must type first, or close the input)."""
        if self.io.eof or self.io.input_pending() > 0:
            return False
        if self._syscall_name(kind) not in ("read", "readv"):
            return False
        reg = REG_IDS["rdi" if kind == "syscall" else "ebx"]
        fd = self.machine.reg(reg) & 0xFFFFFFFF
        # Process.fds is declared `object` (set up by the system): it is an FdTable.
        fds = cast("FdTable | None", self.system.process.fds)
        f = fds.get(fd) if fds is not None else None
        return getattr(f, "host_fd", None) == self.io.stdin_fd

    def _live_step(self) -> SessionStop | None:
        """Execute the instruction at pc for real, at the live end of history. Returns a
        Stop when something the user should see happened (a crossing, a fault, the end)."""
        m = self.machine
        if self._exited():
            return SessionStop("exited", self.exit_text())
        mark = self.pos[0]
        pending = mark.info.get("pending") if not self._path else None
        if pending is not None:
            return self._deliver(pending)
        pc = m.pc
        insn = self.insn_at(pc)
        kind = insn.kind if insn else "bad"
        if kind in TRAP_KINDS:
            if self.stdin_wait(kind):
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
        return self._crossed(kind, self._path, before)

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
        return self._crossed("vsyscall" if vsyscall else "signal", (), before)

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

    def _crossed(self, kind: str, path, before: dict) -> SessionStop:
        """After the kernel's side of a crossing: end the process or run the tick, save the
        state with the crossing's events and the registers before it, and stop there."""
        if self._exited():
            self.system.finish()
        else:
            self._tick()
        mark = self._snapshot(kind, path, applied=True, full=True)
        mark.events.extend(self._take_events())
        mark.info["before"] = before
        self._add_mark(mark)
        self._scan_guards()
        if self._exited():
            return SessionStop("exited", self.exit_text())
        return SessionStop("crossed", kind, self.machine.pc)

"""Live execution at the end of history: one step of the run loop (kernel_model.run) at
a time, the kernel entered for real at each crossing, each crossing saved as a mark.

Many tasks: the session does between two stops what kernel_model.run.loop.run does between
two resumes, by the same functions (loop.schedule, loop.finish_wait), so a session makes
the switches a run makes. A task's resume gets a time slice of `sched.timeslice`
instructions when another task is runnable (none otherwise); a trap that stops the CPU (the
task waits, exits, yields, or has a signal to take) ends the resume, and a context switch
follows when the task cannot go on or its slice was counted (run's `Counted`). A switch is
a stop of its own, a crossing like a syscall ("switch" marks): the point before it keeps
the pending `Switch`, as a fault stop keeps its fault.

Part of the stepping session (session.DebugSession); see session.py for how it runs
and goes back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from emu.arch import REG_IDS
from kernel_model.debugger.session_parts import SessionParts
from kernel_model.debugger.step_signals import SignalStop
from kernel_model.debugger.stepping import (
    FAULT,
    PREEMPTED,
    TRAP_KINDS,
    SessionStop,
    Switch,
)
from kernel_model.debugger.timeline import Hit, Mark, Offset, join, known_length
from kernel_model.run import loop
from kernel_model.run.causes import (
    Counted,
    Exited,
    Fault,
    Halted,
    Interrupted,
    VsyscallFetch,
    Yielded,
)
from kernel_model.signals import delivery as signals
from kernel_model.syscalls.timekeeping import READS_CLOCK

if TYPE_CHECKING:
    from kernel_model.files.fdtable import FdTable

class LiveExecution(SessionParts):
    # -- live execution ------------------------------------------------------------------------
    def _exited(self) -> bool:
        """Whether the run is over here: nothing can run any more (the mark it ended at)."""
        mark, n = self.pos
        return n == 0 and bool(mark.info.get("over"))

    def _task_runs(self) -> bool:
        """Whether the running task can go on running user code."""
        t = self.kernel.current
        return t.state == "R" and not t.process.exited

    def exit_text(self) -> str:
        deadlock = getattr(self.system, "deadlock", None)
        p = self.system.process
        if deadlock and not p.exited:
            return deadlock
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
        return abi.table.get(abi.number(nr))

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
        fds = cast("FdTable | None", self.kernel.process.fds)
        f = fds.get(fd) if fds is not None else None
        return getattr(f, "host_fd", None) == self.io.stdin_fd

    def _live_step(self) -> SessionStop | None:
        """Execute the instruction at pc for real, at the live end of history. Returns a
        Stop when something the user should see happened (a crossing, a fault, a context
        switch, the end)."""
        m = self.machine
        if self._exited():
            return SessionStop("exited", self.exit_text())
        mark = self.pos[0]
        pending = mark.info.get("pending") if not self._path else None
        if isinstance(pending, Switch):
            return self._switch(pending)
        if pending is not None:
            return self._deliver(pending)
        if self._slice == 0:
            return self._preempt()
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
            cause = self._run_guarded(count=1)
            self._use_slice(1)
            return self._after_crossing(kind, before, isinstance(cause, Yielded))
        if kind in ("rdtsc", "rdtscp"):
            # Its value differs on every run: keep the result (registers only) as a mark.
            self._sync_insns()  # a virtual clock's counter: exact here
            self._hook_mode = None
            self._run_guarded(count=1)
            self._use_slice(1)
            self._add_mark(self._snapshot("rdtsc", self._path, applied=True, memory=False))
            return self._slice_ended()
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
        self._use_slice(1)
        if len(self._events) > n_events:
            # A user-mode event (the vDSO watcher saw a call return): give it a mark here.
            self._add_mark(self._snapshot("vdso", self._path, applied=False))
            self.pos[0].events.extend(self._take_events())
        return self._slice_ended()

    # -- time slices and context switches --------------------------------------------------
    def _arm_slice(self) -> None:
        """A resume of the running task (run's loop.resume): a time slice only when
        another task is runnable (kernel_model.proc.sched: one task alone is never
        preempted)."""
        k = self.kernel
        self._slice = k.sched.timeslice if k.sched.others_runnable(k.current) else None

    def _use_slice(self, n: int) -> None:
        if self._slice is not None:
            self._slice = max(0, self._slice - n)

    def _slice_ended(self) -> SessionStop | None:
        """After user code at the live end: if the slice is used up, the timer interrupt
        is due here, before the next instruction."""
        if self._slice == 0:
            return self._preempt()
        return None

    def _preempt(self) -> SessionStop:
        """The slice is used up: a stop at this point, the switch pending (the next step
        makes it). Kept on the mark already here, or on a plain mark made for it."""
        switch = Switch("its time slice ended", timer=True)
        mark, n = self.pos
        self._slice = None  # the switch re-arms it
        if n == 0 and not self._path and mark is self.timeline.last:
            mark.info["pending"] = switch
        else:
            mark = self._snapshot("preempt", self._path, applied=False)
            mark.info["pending"] = switch
            mark.info["stop"] = "timer"
            self._add_mark(mark)
        return SessionStop("step", PREEMPTED, self.machine.pc)

    def _after_stop(self, stopped: bool, fault: bool = False,
                    yielded: bool = False) -> tuple[Switch | None, bool]:
        """After kernel work at the live end, what run's loop does before the next resume:
        (the switch to make as a stop of its own, whether the run is over). `stopped`: the
        kernel stopped the CPU (the task waits, exited, yielded or has a signal to take),
        so the resume ended; `fault`: a fault or a vsyscall fetch ended it (run handles
        the cause and resumes the same task); `yielded`: sched_yield gave the CPU away
        (loop.resume's Yielded)."""
        k = self.kernel
        task = k.current
        switch = None
        if not self._task_runs():
            switch = Switch(loop.why_left(task))
        elif yielded or k.yield_requested:
            k.yield_requested = False
            switch = Switch("it yielded (sched_yield)")
        elif stopped and self._slice is not None and not fault:
            # run: a resume with a count that the kernel stopped reads as its slice's end
            switch = Switch("its time slice ended")
        elif stopped:
            k.signals.deliver_pending(self._traced())  # on the way back to user mode
            if not self._task_runs():
                switch = Switch(loop.why_left(task))
            else:
                self._arm_slice()
        elif self._slice == 0:
            switch = Switch("its time slice ended", timer=True)
        if switch is None:
            return None, False
        if k.sched.others_runnable(task):
            return switch, False
        # No other task to switch to: the kernel goes on at once (the same task again,
        # after a sleep's deadline; or the run is over), no stop of its own.
        return None, self._between(switch.why)

    def _between(self, why: str) -> bool:
        """run's loop between two resumes: schedule (loop.schedule), then the chosen task's
        woken wait (loop.finish_wait) and its signals, again while the chosen task cannot
        run. True when the run is over (nothing can run: ended, or a deadlock)."""
        s, k = self.system, self.kernel
        before = self.machine
        try:
            while True:
                if loop.schedule(s, why) is None:
                    return True
                task = k.current
                if task.state == "R" and task.blocked is not None:
                    if self._hold_wait(task):  # gdb mode: the signal's stop comes first
                        self._arm_slice()
                        return False
                    loop.finish_wait(k, task)
                if task.state == "R" and not task.process.exited:
                    k.signals.deliver_pending(self._traced())
                if task.state == "R" and not task.process.exited:
                    self._arm_slice()
                    return False
                why = loop.why_left(task)
        finally:
            if self.machine is not before:
                self._follow_machine()

    def _switch(self, pending: Switch) -> SessionStop:
        """The pending context switch, at the live end: a crossing of its own."""
        before = self.regs()
        prev = self.kernel.current
        info = {"pid": prev.process.pid, "tid": prev.tid, "state": prev.state,
                "why": pending.why, "timer": pending.timer,
                "blocked": prev.blocked.name if prev.blocked is not None else "",
                "what": prev.blocked.what if prev.blocked is not None else "",
                "fs_base": prev.fs_base, "tls": list(prev.tls)}
        machine = self.machine
        over = self._between(pending.why)
        now = self.kernel.current
        info["same_mm"] = self.machine is machine
        # A task that never ran before starts in ret_from_fork (its walk says so).
        info["first_run"] = now is not prev and not any(
            m.extra.get("tid") == now.tid for m in self.timeline.marks)
        return self._crossed("switch", (), before, over=over, switch=info)

    def _tick(self) -> None:
        """The kernel's timer tick (the clock data the vDSO and the vsyscall page read).
        System.run runs it from a timer thread while the CPU runs; a session runs it only at
        crossings, where the state is saved right after, so that replays, which never tick,
        read the very bytes the recorded run read. Between crossings the coarse clocks
        stand still, as on a tickless CPU; the precise ones extrapolate with rdtsc."""
        for job in getattr(self.system, "tick_jobs", ()):
            job()

    def _after_crossing(self, kind: str, before: dict, yielded: bool) -> SessionStop:
        s = self.system
        stopped = not self._task_runs() or yielded or s.signals.deliverable()
        switch, over = self._after_stop(stopped, yielded=yielded)
        return self._crossed(kind, self._path, before, pending=switch, over=over)

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
        if not vsyscall and (self.tracing or isinstance(pending, SignalStop)):
            self._deliver_held(pending)  # what a tracer chose (step_signals.py)
        else:
            loop.enter_kernel(s, pending)
        switch, over = self._after_stop(True, fault=True)
        return self._crossed("vsyscall" if vsyscall else "signal", (), before, pending=switch,
                             over=over)

    def _live_run(self) -> tuple[str, object]:
        """Run freely from the live position until a hook, a fault or an interrupt stops
        the CPU: ("hook", addr) with the path extended, ("fault", fault) with the path
        extended, ("slice", None) at the end of the task's time slice (the path extended),
        ("interrupt", None) or ("exited", None).

        With a time slice running (another task is runnable) the run is counted, as run's
        loop.resume counts it (Unicorn's instruction count, plus a block-counting hook
        that says how many ran when something else stopped it first): its path is then an
        exact offset."""
        from emu.counter import InstructionCounter

        if self._slice == 0:
            return "slice", None
        self._hits = {}
        self._hook_mode = "live"
        counter = None
        if self._slice is not None:
            counter = InstructionCounter(self.machine)
            self.machine.flush_translations()
        try:
            cause = self._run(count=self._slice or 0)
        finally:
            self._hook_mode = None
            if counter is not None:
                counter.remove()
                self.machine.flush_translations()  # later free runs keep full speed
                self._counting = False
        if isinstance(cause, (Fault, VsyscallFetch)):
            # Before any hook or guard: a fault the CPU met before the block's end (an
            # `in`, a 32-bit `syscall`) came before what the rest of the block ran into.
            self._path = join(self._path, FAULT)
            return "fault", cause  # (the fault's delivery starts a new slice)
        ran = counter.count if counter is not None else None
        if ran is not None:
            self._path = join(self._path, Offset(ran))
            self._use_slice(ran)
        guard = self._at_guard()
        if self._stopped_by is not None:
            addr = self._stopped_by
            if ran is None:
                self._path = join(self._path, Hit(addr, self._hits[addr]))
            return "hook", addr
        if guard is not None:  # a run stops at the first guard it meets: always the 1st hit
            if ran is None:
                self._path = join(self._path, Hit(guard, 1))
            return "hook", guard
        if self._slice == 0:
            return "slice", None
        if isinstance(cause, Exited):
            return "exited", None
        if isinstance(cause, (Interrupted, Counted)) or self._interrupt.is_set():
            return "interrupt", None  # (a counted run stopped by nothing else: the user)
        # Halted (or a queued signal): the kernel's work, as for a fault.
        self._path = join(self._path, FAULT)
        return "fault", cause

    def _crossed(self, kind: str, path, before: dict, *, pending: Switch | None = None,
                 over: bool = False, switch: dict | None = None) -> SessionStop:
        """After the kernel's side of a crossing: end the run or run the tick, save the
        state with the crossing's events and the registers before it, and stop there.
        `pending`: the context switch that follows (a stop of its own); `over`: nothing
        can run any more; `switch`: for a context switch, the task it left."""
        if over:
            self.system.finish()
        else:
            self._tick()
        mark = self._snapshot(kind, path, applied=True, full=True)
        mark.events.extend(self._take_events())
        mark.info["before"] = before
        if switch is not None:
            mark.info["switch"] = switch
        if pending is not None:
            mark.info["pending"] = pending
        held = self._take_held()  # a signal held for the tracer (step_signals.py)
        if held is not None:
            mark.info["pending"] = held
            mark.info["text"] = held.text(mark.pc)
        if kind == "signal" and self._delivered is not None:
            mark.info["tracer_signal"] = self._delivered  # what a replay here delivers
            self._delivered = None
        if over:
            mark.info["over"] = True
        self._add_mark(mark)
        self._follow_machine()  # the guards of the code now mapped, on the CPU that runs
        self.resolve_pending()  # breakpoints on names a library just mapped defines
        if over:
            return SessionStop("exited", self.exit_text())
        return SessionStop("crossed", kind, self.machine.pc)

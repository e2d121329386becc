"""The commands that go forward: step, next, finish, continue, run to a transition or a
syscall; free runs stop at guards, breakpoints and temporary stops.

Part of the stepping session (session.DebugSession); see session.py for how it runs
and goes back.
"""

from __future__ import annotations

from emu.machine import PROT_EXEC
from kernel_model.debugger import insn as insns
from kernel_model.debugger.session_parts import SessionParts
from kernel_model.debugger.step_signals import SignalStop
from kernel_model.debugger.stepping import (
    CROSSINGS,
    PREEMPTED,
    TRAP_KINDS,
    VSYSCALL_ADDR,
    RunPolicy,
    SessionStop,
    Switch,
    split_pid,
)
from kernel_model.debugger.timeline import Hit, Mark, Offset


class ForwardCommands(SessionParts):
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
        return self._watched_step()  # a watched access reports the watchpoint (as gdb's si)

    def _step_one(self) -> SessionStop:
        """One instruction forward: for real at the live end, from the record before it."""
        due = self._tracer_stop_due()  # a held signal or fault the tracer must hear of
        if due is not None:
            return due
        nxt = self._stretch_ahead()
        if self.at_live_end():
            stop = self._live_step()
            return stop if stop is not None else SessionStop("step", "", self.machine.pc)
        assert nxt is not None, "only the live end has no mark ahead"
        mark, n = self.pos
        assert n is not None, "only the live end may be uncounted"
        if nxt.arrive is None:  # an interrupted free run: it can only be jumped over
            self._goto(nxt, 0)
            return SessionStop("step", "jumped over a stretch that was not recorded step by "
                        "step", self.machine.pc)
        length = nxt.length
        assert length is not None, "_stretch_ahead counts a recorded stretch"
        if n < length:
            self._goto(mark, n + 1)
            return SessionStop("step", self._preempted_text(), self.machine.pc)
        if nxt.kind == "edit":  # the edited state of this point, then the instruction
            self._goto(nxt, 0)
            return self._step_one()
        # the end of the stretch (normalized: `nxt` is applied): its recorded outcome
        self._goto(nxt, 0)
        if self._exited():
            return SessionStop("exited", self.exit_text())
        if nxt.kind in CROSSINGS:
            return SessionStop("crossed", nxt.kind, self.machine.pc)
        return SessionStop("step", self._preempted_text(), self.machine.pc)

    def _preempted_text(self) -> str:
        """A step that ends where the time slice ran out says so, replayed as live."""
        pending = self.pending_here()
        return PREEMPTED if isinstance(pending, Switch) and pending.timer else ""

    def next(self) -> SessionStop:
        """`n`/`ni`: one instruction, over calls, and over a whole transition."""
        return self._command(self._cmd_next)

    def _cmd_next(self) -> SessionStop:
        if self.walk is not None:
            return self._walk_finish()
        up = self.upcoming()
        if up is not None and (up[0] in TRAP_KINDS or up[0] == "switch"):
            return self._over_crossing()
        insn = self.insn_at(self.machine.pc)
        if insn is not None and insn.kind == "call":
            ret = self.machine.pc + insn.size
            return self._run_until(RunPolicy(temp={ret: self.machine.sp}))
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
        return self._run_until(RunPolicy(temp={addr: slot + self.machine.arch.word}))

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
        return self._command(self._run_until, RunPolicy())

    def run_to_transition(self) -> SessionStop:
        """`t`: run to the next syscall, int 0x80, sysenter, or call into the vDSO or the
        vsyscall page, and stop before it."""
        return self._command(self._run_until, RunPolicy(transitions=True))

    def run_to_syscall(self, name: str) -> SessionStop:
        """Like gdb's `catch syscall NAME`: stop before the next call of that syscall;
        `NAME pid N`: only a call process N makes."""
        name, pid = split_pid(name)
        return self._command(self._run_until, RunPolicy(syscalls=frozenset([name]),
                                                        syscall_pid=pid))

    def _wants_stop_here(self, policy: RunPolicy) -> SessionStop | None:
        """Does the running command stop at the current point?"""
        m = self.machine
        pc = m.pc
        if self._exited():
            return SessionStop("exited", self.exit_text())
        held = self._signal_stop_here()  # before the instruction here: a held signal
        if held is not None:
            return None if held.reason == "pass" else held
        pid = self.kernel.process.pid
        if policy.breakpoints:
            for b in self.breakpoints:
                if b.address == pc and b.applies_to(pid):
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
        entry = self._catch_entry(up)
        if entry is not None:
            return entry
        if up[0] in TRAP_KINDS:
            name = self._syscall_name(up[0])
            caught = (policy.syscalls if policy.syscall_pid in (None, pid) else set()) | {
                b.syscall for b in self.breakpoints
                if b.syscall and b.applies_to(pid) and policy.breakpoints}
            if name in caught:
                for b in self.breakpoints:
                    if b.syscall == name and b.applies_to(pid) and policy.breakpoints:
                        b.hits += 1
                return SessionStop("syscall", f"catch syscall {name}", pc)
        return None

    def _run_until(self, policy: RunPolicy) -> SessionStop:
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
        if self.watchpoints:
            self._arm_watches()  # (on the CPU that runs now)
        try:
            stop, unchecked = self._watched_step(), False
            while True:
                if stop.reason == "watch":
                    return self._settle(stop)
                if stop.reason == "crossed":
                    returned = self._catch_return()
                    if returned is not None:
                        return self._settle(returned)
                if unchecked and policy.transitions and self._entered_call(stop):
                    return self._stop_at_call()
                if stop.reason == "vsyscall":
                    stop, unchecked = self._watched_step(), False  # the kernel emulates it
                    continue
                if stop.reason in ("exited", "fault", "signal", "input", "interrupted"):
                    return stop
                if stop.reason == "hook" and stop.message == "live":
                    self._live_hook(stop.pc)
                here = self._wants_stop_here(policy)
                if here is not None:
                    return self._settle(here)
                if self._interrupt.is_set():
                    return self._settle(SessionStop("interrupted", "stopped", self.machine.pc))
                if stop.reason == "hook":  # stopped before this instruction: run it first
                    stop, unchecked = self._watched_step(), False
                    continue
                stop, unchecked = self._watched_free_run(policy, unchecked)
        finally:
            self._end_watch_run()
            for addr in policy.temp:
                self._unhook(addr, "temp")
            self._policy = RunPolicy()

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
        one instruction back (where `_wants_stop_here` would have stopped). Found by a
        live run, the call is the live end again: the one instruction past it is undone."""
        live = self.at_live_end()
        self._settle(SessionStop("transition"))
        back = self._reverse_one()
        up = self.upcoming()
        stop = SessionStop("transition", up[0] if up else "vdso", back.pc)
        if live and self._live_again():
            return self._settle(stop)
        return stop

    def _free_run(self, policy: RunPolicy, unchecked: bool) -> tuple[SessionStop, bool]:
        """Run from the current point (the stop rules passed its instruction) until a
        hook, a guard, a fault, or the end of a recorded stretch: live at the end of
        history, else a replay. Returns (why it stopped: a SessionStop whose reason is "hook" for
        a hook or a guard, before the instruction at its pc, its message "live" or
        "replayed"; or step, crossed, fault, vsyscall, exited, interrupted; and
        `unchecked`, see _run_until)."""
        nxt = self._stretch_ahead()
        mark, n = self.pos
        if n == 0 and isinstance(mark.info.get("pending"), (Switch, SignalStop)):
            # A context switch is due here: the run goes on in the next task. (A held
            # signal: its stop came first, in _wants_stop_here; the step delivers it.)
            return self._step_one(), False
        if n == 0 and "pending" in mark.info:
            # A recorded fault right here, reached by a step (the stop recorded there, taken
            # from a fault stop, would have delivered it): a run faults at once, as it did.
            return self._fault_stop(mark), unchecked
        if self.at_live_end():
            return self._live_free_run(unchecked)
        assert nxt is not None, "only the live end has no mark ahead"
        return self._replay_run(policy, nxt)

    def _live_free_run(self, unchecked: bool) -> tuple[SessionStop, bool]:
        """The free run at the live end: the guest runs for real (see _live_run)."""
        start = self.machine.pc
        why, detail = self._live_run()
        if why == "exited":
            return SessionStop("exited", self.exit_text()), False
        if why == "slice":
            return self._preempt(), True
        if why == "interrupt":
            self._add_mark(self._snapshot("interrupt", None, applied=False, full=True))
            return SessionStop("interrupted", "stopped", self.machine.pc), False
        if why == "fault":
            stop = self._stop_at_fault(detail, self._path)
            return stop, unchecked if self.machine.pc == start else True
        assert isinstance(detail, int), "a hook's address"
        # A hook fires before the run's first instruction too: there, nothing ran.
        first = detail == start and self._hits.get(detail, 1) == 1
        return SessionStop("hook", "live", detail), unchecked if first else True

    def _replay_run(self, policy: RunPolicy, nxt: Mark) -> tuple[SessionStop, bool]:
        """The free run before the live end: forward through the recorded stretch up to
        `nxt` (from the normalized current position) as a counted replay with the policy's
        hooks; a stop inside it is located by bisection. A crossing at the end of the
        stretch is loaded, not replayed."""
        mark, n = self.pos
        assert n is not None, "only the live end may be uncounted"
        if nxt.arrive is None:
            self._goto(nxt, 0)
            self.notes.append("jumped over a stretch that was not recorded step by step")
            return SessionStop("step", "", self.machine.pc), False
        self._goto(mark, n)
        length = nxt.length
        assert length is not None, "_stretch_ahead counts a recorded stretch"
        left = length - n
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
                self._machine_at = None  # the run moved the machine past `start`
            if self._stopped_by is not None:
                hit = Hit(self._stopped_by, self._hits[self._stopped_by])
                self._goto(*start)
                found, _ = self._locate(hit)
                self._machine_at = (mark, n + 1 + found)  # where _locate left the machine
                self._goto(mark, n + 1 + found)
                return SessionStop("hook", "replayed", hit.pc), found > 0
            if self._interrupt.is_set():  # stopped somewhere in the stretch
                self._machine_at = None
                self._goto(*start)
                return SessionStop("interrupted", "stopped", self.machine.pc), False
            self.pos = (mark, n + left)
            self._machine_at = self.pos
        self._goto(*self.pos)  # (the machine is there) and past an edit made there
        return SessionStop("step", "", self.machine.pc), left > 1

    def _watch_return(self) -> None:
        m = self.machine
        ret = m.read_word(m.sp)
        self._vreturns[ret] = m.sp + m.arch.word
        self._hook(ret, "vreturn")

    def _settle(self, stop: SessionStop) -> SessionStop:
        """A command stops here: at the live end, keep the point as a mark."""
        if self.at_live_end() and self._path:
            self._add_mark(self._snapshot("stop", self._path, applied=False))
            self.pos[0].info["stop"] = stop.reason
        return stop

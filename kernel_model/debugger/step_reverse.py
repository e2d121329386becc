"""The commands that go back: reverse step and continue, and going to a point in history
(a mark, the start, the end).

Part of the stepping session (session.DebugSession); see session.py for how it runs
and goes back.
"""

from __future__ import annotations

from kernel_model.debugger import insn as insns
from kernel_model.debugger.session_parts import SessionParts
from kernel_model.debugger.stepping import (
    CROSSINGS,
    SessionStop,
)
from kernel_model.debugger.timeline import Hit, Mark, Offset
from kernel_model.trace.events import (
    SyscallEntered,
    VdsoCalled,
)


class ReverseCommands(SessionParts):
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
        assert n is not None, "_freeze keeps an uncounted live end as a mark"
        if n > 0:
            self._goto(mark, n - 1)
            return SessionStop("step", "", self.machine.pc)
        prev = self.timeline.prev(mark)
        if prev is None:
            return SessionStop("start", "at " + self.horizon_text(), self.machine.pc)
        if mark.kind == "edit":  # one instruction back from the point the edit was made at
            self.pos = (prev, 0)
            self._machine_at = None
            return self._reverse_one()
        if mark.arrive is None:
            self._goto(prev, 0)
            return SessionStop("step", "stepped back over a run that was interrupted (not recorded "
                        "step by step): now at its start", self.machine.pc)
        if mark.applied:  # just before the crossing (or the rdtsc): no need to count
            self._goto(self._split_before(mark), 0)
            return SessionStop("step", "", self.machine.pc)
        length = self.gap_length(mark)
        prev = self.timeline.prev(mark)  # indexing may have put points in between
        assert prev is not None and length is not None, "mark ends a recorded stretch"
        self.pos = (prev, length)  # a plain mark: the same state as the point before it
        self._machine_at = None
        return self._reverse_one()

    def horizon_text(self) -> str:
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
        n: int | None  # None: at the end of the stretch after `mark`, not yet counted
        mark, n = self.pos
        if self.watchpoints and not transitions:
            self._arm_watches()
        here = self.pos
        while True:
            # The stretch after `mark` runs one task, the one running at `mark`: only the
            # breakpoints for its process count there.
            bps = self._addresses_for(mark.extra.get("pid"))
            watch = self.watchpoints and not transitions
            if bps or watch:  # after `mark`, before the current point (or its stretch's end)
                if n is None:
                    after = self.timeline.next(mark)
                    assert after is not None, "the loop came back from the mark after"
                    n = self.gap_length(after)
                    assert n is not None, "that mark's stretch was recorded step by step"
                off = self._last_hit(mark, n, bps)
                access = self._last_access(mark, n) if watch else None
                if access is not None and (off is None or access[0] >= off):
                    # (an access by the instruction a breakpoint is on: gdb reports both)
                    self._goto(mark, access[0])
                    return self._watch_stop(access[1], self.machine.pc, backwards=True)
                if off is not None:
                    self._goto(mark, off)
                    return SessionStop("breakpoint", "breakpoint (going backwards)",
                                       self.machine.pc)
            nr = self._return_number(mark) if self._catching and not transitions else None
            if nr is not None and self._catches(nr) and (mark, 0) != here:
                # after a caught call: its return is the nearest stop going back
                self._goto(mark, 0)
                return SessionStop("syscall_return", f"syscall {nr}: return (going "
                                   "backwards)", self.machine.pc, syscall_nr=nr)
            prev = self.timeline.prev(mark)
            if prev is None:
                self._goto(mark, 0)
                return SessionStop("start", "at " + self.horizon_text(), self.machine.pc)
            if mark.arrive is None:
                mark, n = prev, 0
                self.notes.append("went back over a run that was not recorded step by step")
                continue
            # the crossing at `mark` ends the stretch before it: that stretch's task made it
            by = prev.extra.get("pid")
            caught = {b.syscall for b in self.breakpoints
                      if b.syscall and (by is None or b.applies_to(by))}
            crossing = mark.applied and mark.kind in CROSSINGS
            nr = self._entry_number(mark) if self._catching and not transitions else None
            if nr is not None and self._catches(nr):
                self._goto(self._split_before(mark), 0)
                return SessionStop("syscall_entry", f"syscall {nr}: entry (going backwards)",
                                   self.machine.pc, syscall_nr=nr)
            if crossing and (transitions or self._caught(mark, caught)):
                self._goto(self._split_before(mark), 0)
                if mark.kind == "vsyscall" and transitions:
                    self._reverse_one()  # from the faulting fetch back to the call
                return SessionStop("transition", mark.kind, self.machine.pc)
            if mark.kind == "vdso-call" and transitions:
                self._goto(mark, 0)
                self._reverse_one()
                return self._at_vdso_transfer()
            called = next((e for e in mark.events if isinstance(e, VdsoCalled)), None)
            if called is not None and transitions and not mark.applied:
                return self._back_to_call(mark, called)
            bps = self._addresses_for(by)
            if mark.applied and bps:
                before = mark.info.get("before", {})
                if before.get(self.machine.arch.pc_name) in bps:
                    self._goto(self._split_before(mark), 0)
                    return SessionStop("breakpoint", "breakpoint (going backwards)",
                                       self.machine.pc)
            # on to the stretch before: counted only if breakpoints must be looked for in it
            mark, n = prev, None  # (the timeline is as it was when prev was read)

    def _addresses_for(self, pid: int | None) -> set[int]:
        """The addresses of the enabled breakpoints that stop process `pid`."""
        return {b.address for b in self.breakpoints
                if b.address is not None and (b.applies_to(pid) if pid is not None
                                              else b.enabled)}

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
            # Back to the instruction that entered the vDSO: the call itself, or after a
            # call through the PLT the slot's jump (or the lazy resolver's, the first time).
            if self._reverse_one().reason == "start" or self.machine.pc == site or \
                    self._enters_vdso():
                break
        return self._at_vdso_transfer()

    def _at_vdso_transfer(self) -> SessionStop:
        """The stop before the instruction that enters the vDSO: for a call through a
        bound PLT slot, the slot's jump, one instruction after the call."""
        if not self._enters_vdso():
            self._step_one()
            if not self._enters_vdso():
                self._reverse_one()
        return SessionStop("transition", "vdso", self.machine.pc)

    def _enters_vdso(self) -> bool:
        """Whether the instruction at pc goes into the vDSO from outside it."""
        up = self.upcoming()
        vdso = self.system.vdso
        return up is not None and up[0] == "vdso" and vdso is not None and \
            not vdso.contains(self.machine.pc)

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
        self._count_hits_replaying(n)
        seen = [(self._last_seq[a], a) for a in addrs if a in self._last_seq]
        if not seen:
            return None
        addr = max(seen)[1]
        hit = Hit(addr, self._hits[addr])
        self._goto(mark, 0)
        found, _ = self._locate(hit)
        self._machine_at = (mark, found)  # where _locate left the machine, not _goto
        return found

    def _count_hits_replaying(self, n: int) -> None:
        """Replay n instructions from the loaded point with every hook counting its hits
        (_hits, _last_seq) and stopping nothing; the machine is then nowhere recorded."""
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
        if not self.timeline.holds(mark):
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

"""Walking through a transition one phase at a time: a trap's phases, or a call into the
vDSO or the vsyscall page stepped instruction by instruction until it returns.

Part of the stepping session (session.DebugSession); see session.py for how it runs
and goes back.
"""

from __future__ import annotations

from kernel_model.debugger.session_parts import SessionParts
from kernel_model.debugger.stepping import (
    TRAP_KINDS,
    SessionStop,
    Walk,
)


class TransitionWalks(SessionParts):
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
        elif kind == "switch":
            from kernel_model.debugger import switch_walk

            stop = self._step_one()
            if stop.reason != "crossed" and stop.reason != "exited":
                return stop
            t = switch_walk.from_switch(self.pos[0], before_regs, self.regs(), self)
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
        call = self.insn_at(m.pc)
        if call.kind == "jump":
            # a PLT slot's jump: the caller's return address is on the stack already
            ret_pc, ret_sp = m.read_word(m.sp), m.sp + m.arch.word
        else:
            ret_pc, ret_sp = m.pc + call.size, m.sp
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
        return None if w is None else w.pending_line(ret_pc)

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
        assert w is not None, "a transition is being walked"
        if w.phase + 1 >= len(w.transition.phases):
            self.walk = None
            return self._cmd_step()
        w.phase += 1
        return self._phase_stop()

    def _walk_back(self) -> SessionStop:
        w = self.walk
        assert w is not None, "a transition is being walked"
        if w.phase <= 0:
            self.walk = None
            self._goto(*w.before_pos)
            return SessionStop("step", "", self.machine.pc)
        w.phase -= 1
        return self._phase_stop()

    def _walk_finish(self) -> SessionStop:
        w = self.walk
        assert w is not None, "a transition is being walked"
        w.phase = len(w.transition.phases) - 1
        return self._phase_stop()

    def _phase_stop(self) -> SessionStop:
        w = self.walk
        assert w is not None, "a transition is being walked"
        phase = w.transition.phases[w.phase]
        return SessionStop("phase", phase.title, self.machine.pc)

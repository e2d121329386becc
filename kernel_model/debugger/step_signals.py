"""Signals as a tracer sees them: the session in gdb mode follows ptrace's rules
(docs/kernel_facts.md §20). Off (the TUI's default) nothing here acts: signals are
delivered as they come.

On, a signal about to be delivered is held first (ptrace's signal-delivery-stop): the
point where the kernel would deliver it keeps a SignalStop, as a fault stop keeps its
fault, and a run stops there with reason "signal". The signals the tracer passes
(gdb's QPassSignals: `handle SIG nostop noprint pass`) are held too but delivered by the
next step without a stop, as gdbserver resumes them at once: after a syscall's return
stop, as on Linux, not before it.

The resume from a stop says what is delivered (`resume_traced`): at a held signal or a
fault, the signal the tracer gives (the same one, another, or none at all); elsewhere, a
signal given is delivered right there, as Linux delivers the signal a tracer passes when
it resumes a task. Each delivery is a "signal" crossing, a mark like a syscall's: going
back over it and forward again loads it, and never runs the syscall before it again. In
recorded history the recorded deliveries replay whatever the tracer gives (said in a note).

Part of the stepping session (session.DebugSession); see session.py for how it runs
and goes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from emu.arch import REG_IDS
from kernel_model.debugger.session_parts import SessionParts
from kernel_model.debugger.stepping import TRAP_KINDS, RunPolicy, SessionStop
from kernel_model.run import loop
from kernel_model.run.causes import Fault, Halted
from kernel_model.signals import delivery as sig


@dataclass(frozen=True, eq=False)
class SignalStop:
    """A signal taken off the queue and held for the tracer (the point's `pending`)."""

    signo: int
    code: int
    addr: int
    info: dict = field(default_factory=dict)
    passed: bool = False  # one the tracer passes: delivered without a stop
    wait: bool = False  # it interrupts a waiting call, which ends as the delivery decides
    call_nr: int | None = None  # that call's number (orig_rax at this stop, as on Linux)

    def text(self, pc: int) -> str:
        return (f"{sig.name(self.signo)} ({sig.code_name(self.signo, self.code)}) is about "
                f"to be delivered at {pc:#x}")


class SignalStops(SessionParts):
    tracing = False  # gdb mode
    pass_signals: frozenset = frozenset()  # delivered without a stop (Linux numbers)
    _choice: int | None = None  # the signal the running resume gives (0: none)
    _told: bool = False  # the tracer was told of the held signal or fault at the start
    _held: SignalStop | None = None  # taken off the queue by the last delivery, not delivered
    _delivered: int | None = None  # what the last delivery delivered: its mark keeps it

    def trace_signals(self, on: bool) -> None:
        """gdb mode on or off (off again when gdb detaches: the guest runs on as if never
        traced, a held signal delivered as it came)."""
        self.tracing = on

    def set_pass_signals(self, signals) -> None:
        self.pass_signals = frozenset(signals)

    # -- holding ---------------------------------------------------------------------------
    def _traced(self) -> Callable[[tuple], bool] | None:
        """The tracer's look for SignalState.deliver_pending (None when not tracing)."""
        return self._hold if self.tracing else None

    def _hold(self, ready: tuple) -> bool:
        signo, code, addr, info = ready
        # SIGKILL is never stopped for; a signal the tracer already chose is delivered.
        # Only the first process is traced: gdb leaves a child (detach-on-fork).
        if signo == sig.SIGKILL or info.get("traced") or \
                self.kernel.current.process is not self.system.process:
            return False
        self._held = SignalStop(signo, code, addr, dict(info),
                                passed=signo in self.pass_signals)
        return True

    def _hold_wait(self, task) -> bool:
        """A woken call a signal interrupts (gdb mode): the signal's stop comes before
        the call ends, with rax holding the -ERESTART* code as Linux shows it there; how the
        call then ends (EINTR, a restart, its own result) is decided by what the tracer
        delivers (loop.finish_wait, run at the delivery)."""
        k = self.kernel
        call = task.blocked
        if not self.tracing or task.process is not self.system.process or \
                not call.interruptible:
            return False
        ready = k.signals.next_ready()
        if ready is None or not self._hold(ready):
            return False
        k.signals.pending.remove(ready)
        held = self._held
        assert held is not None, "just held"
        self._held = replace(held, wait=True, call_nr=call.nr)
        if call.restart:
            self.machine.set_reg(REG_IDS["rax" if self.bits == 64 else "eax"],
                                 -call.restart & ((1 << self.bits) - 1))
        if call.mechanism == "sysenter" and k.sysenter_landing_pad is not None:
            self.machine.pc = k.sysenter_landing_pad  # where its return lands (Linux's pc)
        return True

    def _take_held(self) -> SignalStop | None:
        held, self._held = self._held, None
        return held

    # -- stopping --------------------------------------------------------------------------
    def _signal_point(self):
        """The held signal or the fault at the current point (a tracer decides what its
        delivery delivers), or None."""
        pending = self.pending_here()
        return pending if isinstance(pending, (SignalStop, Fault, Halted)) else None

    def signal_here(self) -> int | None:
        """The signal held here (not a passed one) or the fault's, in gdb mode: what a
        stop reported here says (gdb asking `?` when it connects again)."""
        pending = self._signal_point() if self.tracing else None
        if pending is None or (isinstance(pending, SignalStop) and pending.passed):
            return None
        if isinstance(pending, Halted):
            return pending.fault.signo
        return pending.signo

    def _held_stop(self, pending) -> SessionStop | None:
        pc = self.machine.pc
        if isinstance(pending, SignalStop):
            if pending.passed:
                return None
            return SessionStop("signal", pending.text(pc), pc, signo=pending.signo)
        return SessionStop("fault", pending.text(pc), pc)

    def _tracer_stop_due(self) -> SessionStop | None:
        """Before a step: at a held signal or a fault the tracer was not told of (its last
        stop was another at this point: a syscall's return, a step back), the stop that
        tells it comes first, as Linux's signal-delivery-stop follows a syscall-exit-stop.
        Told, the step delivers what the tracer chose."""
        told, self._told = self._told, False
        if not self.tracing or told:
            return None
        pending = self._signal_point()
        return None if pending is None else self._held_stop(pending)

    def _signal_stop_here(self) -> SessionStop | None:
        """A run that reaches a held signal stops there (checked before anything else at
        the point: the signal comes before the instruction there runs). A passed one:
        a "pass" stop, which is no stop at all (the run's next step delivers it)."""
        if not self.tracing:
            return None
        pending = self.pending_here()
        if not isinstance(pending, SignalStop):
            return None
        return self._held_stop(pending) or SessionStop("pass", "", self.machine.pc)

    # -- delivering ------------------------------------------------------------------------
    def _deliver_held(self, pending) -> None:
        """The kernel's work at a held signal or a fault: deliver what the tracer chose
        (a fault's own signal is forced, as the CPU raised it), or without a tracer the
        signal itself."""
        passed = isinstance(pending, SignalStop) and pending.passed
        choice = self._choice if self.tracing and not passed else None
        if not passed:
            self._choice = None
        if isinstance(pending, SignalStop):
            own = pending.signo
            if pending.wait:
                self._end_wait(pending, own if choice is None else choice)
                return
        else:
            fault = pending.fault if isinstance(pending, Halted) else pending
            own = fault.signo
        if choice is None or choice == own:
            if isinstance(pending, SignalStop):
                self.kernel.signals.deliver(own, pending.code, pending.addr,
                                            dict(pending.info, traced=True))
            else:
                self.kernel.signals.force(fault.signo, fault.code, fault.addr, traced=True)
            self._delivered = own
        else:
            self._inject(choice)  # (0: none: a fault's instruction runs again, and faults)

    def _end_wait(self, pending: SignalStop, signo: int) -> None:
        """The delivery at a signal that interrupted a wait: the chosen signal goes first
        in the queue, then the call ends as run's loop ends a woken call (EINTR, a
        restart by its rule, or its own result), and the delivery follows (_after_stop)."""
        k = self.kernel
        task = k.current
        self._delivered = signo
        if signo == pending.signo:
            task.pending.insert(0, (signo, pending.code, pending.addr,
                                    dict(pending.info, traced=True)))
        elif signo:
            info = {"synchronous": False, "pid": 0, "uid": 0}
            if not task.sigmask & (1 << (signo - 1)):
                info["traced"] = True  # (one the task blocks stops again when unblocked)
            task.pending.insert(0, (signo, sig.SI_USER, 0, info))
        loop.finish_wait(k, task)

    def _inject(self, signo: int) -> None:
        """Deliver the signal a tracer gives (ptrace_signal: SI_USER from the tracer; one
        the task blocks is queued instead, and stops again when unblocked)."""
        self._delivered = signo
        if not signo:
            return
        k = self.kernel
        info = {"synchronous": False, "pid": 0, "uid": 0}
        if k.current.sigmask & (1 << (signo - 1)) and signo not in (sig.SIGKILL, sig.SIGSTOP):
            k.signals.send_task(k.current, signo, sig.SI_USER, **info)
            return
        k.signals.deliver(signo, sig.SI_USER, 0, dict(info, traced=True))

    def _inject_here(self, signo: int) -> SessionStop:
        """A signal given on resume where none is held: delivered here, a crossing."""
        self._freeze()
        before = self.regs()
        self._inject(signo)
        switch, over = self._after_stop(True, fault=True)
        return self._crossed("signal", self._path, before, pending=switch, over=over)

    # -- the command -----------------------------------------------------------------------
    def resume_traced(self, signo: int, told: bool, what: str,
                      step: Callable[[], SessionStop]) -> SessionStop:
        """gdb's resume (`what`: "cont" or "step", `step` its one-instruction command)
        giving signal `signo` (0: none); `told`: its last stop reported the held signal or
        fault here."""
        self._choice, self._told = signo, told
        try:
            if signo and self._signal_point() is None and self.at_live_end():
                return self._command(self._inject_then, signo, what, step)
            if what == "cont":
                return self.cont()
            pc = self.machine.pc
            stop = step()
            if stop.reason == "crossed" and stop.message == "signal" and \
                    self.machine.pc == pc and not self._exited():
                stop = step()  # no handler ran: the step runs its instruction, as Linux's
            return stop
        finally:
            self._choice, self._told = None, False

    def _inject_then(self, signo: int, what: str, step) -> SessionStop:
        pc = self.machine.pc
        stop = self._inject_here(signo)
        if stop.reason == "exited":
            return stop
        here = self._signal_stop_here()  # another signal held on the way out
        if here is not None and here.reason != "pass":
            return here
        if what == "step":
            if self.machine.pc != pc:  # in the handler: the step ends at its first insn
                return SessionStop("step", "", self.machine.pc)
            up = self.upcoming()
            if up is not None and (up[0] in TRAP_KINDS or up[0] == "switch"):
                return self._over_crossing()
            return self._step_one()
        # A breakpoint on the handler's first instruction stops there (Linux resumes the
        # task in the handler: its int3 is the first thing it runs).
        policy = RunPolicy()
        here = self._wants_stop_here(policy)
        return here if here is not None else self._run_until(policy)

    def signal_history_note(self, signo: int, told: bool) -> str | None:
        """When a resume giving `signo` replays recorded history, what the tracer should
        know: the recorded delivery here replays, not the one it gives. (`told`: as for
        resume_traced; untold, the resume stops at the held signal first.)"""
        if self.at_live_end() or (self._signal_point() is not None and not told):
            return None
        nxt = self.timeline.next(self.pos[0]) if self.pos[1] == 0 else None
        recorded = nxt.info.get("tracer_signal") if nxt is not None and \
            nxt.kind == "signal" and nxt.length == 0 else None
        if recorded is None and self._signal_point() is None and not signo:
            return None
        if recorded == signo:
            return None
        shown = sig.name(recorded) if recorded else "no signal"
        given = sig.name(signo) if signo else "none"
        return (f"in recorded history: the recorded run replays ({shown} delivered here), "
                f"not the signal given on resume ({given})")

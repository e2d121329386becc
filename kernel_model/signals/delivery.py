"""Signals: CPU exceptions become Linux signals, and a pending signal is delivered on the way
back to user mode, to the program's handler (on a real signal frame) or by its default
action, which ends the process with status 128+N (docs/kernel_facts.md §8)."""

from __future__ import annotations

from collections.abc import Callable

from kernel_model.trace.events import SignalDelivered

SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGKILL = range(1, 10)
SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGSTKFLT, SIGCHLD = range(10, 18)
SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGXCPU, SIGXFSZ = range(18, 26)
SIGVTALRM, SIGPROF, SIGWINCH, SIGIO, SIGPWR, SIGSYS = range(26, 32)
NSIG = 64

SI_USER, SI_KERNEL, SI_TKILL = 0, 0x80, -6
SEGV_MAPERR, SEGV_ACCERR = 1, 2
BUS_ADRERR = 2  # a mapping with nothing behind the address (VM_FAULT_SIGBUS)
ILL_ILLOPC, ILL_ILLOPN = 1, 2
FPE_INTDIV = 1
TRAP_BRKPT, TRAP_TRACE = 1, 2  # icebp's #DB; a single step (EFLAGS.TF)

SIG_DFL, SIG_IGN = 0, 1
# Signals whose default action is to do nothing (kernel/signal.c: SIG_KERNEL_IGNORE_MASK).
DEFAULT_IGNORED = {SIGCHLD, SIGURG, SIGWINCH, SIGCONT}
# Signals whose default action is to stop the process (SIG_KERNEL_STOP_MASK).
DEFAULT_STOP = {SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU}


def name(signo: int) -> str:
    from kernel_model.uapi.constants import SIGNALS

    return SIGNALS.get(signo, f"SIG{signo}")


def code_name(signo: int, code: int) -> str:
    from kernel_model.uapi.constants import si_code_name

    return si_code_name(signo, code)


def exception_signal(vector: int, pc: int) -> tuple[int, int, int]:
    """(signo, si_code, si_addr) for a CPU exception vector, as arch/x86/kernel/traps.c."""
    if vector == 0:  # #DE divide error
        return SIGFPE, FPE_INTDIV, pc
    if vector == 1:  # #DB after an instruction run with EFLAGS.TF: exc_debug_user's
        return SIGTRAP, TRAP_TRACE, pc  # send_sigtrap, si_addr the next instruction
    if vector == 3:  # #BP (int3): do_int3_user's plain force_sig, so SI_KERNEL and no address
        return SIGTRAP, SI_KERNEL, 0
    if vector == 6:
        return SIGILL, ILL_ILLOPN, pc
    if vector == 16 or vector == 19:  # x87 / SIMD floating point
        return SIGFPE, 0, pc
    # #GP (privileged instruction, `int N` with no gate for user mode), #NP, #SS ...
    return SIGSEGV, SI_KERNEL, 0


class SignalState:
    """Signals pending for each task, and their delivery on its way back to user mode. The
    mask is the task's, the dispositions its process's. Everything here acts for the
    running task (`current`) unless it names another."""

    def __init__(self, kernel):
        self.kernel = kernel

    @property
    def pending(self) -> list[tuple[int, int, int, dict]]:
        return self.kernel.current.pending

    def force(self, signo: int, code: int, addr: int, **info) -> None:
        """A synchronous signal from a fault: delivered before the next user instruction,
        blocked or not (force_sig_fault)."""
        if signo == SIGFPE and code == 0:  # #MF/#XM (exception_signal): which exception
            from kernel_model.signals.math_error import math_error_code

            code = math_error_code(self.kernel.machine)
        self.pending.append((signo, code, addr, info))

    def send(self, signo: int, code: int = SI_USER, **info) -> None:
        """kill/tgkill of itself: pending until it is unblocked, then delivered on return to
        user mode. A standard signal already pending is not queued twice."""
        self.send_task(self.kernel.current, signo, code, **info)

    def send_process(self, process, signo: int, code: int = SI_USER, **info) -> None:
        """A signal for a whole process (kill): the first thread that does not block it
        takes it, else the leader (kernel/signal.c complete_signal, simplified)."""
        live = process.alive_threads
        if not live:
            return
        bit = 1 << (signo - 1)
        target = next((t for t in live if not t.sigmask & bit), live[0])
        self.send_task(target, signo, code, **info)

    def send_task(self, task, signo: int, code: int = SI_USER, **info) -> None:
        if signo < 32 and any(p[0] == signo for p in task.pending):
            return
        info.setdefault("synchronous", False)
        k = self.kernel
        process = task.process
        if signo == SIGCONT or signo == SIGKILL:
            # Both act when sent, not when delivered (kernel/signal.c prepare_signal):
            # the stopped process runs again, and its pending stop signals are dropped.
            for t in process.threads:
                t.pending[:] = [p for p in t.pending if p[0] not in DEFAULT_STOP]
            k.continue_process(process, report=signo == SIGCONT)
        elif signo in DEFAULT_STOP:
            for t in process.threads:
                t.pending[:] = [p for p in t.pending if p[0] != SIGCONT]
        task.pending.append((signo, 0 if code is None else code, 0, info))
        if task is k.current:
            if self.deliverable():
                k.machine.stop()
        elif signo == SIGKILL or (not self._blocked_for(task, signo, info) and (
                task.blocked is None or task.blocked.interruptible)):
            k.sched.wake(task)

    def _blocked_for(self, task, signo: int, info: dict) -> bool:
        if info.get("synchronous", True):
            return False  # a fault is delivered whatever the mask
        if signo in (SIGKILL, SIGSTOP):
            return False
        return bool(task.sigmask & (1 << (signo - 1)))

    def _blocked(self, signo: int, info: dict) -> bool:
        return self._blocked_for(self.kernel.current, signo, info)

    def deliverable(self) -> bool:
        return any(not self._blocked(p[0], p[3]) for p in self.pending)

    def interrupting(self) -> bool:
        """Whether a pending signal would end a host wait: one the task takes (a handler,
        or a default action that stops or kills). An ignored one (SIGCHLD by default) waits
        for the call to finish, as Linux drops it without waking the task."""
        process = self.kernel.process
        for signo, _code, _addr, info in self.pending:
            if self._blocked(signo, info):
                continue
            action = process.sigactions.get(signo)
            handler = action.handler if action else SIG_DFL
            if signo in (SIGKILL, SIGSTOP) or info.get("synchronous", True):
                return True
            if handler == SIG_IGN or (handler == SIG_DFL and signo in DEFAULT_IGNORED):
                continue
            return True
        return False

    def deliverable_for(self, task) -> bool:
        return any(not self._blocked_for(task, p[0], p[3]) for p in task.pending)

    def next_action(self):
        """The disposition of the next signal delivery will take: (handler, flags)."""
        ready = next((p for p in self.pending if not self._blocked(p[0], p[3])), None)
        if ready is None:
            return None
        action = self.kernel.process.sigactions.get(ready[0])
        if ready[0] in (SIGKILL, SIGSTOP) or action is None:
            return (SIG_DFL, 0)
        return (action.handler, action.flags)

    def pending_mask(self) -> int:
        """rt_sigpending: the signals held back by the mask."""
        mask = 0
        for signo, _code, _addr, info in self.pending:
            if self._blocked(signo, info):
                mask |= 1 << (signo - 1)
        return mask

    def mask_changed(self) -> None:
        """rt_sigprocmask/sigreturn: a signal the new mask lets through is delivered on the
        way back to user mode, so stop the CPU right after the call."""
        if self.deliverable():
            self.kernel.machine.stop()

    def next_ready(self) -> tuple[int, int, int, dict] | None:
        """The pending signal the next delivery takes (the first the mask lets through)."""
        return next((p for p in self.pending if not self._blocked(p[0], p[3])), None)

    def deliver_pending(self, traced: Callable[[tuple], bool] | None = None) -> None:
        """`traced`: a tracer's look at each signal taken off the queue (ptrace's
        signal-delivery-stop); True means it keeps the signal, delivered (or not) as it
        decides when the task resumes, and nothing more is delivered now."""
        k = self.kernel
        task = k.current
        while not k.process.exited and task.state == "R":
            ready = self.next_ready()
            if ready is None:
                break
            self.pending.remove(ready)
            if traced is not None and traced(ready):
                return  # (a temporary mask stays: the delivery after the stop restores it)
            signo, code, addr, info = ready
            self.deliver(signo, code, addr, info)
        if task.saved_sigmask is not None and task.blocked is None and task.state != "S":
            # A call that waited with a temporary mask has ended and no handler's frame
            # took the old mask: it comes back now (restore_saved_sigmask).
            task.sigmask = task.saved_sigmask
            task.saved_sigmask = None

    def deliver(self, signo: int, code: int, addr: int, info: dict) -> None:
        from kernel_model.signals import frame as sigframe
        from kernel_model.trace import strace

        k = self.kernel
        process = k.process
        action = process.sigactions.get(signo)
        handler = action.handler if action else SIG_DFL
        pc = k.machine.pc
        text = strace.format_signal(signo, code, addr, pid=info.get("pid"), uid=info.get("uid"),
                                    status=info.get("status"), utime=info.get("utime"),
                                    stime=info.get("stime"))
        blocked = k.current.sigmask & (1 << (signo - 1))
        synchronous = info.get("synchronous", True)
        if handler == SIG_IGN and signo not in (SIGKILL, SIGSTOP) and not synchronous:
            kind = "ignored"
        elif signo == SIGSTOP or (handler == SIG_DFL and signo in DEFAULT_STOP
                                  and not synchronous):
            kind = "stopped"
        elif handler in (SIG_DFL, SIG_IGN) or signo in (SIGKILL, SIGSTOP) or (
                blocked and synchronous):
            # A fault with the handler ignored or blocked still kills (force_sig_fault).
            kind = "ignored" if (handler == SIG_DFL and signo in DEFAULT_IGNORED) else "killed"
        else:
            kind = "handler"
        k.emit(SignalDelivered(signo, name(signo), code, code_name(signo, code), addr, pc,
                               handler, kind, text))
        if kind == "killed":
            k.kill_process(process, signo)
        elif kind == "stopped":
            k.stop_process(process, signo)
        elif kind == "handler":
            sigframe.setup_frame(k, signo, code, addr, action, info)

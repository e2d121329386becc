"""The one step every driver takes: resume the CPU until the next stop and say why
(`resume`), then let the kernel handle that cause (`enter_kernel`) and deliver pending
signals on the way back to user mode. `run` is the whole loop for a run to the end; the
stepping session calls the same two functions one stop at a time.
"""

from __future__ import annotations

from collections.abc import Callable

from kernel_model.proc.sched import ERESTART_RESTARTBLOCK, ERESTARTNOHAND, ERESTARTSYS
from kernel_model.proc.wait import RunLimit
from kernel_model.run.causes import (
    Counted,
    Exited,
    Fault,
    Halted,
    Interrupted,
    LimitReached,
    ModeSwitch,
    NewImage,
    SignalQueued,
    StopCause,
    VsyscallFetch,
    Yielded,
)
from kernel_model.run.timer import KernelTimer
from kernel_model.signals.frame_layout import SA_RESTART
from kernel_model.vsyscall import emulated as vsyscall


def _never() -> bool:
    return False


def resume(system, count: int = 0, *, interrupted: Callable[[], bool] = _never,
           expired: Callable[[], bool] = _never) -> StopCause:
    """Run the CPU from pc (at most `count` instructions when given) until it stops, and
    say why, the guest's cause consumed. `interrupted` and `expired` are the driver's own
    reasons to stop it (the user, a deadline)."""
    faults = system.cpu_faults
    m = system.machine
    if expired():
        return _timeout(system)
    m.count_mode(bool(count))
    try:
        stop = m.run(m.pc, count=count)
    except RunLimit:
        return _timeout(system)  # the deadline passed while a handler waited
    if expired():
        return _timeout(system)
    if system.kernel.current.state != "R" or system.kernel.process.exited:
        return Exited()
    counter = system.counter
    if counter is not None and counter.exceeded:
        return LimitReached("max-insns",
                            f"stopped after {counter.count} instructions (--max-insns)")
    if system.machine is not m:
        # execve: this CPU's last trap put the task on a new one (kernel_model.proc.execve)
        faults.take(None)
        return NewImage()
    cause = faults.take(stop)
    if cause is not None:
        return cause
    if system.kernel.yield_requested:
        system.kernel.yield_requested = False
        return Yielded()
    if count:
        return Counted()
    if system.signals.deliverable():
        return SignalQueued()
    if m.before_run is not None:
        return ModeSwitch()
    if interrupted():
        return Interrupted()
    # emu_start returned on its own: the CPU is at a `hlt`.
    return Halted(m.pc)


def _timeout(system) -> LimitReached:
    return LimitReached("timeout", f"stopped after {system.options.timeout:g} s (--timeout): "
                                   "the guest did not finish")


def enter_kernel(system, cause: StopCause) -> None:
    """The kernel's side of a stop cause: emulate the vsyscall, or queue the signal
    (delivered by deliver_pending on the way back to user mode)."""
    if isinstance(cause, VsyscallFetch):
        vsyscall.emulate(system.kernel, system.vsyscall_mode, cause.addr)
    elif isinstance(cause, Halted):
        system.signals.force(*_fields(cause.fault))
    elif isinstance(cause, Fault):
        system.signals.force(*_fields(cause))


def _fields(fault: Fault) -> tuple[int, int, int]:
    return fault.signo, fault.code, fault.addr


def run(system) -> int:
    """Run to the end (exit, a fatal signal, or a limit) and return the exit status: the
    scheduler's loop (kernel_model.proc.sched) around the one-task step."""
    system.start()
    k = system.kernel
    with KernelTimer(system) as timer:
        while True:
            task = k.current
            if task.state == "R" and task.blocked is not None:
                finish_wait(k, task)
            if task.state == "R" and not task.process.exited:
                k.signals.deliver_pending()
            if task.state == "R" and not task.process.exited:
                others = k.sched.others_runnable(task)
                cause = resume(system, count=k.sched.timeslice if others else 0,
                               interrupted=lambda: timer.interrupted,
                               expired=lambda: timer.expired)
                if isinstance(cause, LimitReached):
                    return system.stop_at_limit(cause.reason, cause.text)
                if isinstance(cause, Interrupted):
                    raise KeyboardInterrupt
                if not isinstance(cause, (Exited, Counted, Yielded)):
                    enter_kernel(system, cause)
                    k.signals.deliver_pending()
                if task.state == "R" and not task.process.exited and \
                        not isinstance(cause, (Counted, Yielded)):
                    continue
                why = "its time slice ended" if isinstance(cause, Counted) else \
                    "it yielded (sched_yield)" if isinstance(cause, Yielded) else ""
            else:
                why = ""
            nxt = schedule(system, why or why_left(task))
            if nxt is None:
                break
    return system.finish()


def why_left(task) -> str:
    if task.state == "S":
        return f"it waits: {task.blocked.what}" if task.blocked else "it waits"
    if task.state == "T":
        return "it stopped"
    return "it exited"


def finish_wait(k, task) -> None:
    """A woken task's waiting call runs again first: it ends (its result written), waits
    again, or, with a signal to deliver, ends with EINTR or a restart."""
    interrupted = task.blocked.interruptible and k.signals.deliverable()
    if k.retry_blocked(task, interrupted):
        return
    if interrupted:
        action = k.signals.next_action()
        handler, flags = action if action is not None else (0, 0)
        code = task.blocked.restart
        runs_handler = handler not in (0, 1)
        restart = not runs_handler if code in (ERESTARTNOHAND, ERESTART_RESTARTBLOCK) else \
            (not runs_handler or bool(flags & SA_RESTART)) if code == ERESTARTSYS else True
        k.end_interrupted(task, restart)


def schedule(system, why: str):
    """Pick the next task and switch to it; None when the run is over (the first process
    has ended and nothing can run), after a deadlock has been reported."""
    k = system.kernel
    sched = k.sched
    while True:
        _wake_expired(k)
        nxt = sched.pick_next(k.current)
        if nxt is not None:
            if nxt is not k.current:
                k.switch_to(nxt, why)
            return nxt
        deadline = _earliest_deadline(k)
        first = system.process
        if deadline is not None:
            _sleep_until(system, deadline)
            continue
        if first.exited or first.reaped:
            return None
        system.deadlock = _deadlock_text(k)
        return None


def _wake_expired(k) -> None:
    now = None
    for t in k.processes.tasks():
        if t.state == "S" and t.blocked is not None and t.blocked.deadline_ns is not None:
            now = k.clock.monotonic_ns() if now is None else now
            if now >= t.blocked.deadline_ns:
                k.sched.wake(t)


def _earliest_deadline(k) -> int | None:
    ends = [t.blocked.deadline_ns for t in k.processes.tasks() if t.state == "S"
            and t.blocked is not None and t.blocked.deadline_ns is not None]
    return min(ends) if ends else None


def _sleep_until(system, deadline_ns: int) -> None:
    """Nothing can run before a timeout: let the guest's time pass until it (a virtual
    or frozen clock jumps; a real one waits on the host)."""
    k = system.kernel
    left = deadline_ns - k.clock.monotonic_ns()
    if left > 0:
        k.clock.sleep_ns(left)


def _deadlock_text(k) -> str:
    waits = []
    for t in k.processes.tasks():
        if t.state == "S":
            what = t.blocked.what if t.blocked is not None else "nothing that can happen"
            waits.append(f"pid {t.tid} waits in {t.blocked.name if t.blocked else '?'} "
                         f"({what})")
        elif t.state == "T":
            waits.append(f"pid {t.tid} is stopped")
    return "deadlock: every task is blocked and nothing can wake them: " + "; ".join(waits)

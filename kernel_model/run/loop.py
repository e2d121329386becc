"""The one step every driver takes: resume the CPU until the next stop and say why
(`resume`), then let the kernel handle that cause (`enter_kernel`) and deliver pending
signals on the way back to user mode. `run` is the whole loop for a run to the end; the
stepping session calls the same two functions one stop at a time.
"""

from __future__ import annotations

from collections.abc import Callable

from kernel_model.proc.wait import RunLimit
from kernel_model.run.causes import (
    Counted,
    Exited,
    Fault,
    Halted,
    Interrupted,
    LimitReached,
    SignalQueued,
    StopCause,
    VsyscallFetch,
)
from kernel_model.run.timer import KernelTimer
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
    try:
        stop = m.run(m.pc, count=count)
    except RunLimit:
        return _timeout(system)  # the deadline passed while a handler waited
    if expired():
        return _timeout(system)
    if system.process.exited:
        return Exited()
    counter = system.counter
    if counter is not None and counter.exceeded:
        return LimitReached("max-insns",
                            f"stopped after {counter.count} instructions (--max-insns)")
    cause = faults.take(stop)
    if cause is not None:
        return cause
    if count:
        return Counted()
    if system.signals.deliverable():
        return SignalQueued()
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
    """Run to the end (exit, a fatal signal, or a limit) and return the exit status."""
    system.start()
    with KernelTimer(system) as timer:
        while not system.process.exited:
            cause = resume(system, interrupted=lambda: timer.interrupted,
                           expired=lambda: timer.expired)
            if isinstance(cause, Exited):
                break
            if isinstance(cause, LimitReached):
                return system.stop_at_limit(cause.reason, cause.text)
            if isinstance(cause, Interrupted):
                raise KeyboardInterrupt
            enter_kernel(system, cause)
            system.signals.deliver_pending()
    return system.finish()

"""Why the CPU stopped: one small frozen record per cause, as `loop.resume` reports it.

Causes the kernel acts on (`KERNEL_WORK`) are what Linux would enter the kernel for from
user mode: a fault or exception that becomes a signal, a fetch in the emulated vsyscall
page, a `hlt` (a #GP at CPL 3), a signal already queued. The others say the run is over
for now: the process exited, a limit or the user stopped it, a counted run finished.
"""

from __future__ import annotations

from emu.records import Record
from kernel_model.signals import delivery as signals


class Fault(Record):
    """A fault or exception at the current pc that becomes a signal (force_sig_fault)."""

    _fields = ("signo", "code", "addr")
    signo: int
    code: int  # si_code
    addr: int  # si_addr

    def __init__(self, signo: int, code: int, addr: int) -> None:
        object.__setattr__(self, "signo", signo)
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "addr", addr)

    def text(self, pc: int) -> str:
        return (f"{signals.name(self.signo)} ({signals.code_name(self.signo, self.code)}) "
                f"at {pc:#x}" + (f", address {self.addr:#x}" if self.addr else ""))


class VsyscallFetch(Record):
    """An instruction fetch in the vsyscall page the kernel emulates (emulate_vsyscall)."""

    _fields = ("addr",)
    addr: int

    def __init__(self, addr: int) -> None:
        object.__setattr__(self, "addr", addr)

    def text(self, _pc: int) -> str:
        return f"the CPU may not execute the vsyscall page: fault at {self.addr:#x}"


class Halted(Record):
    """The CPU stopped by itself at `hlt`: a privileged instruction in user mode."""

    _fields = ("pc",)
    pc: int

    def __init__(self, pc: int) -> None:
        object.__setattr__(self, "pc", pc)

    @property
    def fault(self) -> Fault:
        # #GP at CPL 3: SIGSEGV with si_code SI_KERNEL (do_general_protection), as for every
        # privileged instruction. The one place the model says so.
        return Fault(signals.SIGSEGV, signals.SI_KERNEL, 0)

    def text(self, pc: int) -> str:
        return self.fault.text(pc)


class SignalQueued(Record):
    """A signal the kernel queued stopped the CPU: delivered on the way back to user mode."""

    def text(self, _pc: int) -> str:
        return "a signal is pending"


class NewImage(Record):
    """execve replaced the task's image: its CPU is a new one, which runs from its entry."""

    def text(self, _pc: int) -> str:
        return "execve: a new program image"


class Exited(Record):
    """The process is gone (exit, exit_group, a fatal signal)."""


class LimitReached(Record):
    """A limit of the run (reason "timeout" or "max-insns") stopped it."""

    _fields = ("reason", "text")
    reason: str
    text: str

    def __init__(self, reason: str, text: str) -> None:
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "text", text)


class Interrupted(Record):
    """The user stopped the run (Ctrl-C, Esc)."""


class Counted(Record):
    """A counted run executed its instructions (the session's steps and replays)."""


class Yielded(Record):
    """The task gave the CPU up (sched_yield) while another was runnable."""


class ModeSwitch(Record):
    """A return to user mode that loads cs and ss (sigreturn into 32-bit code) stopped the
    CPU: the next run begins with the CPU's far jump (emu/segments.py Gdt.far_return)."""

    def text(self, _pc: int) -> str:
        return "a return to user mode that changes cs and ss"


StopCause = (Fault | VsyscallFetch | Halted | SignalQueued | NewImage | Exited | LimitReached
             | Interrupted | Counted | Yielded | ModeSwitch)
KERNEL_WORK = (Fault, VsyscallFetch, Halted, SignalQueued, ModeSwitch)

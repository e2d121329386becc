"""Why the CPU stopped: one small frozen dataclass per cause, as `loop.resume` reports it.

Causes the kernel acts on (`KERNEL_WORK`) are what Linux would enter the kernel for from
user mode: a fault or exception that becomes a signal, a fetch in the emulated vsyscall
page, a `hlt` (a #GP at CPL 3), a signal already queued. The others say the run is over
for now: the process exited, a limit or the user stopped it, a counted run finished.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernel_model.signals import delivery as signals


@dataclass(frozen=True)
class Fault:
    """A fault or exception at the current pc that becomes a signal (force_sig_fault)."""

    signo: int
    code: int  # si_code
    addr: int  # si_addr

    def text(self, pc: int) -> str:
        return (f"{signals.name(self.signo)} ({signals.code_name(self.signo, self.code)}) "
                f"at {pc:#x}" + (f", address {self.addr:#x}" if self.addr else ""))


@dataclass(frozen=True)
class VsyscallFetch:
    """An instruction fetch in the vsyscall page the kernel emulates (emulate_vsyscall)."""

    addr: int

    def text(self, _pc: int) -> str:
        return f"the CPU may not execute the vsyscall page: fault at {self.addr:#x}"


@dataclass(frozen=True)
class Halted:
    """The CPU stopped by itself at `hlt`: a privileged instruction in user mode."""

    pc: int

    @property
    def fault(self) -> Fault:
        # #GP at CPL 3: SIGSEGV with si_code SI_KERNEL (do_general_protection), as for every
        # privileged instruction. The one place the model says so.
        return Fault(signals.SIGSEGV, signals.SI_KERNEL, 0)

    def text(self, pc: int) -> str:
        return self.fault.text(pc)


@dataclass(frozen=True)
class SignalQueued:
    """A signal the kernel queued stopped the CPU: delivered on the way back to user mode."""

    def text(self, _pc: int) -> str:
        return "a signal is pending"


@dataclass(frozen=True)
class NewImage:
    """execve replaced the task's image: its CPU is a new one, which runs from its entry."""

    def text(self, _pc: int) -> str:
        return "execve: a new program image"


@dataclass(frozen=True)
class Exited:
    """The process is gone (exit, exit_group, a fatal signal)."""


@dataclass(frozen=True)
class LimitReached:
    """A limit of the run (reason "timeout" or "max-insns") stopped it."""

    reason: str
    text: str


@dataclass(frozen=True)
class Interrupted:
    """The user stopped the run (Ctrl-C, Esc)."""


@dataclass(frozen=True)
class Counted:
    """A counted run executed its instructions (the session's steps and replays)."""


@dataclass(frozen=True)
class Yielded:
    """The task gave the CPU up (sched_yield) while another was runnable."""


@dataclass(frozen=True)
class ModeSwitch:
    """A return to user mode that loads cs and ss (sigreturn into 32-bit code) stopped the
    CPU: the next run begins with the CPU's far jump (emu/segments.py Gdt.far_return)."""

    def text(self, _pc: int) -> str:
        return "a return to user mode that changes cs and ss"


StopCause = (Fault | VsyscallFetch | Halted | SignalQueued | NewImage | Exited | LimitReached
             | Interrupted | Counted | Yielded | ModeSwitch)
KERNEL_WORK = (Fault, VsyscallFetch, Halted, SignalQueued, ModeSwitch)

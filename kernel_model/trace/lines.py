"""The one line a user sees for each event: in `strace --events`, in the TUI's events pane
and in a saved recording. Every consumer asks here, so the three cannot drift apart."""

from __future__ import annotations

from kernel_model.entry.mechanism import Mechanism
from kernel_model.trace.events import (
    KernelNote,
    ProcessExited,
    RunStopped,
    SignalDelivered,
    SyscallReturned,
    VdsoCalled,
    VsyscallCalled,
)

ENOSYS = 38


def syscall_line(event: SyscallReturned) -> str:
    """`[int 0x80] write(1, "hi\\n", 3) = 3`, and the kernel's note after it."""
    line = f"[{event.mechanism}] {event.text}"
    return line + f"  /* {event.note} */" if event.note else line


def plain_syscall_line(event: SyscallReturned) -> str:
    """strace's own line, without the mechanism; a note only on a missing syscall's ENOSYS
    (strace would print nothing there, but a silent ENOSYS is worse)."""
    if event.name is not None and event.ret == -ENOSYS and event.note:
        return f"{event.text}  /* {event.note} */"
    return event.text


def vdso_text(name: str, call_text: str, ret: int, fallback: str = "") -> str:
    """`[vdso] __vdso_clock_gettime(CLOCK_MONOTONIC, {tv_sec=1, tv_nsec=2}) = 0`: the
    function returns its result itself, so it is shown as is (no -1 and errno)."""
    text = f"[{Mechanism.VDSO}] {call_text} = {ret}"
    if fallback:
        text += f"  /* the vDSO fell back to the {fallback} syscall */"
    return text


def vsyscall_text(call_text: str, ret: int, how: str) -> str:
    """`[vsyscall] time([1795771623]) = 1795771623 (emulated)`."""
    return f"[{Mechanism.VSYSCALL}] {call_text} = {ret} ({how})"


def event_line(event) -> str | None:
    """The event's line; None for events that have none of their own (a syscall's entry:
    its return carries the whole call)."""
    if isinstance(event, SyscallReturned):
        return syscall_line(event)
    if isinstance(event, (VdsoCalled, VsyscallCalled, SignalDelivered, ProcessExited,
                          RunStopped, KernelNote)):
        return event.text
    return None


def pane_line(event) -> tuple[str, str, str] | None:
    """The events pane's row: (line, kind the pane colours by, mechanism)."""
    text = event_line(event)
    if text is None:
        return None
    if isinstance(event, SyscallReturned):
        return text, "syscall", event.mechanism
    if isinstance(event, VdsoCalled):
        return text, "vdso", Mechanism.VDSO
    if isinstance(event, VsyscallCalled):
        return text, "vsyscall", Mechanism.VSYSCALL
    if isinstance(event, SignalDelivered):
        return text, "signal", ""
    if isinstance(event, ProcessExited):
        return text, "exit", ""
    return text, "note", ""

"""Calls into code the kernel put in user space (the vDSO, a native or emulated vsyscall
page), described like syscalls: a definition with the same argument kinds
(kernel_model.syscalls.argkinds), decoded by the same strace decoder, so a vDSO
clock_gettime and the syscall clock_gettime print their arguments alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from emu.records import Record
from kernel_model.syscalls.argkinds import Kind


class UserCallDef(Record):
    """What the strace decoder needs of a call: its name, argument kinds and result kind
    (the shape of a SyscallDef without a handler)."""

    _fields = ("name", "args", "ret")
    name: str
    args: tuple[Kind, ...]
    ret: str = "int"
    # strace's per-syscall cases are for syscalls: the vsyscall page's time() prints its
    # pointer's value plainly, not with the date strace's time() decoder adds.
    special_cases: ClassVar[bool] = False

    def __init__(self, name: str, args: tuple[Kind, ...], ret: str = "int") -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "ret", ret)


@dataclass
class CallInProgress:
    """A call a watcher saw enter and has not yet seen return."""

    name: str  # the function called: a vDSO symbol, a vsyscall page entry
    args: tuple[int, ...]
    pc: int
    return_pc: int = 0
    entry_texts: list[str | None] | None = None  # the in-arguments, read at entry
    fallback: str = ""  # the syscall the call made itself, if any (the vDSO's fallback)


def entry_texts(sdef: UserCallDef, abi, args, mem) -> list[str | None]:
    """The in-arguments' texts, read at entry (before the call may change them)."""
    from kernel_model.trace import strace  # only traced runs decode: not at start-up

    return strace.decode_entry(sdef, abi, args, mem)


def call_text(sdef: UserCallDef, abi, args, ret: int, mem,
              texts: list[str | None] | None = None) -> str:
    """`name(arg, ...)` with every argument decoded as a syscall's would be after `ret`."""
    from kernel_model.trace import strace

    return strace.format_call(sdef.name, strace.decode_exit(sdef, abi, args, ret, mem, texts))

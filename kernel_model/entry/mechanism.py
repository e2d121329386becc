"""The ways a program reaches a kernel service, one name each. Three trap into the kernel
(`syscall`, `int 0x80`, `sysenter`); two run code the kernel mapped into user space (the
vDSO, the vsyscall page). Each value is the text a user sees: "[int 0x80] write(...)"."""

from __future__ import annotations

from enum import StrEnum


class Mechanism(StrEnum):
    SYSCALL = "syscall"
    INT80 = "int 0x80"
    SYSENTER = "sysenter"
    VDSO = "vdso"
    VSYSCALL = "vsyscall"


# The ones that cross into ring 0 through a trap instruction.
TRAPS: tuple[Mechanism, ...] = (Mechanism.SYSCALL, Mechanism.INT80, Mechanism.SYSENTER)
MECHANISMS: tuple[Mechanism, ...] = tuple(Mechanism)

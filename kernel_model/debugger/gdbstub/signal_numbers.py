"""gdb's signal numbers: the remote protocol names signals by gdb's own enum (the order
`info signals` lists them), not by Linux's numbers. They agree up to SIGTERM except SIGBUS,
SIGUSR1, SIGUSR2 and SIGSYS; gdbserver converts both ways, and so does this stub
(docs/kernel_facts.md §20)."""

from __future__ import annotations

# Linux's number -> gdb's, for the standard signals (1..31).
_TO_GDB = {
    1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 10, 8: 8, 9: 9, 10: 30, 11: 11, 12: 31,
    13: 13, 14: 14, 15: 15, 17: 20, 18: 19, 19: 17, 20: 18, 21: 21, 22: 22, 23: 16,
    24: 24, 25: 25, 26: 26, 27: 27, 28: 28, 29: 23, 30: 32, 31: 12,
}
_FROM_GDB = {g: h for h, g in _TO_GDB.items()}
GDB_REALTIME_32 = 77  # Linux's 32 (glibc keeps it for itself)
GDB_REALTIME_33 = 45  # Linux's 33 .. 63 follow in order
GDB_REALTIME_64 = 78  # Linux's 64
GDB_UNKNOWN = 143  # SIGSTKFLT (Linux 16) has no gdb name


def to_gdb(signo: int) -> int:
    """gdb's number for Linux signal `signo`."""
    if signo in _TO_GDB:
        return _TO_GDB[signo]
    if signo == 32:
        return GDB_REALTIME_32
    if 33 <= signo <= 63:
        return GDB_REALTIME_33 + signo - 33
    if signo == 64:
        return GDB_REALTIME_64
    return GDB_UNKNOWN


def from_gdb(number: int) -> int | None:
    """Linux's number for gdb's signal `number` (0 stays 0: no signal); None when Linux
    has no such signal (gdb's SIGEMT, SIGLOST, ...)."""
    if number == 0:
        return 0
    if number in _FROM_GDB:
        return _FROM_GDB[number]
    if number == GDB_REALTIME_32:
        return 32
    if GDB_REALTIME_33 <= number <= GDB_REALTIME_33 + 30:
        return number - GDB_REALTIME_33 + 33
    if number == GDB_REALTIME_64:
        return 64
    return None

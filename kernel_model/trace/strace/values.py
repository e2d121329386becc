"""Small values as strace prints them: addresses, errors, and the ABI's word size."""

from __future__ import annotations

from kernel_model.uapi.errnos import ERRNOS

OMITTED = ""  # an argument strace does not print (format_call skips it)
PATH_MAX = 4096
MAX_ERRNO = 4095


BITS = {"x86_64": 64, "i386": 32}


def abi_name(abi) -> str:
    return getattr(abi, "name", abi)


def signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def addr_text(addr: int) -> str:
    """strace's printaddr: NULL or 0x7ffd...."""
    return "NULL" if addr == 0 else f"{addr:#x}"


def is_error(ret: int | None) -> bool:
    return ret is not None and -MAX_ERRNO <= ret < 0


# strace's names where they differ from errnos.py's (which has the C library's aliases).
# Kernel-internal "restart" errors: strace prints "? ERESTARTSYS (...)" instead of "-1 ...".
RESTART_ERRORS = {
    512: ("ERESTARTSYS", "To be restarted if SA_RESTART is set"),
    513: ("ERESTARTNOINTR", "To be restarted"),
    514: ("ERESTARTNOHAND", "To be restarted if no handler"),
    516: ("ERESTART_RESTARTBLOCK", "Interrupted by signal"),
}


def errno_text(errno: int) -> str:
    """What strace prints after "= " for a failed call: "-1 ENOENT (No such file or
    directory)", "? ERESTARTSYS (To be restarted if SA_RESTART is set)"."""
    if errno in RESTART_ERRORS:
        name, message = RESTART_ERRORS[errno]
        return f"? {name} ({message})"
    name, message = ERRNOS.get(errno, (f"E?{errno}", f"Unknown error {errno}"))
    return f"-1 {name} ({message})"

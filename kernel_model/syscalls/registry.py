"""The syscall registry: one declaration per syscall ties its name, handler and argument
kinds together. Numbers are not here: they live only in the per-ABI tables."""

from __future__ import annotations

from typing import Callable

from emu.records import Record
from kernel_model.syscalls.argkinds import Kind


class SyscallDef(Record):
    _fields = ("name", "handler", "args", "ret", "nargs")
    name: str
    handler: Callable
    args: tuple[Kind, ...]
    ret: str  # how strace shows a success: "int", "hex" (addresses), "none" (never returns)
    nargs: int

    def __init__(
            self, name: str, handler: Callable, args: tuple[Kind, ...], ret: str, nargs: int,
    ) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "handler", handler)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "ret", ret)
        object.__setattr__(self, "nargs", nargs)


# (abi or None, name) -> definition; an ABI-specific entry wins over the shared one.
REGISTRY: dict[tuple[str | None, str], SyscallDef] = {}


def syscall(name: str, *args: Kind, ret: str = "int", abi: str | None = None):
    """Register a handler: `@syscall("write", Fd(), InBuf(2), UInt())`.

    The handler is called as handler(kernel, *raw_args) with one raw integer per declared
    argument and returns the result or -errno (or None for calls that do not return)."""

    def register(fn: Callable) -> Callable:
        REGISTRY[(abi, name)] = SyscallDef(name, fn, tuple(args), ret, len(args))
        return fn

    return register


def lookup(abi: str, name: str) -> SyscallDef | None:
    """The handler of a call, its module imported if it was not (kernel_model.syscalls.deferred)."""
    from kernel_model.syscalls.deferred import definition, key_for

    key = key_for(abi, name)
    return None if key is None else definition(key)

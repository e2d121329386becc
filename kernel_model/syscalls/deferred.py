"""Handler modules imported on first use: a run makes a few dozen distinct calls, and
importing all the modules of the ~270 handlers cost every start about 20 ms (issue 16).

The index says, for each registered (abi, name), which module registers it and its
declaration (argument kinds, result kind, argument count). It is built once by importing
every handler module and kept in the on-disk cache, keyed by the size and modification
time of every source file of this package (what Python's own .pyc check compares), so an
edited handler module rebuilds it.

A dispatch table holds, for a call whose module is not imported yet, a stand-in: a
SyscallDef equal to the real one in every field but the handler, a function that imports
the module, puts the real definition in the kernel's tables in its place and calls it. The
entry paths index the tables as before, and after its first call a syscall costs nothing
more than it did."""

from __future__ import annotations

import importlib
import os
from typing import Any

from kernel_model.syscalls import MODULES, argkinds
from kernel_model.syscalls.argkinds import Kind
from kernel_model.syscalls.registry import REGISTRY, SyscallDef

PACKAGE = "kernel_model.syscalls"
HERE = os.path.dirname(os.path.abspath(__file__))

Key = tuple[str | None, str]
# (abi or None, name) -> (module, args, ret, nargs); each argument kind as its class's name
# and field values (plain data: the cached index depends on no class's pickled form)
Index = dict[Key, tuple[str, tuple[tuple[str, tuple], ...], str, int]]

_index: Index | None = None
_stand_ins: dict[Key, SyscallDef] = {}
_kinds: dict[tuple[str, tuple], Kind] = {}  # kinds are immutable: one of each is enough


def import_all() -> None:
    """Register every handler (what importing the package did before)."""
    for name in MODULES:
        importlib.import_module(f"{PACKAGE}.{name}")


def build_index() -> Index:
    """The index, from the registry once every handler module is imported."""
    import_all()
    return {key: (sdef.handler.__module__,
                  tuple((type(kind).__name__, kind._values()) for kind in sdef.args),
                  sdef.ret, sdef.nargs)
            for key, sdef in REGISTRY.items()}


def sources_key() -> str:
    """Every source file of the package by path, size and modification time."""
    from kernel_model.vdso import cache

    parts = []
    for top, dirs, files in os.walk(HERE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for f in sorted(files):
            if f.endswith(".py"):
                st = os.stat(os.path.join(top, f))
                parts.append(f"{top[len(HERE):]}/{f}:{st.st_size}:{st.st_mtime_ns}")
    return cache.key_of(*parts)


def index() -> Index:
    global _index
    if _index is None:
        from kernel_model.vdso import cache

        key = sources_key()
        found = cache.load("syscalls", key)
        if not isinstance(found, dict):
            found = build_index()
            cache.store("syscalls", key, found)
        _index = found
    return _index


def key_for(abi: str, name: str) -> Key | None:
    """The registry key a call resolves to: an ABI's own handler wins over the shared one."""
    idx = index()
    for key in ((abi, name), (None, name)):
        if key in idx:
            return key
    return None


def definition(key: Key) -> SyscallDef:
    """The real definition, its module imported if it was not."""
    sdef = REGISTRY.get(key)
    if sdef is None:
        importlib.import_module(index()[key][0])
        sdef = REGISTRY[key]
    return sdef


def dispatch_entry(abi: str, name: str) -> SyscallDef | None:
    """What a dispatch table holds for a call: the definition if its module is imported,
    else its stand-in (shared by every kernel's tables). Called for every entry of both
    tables at each kernel's start: one dictionary probe or two."""
    idx = _index if _index is not None else index()
    key: Key = (abi, name)
    if key not in idx:
        key = (None, name)
        if key not in idx:
            return None
    sdef = REGISTRY.get(key) or _stand_ins.get(key)
    if sdef is None:
        sdef = _stand_ins[key] = _make_stand_in(key)
    return sdef


def _kind(spec: tuple[str, tuple]) -> Kind:
    kind = _kinds.get(spec)
    if kind is None:
        name, values = spec
        kind = _kinds[spec] = getattr(argkinds, name)(*values)
    return kind


def _make_stand_in(key: Key) -> SyscallDef:
    _, specs, ret, nargs = index()[key]
    args = tuple(_kind(spec) for spec in specs)

    def import_then_call(kernel: Any, *call_args: int) -> int | None:
        real = definition(key)
        kernel.replace_definition(stand_in, real)
        return real.handler(kernel, *call_args)

    stand_in = SyscallDef(key[1], import_then_call, args, ret, nargs)
    return stand_in

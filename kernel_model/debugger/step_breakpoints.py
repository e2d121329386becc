"""Breakpoints: what the user named (an address, a label, a symbol, a syscall), resolved
and hooked.

Part of the stepping session (session.DebugSession); see session.py for how it runs
and goes back.
"""

from __future__ import annotations

import re

from kernel_model.debugger.objects import objects_of
from kernel_model.debugger.session_parts import SessionParts
from kernel_model.debugger.stepping import Breakpoint, split_pid

_SYMBOL = re.compile(r"[A-Za-z_.][\w.$]*(@[\w.+-]+)?")


def _split_offset(spec: str) -> tuple[str, int]:
    """`main+0x10` -> ("main", 16); a `+` in a name stays (`f@libstdc++.so.6`)."""
    head, plus, tail = spec.rpartition("+")
    if plus:
        try:
            return head.strip(), int(tail.strip(), 0)
        except ValueError:
            pass
    return spec.strip(), 0


class Breakpoints(SessionParts):
    # -- breakpoints -----------------------------------------------------------------------------
    def resolve(self, spec: str) -> int | None:
        """An address from a number, a symbol or an assembly label."""
        spec = spec.strip()
        try:
            return int(spec, 0)
        except ValueError:
            pass
        name, offset = _split_offset(spec)
        if self.program is not None and self.program.assembled is not None:
            addr = self.program.assembled.labels.get(name)
            if addr is not None:
                return addr + offset
        # the program's symbols, then each library's in load order, then the vDSO's
        addr = objects_of(self).lookup(name)
        return addr + offset if addr is not None else None

    def _may_pend(self, where: str) -> bool:
        """Whether a name no loaded object has may still come with a library, as gdb's
        pending breakpoints: a name qualified with a library (`puts@libc.so.6`), or any
        name in a program that has a dynamic loader."""
        name = _split_offset(where)[0]
        if not _SYMBOL.fullmatch(name):
            return False
        objs = objects_of(self)
        lib = name.partition("@")[2]
        if lib and lib != "plt" and not lib.startswith("plt@"):
            return not objs.names_an_object(lib)  # a library loaded already lacks it
        return objs.dynamic()

    def resolve_pending(self) -> None:
        """Set the pending breakpoints whose names have appeared (a library was mapped):
        called after each crossing into the kernel, where mappings change."""
        if not any(b.address is None and b.syscall is None for b in self.breakpoints):
            return
        objs = objects_of(self)
        if getattr(self, "_pending_tried", None) == (id(objs), objs.generation):
            return  # nothing mapped or unmapped since the last try
        self._pending_tried = (id(objs), objs.generation)
        for b in self.breakpoints:
            if b.address is None and b.syscall is None:
                addr = self.resolve(split_pid(b.spec)[0])
                if addr is not None:
                    b.address = addr
                    self._hook(addr, "bp")
                    self.notes.append(f"breakpoint {b.number} ({b.spec}) is at {addr:#x}")

    def add_breakpoint(self, spec: str) -> Breakpoint:
        """`LOC`, `syscall NAME` (or `catch NAME`); either may end in `pid N`: it stops
        only in process N."""
        spec = spec.strip()
        where, pid = split_pid(spec)
        suffix = f" pid {pid}" if pid is not None else ""
        if where.startswith(("syscall ", "catch ")):
            name = where.split(None, 1)[1].strip()
            from kernel_model.entry.abi import ABIS

            if not any(abi.number_of(name) is not None for abi in ABIS.values()):
                raise ValueError(f"{name}: not a syscall name")
            b = Breakpoint(spec=f"syscall {name}{suffix}", syscall=name, pid=pid)
        else:
            addr = self.resolve(where)
            if addr is None and not self._may_pend(where):
                raise ValueError(f"{where}: no such address, symbol or label")
            # None: pending until a library defines the name (resolve_pending)
            b = Breakpoint(spec=where + suffix, address=addr, pid=pid)
            if addr is not None:
                self._hook(addr, "bp")
        self._breakpoints_made += 1
        b.number = self._breakpoints_made
        self.breakpoints.append(b)
        return b

    def remove_breakpoint(self, b: Breakpoint) -> None:
        self.breakpoints.remove(b)
        if b.address is not None and not any(x.address == b.address for x in self.breakpoints):
            self._unhook(b.address, "bp")

"""Breakpoints: what the user named (an address, a label, a symbol, a syscall), resolved
and hooked.

Part of the stepping session (session.DebugSession); see session.py for how it runs
and goes back.
"""

from __future__ import annotations

from kernel_model.debugger.session_parts import SessionParts
from kernel_model.debugger.stepping import Breakpoint, split_pid


class Breakpoints(SessionParts):
    # -- breakpoints -----------------------------------------------------------------------------
    def resolve(self, spec: str) -> int | None:
        """An address from a number, a symbol or an assembly label."""
        spec = spec.strip()
        try:
            return int(spec, 0)
        except ValueError:
            pass
        name, _, off = spec.partition("+")
        offset = int(off, 0) if off else 0
        if self.program is not None and self.program.assembled is not None:
            addr = self.program.assembled.labels.get(name)
            if addr is not None:
                return addr + offset
        for addr, n in self.kernel.process.symbols.items():
            if n == name:
                return addr + offset
        vdso = self.system.vdso
        if vdso is not None:
            a = vdso.symbol(name)
            if a is not None:
                return a + offset
        return None

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
            if addr is None:
                raise ValueError(f"{where}: no such address, symbol or label")
            b = Breakpoint(spec=where + suffix, address=addr, pid=pid)
            self._hook(addr, "bp")
        self._breakpoints_made += 1
        b.number = self._breakpoints_made
        self.breakpoints.append(b)
        return b

    def remove_breakpoint(self, b: Breakpoint) -> None:
        self.breakpoints.remove(b)
        if b.address is not None and not any(x.address == b.address for x in self.breakpoints):
            self._unhook(b.address, "bp")

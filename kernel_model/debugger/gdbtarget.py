"""What gdb's commands see of a stopped guest (the GdbSession of gdbcommands): a live
DebugSession's registers, memory, symbols, memory map and breakpoints, or, in a replay, only
what the recording kept (the registers, the code and stack words shown at that stop)."""

from __future__ import annotations

import bisect

from emu.machine import PROT_EXEC
from kernel_model.debugger.gdbvalues import GdbError
from kernel_model.proc.process import GUEST_PID


def _no_access(addr: int) -> GdbError:
    return GdbError(f"Cannot access memory at address {addr:#x}")


class SessionTarget:
    """A live DebugSession, read at its current position. `regs`, when given, are the
    registers the screen shows (the user's, at the trap, while a transition is walked)."""

    def __init__(self, session, *, att: bool = False, regs: dict | None = None):
        from kernel_model.debugger.view import symbolizer

        self.s = session
        self.bits = session.bits
        self.att = att
        self._regs = regs
        self.pid = session.system.process.pid
        self.sym = symbolizer(session)

    def regs(self) -> dict[str, int]:
        return dict(self._regs) if self._regs is not None else self.s.regs()

    def process_info(self) -> list[tuple[str, str]]:
        p = self.s.system.process
        return [("cmdline", " ".join(p.argv)), ("cwd", p.cwd), ("exe", p.exe_path)]

    def read(self, addr: int, size: int) -> bytes:
        mm = self.s.system.mm
        end = addr + size
        a = addr
        while a < end:  # every byte inside a mapping the process has (as ptrace reads)
            vma = mm.find(a)
            if vma is None or not vma.backed:
                raise _no_access(a)
            a = vma.end
        try:
            return self.s.machine.read(addr, size)
        except Exception:
            raise _no_access(addr) from None

    def symbol(self, addr: int) -> tuple[str, int] | None:
        return self.sym.symbol(addr, qualify=False)  # gdb prints `<puts+26>`

    def lookup(self, name: str) -> int | None:
        if not name or name[0].isdigit():
            return None
        return self.s.resolve(name)

    def is_code(self, addr: int) -> bool:
        vma = self.s.system.mm.find(addr)
        return vma is not None and bool(vma.prot & PROT_EXEC)

    def maps(self):
        out = []
        for v in self.s.system.mm.vmas:
            if getattr(v, "hidden", False):
                continue
            out.append((v.start, v.end, v.perms(), v.offset if v.inode else 0, v.name))
        return out

    def breakpoints(self) -> list:
        return list(self.s.breakpoints)

    def add_breakpoint(self, spec: str):
        return self.s.add_breakpoint(spec)

    def remove_breakpoint(self, b) -> None:
        self.s.remove_breakpoint(b)

    def syscall_number(self, name: str) -> int | None:
        from kernel_model.entry.abi import ABIS

        return ABIS[self.s.system.arch.name].number_of(name)

    def source_line(self, addr: int | None) -> tuple[str, int] | None:
        prog = self.s.program
        asm = prog.assembled if prog is not None else None
        if addr is None or asm is None or addr not in asm.lines:
            return None
        return asm.path.rsplit("/", 1)[-1], asm.lines[addr]


class ViewTarget:
    """A recorded stop (a StopView): no guest runs, so memory is only the code and stack
    words the stop showed; the rest is unreadable, as the message says."""

    def __init__(self, view, *, att: bool = False, breakpoints=()):
        self.v = view
        self.bits = view.bits
        self.att = att
        self.pid = GUEST_PID  # every run's guest has this pid
        self.bytes: dict[int, int] = {}
        word = view.bits // 8
        for c in view.code:
            for k, b in enumerate(c.raw):
                self.bytes[c.address + k] = b
        for s in view.stack:
            for k, b in enumerate(s.value.to_bytes(word, "little")):
                self.bytes[s.address + k] = b
        self.syms: dict[int, str] = {}
        for c in view.code:
            if c.label:
                self.syms[c.address] = c.label
        self.addrs = sorted(self.syms)

    def regs(self) -> dict[str, int]:
        return dict(self.v.regs)

    def process_info(self) -> list[tuple[str, str]]:
        return [("exe", self.v.program)]

    def read(self, addr: int, size: int) -> bytes:
        out = bytearray()
        for a in range(addr, addr + size):
            if a not in self.bytes:
                raise GdbError(f"Cannot access memory at address {a:#x} (a replay keeps "
                               "only the code and stack shown at each stop)")
            out.append(self.bytes[a])
        return bytes(out)

    def symbol(self, addr: int) -> tuple[str, int] | None:
        for c in self.v.code:
            if c.address == addr and c.where:
                name, _, off = c.where.rpartition("+") if "+0x" in c.where else (
                    c.where, "", "")
                if "@" in name and not name.endswith("@plt"):
                    name = name.split("@", 1)[0]  # gdb's `<puts+2>`, not the pane's qualified
                return name, int(off, 16) if off else 0
        i = bisect.bisect_right(self.addrs, addr) - 1
        if i >= 0 and addr - self.addrs[i] < 0x1000:
            return self.syms[self.addrs[i]], addr - self.addrs[i]
        return None

    def lookup(self, name: str) -> int | None:
        return next((a for a, n in self.syms.items() if n == name), None)

    def is_code(self, addr: int) -> bool:
        return any("x" in m.perms[:3] and m.start <= addr < m.end for m in self.v.maps)

    def maps(self):
        out = []
        for m in self.v.maps:
            fields = m.text.split()
            offset = int(fields[2], 16) if len(fields) > 2 else 0
            out.append((m.start, m.end, m.perms, offset, m.name))
        return out

    def breakpoints(self) -> list:
        return []

    def add_breakpoint(self, spec: str):
        raise ValueError("this is a replay: a breakpoint needs the running program "
                         "(syscall-lab tui)")

    def remove_breakpoint(self, b) -> None:
        pass

    def syscall_number(self, name: str) -> int | None:
        from kernel_model.entry.abi import ABIS

        return ABIS[self.v.arch].number_of(name) if self.v.arch in ABIS else None

    def source_line(self, addr) -> tuple[str, int] | None:
        return None


def target_for(session, view, *, att: bool = False):
    """The GdbSession for what the screen shows: a live session at its position (with the
    registers of the trap while a transition is walked), or a recorded stop."""
    regs = None
    if view is not None and view.walk is not None:
        phases = view.walk.transition.phases
        if view.walk.phase < len(phases) - 1:
            regs = view.walk.before.regs
    if hasattr(session, "machine"):
        return SessionTarget(session, att=att, regs=regs)
    shown = view.walk.before if regs is not None else view
    return ViewTarget(shown, att=att)

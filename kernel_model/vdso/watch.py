"""Watching calls into the vDSO, for the trace and the screen: a code hook on each time
function's first instruction (and, per call, one on its return address). The hooks cover
only those addresses, so code elsewhere runs at full speed; and they are installed only
when someone listens, so a plain `run` has none (KERNEL_FACTS §7)."""

from __future__ import annotations

import struct

from unicorn import x86_const as X

from kernel_model.entry.costs import cost_of
from kernel_model.trace import strace
from kernel_model.trace.events import SyscallReturned, VdsoCalled
from kernel_model.uapi.constants import enum_text
from kernel_model.vdso.call_watch import CallWatcher

# name -> (argument kinds, return kind): "clock", a struct name for an out pointer, "ptr",
# "cpu" (an unsigned int out pointer), "int".
SIGNATURES = {
    "__vdso_clock_gettime": (("clock", "timespec"), "int"),
    "__vdso_clock_gettime64": (("clock", "timespec64"), "int"),
    "__vdso_clock_getres": (("clock", "timespec"), "int"),
    "__vdso_gettimeofday": (("timeval", "timezone"), "int"),
    "__vdso_time": (("time",), "int"),
    "__vdso_getcpu": (("cpu", "cpu", "ptr"), "int"),
    "__vdso_getrandom": (("ptr", "int", "int", "ptr", "int"), "int"),
}


class _Reader:
    def __init__(self, machine):
        self.machine = machine

    def read(self, addr, size):
        return self.machine.read(addr, size)

    def read_cstring(self, addr, limit=4096):
        return self.machine.read_cstring(addr, limit)


class VdsoWatcher(CallWatcher):
    def __init__(self, machine, vdso, kernel):
        super().__init__(machine)
        self.kernel = kernel
        self.vdso = vdso
        self.bits = machine.arch.bits
        self.abi = machine.arch.name
        for name in SIGNATURES:
            addr = self.vdso.symbol(name)
            if addr is not None:
                self.watch_entry(addr, name)
        kernel.attach(self._on_event)

    def _args(self, n: int) -> tuple[int, ...]:
        m = self.machine
        if self.bits == 64:
            regs = (X.UC_X86_REG_RDI, X.UC_X86_REG_RSI, X.UC_X86_REG_RDX, X.UC_X86_REG_RCX,
                    X.UC_X86_REG_R8)
            return tuple(m.regs(regs[:n]))
        sp = m.sp
        return tuple(m.read_u32(sp + 4 + 4 * i) for i in range(n))

    def on_entry(self, name: str, pc: int) -> dict:
        kinds, _ = SIGNATURES[name]
        call = {"name": name, "args": self._args(len(kinds)), "fallback": ""}
        clock = call["args"][0] if kinds[0] == "clock" else None
        call["entry_text"] = enum_text("clock", clock, self.abi) if clock is not None else None
        return call

    def on_return(self, call: dict) -> None:
        m = self.machine
        ret_reg = X.UC_X86_REG_RAX if self.bits == 64 else X.UC_X86_REG_EAX
        ret = m.reg(ret_reg)
        ret = ret - (1 << self.bits) if ret >> (self.bits - 1) else ret
        kinds, _ = SIGNATURES[call["name"]]
        texts = [self._arg_text(kind, value, ret, call) for kind, value in
                 zip(kinds, call["args"], strict=True)]
        text = f"[vdso] {call['name']}({', '.join(texts)}) = {ret}"
        if call["fallback"]:
            text += f"  /* the vDSO fell back to the {call['fallback']} syscall */"
        cost = cost_of("vdso", self.bits)
        self.kernel.emit(VdsoCalled(call["name"], call["args"], ret, call["pc"],
                                    call["return_pc"], text, cost.ns, cost.source,
                                    call["fallback"]))

    def _arg_text(self, kind: str, value: int, ret: int, call: dict) -> str:
        mem = _Reader(self.machine)
        if kind == "clock":
            return call["entry_text"]
        if kind in ("int",):
            return str(value)
        if kind == "ptr":
            return strace.addr_text(value) if value else "NULL"
        if value == 0:
            return "NULL"
        if ret < 0:
            return strace.addr_text(value)
        if kind == "time":
            fmt = "<q" if self.bits == 64 else "<i"
            return f"[{struct.unpack(fmt, mem.read(value, struct.calcsize(fmt)))[0]}]"
        if kind == "cpu":
            return f"[{struct.unpack('<I', mem.read(value, 4))[0]}]"
        return strace.struct_text(kind, self.abi, mem, value)

    def _on_event(self, event) -> None:
        # A syscall made while inside a vDSO function is its fallback (a clock it cannot
        # serve): strace sees that one.
        if isinstance(event, SyscallReturned) and self.pending and self.vdso.contains(event.pc):
            self.pending[-1]["fallback"] = event.name or str(event.nr)

"""Watching calls into the vDSO, for the trace and the screen: a code hook on each time
function's first instruction (and, per call, one on its return address). The hooks cover
only those addresses, so code elsewhere runs at full speed; and they are installed only
when someone listens, so a plain `run` has none (docs/kernel_facts.md §7).

Each function is declared with the syscalls' argument kinds and decoded by the strace
decoder (kernel_model.trace.user_calls), so its line reads like the syscall's."""

from __future__ import annotations

from emu import registers as R
from kernel_model.entry.costs import cost_of
from kernel_model.entry.mechanism import Mechanism
from kernel_model.syscalls.argkinds import Enum, OutStruct, Ptr, UInt
from kernel_model.trace.events import SyscallReturned, VdsoCalled
from kernel_model.trace.lines import vdso_text
from kernel_model.trace.user_calls import CallInProgress, UserCallDef, call_text, entry_texts
from kernel_model.vdso.call_watch import CallWatcher


def _defs(*defs: UserCallDef) -> dict[str, UserCallDef]:
    return {d.name: d for d in defs}


SIGNATURES = _defs(
    UserCallDef("__vdso_clock_gettime", (Enum("clock"), OutStruct("timespec"))),
    UserCallDef("__vdso_clock_gettime64", (Enum("clock"), OutStruct("timespec64"))),
    UserCallDef("__vdso_clock_getres", (Enum("clock"), OutStruct("timespec"))),
    UserCallDef("__vdso_gettimeofday", (OutStruct("timeval"), OutStruct("timezone"))),
    UserCallDef("__vdso_time", (OutStruct("time_t"),)),
    UserCallDef("__vdso_getcpu", (OutStruct("uint"), OutStruct("uint"), Ptr())),
    # buffer, its length, flags, the opaque state and its length
    UserCallDef("__vdso_getrandom", (Ptr(), UInt(), UInt(), Ptr(), UInt())),
)


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
            regs = (R.RDI, R.RSI, R.RDX, R.RCX,
                    R.R8)
            return tuple(m.regs(regs[:n]))
        sp = m.sp
        return tuple(m.read_u32(sp + 4 + 4 * i) for i in range(n))

    def on_entry(self, name: str, pc: int) -> CallInProgress:
        sdef = SIGNATURES[name]
        args = self._args(len(sdef.args))
        return CallInProgress(name, args, pc,
                              entry_texts=entry_texts(sdef, self.abi, args, self.machine))

    def _ret(self) -> int:
        ret = self.machine.reg(R.RAX if self.bits == 64 else R.EAX)
        return ret - (1 << self.bits) if ret >> (self.bits - 1) else ret

    def line(self, call: CallInProgress, ret: int, *, fallback: bool = True) -> str:
        """The call's [vdso] line, had it returned `ret`."""
        sdef = SIGNATURES[call.name]
        text = call_text(sdef, self.abi, call.args, ret, self.machine, call.entry_texts)
        return vdso_text(sdef.name, text, ret, call.fallback if fallback else "")

    def pending_line(self, return_pc: int) -> str | None:
        """The line of the call in progress that returns to `return_pc`, were it to return
        now (a debugger titles its walk over the call with it, without the fallback note)."""
        call = next((c for c in reversed(self.pending) if c.return_pc == return_pc), None)
        return None if call is None else self.line(call, self._ret(), fallback=False)

    def on_return(self, call: CallInProgress) -> None:
        ret = self._ret()
        cost = cost_of(Mechanism.VDSO, self.bits)
        self.kernel.emit(VdsoCalled(call.name, call.args, ret, call.pc, call.return_pc,
                                           self.line(call, ret), cost.ns, cost.source,
                                           call.fallback))

    def _on_event(self, event) -> None:
        # A syscall made while inside a vDSO function is its fallback (a clock it cannot
        # serve): strace sees that one.
        if isinstance(event, SyscallReturned) and self.pending and self.vdso.contains(event.pc):
            self.pending[-1].fallback = event.name or str(event.nr)

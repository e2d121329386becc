"""What each way of crossing (or not crossing) costs on real hardware: modelled figures,
never the emulator's own speed. Each comes with its source (docs/kernel_facts.md §6: measured on a
2-vCPU Intel VM, Linux 6.18, mitigations on; the midpoint of the measured range)."""

from __future__ import annotations

from emu.records import Record
from kernel_model.entry.mechanism import Mechanism

MEASURED = "measured on Linux 6.18, 2-vCPU Intel VM, mitigations on (KERNEL_FACTS §6)"


class Cost(Record):
    _fields = ("ns", "low", "high", "source")
    ns: float
    low: float
    high: float
    source: str

    def __init__(self, ns: float, low: float, high: float, source: str) -> None:
        object.__setattr__(self, "ns", ns)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "source", source)

    def text(self) -> str:
        return f"~{self.ns:.0f} ns"


COSTS: dict[str, Cost] = {
    "syscall": Cost(136, 122, 149, f"x86-64 `syscall` getpid, 122-149 ns, {MEASURED}"),
    "int 0x80/64": Cost(554, 503, 605, f"`int 0x80` getpid from 64-bit code, 503-605 ns, "
                                        f"{MEASURED}"),
    "int 0x80": Cost(600, 540, 659, f"i386 `int 0x80` getpid, 540-659 ns, {MEASURED}; the "
                                    "slow part is the IRET back (~78 ns, LKML 2015)"),
    "sysenter": Cost(156, 146, 165, f"i386 `sysenter` via __kernel_vsyscall getpid, "
                                    f"146-165 ns, {MEASURED}"),
    "vdso": Cost(34, 30, 38, f"vDSO clock_gettime/gettimeofday on x86-64, 30-38 ns, {MEASURED}"),
    "vdso/32": Cost(42, 38, 47, f"vDSO clock_gettime on i386, 38-47 ns, {MEASURED}"),
    "vsyscall emulated": Cost(830, 765, 896, f"vsyscall gettimeofday under xonly emulation, "
                                             f"765-896 ns, {MEASURED}"),
    # Native vsyscall code is the same user-mode clock read as the vDSO's, so the same cost on
    # today's hardware (the ~500 ns of 2.6.18-era reports came from slow clock sources).
    "vsyscall native": Cost(34, 30, 38, "native vsyscall page: the same user-mode clock read "
                                        f"as the vDSO (30-38 ns, {MEASURED})"),
}

# A context switch between two processes on one CPU: saving one task's registers, schedule(),
# the CR3 write (a new address space: TLB entries of the old one are useless) and the other
# task's registers, TLS and return to user mode, without the syscall that led to it. A
# published figure, not measured on the VM of docs/kernel_facts.md §6: pinned pipe/futex
# ping-pong benchmarks in the style of lmbench's lat_ctx put one switch at ~1.2-1.5 us on
# 2010s Intel CPUs (Eli Bendersky, "Measuring context switching and memory overheads for
# Linux threads", 2018) and ~3-5 us on older ones (Benoit Sigoure, "How long does it take
# to make a context switch?", 2010). 2 us is the middle of that range; the caches and TLB
# the next task refills afterwards (often more) are not counted. A pipe ping-pong pinned to
# one CPU on the shared, loaded AMD EPYC VM syscall-lab is developed on gave ~6.5 us a
# switch (the upper end).
COSTS["context switch"] = Cost(2000, 1200, 5000, "a context switch between two processes "
                               "on one CPU, ~1.2-5 us: pinned pipe/futex ping-pong as lmbench "
                               "lat_ctx measures it (Bendersky 2018: ~1.2-1.5 us; Sigoure "
                               "2010: ~3-5 us)")
# Between two threads of one process the address space stays (no CR3 write, no TLB flush):
# the same benchmarks find a thread switch little cheaper, the kernel's path being the same
# (Bendersky 2018: ~1.2 us for threads vs ~1.5 us for processes).
COSTS["thread switch"] = Cost(1700, 1000, 4500, "a context switch between two threads of one "
                              "process, ~1-4.5 us: the same ping-pong between threads "
                              "(Bendersky 2018: a little cheaper than between processes, "
                              "no CR3 switch)")

# A raw clock_gettime syscall: the extra work of the handler itself (docs/kernel_facts.md §6).
RAW_CLOCK_GETTIME = Cost(180, 177, 184, f"x86-64 raw clock_gettime syscall, 177-184 ns, "
                                        f"{MEASURED}")


def cost_of(mechanism: str, guest_bits: int = 64) -> Cost:
    if mechanism == Mechanism.INT80 and guest_bits == 64:
        return COSTS["int 0x80/64"]
    if mechanism == Mechanism.VDSO and guest_bits == 32:
        return COSTS["vdso/32"]
    return COSTS[mechanism]

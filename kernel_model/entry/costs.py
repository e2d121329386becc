"""What each way of crossing (or not crossing) costs on real hardware: modelled figures,
never the emulator's own speed. Each comes with its source (docs/kernel_facts.md §6: measured on a
2-vCPU Intel VM, Linux 6.18, mitigations on; the midpoint of the measured range)."""

from __future__ import annotations

from dataclasses import dataclass

from kernel_model.entry.mechanism import Mechanism

MEASURED = "measured on Linux 6.18, 2-vCPU Intel VM, mitigations on (KERNEL_FACTS §6)"


@dataclass(frozen=True)
class Cost:
    ns: float
    low: float
    high: float
    source: str

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

# A raw clock_gettime syscall: the extra work of the handler itself (docs/kernel_facts.md §6).
RAW_CLOCK_GETTIME = Cost(180, 177, 184, f"x86-64 raw clock_gettime syscall, 177-184 ns, "
                                        f"{MEASURED}")


def cost_of(mechanism: str, guest_bits: int = 64) -> Cost:
    if mechanism == Mechanism.INT80 and guest_bits == 64:
        return COSTS["int 0x80/64"]
    if mechanism == Mechanism.VDSO and guest_bits == 32:
        return COSTS["vdso/32"]
    return COSTS[mechanism]

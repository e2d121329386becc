"""/proc/cpuinfo and /proc/meminfo (arch/x86/kernel/cpu/proc.c: show_cpuinfo;
fs/proc/meminfo.c: meminfo_proc_show), from the model's own machine.

cpuinfo describes the one CPU the model schedules on, with what that CPU's `cpuid` answers
(Unicorn's default model, emu/cpuid.py): vendor, family/model/stepping, brand string,
feature flags under Linux's names, address sizes. What no instruction tells (the clock
rate, caches, bogomips) is given as a fixed, plausible value for that model.

meminfo's RAM is the guest memory cap (--memory-limit), the same total sysinfo reports;
what is used is what every address space of the run maps plus the tmpfs pages, so
MemAvailable is what mmap can still get before ENOMEM."""

from __future__ import annotations

import struct

from emu.cpuid import cpuid

# Linux's names for CPUID feature bits (arch/x86/include/asm/cpufeatures.h), by (leaf,
# register) then bit. A name Linux hides from cpuinfo ("" in the header) is left out.
FLAG_NAMES: dict[tuple[int, str], dict[int, str]] = {
    (1, "edx"): dict(enumerate((
        "fpu vme de pse tsc msr pae mce cx8 apic - sep mtrr pge mca cmov pat pse36 pn "
        "clflush - dts acpi mmx fxsr sse sse2 ss ht tm ia64 pbe").split())),
    (0x80000001, "edx"): {11: "syscall", 19: "mp", 20: "nx", 22: "mmxext", 25: "fxsr_opt",
                          26: "pdpe1gb", 27: "rdtscp", 29: "lm", 30: "3dnowext",
                          31: "3dnow"},
    (1, "ecx"): dict(enumerate((
        "pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 cid sdbg fma cx16 xtpr "
        "pdcm - pcid dca sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave "
        "- avx f16c rdrand hypervisor").split())),
    (0x80000001, "ecx"): dict(enumerate((
        "lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw "
        "ibs xop skinit wdt - lwp fma4 tce - nodeid_msr - tbm topoext perfctr_core "
        "perfctr_nb - bpext ptsc perfctr_llc mwaitx").split())),
    (7, "ebx"): dict(enumerate((
        "fsgsbase tsc_adjust sgx bmi1 hle avx2 fdp_excptn_only smep bmi2 erms invpcid rtm "
        "cqm mpx_no_fpu_cs mpx rdt_a avx512f avx512dq rdseed adx smap avx512ifma "
        "pcommit clflushopt clwb intel_pt avx512pf avx512er avx512cd sha_ni avx512bw "
        "avx512vl").split())),
    (7, "ecx"): {1: "avx512vbmi", 2: "umip", 3: "pku", 4: "ospke", 5: "waitpkg",
                 6: "avx512_vbmi2", 8: "gfni", 9: "vaes", 10: "vpclmulqdq",
                 11: "avx512_vnni", 12: "avx512_bitalg", 14: "avx512_vpopcntdq",
                 16: "la57", 22: "rdpid"},
}
# cpufeatures.h names Linux shows for bits it keeps under other names, or never shows
_HIDDEN = {"-", "mpx_no_fpu_cs", "fdp_excptn_only", "cqm", "rdt_a", "mp", "pcommit"}
_REGS = {"eax": 0, "ebx": 1, "ecx": 2, "edx": 3}
# A fixed clock for the Haswell model: what Unicorn's brand string names, at 2.4 GHz.
CPU_MHZ = 2400.000


def cpu_flags() -> list[str]:
    top = cpuid(0)[0]
    top_ext = cpuid(0x80000000)[0]
    flags = []
    for (leaf, reg), names in FLAG_NAMES.items():
        if (leaf < 0x80000000 and leaf > top) or (leaf >= 0x80000000 and leaf > top_ext):
            continue
        value = cpuid(leaf)[_REGS[reg]]
        flags += [name for bit, name in sorted(names.items())
                  if value >> bit & 1 and name not in _HIDDEN]
    return flags


def _brand() -> str:
    raw = b"".join(struct.pack("<4I", *cpuid(leaf))
                   for leaf in (0x80000002, 0x80000003, 0x80000004))
    return raw.split(b"\0", 1)[0].decode("ascii", "replace").strip()


def _signature() -> tuple[int, int, int]:
    """(family, model, stepping) from CPUID.1:EAX, with the extended fields folded in
    (x86_family, x86_model)."""
    eax = cpuid(1)[0]
    family = eax >> 8 & 0xF
    model = eax >> 4 & 0xF
    if family == 0xF:
        family += eax >> 20 & 0xFF
    if family >= 6:
        model += (eax >> 16 & 0xF) << 4
    return family, model, eax & 0xF


def cpuinfo_text(cpus: int = 1) -> str:
    vendor = struct.pack("<3I", cpuid(0)[1], cpuid(0)[3], cpuid(0)[2]).decode("ascii",
                                                                            "replace")
    family, model, stepping = _signature()
    sizes = cpuid(0x80000008)[0] if cpuid(0x80000000)[0] >= 0x80000008 else 0x3028
    clflush = (cpuid(1)[1] >> 8 & 0xFF) * 8 or 64
    flags = " ".join(cpu_flags())
    blocks = []
    for n in range(cpus):
        blocks.append(
            f"processor\t: {n}\n"
            f"vendor_id\t: {vendor}\n"
            f"cpu family\t: {family}\n"
            f"model\t\t: {model}\n"
            f"model name\t: {_brand()}\n"
            f"stepping\t: {stepping}\n"
            "microcode\t: 0x1\n"
            f"cpu MHz\t\t: {CPU_MHZ:.3f}\n"
            "cache size\t: 16384 KB\n"
            "physical id\t: 0\n"
            f"siblings\t: {cpus}\n"
            f"core id\t\t: {n}\n"
            f"cpu cores\t: {cpus}\n"
            f"apicid\t\t: {n}\n"
            f"initial apicid\t: {n}\n"
            "fpu\t\t: yes\n"
            "fpu_exception\t: yes\n"
            f"cpuid level\t: {cpuid(0)[0]}\n"
            "wp\t\t: yes\n"
            f"flags\t\t: {flags}\n"
            "bugs\t\t: \n"
            f"bogomips\t: {2 * CPU_MHZ:.2f}\n"
            f"clflush size\t: {clflush}\n"
            f"cache_alignment\t: {clflush}\n"
            f"address sizes\t: {sizes & 0xFF} bits physical, {sizes >> 8 & 0xFF} bits "
            "virtual\n"
            "power management:\n"
            "\n")
    return "".join(blocks)


def memory_use(mm) -> tuple[int, int, int]:
    """(the cap, bytes mapped by every address space of the run, tmpfs bytes)."""
    pool = getattr(mm, "pool", [mm])
    mapped = sum(m.total for m in pool)
    shmem = sum(getattr(m, "outside", 0) for m in pool)
    return mm.limit, mapped, shmem


def meminfo_text(mm, resident: int = 0) -> str:
    """The lines of Linux 6.18's meminfo, in its order (an x86-64 kernel without highmem
    or CMA, with THP and zswap, as the host this was checked on builds it). `resident`:
    the bytes the run's processes have touched (Active/AnonPages)."""
    total, mapped, shmem = memory_use(mm)
    free = max(total - mapped - shmem, 0)
    anon = min(resident, total)
    lines = [
        ("MemTotal", total), ("MemFree", free), ("MemAvailable", free),
        ("Buffers", 0), ("Cached", shmem), ("SwapCached", 0),
        ("Active", anon + shmem), ("Inactive", 0),
        ("Active(anon)", anon + shmem), ("Inactive(anon)", 0),
        ("Active(file)", 0), ("Inactive(file)", 0),
        ("Unevictable", 0), ("Mlocked", 0), ("SwapTotal", 0), ("SwapFree", 0),
        ("Zswap", 0), ("Zswapped", 0), ("Dirty", 0), ("Writeback", 0),
        ("AnonPages", anon), ("Mapped", 0), ("Shmem", shmem), ("KReclaimable", 0),
        ("Slab", 0), ("SReclaimable", 0), ("SUnreclaim", 0), ("KernelStack", 0),
        ("PageTables", 0), ("SecPageTables", 0), ("NFS_Unstable", 0), ("Bounce", 0),
        ("WritebackTmp", 0), ("CommitLimit", total), ("Committed_AS", mapped + shmem),
        ("VmallocTotal", 34359738367 << 10), ("VmallocUsed", 0), ("VmallocChunk", 0),
        ("Percpu", 0), ("HardwareCorrupted", 0), ("AnonHugePages", 0),
        ("ShmemHugePages", 0), ("ShmemPmdMapped", 0), ("FileHugePages", 0),
        ("FilePmdMapped", 0), ("Balloon", 0),
    ]
    out = [f"{name + ':':<16}{size >> 10:8d} kB\n" for name, size in lines]
    out.append("HugePages_Total:       0\nHugePages_Free:        0\n"
               "HugePages_Rsvd:        0\nHugePages_Surp:        0\n")
    out.append(f"{'Hugepagesize:':<16}{2048:8d} kB\n{'Hugetlb:':<16}{0:8d} kB\n")
    out.append(f"{'DirectMap4k:':<16}{total >> 10:8d} kB\n")
    return "".join(out)


# -- the scheduler's counters: /proc/stat, /proc/uptime, /proc/loadavg -----------------------
USER_HZ = 100
FILESYSTEMS = ("rootfs", "proc", "devtmpfs", "tmpfs", "pipefs", "hostfs")


def _ticks(ns: int) -> int:
    return ns * USER_HZ // 1_000_000_000


def busy_ns(tasks) -> int:
    """The modelled CPU time of the tasks the table still holds (kernel_model.clock's
    INSN_PS per instruction): what the one CPU spent in user mode."""
    from kernel_model.clock import INSN_PS

    return sum(t.insns for t in tasks) * INSN_PS // 1000


def uptime_text(boot_ns: int, busy: int) -> str:
    """fs/proc/uptime.c: seconds since boot and the CPU's idle seconds, two decimals."""
    idle = max(boot_ns - busy, 0)
    return (f"{boot_ns // 10**9}.{boot_ns // 10**7 % 100:02d} "
            f"{idle // 10**9}.{idle // 10**7 % 100:02d}\n")


def loadavg_text(running: int, threads: int, last_pid: int) -> str:
    """fs/proc/loadavg.c. The model computes no load averages (sysinfo reports 0 too): the
    runnable and total task counts and the last pid given are its own."""
    return f"0.00 0.00 0.00 {running}/{threads} {last_pid}\n"


def stat_text(boot_ns: int, realtime_ns: int, tasks: list, forks: int) -> str:
    """fs/proc/stat.c for the model's one CPU: user time from the tasks' instructions,
    idle the rest of the time since boot; context switches, boot time, forks, runnable and
    blocked tasks from the scheduler."""
    user = _ticks(busy_ns(tasks))
    idle = max(_ticks(boot_ns) - user, 0)
    times = f"{user} 0 0 {idle} 0 0 0 0 0 0"
    switches = sum(t.nvcsw + t.nivcsw for t in tasks)
    running = sum(1 for t in tasks if t.state == "R")
    blocked = sum(1 for t in tasks if t.state == "S" and t.blocked is not None
                  and not t.blocked.interruptible)
    return (f"cpu  {times}\ncpu0 {times}\nintr 0\nctxt {switches}\n"
            f"btime {(realtime_ns - boot_ns) // 10**9}\nprocesses {forks}\n"
            f"procs_running {running}\nprocs_blocked {blocked}\n"
            "softirq 0 0 0 0 0 0 0 0 0 0 0\n")


def filesystems_text() -> str:
    """fs/filesystems.c: the types the model has, all without a block device."""
    return "".join(f"nodev\t{name}\n" for name in FILESYSTEMS)

"""Mapping the vDSO into a process (arch/x86/entry/vdso/vma.c, map_vdso): its data pages
([vvar], and since 6.13 [vvar_vclock]) then the image ([vdso]), contiguous, at an address
chosen like any mmap (top-down from the randomized mmap base). The kernel model keeps the
data current through the Timekeeper; i386 processes also learn where sysenter returns."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from emu.machine import PAGE, PROT_EXEC, PROT_READ, MemoryFault
from kernel_model.vdso.image import GETRANDOM_SINCE, VdsoImage, build_vdso
from kernel_model.vdso.vvar import CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, Timekeeper


@dataclass
class MappedVdso:
    image: VdsoImage
    base: int  # the image: AT_SYSINFO_EHDR
    vvar: int  # the data pages, right below
    timekeeper: Timekeeper
    write: Callable[[int, bytes], object]  # how the kernel writes the data page: straight
    # into its host buffer
    lock: threading.Lock  # the timer thread and the syscall path share the Timekeeper
    # The clock the kernel's handlers read once the vDSO is there (None: the run's own), and
    # where `sysenter` returns (i386: __kernel_vsyscall's landing pad).
    timeline: VdsoTimeline | None = None
    sysenter_landing_pad: int | None = None

    def symbol(self, name: str) -> int | None:
        offset = self.image.symbols.get(name)
        return None if offset is None else self.base + offset

    def contains(self, addr: int) -> bool:
        return self.base <= addr < self.base + len(self.image.data)

    def function_at(self, addr: int) -> str | None:
        return self.image.functions.get(addr - self.base)

    def tick(self) -> None:
        with self.lock:
            self.timekeeper.maybe_update(self.write, self.vvar)

    def share_with(self, machine) -> None:
        """A forked process's copy of the data page: the tick writes it too (on Linux all
        processes map the one vvar page)."""
        writers = self.write
        if isinstance(writers, _Fanout):
            writers.targets.append(machine.write_host)

    def share_at(self, machine, vvar: int) -> None:
        """Another process's copy of the data page, at `vvar` in its CPU (a forked one: the
        same place; a new image after execve: wherever its vDSO went): the tick writes it
        too, from this one timekeeper, so every process reads one timeline."""
        writers = self.write
        if not isinstance(writers, _Fanout):
            return
        if vvar == self.vvar:
            writers.targets.append(machine.write_host)
        else:
            writers.targets.append(_Moved(machine, vvar - self.vvar))

    def forget(self, machine) -> None:
        writers = self.write
        if isinstance(writers, _Fanout):
            writers.targets[:] = [w for w in writers.targets
                                  if getattr(w, "__self__", None) is not machine
                                  and getattr(w, "machine", None) is not machine]


class _Moved:
    """The data page's writer for a copy at another address (another process's vDSO)."""

    def __init__(self, machine, delta: int):
        self.machine = machine
        self.delta = delta

    def __call__(self, addr: int, data: bytes) -> None:
        self.machine.write_host(addr + self.delta, data)


class _Fanout:
    """The data page's writer: every machine that maps a copy of it."""

    def __init__(self, first):
        self.targets = [first]

    def __call__(self, addr: int, data: bytes) -> None:
        for write in list(self.targets):
            try:
                write(addr, data)
            except MemoryFault:
                pass  # a process that has just gone (the tick runs on its own thread)


class VdsoTimeline:
    """The clock the syscall handlers read once a vDSO is mapped: the Timekeeper's timeline,
    so a program mixing vDSO reads and syscalls never sees time go backwards between them."""

    def __init__(self, clock, keeper: Timekeeper, lock):
        self._clock = clock
        self._keeper = keeper
        self._lock = lock
        self.frozen = clock.frozen
        # A frozen or virtual clock is itself the one exact timeline for the precise clocks
        # (the data page follows it); only a real clock's readings go through the keeper.
        self.exact = clock.frozen or clock.virtual
        self.kind = clock.kind  # real, frozen or virtual: whether a sleep waits on the host

    def _now(self, clock_id: int) -> int:
        with self._lock:
            return self._keeper.now_ns(clock_id)

    def realtime_ns(self) -> int:
        return self._clock.realtime_ns() if self.exact else self._now(CLOCK_REALTIME)

    def monotonic_ns(self) -> int:
        return self._clock.monotonic_ns() if self.exact else self._now(CLOCK_MONOTONIC)

    def boottime_ns(self) -> int:
        return self._clock.boottime_ns() if self.exact else self._now(CLOCK_BOOTTIME)

    def cputime_ns(self) -> int:
        return self._clock.cputime_ns()

    def coarse_ns(self, clock_id: int) -> int:
        """The coarse clocks' base from the data page's last update: what the vDSO's
        do_coarse returns, so syscall and vDSO readings of them agree (vdso_test_correctness
        brackets a vDSO reading between two syscall ones)."""
        return self._clock.coarse_ns(clock_id) if self.frozen else self._now(clock_id)

    def sleep_ns(self, ns: int) -> None:
        self._clock.sleep_ns(ns)


def map_vdso(mm, arch, era, clock, share: MappedVdso | None = None) -> MappedVdso:
    """Map a vDSO into `mm`. With `share`, the first process's vDSO: this one's data page is
    kept by that one's timekeeper and tick (a process made by execve)."""
    image = build_vdso(arch.name, getrandom=era.version >= GETRANDOM_SINCE)
    size = image.vvar_size + len(image.data)
    start = mm.find_free(size)
    if start is None:
        raise MemoryError("no room for the vDSO")
    vvar = start
    base = start + image.vvar_size
    # The names /proc/self/maps shows for the data depend on the era; the bytes the vDSO
    # reads are at the same place in every era (a simplification: before 3.16 this data
    # lived in the kernel's fixmap, so those eras map it unlisted).
    layout = list(era.vvar_layout)
    pages = image.vvar_size // PAGE
    if sum(n for _, n in layout) != pages:
        layout = [(layout[0][0] if layout else "", pages)]
    at = vvar
    for name, n in layout:
        # Host-backed: the timer thread rewrites it while the CPU runs, as the kernel's
        # tick does on another CPU; readers rely on the seqlock, as in Linux.
        if name == "[vvar_vclock]":
            # The pvclock and Hyper-V clock pages: the model has neither paravirtual clock,
            # and Linux's vvar_vclock_fault() answers a read with SIGBUS then.
            mm.map(at, n * PAGE, PROT_READ, name=name, kind="vvar", backed=False)
        else:
            mm.map(at, n * PAGE, PROT_READ, name=name, kind="vvar", hidden=not name,
                   host_backed=True)
        at += n * PAGE
    mm.map(base, len(image.data), PROT_READ | PROT_EXEC, name="[vdso]", kind="vdso")
    mm.machine.write(base, image.data)
    if share is not None:
        share.share_at(mm.machine, vvar)
        with share.lock:
            share.timekeeper.update(share.write, share.vvar)
        mapped = MappedVdso(image, base, vvar, share.timekeeper, _Moved(mm.machine, 0),
                            share.lock, timeline=share.timeline)
        if arch.bits == 32:
            mapped.sysenter_landing_pad = mapped.symbol("int80_landing_pad")
        return mapped
    keeper = Timekeeper(clock)
    write = _Fanout(mm.machine.write_host)
    keeper.update(write, vvar)
    lock = threading.Lock()
    mapped = MappedVdso(image, base, vvar, keeper, write, lock)
    mapped.timeline = VdsoTimeline(clock, keeper, lock)
    # A frozen clock moves only when the guest sleeps, a virtual one at crossings (and
    # sleeps): refresh the page right then (at most once a tick, for a virtual one).
    clock.on_change.append(mapped.tick)
    if arch.bits == 32:
        mapped.sysenter_landing_pad = mapped.symbol("int80_landing_pad")
    return mapped

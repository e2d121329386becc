"""The vsyscall page as it was before Linux 3.1 (vsyscall=native): real code at the fixed
address, reading the kernel's time variables kept in the same page (the era's
vsyscall_gtod_data), with the same seqlock and rdtsc arithmetic as today's vDSO.

Layout: gettimeofday at +0x000, time at +0x400, getcpu at +0x800, data at +0xc00."""

from __future__ import annotations

import functools
import struct
import threading
import time
from pathlib import Path

VSYSCALL_ADDR = 0xFFFFFFFFFF600000
DATA = 0xC00
# Offsets in the data block (kept by the kernel model, read by the code: the same numbers
# are .set in vsyscall_native.s).
SEQ, CYCLE_LAST = 0, 8
DATA_SIZE = 56

SOURCE = Path(__file__).with_name("native.s")
ENTRIES = {"vgettimeofday": 0x000, "vtime": 0x400, "vgetcpu": 0x800}


@functools.lru_cache(maxsize=1)
def native_page() -> bytes:
    """The page: the three entry points, int3 filler, and room for the data."""
    from kernel_model.vdso.asm import assemble

    out = assemble(SOURCE.read_text(), str(SOURCE), 64, 0)
    for name, offset in ENTRIES.items():
        if out.labels[name] != offset:
            raise RuntimeError(f"{name} assembled at {out.labels[name]:#x}, not {offset:#x}")
    if len(out.code) > DATA:
        raise RuntimeError("the vsyscall code runs into its data")
    page = bytearray(b"\xcc" * 0x1000)
    page[:len(out.code)] = out.code
    page[DATA:DATA + DATA_SIZE] = bytes(DATA_SIZE)
    return bytes(page)


class NativeTimeData:
    """The kernel side: keeps the page's variables current from a Timekeeper (the same
    calibrated TSC timeline as the vDSO), under the page's seqlock, at each timer tick."""

    TICK_NS = 4_000_000

    def __init__(self, keeper, write):
        self.keeper = keeper
        self.write = write
        self.seq = 0
        self._last = 0
        self._last_virtual: int | None = None  # a virtual clock ticks on its own time
        self._lock = threading.Lock()  # the timer thread and a sleeping guest's syscall

    def tick(self) -> None:
        with self._lock:
            if self.keeper.virtual:
                now = self.keeper.clock.monotonic_ns()
                if self._last_virtual is None or now - self._last_virtual >= self.TICK_NS:
                    self.update(self.write)
            elif self.keeper.frozen or time.monotonic_ns() - self._last >= self.TICK_NS:
                self.update(self.write)

    def update(self, write) -> None:
        from kernel_model.vdso.vvar import CLOCK_REALTIME

        k = self.keeper
        k.advance()
        sec, snsec = k.clock_base(CLOCK_REALTIME)
        odd = self.seq + 1
        base = VSYSCALL_ADDR + DATA
        write(base + SEQ, struct.pack("<I", odd))
        write(base + CYCLE_LAST, struct.pack("<QQIIQQii", k.cycle_last, k.mask, k.mult,
                                             k.shift, sec, snsec, k.tz_minuteswest,
                                             k.tz_dsttime))
        self.seq = odd + 1
        write(base + SEQ, struct.pack("<I", self.seq))
        self._last = time.monotonic_ns()
        if k.virtual:
            self._last_virtual = k.clock.monotonic_ns()

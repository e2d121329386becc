"""Host memory behind guest memory: anonymous host mappings that Unicorn maps with
`mem_map_ptr`, so the host, not Unicorn, owns every guest byte.

Why: Unicorn copies a region it allocated itself when a munmap or mprotect splits it (a
900 MB untouched mapping split once cost 1.85 GB), and zeroing pages for MADV_DONTNEED
through Unicorn touches them all. Over host-owned memory a split copies nothing (measured
in bare Unicorn 2.1.4: the pieces keep pointing into the same host buffer), pages given back
are released with the host's own munmap/madvise, and untouched pages cost nothing.

A `Backing` records which host address backs each guest range: (guest start, guest end,
host address of the guest start). Ranges not currently mapped in Unicorn are released to
the host at once, so a range still recorded but not mapped is always untouched (zero): a
reservation (the stack's growth room) is such a range.
"""

from __future__ import annotations

import bisect
import ctypes
import mmap as _mmap
import os

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long)
_libc.munmap.restype = ctypes.c_int
_libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
_libc.madvise.restype = ctypes.c_int
_libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)

_MAP_FAILED = ctypes.c_void_p(-1).value
# NORESERVE: a guest's untouched gigabyte must not be charged against the host's commit limit.
_FLAGS = _mmap.MAP_PRIVATE | _mmap.MAP_ANONYMOUS | getattr(_mmap, "MAP_NORESERVE", 0x4000)
_PROT = _mmap.PROT_READ | _mmap.PROT_WRITE


class HostMemoryError(MemoryError):
    """The host refused anonymous memory (its address space or commit limit)."""


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def allocate(size: int) -> int:
    """Fresh zeroed host memory; returns its address."""
    addr = _libc.mmap(None, size, _PROT, _FLAGS, -1, 0)
    if addr is None or addr == _MAP_FAILED:
        raise HostMemoryError(f"the host refused {size} bytes of memory")
    # Transparent huge pages would make one touched page cost 2 MiB.
    _libc.madvise(addr, size, getattr(_mmap, "MADV_NOHUGEPAGE", 15))
    return addr


def release(addr: int, size: int) -> None:
    _check(_libc.munmap(addr, size), "munmap")


def zero(addr: int, size: int) -> None:
    """Give the pages back to the host; they read as zeros afterwards (private anonymous
    memory under MADV_DONTNEED), and cost nothing until touched again."""
    _check(_libc.madvise(addr, size, _mmap.MADV_DONTNEED), "madvise")


class Backing:
    """Which host address backs each guest address, for the ranges that have one.

    A reservation (the stack's growth room) stays for the life of the process: giving a
    part of it back zeroes the host pages instead of unmapping them, so the stack's pieces
    always sit at one host range and can be joined into one Unicorn region (even after
    the TUI's history has rebuilt them)."""

    def __init__(self):
        self._starts: list[int] = []
        # (guest start, guest end, host address of the guest start, reserved)
        self._ranges: list[tuple[int, int, int, bool]] = []

    def _insert(self, start: int, end: int, host: int, reserved: bool) -> None:
        i = bisect.bisect_left(self._starts, start)
        self._starts.insert(i, start)
        self._ranges.insert(i, (start, end, host, reserved))

    def reserve(self, start: int, end: int) -> None:
        self.remove(start, end)
        self._insert(start, end, allocate(end - start), True)

    def find(self, start: int, end: int) -> int | None:
        """The host address of `start` when one backing range holds all of [start, end)."""
        i = bisect.bisect_right(self._starts, start) - 1
        if i >= 0:
            s, e, host, _r = self._ranges[i]
            if s <= start and end <= e:
                return host + (start - s)
        return None

    def pieces(self, start: int, end: int) -> list[tuple[int, int, int]]:
        """(guest start, guest end, host address) of the backed parts of [start, end)."""
        i = max(bisect.bisect_right(self._starts, start) - 1, 0)
        out = []
        for s, e, host, _r in self._ranges[i:]:
            if s >= end:
                break
            lo, hi = max(s, start), min(e, end)
            if lo < hi:
                out.append((lo, hi, host + (lo - s)))
        return out

    def cover(self, start: int, end: int) -> list[tuple[int, int, int]]:
        """Pieces backing all of [start, end): the reservations' memory where they reach,
        fresh host memory for the rest."""
        out = []
        at = start
        for lo, hi, host in self.pieces(start, end) + [(end, end, 0)]:
            if at < lo:
                fresh = allocate(lo - at)
                self._insert(at, lo, fresh, False)
                out.append((at, lo, fresh))
            if lo < hi:
                out.append((lo, hi, host))
            at = hi
        return out

    def remove(self, start: int, end: int) -> None:
        """Give the host memory behind [start, end) back: unmapped, or zeroed inside a
        reservation."""
        kept = []
        for s, e, host, reserved in self._ranges:
            lo, hi = max(s, start), min(e, end)
            if lo >= hi:
                kept.append((s, e, host, reserved))
                continue
            if reserved:
                zero(host + (lo - s), hi - lo)
                kept.append((s, e, host, reserved))
                continue
            release(host + (lo - s), hi - lo)
            if s < lo:
                kept.append((s, lo, host, False))
            if hi < e:
                kept.append((hi, e, host + (hi - s), False))
        self._ranges = kept
        self._starts = [r[0] for r in kept]

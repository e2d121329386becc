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

A range may instead lie in a `SharedBlock`: host memory that several Backings map at once
(MAP_SHARED memory a fork hands down, a System V shared memory segment). Such a range is
never copied, zeroed or released by one Backing: a fork maps the same host pages, and the
block goes back to the host when its last holder lets go.
"""

from __future__ import annotations

import bisect
import ctypes
import mmap as _mmap
import os
import re

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


class SharedBlock:
    """Host memory more than one address space maps. Its holders (Backings that map part
    of it, and an owner such as a SysV segment) are counted; the last to let go releases
    it. Which ranges are shared is read from their host addresses (`block_at`), so a
    split, a move or a fork needs no other record."""

    def __init__(self, size: int):
        self.size = size
        self.host = allocate(size)
        self._holders: set[object] = set()
        bisect.insort(_BLOCKS, (self.host, self.host + size, self), key=lambda b: b[0])

    def __deepcopy__(self, memo) -> SharedBlock:
        # A handle to host memory: a copy of the kernel's state (the debugger's history)
        # must name the same block, never a second owner of the same pages.
        return self

    def __copy__(self) -> SharedBlock:
        return self

    def hold(self, holder: object) -> None:
        """`holder`: a hashable name for who holds it (a Backing's id, "segment")."""
        self._holders.add(holder)

    def drop(self, holder: object) -> None:
        self._holders.discard(holder)
        if not self._holders and self.host:
            _BLOCKS.remove((self.host, self.host + self.size, self))
            release(self.host, self.size)
            self.host = 0


# Every live SharedBlock, by host address: (start, end, block).
_BLOCKS: list[tuple[int, int, SharedBlock]] = []


def block_at(host: int) -> SharedBlock | None:
    """The SharedBlock holding this host address, if any."""
    if not _BLOCKS:
        return None  # the common case, on fork's and exit's fast paths
    i = bisect.bisect_right(_BLOCKS, host, key=lambda b: b[0]) - 1
    if i >= 0 and _BLOCKS[i][0] <= host < _BLOCKS[i][1]:
        return _BLOCKS[i][2]
    return None


class Backing:
    """Which host address backs each guest address, for the ranges that have one.

    A reservation (the stack's growth room) stays for the life of the process: giving a
    part of it back zeroes the host pages instead of unmapping them, so the stack's pieces
    always sit at one host range and can be joined into one Unicorn region (even after
    the TUI's history has rebuilt them)."""

    def __init__(self):
        # (guest start, guest end, host address of the guest start, reserved), sorted; the
        # starts beside them. Replaced whole, never changed in place: the timer thread reads
        # them (Machine.write_host) while the CPU's thread maps and unmaps.
        self._state: tuple[list[int], list[tuple[int, int, int, bool]]] = ([], [])

    def _set(self, ranges: list[tuple[int, int, int, bool]]) -> None:
        self._state = ([r[0] for r in ranges], ranges)

    def _insert(self, start: int, end: int, host: int, reserved: bool) -> None:
        starts, ranges = self._state
        i = bisect.bisect_left(starts, start)
        self._set(ranges[:i] + [(start, end, host, reserved)] + ranges[i:])

    def reserve(self, start: int, end: int) -> None:
        """Host memory for the parts of [start, end) that have none yet, kept for good."""
        for lo, hi in self._gaps(start, end):
            self._insert(lo, hi, allocate(hi - lo), True)

    def _gaps(self, start: int, end: int) -> list[tuple[int, int]]:
        gaps, at = [], start
        for lo, hi, _host in self.pieces(start, end) + [(end, end, 0)]:
            if at < lo:
                gaps.append((at, lo))
            at = max(at, hi)
        return gaps

    def find(self, start: int, end: int) -> int | None:
        """The host address of `start` when one backing range holds all of [start, end)."""
        starts, ranges = self._state
        i = bisect.bisect_right(starts, start) - 1
        if i >= 0:
            s, e, host, _r = ranges[i]
            if s <= start and end <= e:
                return host + (start - s)
        return None

    @property
    def state(self) -> object:
        """An object that stays the same (`is`) exactly as long as the records do."""
        return self._state

    def range_of(self, addr: int) -> tuple[int, int, int] | None:
        """(guest start, guest end, host address) of the range holding addr, if any: mapped
        by the CPU, or a reservation's room (whose pages the CPU has not mapped are zeros)."""
        starts, ranges = self._state
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0:
            s, e, host, _reserved = ranges[i]
            if s <= addr < e:
                return s, e, host
        return None

    def pieces(self, start: int, end: int) -> list[tuple[int, int, int]]:
        """(guest start, guest end, host address) of the backed parts of [start, end)."""
        starts, ranges = self._state
        i = max(bisect.bisect_right(starts, start) - 1, 0)
        out = []
        for s, e, host, _r in ranges[i:]:
            if s >= end:
                break
            lo, hi = max(s, start), min(e, end)
            if lo < hi:
                out.append((lo, hi, host + (lo - s)))
        return out

    def cover(self, start: int, end: int, room_end: int = 0
              ) -> list[tuple[int, int, int, bool]]:
        """(guest start, guest end, host address, fresh) pieces backing all of [start, end):
        the reservations' memory where they reach, fresh host memory for the rest. With
        room_end, fresh memory that ends at `end` comes with a reservation up to room_end (or
        the next backed range) right after it in the host too, for the range to grow into."""
        gaps = self._gaps(start, end)
        for lo, hi in gaps:
            extra = 0
            if hi == end and room_end > end:
                starts, _ranges = self._state
                i = bisect.bisect_left(starts, end)
                extra = min(room_end, starts[i] if i < len(starts) else room_end) - end
            host = allocate(hi - lo + extra)
            self._insert(lo, hi, host, False)
            if extra > 0:
                self._insert(hi, hi + extra, host + (hi - lo), True)
        fresh = {lo for lo, _hi in gaps}
        return [(lo, hi, host, lo in fresh) for lo, hi, host in self.pieces(start, end)]

    def contiguous(self, start: int, end: int) -> int | None:
        """The host address of `start` when [start, end) is backed by one stretch of host
        memory (whatever the records), so it can be one Unicorn region."""
        pieces = self.pieces(start, end)
        if not pieces or pieces[0][0] != start or pieces[-1][1] != end:
            return None
        for (lo, hi, host), (lo2, _hi2, host2) in zip(pieces, pieces[1:], strict=False):
            if lo2 != hi or host2 != host + (hi - lo):
                return None
        return pieces[0][2]

    def detach(self, start: int, end: int) -> list[tuple[int, int, int]] | None:
        """Take the host memory behind [start, end) out of the records, unreleased, for
        `attach` at another guest address (mremap's move). None, and nothing changed, when
        part of it is a reservation's (it stays where it is) or has no backing."""
        pieces = self.pieces(start, end)
        if sum(hi - lo for lo, hi, _h in pieces) != end - start or any(
                r[3] for r in self._state[1] if r[0] < end and start < r[1]):
            return None
        kept = []
        for s, e, host, reserved in self._state[1]:
            lo, hi = max(s, start), min(e, end)
            if lo >= hi:
                kept.append((s, e, host, reserved))
                continue
            if s < lo:
                kept.append((s, lo, host, False))
            if hi < e:
                kept.append((hi, e, host + (hi - s), False))
        self._set(kept)
        return pieces

    def attach(self, start: int, end: int, host: int) -> None:
        self._insert(start, end, host, False)

    def remove(self, start: int, end: int) -> None:
        """Give the host memory behind [start, end) back: unmapped, or zeroed inside a
        reservation."""
        kept = []
        blocks = []
        for s, e, host, reserved in self._state[1]:
            lo, hi = max(s, start), min(e, end)
            if lo >= hi:
                kept.append((s, e, host, reserved))
                continue
            if reserved:
                zero(host + (lo - s), hi - lo)
                kept.append((s, e, host, reserved))
                continue
            block = block_at(host)
            if block is None:
                release(host + (lo - s), hi - lo)
            else:
                blocks.append(block)  # the other holders still map it
            if s < lo:
                kept.append((s, lo, host, False))
            if hi < e:
                kept.append((hi, e, host + (hi - s), False))
        self._set(kept)
        for block in blocks:
            self._let_go(block)

    def _let_go(self, block: SharedBlock) -> None:
        """Drop this Backing's hold on `block` once none of its ranges lies in it."""
        if not any(block_at(host) is block for _s, _e, host, _r in self._state[1]):
            block.drop(id(self))

    def map_shared(self, start: int, end: int, block: SharedBlock, offset: int = 0) -> int:
        """Record [start, end) as backed by `block` from `offset` (nothing else may back
        any of it); returns the host address of `start`."""
        host = block.host + offset
        self._insert(start, end, host, False)
        block.hold(id(self))
        return host

    def reserved_in(self, start: int, end: int) -> bool:
        """Whether part of [start, end) is a reservation's (which stays where it is)."""
        return any(r[3] for r in self._state[1] if r[0] < end and start < r[1])

    def has_shared(self) -> bool:
        if not _BLOCKS:
            return False  # the common case, on fork's fast path
        return any(block_at(host) is not None for _s, _e, host, _r in self._state[1])

    def drop_shared(self) -> list[tuple[int, int]]:
        """Forget every shared range (a CPU kept for reuse must not keep another process's
        memory alive); returns the guest ranges, for the caller to unmap."""
        if not _BLOCKS:
            return []
        gone, kept, blocks = [], [], set()
        for s, e, host, reserved in self._state[1]:
            block = block_at(host)
            if block is None:
                kept.append((s, e, host, reserved))
            else:
                gone.append((s, e))
                blocks.add(block)
        self._set(kept)
        for block in blocks:
            block.drop(id(self))
        return gone

    def copy_into(self, other: Backing) -> int:
        """Give `other` (a new, empty Backing) a private copy of every range, reservations
        included, at the same guest addresses (fork). Returns the bytes copied."""
        copied = 0
        ranges = []
        shared = bool(_BLOCKS)
        for s, e, host, reserved in self._state[1]:
            block = block_at(host) if shared else None
            if block is not None:  # MAP_SHARED or a SysV segment: the child maps the same
                block.hold(id(other))
                ranges.append((s, e, host, reserved))
                continue
            new = allocate(e - s)
            copied += copy_touched(host, new, e - s)
            ranges.append((s, e, new, reserved))
        other._set(ranges)
        return copied

    def copy_over(self, source: Backing) -> bool:
        """Copy `source`'s touched pages into this Backing's own memory when both have the
        same ranges (a spare CPU forked again from a parent of the same layout); False, and
        nothing done, when they differ."""
        ranges = self._state[1]
        theirs = source._state[1]
        if [(s, e, r) for s, e, _h, r in ranges] != [(s, e, r) for s, e, _h, r in theirs]:
            return False
        if self.has_shared() or source.has_shared():
            return False  # shared pages are mapped, not copied: the full path does that
        for (s, e, host, _r), (_s, _e, src, _r2) in zip(ranges, theirs, strict=True):
            zero(host, e - s)
            copy_touched(src, host, e - s)
        return True

    def zero_all(self) -> None:
        """Every range reads as zeros again and costs the host nothing until touched."""
        shared = bool(_BLOCKS)
        for s, e, host, _reserved in self._state[1]:
            if not shared or block_at(host) is None:
                zero(host, e - s)

    def release_all(self) -> None:
        """Give everything back (the machine is gone: nothing maps it any more)."""
        ranges = self._state[1]
        self._set([])
        for s, e, host, _reserved in ranges:
            block = block_at(host)
            if block is None:
                release(host, e - s)
            else:
                block.drop(id(self))


_HOST_PAGE = _mmap.PAGESIZE



def resident_bytes(addr: int, size: int) -> int:
    """How much of [addr, addr+size) the guest has touched (in RAM or swap)."""
    touched = _touched_pages(addr, size)
    if touched is None:
        return size
    return touched.count(1) * _HOST_PAGE


def copy_touched(src: int, dst: int, size: int) -> int:
    """Copy the pages of [src, src+size) the guest has touched into fresh memory at dst (a
    fork's eager copy). A page never touched is neither in RAM nor in swap (the host's
    /proc/self/pagemap says so) and reads as zero, which dst's fresh pages already are: it
    is skipped, so a child costs only what its parent really used. Returns the bytes
    copied. Without pagemap, everything is copied."""
    touched = _touched_pages(src, size)
    if touched is None:
        ctypes.memmove(dst, src, size)
        return size
    copied = 0
    for run in _RUN.finditer(touched):
        lo, hi = run.start() * _HOST_PAGE, min(run.end() * _HOST_PAGE, size)
        ctypes.memmove(dst + lo, src + lo, hi - lo)
        copied += hi - lo
    return copied


# pagemap's entry per page: bit 63 present in RAM, bit 62 in swap (the top byte's 0xC0).
_TOUCHED = bytes(1 if b & 0xC0 else 0 for b in range(256))
_RUN = re.compile(rb"\x01+")
_pagemap_fd: list[int] = []


def resident(backing: Backing, start: int, end: int) -> bytes:
    """mincore's answer for [start, end): one byte per page, 1 where the host has the page
    (the guest touched it, or the kernel model filled it), 0 where it was never touched or
    was given back (MADV_DONTNEED). Without pagemap every backed page counts as resident."""
    out = bytearray((end - start) // _HOST_PAGE)
    for lo, hi, host in backing.pieces(start, end):
        touched = _touched_pages(host, hi - lo)
        first = (lo - start) // _HOST_PAGE
        out[first:first + (hi - lo) // _HOST_PAGE] = touched if touched is not None \
            else b"\x01" * ((hi - lo) // _HOST_PAGE)
    return bytes(out)


def _touched_pages(addr: int, size: int) -> bytes | None:
    """One byte per page of [addr, addr+size): 1 if the page is in RAM or swap."""
    if not _pagemap_fd:
        try:
            _pagemap_fd.append(os.open("/proc/self/pagemap", os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            _pagemap_fd.append(-1)
    fd = _pagemap_fd[0]
    if fd < 0:
        return None
    pages = (size + _HOST_PAGE - 1) // _HOST_PAGE
    try:
        data = os.pread(fd, pages * 8, addr // _HOST_PAGE * 8)
    except OSError:
        return None
    if len(data) != pages * 8:
        return None
    return data[7::8].translate(_TOUCHED)

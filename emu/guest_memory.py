"""A machine's guest memory: mapping over host memory it owns (emu/hostmem.py), protection,
moving and discarding pages, and reading and writing guest bytes. A part of `Machine`."""

from __future__ import annotations

import ctypes
import struct
from typing import TYPE_CHECKING

import unicorn
from unicorn import UcError

from emu import hostmem
from emu.uclib import mem_read as _mem_read
from emu.uclib import mem_write as _mem_write

if TYPE_CHECKING:
    from collections.abc import Callable

    from emu.arch import Arch

PAGE = 0x1000

PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC = 0, 1, 2, 4  # same bits as Unicorn's UC_PROT_*


class MemoryFault(Exception):
    """A guest address the machine could not read or write."""

    def __init__(self, addr: int, size: int, write: bool):
        kind = "write" if write else "read"
        super().__init__(f"bad guest address {addr:#x} ({size} bytes, {kind})")
        self.addr = addr
        self.size = size
        self.write = write


def page_down(addr: int) -> int:
    return addr & ~(PAGE - 1)


def page_up(addr: int) -> int:
    return (addr + PAGE - 1) & ~(PAGE - 1)


class GuestMemory:
    """The memory methods of `Machine`, which sets these attributes."""

    arch: Arch
    uc: unicorn.Uc
    backing: hostmem.Backing
    _h: int  # the engine handle (uc._uch)
    _word: ctypes.c_uint64
    _word_ref: object  # ctypes.byref(_word)
    execute_only: set[int]  # pages mapped PROT_EXEC alone, for the TLB fill (emu/tlb.py)

    def map(self, addr: int, size: int, prot: int, *, room: int = 0) -> None:
        """Map [addr, addr+size) over host memory this process owns (emu/hostmem.py): a
        reservation's when one holds the range (the stack's growth room), fresh otherwise.
        room: bytes above the range to reserve too, where nothing is, for a mapping that
        will grow up into them (the heap), so its pieces can become one region."""
        end = addr + size
        room_end = 0
        if room:
            above = [b for b, _e, _p in self.uc.mem_regions() if b >= end]
            room_end = min([end + room, *above])
        pieces = self.backing.cover(addr, end, room_end)
        done = []
        try:
            for lo, hi, host, _fresh in pieces:
                self.uc.mem_map_ptr(lo, hi - lo, prot, host)
                done.append((lo, hi))
        except UcError:
            # Undo only this call's work: a reservation's pages stay (and stay untouched).
            for lo, hi in done:
                self.uc.mem_unmap(lo, hi - lo)
            for lo, hi, _host, fresh in pieces:
                if fresh:
                    self.backing.remove(lo, hi)
            raise
        self._note_execute_only(addr, end, prot)
        self._coalesce(addr)

    def map_host(self, addr: int, size: int, prot: int) -> None:
        """Guest memory another host thread may change while the CPU runs, as another CPU
        would (the kernel's timer tick updating the vDSO's data) through `write_host`:
        Unicorn's own mem_write is not for use during emulation, and stopping the CPU to
        write is not safe either (see System._run_segment). Every mapping is host memory
        now, so this is `map`; the name says why the caller needs it."""
        self.map(addr, size, prot)

    def share(self, addr: int, size: int, block: hostmem.SharedBlock | None = None,
              offset: int = 0) -> None:
        """Back the mapped range [addr, addr+size) with `block`'s host memory from
        `offset` (a new block when None) instead of its own, keeping its protection:
        memory other address spaces map too (MAP_SHARED across a fork, a SysV segment).
        ValueError, and nothing changed, inside a reservation (the stack's room stays
        private)."""
        end = addr + size
        if self.backing.reserved_in(addr, end):
            raise ValueError(f"{addr:#x}: a reservation's memory cannot be shared")
        if block is None:
            block = hostmem.SharedBlock(size)
        regions = [(max(b, addr), min(e + 1, end), p) for b, e, p in self.uc.mem_regions()
                   if b < end and addr <= e]
        self.uc.mem_unmap(addr, size)
        self.backing.remove(addr, end)
        host = self.backing.map_shared(addr, end, block, offset)
        for lo, hi, prot in regions:
            self.uc.mem_map_ptr(lo, hi - lo, prot, host + (lo - addr))

    def reserve(self, addr: int, size: int) -> None:
        """Host memory for a range that later `map` calls will take piece by piece (the
        stack's growth room): untouched, it costs the host nothing, and pieces of it next
        to each other can become one Unicorn region again."""
        self.backing.reserve(addr, addr + size)

    def write_host(self, addr: int, data: bytes) -> None:
        """Write into guest memory straight through its host memory, from any thread."""
        host = self.backing.contiguous(addr, addr + len(data))
        if host is None:
            raise MemoryFault(addr, len(data), True)
        ctypes.memmove(host, data, len(data))

    def flush_tlb(self) -> None:
        """Forget every cached translation. Unicorn 2.1.4 caches one for a page whose
        protection a ranged hook (hook_protected) has just refused, so the same access
        would get through the next time (measured on the GDT page)."""
        self.uc.ctl(unicorn.UC_CTL_TLB_FLUSH, unicorn.UC_CTL_IO_WRITE)

    def _note_execute_only(self, start: int, end: int, prot: int) -> None:
        """Keep `execute_only` (the pages the TLB fill gives fetches alone) as [start, end)
        now is: PROT_EXEC alone, or anything else."""
        pages = self.execute_only
        if pages:
            pages.difference_update([p for p in pages if start <= p < end])
        if prot == unicorn.UC_PROT_EXEC:
            pages.update(range(start, end, PAGE))

    def unmap(self, addr: int, size: int) -> None:
        # Unicorn splits a mem_map_ptr region without copying; the host pages go back now.
        self.uc.mem_unmap(addr, size)
        self._note_execute_only(addr, addr + size, 0)
        self.backing.remove(addr, addr + size)

    def move(self, old: int, size: int, new: int) -> None:
        """Move mapped pages to a free range (mremap), each with its protection: the host
        memory goes with them, nothing is copied (a reservation's pages are copied: they
        stay where the stack will want them)."""
        end = old + size
        regions = [(max(b, old), min(e + 1, end), p) for b, e, p in self.uc.mem_regions()
                   if b < end and old <= e]
        pieces = self.backing.detach(old, end)
        if pieces is None:
            data = self.read(old, size)
            self.unmap(old, size)
            for lo, hi, prot in regions:
                self.map(lo - old + new, hi - lo, prot)
            self.write(new, data)
            return
        self.uc.mem_unmap(old, size)
        for lo, hi, host in pieces:
            self.backing.attach(lo - old + new, hi - old + new, host)
        for lo, hi, prot in regions:
            one = self.backing.contiguous(lo - old + new, hi - old + new)
            if one is None:  # pieces of two host ranges: one region each
                for plo, phi, phost in self.backing.pieces(lo - old + new, hi - old + new):
                    self.uc.mem_map_ptr(plo, phi - plo, prot, phost)
            else:
                self.uc.mem_map_ptr(lo - old + new, hi - lo, prot, one)
        self._coalesce(new)

    def protect(self, addr: int, size: int, prot: int) -> None:
        self.uc.mem_protect(addr, size, prot)
        self._note_execute_only(addr, addr + size, prot)
        self._coalesce(addr)

    def discard(self, addr: int, size: int, *, keep_shared: bool = False) -> None:
        """MADV_DONTNEED on private anonymous memory: the pages read back as zeros, and the
        host gets them back instead of having them all written. keep_shared: pages of a
        SharedBlock keep their bytes (madvise on shared memory drops a process's view,
        not the data); without it they are zeroed too (restoring a saved state)."""
        end = addr + size
        done = addr
        for lo, hi, host in self.backing.pieces(addr, end):
            if lo > done:
                self.write(done, bytes(lo - done))
            if not keep_shared or hostmem.block_at(host) is None:
                hostmem.zero(host, hi - lo)
            done = hi
        if done < end:
            self.write(done, bytes(end - done))
        if any(b <= end - 1 and addr <= e and p & PROT_EXEC for b, e, p in
               self.uc.mem_regions()):
            # Code translated from the old bytes must not run again (the host wrote them).
            self.uc.ctl_remove_cache(addr, end)

    # Unicorn keeps the regions that splits leave (a growing stack adds one each fault),
    # and mapping gets slower with every region (~0.5 ms at 2,000). Pieces of one host
    # range with the same protection are joined again once there are this many: unmapping
    # costs ~13 ns a page, so joining rarely keeps the cost per piece small.
    COALESCE_AT = 8

    def _coalesce(self, addr: int) -> None:
        regions = sorted(self.uc.mem_regions())
        i = next((j for j, r in enumerate(regions) if r[0] <= addr <= r[1]), None)
        if i is None:
            return
        host = self.backing.find

        def joins(a, b) -> bool:
            """Neighbours with one protection, over one stretch of host memory."""
            if a[1] + 1 != b[0] or a[2] != b[2]:
                return False
            ha, hb = host(a[1], a[1] + 1), host(b[0], b[0] + 1)
            return ha is not None and hb == ha + 1

        lo = hi = i
        while lo > 0 and joins(regions[lo - 1], regions[lo]):
            lo -= 1
        while hi + 1 < len(regions) and joins(regions[hi], regions[hi + 1]):
            hi += 1
        if hi - lo + 1 >= self.COALESCE_AT:
            start, end = regions[lo][0], regions[hi][1] + 1
            self.uc.mem_unmap(start, end - start)
            self.uc.mem_map_ptr(start, end - start, regions[i][2], host(start, start + 1))

    def read(self, addr: int, size: int) -> bytes:
        if size == 0:
            return b""
        try:
            return bytes(self.uc.mem_read(addr, size))
        except UcError:
            raise MemoryFault(addr, size, False) from None

    def write(self, addr: int, data: bytes) -> None:
        if not data:
            return
        # Straight through ctypes: the binding's mem_write costs ~1 us more a call, and the
        # syscall paths write their results here.
        if _mem_write(self._h, addr, data if type(data) is bytes else bytes(data), len(data)):
            raise MemoryFault(addr, len(data), True)

    def read_snapshot(self, addr: int, size: int) -> bytes:
        """Mapped bytes whatever their protection (for saving the machine's state): one
        copy straight from the host memory behind them, where Unicorn's mem_read makes two."""
        host = self.backing.contiguous(addr, addr + size)
        if host is None:
            return bytes(self.uc.mem_read(addr, size))
        return ctypes.string_at(host, size)

    def read_u32(self, addr: int) -> int:
        # Straight into a ctypes word: the binding's mem_read costs ~2 us more.
        word = self._word
        word.value = 0
        if _mem_read(self._h, addr, self._word_ref, 4):
            raise MemoryFault(addr, 4, False)
        return word.value

    def read_u64(self, addr: int) -> int:
        word = self._word
        if _mem_read(self._h, addr, self._word_ref, 8):
            raise MemoryFault(addr, 8, False)
        return word.value

    def word_reader(self, size: int) -> Callable[[int], int]:
        """read_u32 (size 4) or read_u64 (8) for a trap path that reads about the same place
        on every call (sysenter's arg6, the vsyscall's return address, both on the stack):
        straight from the host memory behind it, the range found last kept for as long as
        the mappings stay as they are (~0.3 us a read against ~1.5 us through Unicorn).
        Unlike read_u32, a word in a reservation's room the CPU has not mapped reads as 0
        (its host pages are zeros) instead of raising MemoryFault: for callers that treat
        an unreadable word as 0, or have checked the address is mapped."""
        unpack = struct.Struct("<I" if size == 4 else "<Q").unpack_from
        slow = self.read_u32 if size == 4 else self.read_u64
        backing = self.backing
        # The range found last: the records' state then, guest start, end - size, its bytes.
        state, lo, last_start, view = None, 0, -1, memoryview(b"")

        def read(addr: int) -> int:
            nonlocal state, lo, last_start, view
            if lo <= addr <= last_start and backing.state is state:
                return unpack(view, addr - lo)[0]
            found = backing.range_of(addr)
            if found is None or addr + size > found[1]:
                return slow(addr)  # no host memory, or a word across two ranges
            lo, hi, host = found
            state, last_start = backing.state, hi - size
            view = memoryview((ctypes.c_ubyte * (hi - lo)).from_address(host))
            return unpack(view, addr - lo)[0]

        return read

    def read_word(self, addr: int) -> int:
        return self.read_u64(addr) if self.arch.bits == 64 else self.read_u32(addr)

    def write_word(self, addr: int, value: int) -> None:
        fmt = "<Q" if self.arch.bits == 64 else "<I"
        self.write(addr, struct.pack(fmt, value & self.arch.mask))

    def read_cstring(self, addr: int, limit: int = 4096) -> bytes:
        """Bytes up to (not including) the first NUL, reading page by page."""
        out = bytearray()
        while len(out) < limit:
            chunk_len = min(PAGE - (addr & (PAGE - 1)), limit - len(out))
            chunk = self.read(addr, chunk_len)
            nul = chunk.find(b"\0")
            if nul >= 0:
                out += chunk[:nul]
                return bytes(out)
            out += chunk
            addr += chunk_len
        return bytes(out)

    def resident(self, addr: int, size: int) -> bytes | None:
        """One byte per guest page of [addr, addr+size) (page-aligned): 1 where the page
        has been touched (its host page is in RAM or swap), 0 where it still reads as
        untouched zero; None when the host cannot tell (no /proc/self/pagemap)."""
        out = bytearray(size // PAGE)
        for lo, hi, host in self.backing.pieces(addr, addr + size):
            touched = hostmem._touched_pages(host, hi - lo)
            if touched is None:
                return None
            first = (lo - addr) // PAGE
            out[first:first + len(touched)] = touched
        return bytes(out)

    def regions(self):
        """(begin, end_inclusive, prot) of everything Unicorn has mapped."""
        return list(self.uc.mem_regions())

"""The process's address space as the kernel sees it: a sorted list of VMAs, each with
permissions and a name, kept in step with what the machine has mapped. /proc/self/maps,
mmap placement, brk and the memory cap all read it."""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field, replace

from emu.machine import PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, Machine, page_down, page_up

DEFAULT_MEMORY_LIMIT = 1 << 30
STACK_GUARD_GAP = 256 * PAGE  # mm/mmap.c stack_guard_gap: no mapping this close below a stack


@dataclass(frozen=True)
class Vma:
    start: int
    end: int
    prot: int
    name: str = ""  # a path, "[heap]", "[stack]", "[vdso]", ... or "" for anonymous
    offset: int = 0
    dev: tuple[int, int] = (0, 0)
    inode: int = 0
    shared: bool = False
    kind: str = "anon"  # for the screen: "code", "data", "heap", "stack", "vdso", "vvar", ...
    grows_down: bool = False
    hidden: bool = False  # mapped but not listed (an era kept this data in the fixmap)
    backed: bool = True  # False: listed, but every access faults (the xonly vsyscall page)
    maywrite: bool = True  # VM_MAYWRITE: False for a shared mapping of a read-only fd
    locked: bool = False  # VM_LOCKED (mlock): not inherited by a fork's child
    dontfork: bool = False  # VM_DONTCOPY (MADV_DONTFORK): not in a fork's child
    wipeonfork: bool = False  # VM_WIPEONFORK: zero in a fork's child
    # The pages of a file mapping wholly past the end of its file: listed as part of the
    # mapping before them (Linux has one VMA), never mapped in the CPU, and an access the
    # permissions allow is SIGBUS (filemap_fault: the page index is past i_size).
    past_eof: bool = False
    # The open file behind a shared file mapping (Linux's vm_file): msync and munmap write
    # the mapping's bytes back through it.
    file: object | None = field(default=None, compare=False)

    @property
    def size(self) -> int:
        return self.end - self.start

    def perms(self) -> str:
        return (
            ("r" if self.prot & PROT_READ else "-")
            + ("w" if self.prot & PROT_WRITE else "-")
            + ("x" if self.prot & PROT_EXEC else "-")
            + ("s" if self.shared else "p")
        )

    def maps_line(self) -> str:
        """One line of /proc/self/maps, formatted as fs/proc/task_mmu.c does: the header
        padded to 72 columns (a 64-bit kernel, also for i386 processes) before the name."""
        # Only file-backed mappings show an offset: an anonymous one prints 0 (task_mmu.c).
        offset = self.offset if self.inode else 0
        head = (
            f"{self.start:08x}-{self.end:08x} {self.perms()} {offset:08x} "
            f"{self.dev[0]:02x}:{self.dev[1]:02x} {self.inode} "
        )
        if not self.name:
            return head
        return head.ljust(72) + " " + self.name


class OutOfMemory(Exception):
    pass


def cpu_prot(prot: int) -> int:
    """What an x86 page with these VMA permissions lets the CPU do: its page tables cannot
    make a page writable or executable but not readable (without protection keys), so a
    PROT_WRITE or PROT_EXEC mapping reads too, for the program and for copy_from_user;
    /proc/self/maps still shows the VMA's own permissions."""
    return prot | PROT_READ if prot & (PROT_WRITE | PROT_EXEC) else prot


class Mm:
    def __init__(self, machine: Machine, *, mmap_base: int, mmap_min: int = 0x10000,
                 limit: int = DEFAULT_MEMORY_LIMIT):
        self.machine = machine
        self.vmas: list[Vma] = []
        self.mmap_base = mmap_base
        self.mmap_min = mmap_min
        self.limit = limit
        # Bytes the cap counts beyond the mappings: /tmp's pages (files/tmpfs.TmpBudget).
        self.outside = 0
        self.peak = 0  # the most ever mapped at once (Linux's hiwater_vm)
        self.start_brk = 0
        self.brk = 0
        self.stack_top = 0
        # Pages outside the VMA list that the kernel model itself uses (the GDT page): never
        # handed out by mmap.
        self.reserved: list[tuple[int, int]] = []
        # Every live address space of the run (fork adds its copies): the cap counts them
        # all together.
        self.pool: list[Mm] = [self]
        # Inode numbers of the shmem files behind shared anonymous mappings: one sequence
        # for the run (fork's copy shares the counter, as the kernel's shm mount is one).
        self._shmem_inodes = itertools.count(1)
        # mlockall(MCL_FUTURE): mm->def_flags' VM_LOCKED, which every new mapping takes.
        self.lock_future = False

    def next_shmem_inode(self) -> int:
        return next(self._shmem_inodes)

    def others(self) -> int:
        """What the run's other address spaces use, against the cap."""
        return sum(m.total + m.outside for m in self.pool if m is not self)

    def copy_for(self, machine: Machine) -> Mm:
        """fork's copy of this address space's bookkeeping, over the copied machine."""
        import copy

        mm = copy.copy(self)
        mm.machine = machine
        mm.vmas = list(self.vmas)
        mm.reserved = list(self.reserved)
        mm.outside = 0  # /tmp's pages are the run's, counted once
        self.pool.append(mm)
        # dup_mmap: VM_DONTCOPY ranges are left out, VM_WIPEONFORK ones start empty, and
        # mlock's VM_LOCKED is the parent's alone.
        for v in list(mm.vmas):
            if v.dontfork:
                mm.unmap(v.start, v.size)
            elif v.wipeonfork:
                machine.discard(v.start, v.size)
        mm.vmas = [replace(v, locked=False) if v.locked else v for v in mm.vmas]
        mm.lock_future = False
        mm._merge_all()
        return mm

    def set_flags(self, start: int, end: int, **flags) -> None:
        """Set VMA flags (locked, dontfork, wipeonfork) on the mapped parts of [start,
        end), splitting VMAs at the edges as Linux's madvise and mlock do."""
        out: list[Vma] = []
        for v in self.vmas:
            if v.end <= start or v.start >= end:
                out.append(v)
                continue
            lo, hi = max(v.start, start), min(v.end, end)
            if v.start < lo:
                out.append(replace(v, end=lo))
            out.append(replace(v, start=lo, end=hi, offset=v.offset + (lo - v.start), **flags))
            if hi < v.end:
                out.append(replace(v, start=hi, offset=v.offset + (hi - v.start)))
        self.vmas = out
        self._merge_all()

    def release(self) -> None:
        """The address space is gone: the cap no longer counts it."""
        if self in self.pool:
            self.pool.remove(self)

    # -- queries -----------------------------------------------------------------
    @property
    def total(self) -> int:
        return sum(v.size for v in self.vmas)

    def find(self, addr: int) -> Vma | None:
        # Bisected by key: no list of every start built per lookup (every pointer check).
        i = bisect.bisect_right(self.vmas, addr, key=_start) - 1
        if i >= 0 and self.vmas[i].start <= addr < self.vmas[i].end:
            return self.vmas[i]
        return None

    def is_accessible(self, addr: int, size: int, prot: int) -> bool:
        """Whether [addr, addr+size) is mapped with at least `prot` throughout (as the CPU
        sees it: see cpu_prot), and not a page every access to faults (the xonly vsyscall
        page, which the CPU has an execute-only page for, but nothing may read)."""
        end = addr + size
        while addr < end:
            v = self.find(addr)
            if v is None or not v.backed or (cpu_prot(v.prot) & prot) != prot:
                return False
            addr = v.end
        return True

    def is_free(self, start: int, end: int) -> bool:
        if any(s < end and start < e for s, e in self.reserved):
            return False
        return all(v.end <= start or v.start >= end for v in self.vmas)

    def maps_text(self) -> str:
        return "".join(v.maps_line() + "\n" for v in self.listed())

    def listed(self) -> list[Vma]:
        """The VMAs as Linux lists them: a file mapping's pages past the end of its file
        joined to the mapping they continue; hidden ones left out."""
        out: list[Vma] = []
        for v in self.vmas:
            if v.hidden:
                continue
            p = out[-1] if out else None
            if v.past_eof and p is not None and p.end == v.start and p.inode == v.inode \
                    and p.dev == v.dev and p.prot == v.prot and p.shared == v.shared \
                    and p.offset + p.size == v.offset:
                out[-1] = replace(p, end=v.end)
            else:
                out.append(v)
        return out

    # -- changes -----------------------------------------------------------------
    def map(self, start: int, size: int, prot: int, *, host_backed: bool = False,
            grow_room: int = 0, **attrs) -> Vma:
        """Map [start, start+size) (page-aligned), replacing anything there (MAP_FIXED).
        host_backed: memory another host thread may write while the CPU runs.
        grow_room: host memory to keep ready above it (Machine.map's room: the heap)."""
        size = page_up(size)
        end = start + size
        overlap = sum(min(v.end, end) - max(v.start, start) for v in self.vmas
                      if v.start < end and start < v.end)
        if self.total - overlap + size + self.outside + self.others() > self.limit:
            raise OutOfMemory
        self.unmap(start, size)
        if not attrs.get("backed", True):
            pass  # the kernel knows the range; the CPU may not touch it
        elif host_backed:
            self.machine.map_host(start, size, cpu_prot(prot))
        else:
            self.machine.map(start, size, cpu_prot(prot), room=grow_room)
        if self.lock_future:
            attrs.setdefault("locked", True)
        vma = Vma(start, end, prot, **attrs)
        bisect.insort(self.vmas, vma, key=lambda v: v.start)
        self._merge_around(vma)
        self.peak = max(self.peak, self.total)  # hiwater_vm: /proc/<pid>/status's VmPeak
        return vma

    def unmap(self, start: int, size: int) -> None:
        end = start + page_up(size)
        kept: list[Vma] = []
        for v in self.vmas:
            if v.end <= start or v.start >= end:
                kept.append(v)
                continue
            lo, hi = max(v.start, start), min(v.end, end)
            if v.backed:
                self.machine.unmap(lo, hi - lo)
            if v.start < lo:
                kept.append(replace(v, end=lo))
            if hi < v.end:
                kept.append(replace(v, start=hi, offset=v.offset + (hi - v.start)))
        self.vmas = sorted(kept, key=lambda v: v.start)

    def move(self, old: int, old_size: int, new: int, new_size: int) -> None:
        """mremap's move of [old, old+old_size) to [new, new+new_size), which is free: the
        pages go with their VMAs (no copy); the part beyond old_size is new and zero, with
        the last VMA's attributes."""
        old_end = old + old_size
        if self.total + new_size - old_size + self.others() > self.limit:
            raise OutOfMemory
        self.machine.move(old, old_size, new)
        kept: list[Vma] = []
        last = None
        for v in self.vmas:
            if v.end <= old or v.start >= old_end:
                kept.append(v)
                continue
            lo, hi = max(v.start, old), min(v.end, old_end)
            if v.start < lo:
                kept.append(replace(v, end=lo))
            if hi < v.end:
                kept.append(replace(v, start=hi, offset=v.offset + (hi - v.start)))
            last = replace(v, start=lo - old + new, end=hi - old + new,
                           offset=v.offset + (lo - v.start))
            kept.append(last)
        if new_size > old_size and last is not None:
            self.machine.map(new + old_size, new_size - old_size, cpu_prot(last.prot))
            kept.append(replace(last, start=last.end, end=new + new_size,
                                offset=last.offset + last.size))
        self.vmas = sorted(kept, key=lambda v: v.start)
        self._merge_all()
        self.peak = max(self.peak, self.total)

    def protect(self, start: int, size: int, prot: int) -> bool:
        """mprotect: False when part of the range is not mapped (ENOMEM). As in
        do_mprotect_pkey, the VMAs from `start` up to the first hole are changed all the
        same; nothing is when `start` itself is not mapped."""
        end = start + page_up(size)
        reach = start
        while reach < end and (v := self.find(reach)) is not None:
            reach = v.end
        complete = reach >= end
        end = min(end, reach)
        if end <= start:
            return False
        out: list[Vma] = []
        for v in self.vmas:
            if v.end <= start or v.start >= end:
                out.append(v)
                continue
            lo, hi = max(v.start, start), min(v.end, end)
            if v.start < lo:
                out.append(replace(v, end=lo))
            out.append(replace(v, start=lo, end=hi, prot=prot, offset=v.offset + (lo - v.start)))
            if hi < v.end:
                out.append(replace(v, start=hi, offset=v.offset + (hi - v.start)))
            if v.backed:
                self.machine.protect(lo, hi - lo, cpu_prot(prot))
        self.vmas = sorted(out, key=lambda v: v.start)
        self._merge_all()
        return complete

    def find_free(self, size: int, hint: int = 0, task_size: int = 1 << 64) -> int | None:
        """Top-down search below mmap_base, as Linux's default allocator does. A hint is
        taken where x86's arch_get_unmapped_area_topdown takes it: rounded down to its
        page, raised to mmap_min (do_mmap's round_hint_to_min), ending at or below
        TASK_SIZE, free, and clear of a stack's guard gap; otherwise it is ignored."""
        size = page_up(size)
        hint = page_down(hint)
        if hint:
            hint = max(hint, page_up(self.mmap_min))
            end = hint + size
            if end <= task_size and self.is_free(hint, end) and not any(
                    v.grows_down and hint < v.start < end + STACK_GUARD_GAP
                    for v in self.vmas):
                return hint
        top = self.mmap_base
        busy = sorted([(v.start, v.end) for v in self.vmas] + self.reserved, reverse=True)
        for s, e in busy:
            if e > top:
                top = min(top, s)
                continue
            if top - e >= size:
                return top - size
            top = min(top, s)
        if top - size >= self.mmap_min:
            return top - size
        return None

    def find_free_between(self, size: int, low: int, high: int) -> int | None:
        """The lowest free range of `size` bytes in [low, high) (a bottom-up search)."""
        size = page_up(size)
        start = low
        for s, e in sorted([(v.start, v.end) for v in self.vmas] + self.reserved):
            if e <= start:
                continue
            if s - start >= size:
                break
            start = max(start, e)
        return start if start + size <= high else None

    def _merge_around(self, vma: Vma) -> None:
        self._merge_all()

    def _merge_all(self) -> None:
        """Adjacent anonymous VMAs with identical attributes become one, as in Linux."""
        merged: list[Vma] = []
        for v in self.vmas:
            p = merged[-1] if merged else None
            if (p is not None and p.end == v.start and p.prot == v.prot and p.name == v.name
                    and p.kind == v.kind and p.inode == 0 and v.inode == 0
                    and p.shared == v.shared and p.grows_down == v.grows_down
                    and p.maywrite == v.maywrite and p.locked == v.locked
                    and p.dontfork == v.dontfork and p.wipeonfork == v.wipeonfork):
                merged[-1] = replace(p, end=v.end)
            else:
                merged.append(v)
        self.vmas = merged




def _start(vma: Vma) -> int:
    return vma.start

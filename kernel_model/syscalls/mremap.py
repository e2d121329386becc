"""mremap (mm/mremap.c): shrink in place, grow in place when the pages above are free, else
move (MREMAP_MAYMOVE), to a chosen address (MREMAP_FIXED), or move and leave the old range
mapped and empty (MREMAP_DONTUNMAP, Linux 5.7+)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from emu.machine import PAGE, page_up
from kernel_model.memory.mm import OutOfMemory, Vma
from kernel_model.syscalls.argkinds import Flags, Ptr, UInt
from kernel_model.syscalls.memory import task_size
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP = 1, 2, 4
DONTUNMAP_SINCE = (5, 7)  # and for any mapping, not only private anonymous, since 5.13
DONTUNMAP_ANY_SINCE = (5, 13)


def _known_flags(k: SyscallContext) -> int:
    known = MREMAP_MAYMOVE | MREMAP_FIXED
    return known | MREMAP_DONTUNMAP if k.version >= DONTUNMAP_SINCE else known


def _private_anonymous(v: Vma) -> bool:
    return not v.shared and v.inode == 0 and v.kind not in ("vdso", "vvar", "vsyscall")


@syscall("mremap", Ptr(), UInt(), UInt(), Flags("mremap"), Ptr(), ret="hex")
def sys_mremap(k: SyscallContext, old, old_size, new_size, flags, new_addr):
    """The checks in the order of check_mremap_params and its callers (6.18)."""
    mm = k.process.mm
    limit = task_size(k)
    if flags & ~_known_flags(k):
        return -errnos.EINVAL
    if flags & MREMAP_FIXED and not flags & MREMAP_MAYMOVE:
        return -errnos.EINVAL
    if flags & MREMAP_DONTUNMAP and (not flags & MREMAP_MAYMOVE or old_size != new_size):
        return -errnos.EINVAL
    if old % PAGE:
        return -errnos.EINVAL
    old_size, new_size = page_up(old_size), page_up(new_size)
    if new_size == 0:
        return -errnos.EINVAL
    # With DONTUNMAP the fifth argument is a hint even without MREMAP_FIXED (mremap_to),
    # so it must be aligned too: glibc's variadic wrapper passes whatever the register held.
    if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) and new_addr % PAGE:
        return -errnos.EINVAL
    if flags & MREMAP_FIXED:
        if new_size > limit or new_addr > limit - new_size:
            return -errnos.EINVAL
        if old + old_size > new_addr and new_addr + new_size > old:
            return -errnos.EINVAL  # source and destination overlap
    vma = mm.find(old)
    if vma is None or old + old_size > limit or not mm.is_accessible(old, old_size, 0):
        return -errnos.EFAULT
    if old_size == 0:
        # A shared mapping can be duplicated this way (a second view of the same pages).
        if not vma.shared or not flags & MREMAP_MAYMOVE:
            return -errnos.EINVAL
        k.note("mremap with old_size 0 (a second view of a shared mapping) is not modelled")
        return -errnos.ENOMEM
    if flags & MREMAP_DONTUNMAP:
        if vma.kind in ("vdso", "vvar"):
            return -errnos.EINVAL  # VM_DONTEXPAND|VM_PFNMAP special mappings
        if k.version < DONTUNMAP_ANY_SINCE and not _private_anonymous(vma):
            return -errnos.EINVAL
    if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP):
        return _move_to(k, old, old_size, new_size, new_addr, flags)
    if new_size <= old_size:
        if new_size < old_size:
            mm.unmap(old + new_size, old_size - new_size)
        return old
    last = mm.find(old + old_size - PAGE) or vma
    if old + new_size <= limit and mm.is_free(old + old_size, old + new_size):
        try:
            mm.map(old + old_size, new_size - old_size, last.prot, name=last.name,
                   offset=last.offset + (old + old_size - last.start), dev=last.dev,
                   inode=last.inode, kind=last.kind, shared=last.shared,
                   maywrite=last.maywrite)
        except OutOfMemory:
            return -errnos.ENOMEM
        return old
    if not flags & MREMAP_MAYMOVE:
        return -errnos.ENOMEM
    start = mm.find_free(new_size, 0, limit)
    if start is None:
        return -errnos.ENOMEM
    return _move(k, old, old_size, new_size, start)


def _move_to(k: SyscallContext, old: int, old_size: int, new_size: int, new_addr: int,
             flags: int) -> int:
    """mremap_to: to new_addr (MREMAP_FIXED: whatever was there goes) or, with DONTUNMAP
    alone, wherever there is room (new_addr a hint). DONTUNMAP leaves the old range
    mapped: private anonymous pages read as zeros, as after MADV_DONTNEED."""
    mm = k.process.mm
    if flags & MREMAP_FIXED:
        mm.unmap(new_addr, new_size)
        start = new_addr
    else:
        found = mm.find_free(new_size, new_addr, task_size(k))
        if found is None:
            return -errnos.ENOMEM
        start = found
    left = [replace(v, start=max(v.start, old), end=min(v.end, old + old_size))
            for v in mm.vmas if v.start < old + old_size and old < v.end]
    copied = flags & MREMAP_DONTUNMAP and any(not _private_anonymous(v) for v in left)
    kept = k.read(old, old_size) if copied else b""
    moved = _move(k, old, old_size, new_size, start)
    if moved < 0 or not flags & MREMAP_DONTUNMAP:
        return moved
    for v in left:
        mm.map(v.start, v.size, v.prot, name=v.name, offset=v.offset, dev=v.dev,
               inode=v.inode, kind=v.kind, shared=v.shared, maywrite=v.maywrite)
        if not _private_anonymous(v):
            # Linux's old range still maps the same object: a shared mapping's pages, or
            # the file's for a private file mapping. The model gives it a copy.
            k.populate(v.start, kept[v.start - old:v.end - old])
    if copied:
        k.note("MREMAP_DONTUNMAP: the old range of a shared or file mapping gets a copy of "
               "its pages, not the same pages")
    return moved


def _move(k: SyscallContext, old: int, old_size: int, new_size: int, start: int) -> int:
    mm = k.process.mm
    if new_size < old_size:  # only MREMAP_FIXED moves and shrinks at once
        mm.unmap(old + new_size, old_size - new_size)
        old_size = new_size
    try:
        mm.move(old, old_size, start, new_size)  # the pages move; nothing is copied
    except OutOfMemory:
        return -errnos.ENOMEM
    return start

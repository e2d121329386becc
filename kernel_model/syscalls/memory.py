"""Memory syscalls (mm/mmap.c, mm/mprotect.c, mm/mremap.c, mm/madvise.c): the address
space is the kernel model's VMA list, kept in step with the machine."""

from __future__ import annotations

from emu.machine import PAGE, page_up
from kernel_model import errnos
from kernel_model.argkinds import Enum, Fd, Flags, Hex, Ptr, UInt
from kernel_model.mm import OutOfMemory
from kernel_model.registry import syscall

PROT_MASK = 0x7
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x01, 0x02, 0x10, 0x20
MAP_32BIT, MAP_GROWSDOWN, MAP_FIXED_NOREPLACE = 0x40, 0x100, 0x100000
MREMAP_MAYMOVE, MREMAP_FIXED = 1, 2
HEAP_ROOM_MAX = 64 << 20


def _do_mmap(k, addr, length, prot, flags, fd, offset):
    if length == 0:
        return -errnos.EINVAL
    size = page_up(length)
    if size == 0 or size > k.abi.mask:
        return -errnos.ENOMEM
    if offset % PAGE:
        return -errnos.EINVAL
    if not flags & (MAP_SHARED | MAP_PRIVATE):
        return -errnos.EINVAL
    mm = k.process.mm
    anonymous = bool(flags & MAP_ANONYMOUS)
    file_data = b""
    name = ""
    if not anonymous:
        opened = k.process.fds.get(fd) if k.process.fds else None
        if opened is None:
            return -errnos.EBADF
        data = opened.mmap_bytes() if hasattr(opened, "mmap_bytes") else None
        if data is None:
            k.note("mmap of this kind of file is not modelled")
            return -errnos.ENODEV
        file_data = data[offset:offset + size]
        name = getattr(opened, "guest_path", "") or ""
    if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
        if addr % PAGE:
            return -errnos.EINVAL
        if flags & MAP_FIXED_NOREPLACE and not flags & MAP_FIXED and not mm.is_free(addr,
                                                                                     addr + size):
            return -errnos.EEXIST
        if addr + size > _task_size(k) or any(s < addr + size and addr < e for s, e in
                                              mm.reserved):
            return -errnos.ENOMEM
        start = addr
    else:
        start = mm.find_free(size, addr)
        if start is None:
            return -errnos.ENOMEM
    try:
        mm.map(start, size, prot & PROT_MASK, name=name, offset=offset,
               shared=bool(flags & MAP_SHARED), kind="file" if name else "anon")
    except OutOfMemory:
        k.note(f"syscall-lab's guest memory cap ({mm.limit >> 20} MiB) is reached")
        return -errnos.ENOMEM
    if file_data:
        k.machine.write(start, file_data)
    return start


def _task_size(k) -> int:
    return 0x7FFFFFFFF000 if k.abi.bits == 64 and k.machine.arch.bits == 64 else 0xFFFFE000


@syscall("mmap", Ptr(), UInt(), Flags("prot"), Flags("map"), Fd(), Hex(), ret="hex",
         abi="x86_64")
def sys_mmap(k, addr, length, prot, flags, fd, offset):
    return _do_mmap(k, addr, length, prot, flags, fd, offset)


@syscall("mmap2", Ptr(), UInt(), Flags("prot"), Flags("map"), Fd(), Hex(), ret="hex")
def sys_mmap2(k, addr, length, prot, flags, fd, pgoffset):
    return _do_mmap(k, addr, length, prot, flags, fd, pgoffset * PAGE)


@syscall("mmap", Ptr(), ret="hex", abi="i386")
def sys_old_mmap(k, argp):
    """i386's original mmap takes one pointer to six words (struct mmap_arg_struct)."""
    words = [int.from_bytes(k.read(argp + 4 * i, 4), "little") for i in range(6)]
    return _do_mmap(k, *words)


@syscall("munmap", Ptr(), UInt())
def sys_munmap(k, addr, length):
    if addr % PAGE or length == 0:
        return -errnos.EINVAL
    k.process.mm.unmap(addr, page_up(length))
    return 0


@syscall("mprotect", Ptr(), UInt(), Flags("prot"))
def sys_mprotect(k, addr, length, prot):
    if addr % PAGE or prot & ~(PROT_MASK | 0x01000000 | 0x02000000):
        return -errnos.EINVAL
    if length == 0:
        return 0
    return 0 if k.process.mm.protect(addr, page_up(length), prot & PROT_MASK) else -errnos.ENOMEM


@syscall("madvise", Ptr(), UInt(), Enum("madvise"))
def sys_madvise(k, addr, length, advice):
    if addr % PAGE:
        return -errnos.EINVAL
    mm = k.process.mm
    if length and not mm.is_accessible(addr, page_up(length), 0):
        return -errnos.ENOMEM
    if advice == 4:  # MADV_DONTNEED: private anonymous pages read back as zeros
        for v in list(mm.vmas):
            lo, hi = max(v.start, addr), min(v.end, addr + page_up(length))
            if lo < hi and not v.inode and v.backed:
                k.machine.discard(lo, hi - lo)  # the host takes the pages back
    return 0


@syscall("mremap", Ptr(), UInt(), UInt(), Flags("mremap"), Ptr(), ret="hex")
def sys_mremap(k, old, old_size, new_size, flags, new_addr):
    mm = k.process.mm
    if old % PAGE or flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | 4):
        return -errnos.EINVAL
    old_size, new_size = page_up(old_size), page_up(new_size)
    if new_size == 0:
        return -errnos.EINVAL
    vma = mm.find(old)
    if vma is None or not mm.is_accessible(old, old_size, 0):
        return -errnos.EFAULT
    if new_size <= old_size:
        if new_size < old_size:
            mm.unmap(old + new_size, old_size - new_size)
        return old
    if mm.is_free(old + old_size, old + new_size):
        try:
            mm.map(old + old_size, new_size - old_size, vma.prot, name=vma.name,
                   kind=vma.kind)
        except OutOfMemory:
            return -errnos.ENOMEM
        return old
    if not flags & MREMAP_MAYMOVE:
        return -errnos.ENOMEM
    start = mm.find_free(new_size)
    if start is None:
        return -errnos.ENOMEM
    try:
        mm.move(old, old_size, start, new_size)  # the pages move; nothing is copied
    except OutOfMemory:
        return -errnos.ENOMEM
    return start


@syscall("brk", Ptr(), ret="hex")
def sys_brk(k, addr):
    """Returns the new break, or the old one when the request cannot be met (the raw
    syscall never returns an error: glibc compares the result)."""
    mm = k.process.mm
    if addr < mm.start_brk:
        return mm.brk
    old_end, new_end = page_up(mm.brk), page_up(addr)
    if new_end > old_end:
        if not mm.is_free(old_end, new_end):
            return mm.brk
        # Host memory ahead of the break, as much again as the heap (up to 64 MiB): a
        # heap grown a page at a time stays a few Unicorn regions (each costs every map).
        room = min(max(new_end - old_end, new_end - page_up(mm.start_brk)), HEAP_ROOM_MAX)
        try:
            mm.map(old_end, new_end - old_end, 3, name="[heap]", kind="heap", grow_room=room)
        except OutOfMemory:
            return mm.brk
    elif new_end < old_end:
        mm.unmap(new_end, old_end - new_end)
    mm.brk = addr
    return addr


@syscall("mlock", Ptr(), UInt())
def sys_mlock(k, addr, length):
    return 0


@syscall("munlock", Ptr(), UInt())
def sys_munlock(k, addr, length):
    return 0


@syscall("msync", Ptr(), UInt(), Hex())
def sys_msync(k, addr, length, flags):
    return 0 if addr % PAGE == 0 else -errnos.EINVAL


"""Memory syscalls (mm/mmap.c, mm/mprotect.c, mm/mremap.c, mm/madvise.c): the address
space is the kernel model's VMA list, kept in step with the machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.machine import PAGE, PROT_WRITE, page_up
from kernel_model.files.uapi import O_PATH
from kernel_model.memory.mm import STACK_GUARD_GAP, OutOfMemory
from kernel_model.syscalls.argkinds import Enum, Fd, Flags, Hex, Ptr, UInt
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

PROT_MASK = 0x7
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x01, 0x02, 0x10, 0x20
MAP_32BIT, MAP_GROWSDOWN, MAP_FIXED_NOREPLACE = 0x40, 0x100, 0x100000
MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP = 1, 2, 4
HEAP_ROOM_MAX = 64 << 20


def _do_mmap(k: SyscallContext, addr, length, prot, flags, fd, offset):
    """In the order mm/mmap.c checks: the offset (sys_mmap), the fd (ksys_mmap_pgoff), the
    length and type, the placement (get_unmapped_area), MAP_FIXED_NOREPLACE, then the file's
    open mode and whether its driver maps at all (do_mmap)."""
    if offset % PAGE:
        return -errnos.EINVAL
    mm = k.process.mm
    anonymous = bool(flags & MAP_ANONYMOUS)
    opened = None
    if not anonymous:
        opened = k.process.fds.get(fd) if k.process.fds else None
        if opened is None or opened.flags & O_PATH:
            return -errnos.EBADF
    if length == 0:
        return -errnos.EINVAL
    size = page_up(length)
    if size == 0 or size > k.abi.mask:
        return -errnos.ENOMEM
    if not flags & (MAP_SHARED | MAP_PRIVATE):
        return -errnos.EINVAL
    if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
        if addr % PAGE:
            return -errnos.EINVAL
        if addr + size > _task_size(k) or any(s < addr + size and addr < e for s, e in
                                              mm.reserved):
            return -errnos.ENOMEM
        if flags & MAP_FIXED_NOREPLACE and not flags & MAP_FIXED and not mm.is_free(addr,
                                                                                     addr + size):
            return -errnos.EEXIST
        start = addr
    else:
        start = mm.find_free(size, addr, _task_size(k))
        if start is None:
            return -errnos.ENOMEM
    file_data = b""
    name = ""
    maywrite = True
    if opened is not None:
        maywrite = not flags & MAP_SHARED or opened.writable
        if flags & MAP_SHARED and prot & PROT_WRITE and not opened.writable:
            return -errnos.EACCES  # a shared writable mapping writes to the file
        if not opened.readable:
            return -errnos.EACCES
        if getattr(opened, "maps_zero", False):
            # /dev/zero (drivers/char/mem.c mmap_zero): a private mapping is plain anonymous
            # memory; Linux backs a shared one with a shmem file named "/dev/zero (deleted)".
            if flags & MAP_SHARED:
                k.note("a shared /dev/zero mapping is shown as anonymous memory; Linux names "
                       "it /dev/zero (deleted)")
        else:
            data = opened.mmap_bytes()
            if data is None:
                if getattr(opened.inode, "rdev", None) == (1, 3):
                    k.note("Linux 6.18 maps /dev/null (touching it raises SIGBUS); "
                           "syscall-lab refuses it with ENODEV")
                return -errnos.ENODEV  # pipes, terminals, most devices: no mmap operation
            file_data = data[offset:offset + size]
            name = getattr(opened, "guest_path", "") or ""
    try:
        mm.map(start, size, prot & PROT_MASK, name=name, offset=offset,
               shared=bool(flags & MAP_SHARED), kind="file" if name else "anon",
               maywrite=maywrite)
    except OutOfMemory:
        k.note(f"syscall-lab's guest memory cap ({mm.limit >> 20} MiB) is reached")
        return -errnos.ENOMEM
    if flags & MAP_SHARED:
        k.share_memory(start, size)  # a fork's child maps the same pages (emu/hostmem.py)
    if file_data:
        k.populate(start, file_data)
    return start


def _task_size(k: SyscallContext) -> int:
    return 0x7FFFFFFFF000 if k.abi.bits == 64 and k.arch.bits == 64 else 0xFFFFE000


@syscall("mmap", Ptr(), UInt(), Flags("prot"), Flags("map"), Fd(), Hex(), ret="hex",
         abi="x86_64")
def sys_mmap(k: SyscallContext, addr, length, prot, flags, fd, offset):
    return _do_mmap(k, addr, length, prot, flags, fd, offset)


@syscall("mmap2", Ptr(), UInt(), Flags("prot"), Flags("map"), Fd(), Hex(), ret="hex")
def sys_mmap2(k: SyscallContext, addr, length, prot, flags, fd, pgoffset):
    return _do_mmap(k, addr, length, prot, flags, fd, pgoffset * PAGE)


@syscall("mmap", Ptr(), ret="hex", abi="i386")
def sys_old_mmap(k: SyscallContext, argp):
    """i386's original mmap takes one pointer to six words (struct mmap_arg_struct)."""
    words = [int.from_bytes(k.read(argp + 4 * i, 4), "little") for i in range(6)]
    return _do_mmap(k, *words)


@syscall("munmap", Ptr(), UInt())
def sys_munmap(k: SyscallContext, addr, length):
    # do_vmi_munmap: nothing the process could unmap lies past TASK_SIZE (the vsyscall
    # page is not one of its VMAs).
    task_size = _task_size(k)
    if addr % PAGE or length == 0 or addr > task_size or length > task_size - addr:
        return -errnos.EINVAL
    k.process.mm.unmap(addr, page_up(length))
    return 0


@syscall("mprotect", Ptr(), UInt(), Flags("prot"))
def sys_mprotect(k: SyscallContext, addr, length, prot):
    if addr % PAGE:
        return -errnos.EINVAL
    if length == 0:
        return 0
    end = addr + page_up(length)
    if end >= 1 << 64:
        return -errnos.ENOMEM  # the range wraps (the kernel's unsigned long, for i386 too)
    if prot & ~(PROT_MASK | 0x01000000 | 0x02000000):
        return -errnos.EINVAL
    if addr >= _task_size(k):
        return -errnos.ENOMEM  # no VMA there (the vsyscall page is not the process's)
    if prot & PROT_WRITE:
        # mprotect_fixup: a shared mapping of a file opened read-only never becomes
        # writable (no VM_MAYWRITE), whatever mmap was asked first.
        at = addr
        while at < end and (v := k.process.mm.find(at)) is not None:
            if not v.maywrite:
                return -errnos.EACCES
            at = v.end
    return 0 if k.process.mm.protect(addr, page_up(length), prot & PROT_MASK) else -errnos.ENOMEM


@syscall("madvise", Ptr(), UInt(), Enum("madvise"))
def sys_madvise(k: SyscallContext, addr, length, advice):
    if addr % PAGE:
        return -errnos.EINVAL
    mm = k.process.mm
    if length and addr + page_up(length) > _task_size(k):
        return -errnos.ENOMEM  # unmapped, as far as the process's VMAs go
    if length and not mm.is_accessible(addr, page_up(length), 0):
        return -errnos.ENOMEM
    if advice == 4:  # MADV_DONTNEED: private anonymous pages read back as zeros
        for v in list(mm.vmas):
            lo, hi = max(v.start, addr), min(v.end, addr + page_up(length))
            if lo < hi and not v.inode and v.backed:
                k.discard(lo, hi - lo)  # the host takes the pages back
    return 0


@syscall("mremap", Ptr(), UInt(), UInt(), Flags("mremap"), Ptr(), ret="hex")
def sys_mremap(k: SyscallContext, old, old_size, new_size, flags, new_addr):
    """mm/mremap.c: shrink in place, grow in place when the pages above are free (and below
    TASK_SIZE), else move (MREMAP_MAYMOVE), to new_addr with MREMAP_FIXED."""
    mm = k.process.mm
    task_size = _task_size(k)
    if old % PAGE or flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP):
        return -errnos.EINVAL
    if flags & MREMAP_FIXED and not flags & MREMAP_MAYMOVE:
        return -errnos.EINVAL
    if flags & MREMAP_DONTUNMAP and (not flags & MREMAP_MAYMOVE or old_size != new_size):
        return -errnos.EINVAL
    old_size, new_size = page_up(old_size), page_up(new_size)
    if new_size == 0:
        return -errnos.EINVAL
    if flags & MREMAP_FIXED:
        # mremap_to: an aligned destination inside user space, not overlapping the source.
        if new_addr % PAGE or new_size > task_size or new_addr > task_size - new_size:
            return -errnos.EINVAL
        if old + old_size > new_addr and new_addr + new_size > old:
            return -errnos.EINVAL
    vma = mm.find(old)
    if vma is None or old + old_size > task_size or not mm.is_accessible(old, old_size, 0):
        return -errnos.EFAULT
    if flags & MREMAP_DONTUNMAP:
        k.note("MREMAP_DONTUNMAP is not modelled: the old range is unmapped")
    if flags & MREMAP_FIXED:
        mm.unmap(new_addr, new_size)
        return _move(k, old, old_size, new_size, new_addr)
    if new_size <= old_size:
        if new_size < old_size:
            mm.unmap(old + new_size, old_size - new_size)
        return old
    if old + new_size <= task_size and mm.is_free(old + old_size, old + new_size):
        try:
            mm.map(old + old_size, new_size - old_size, vma.prot, name=vma.name,
                   kind=vma.kind, shared=vma.shared, maywrite=vma.maywrite)
        except OutOfMemory:
            return -errnos.ENOMEM
        return old
    if not flags & MREMAP_MAYMOVE:
        return -errnos.ENOMEM
    start = mm.find_free(new_size)
    if start is None:
        return -errnos.ENOMEM
    return _move(k, old, old_size, new_size, start)


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


@syscall("brk", Ptr(), ret="hex")
def sys_brk(k: SyscallContext, addr):
    """Returns the new break, or the old one when the request cannot be met (the raw
    syscall never returns an error: glibc compares the result)."""
    mm = k.process.mm
    if addr < mm.start_brk:
        return mm.brk
    old_end, new_end = page_up(mm.brk), page_up(addr)
    if new_end > old_end:
        # check_brk_limits (within TASK_SIZE) and the stack's guard gap above the heap.
        if new_end > _task_size(k) or not mm.is_free(old_end, new_end) or any(
                v.grows_down and v.start >= new_end and new_end + PAGE > v.start -
                STACK_GUARD_GAP for v in mm.vmas):
            return mm.brk
        # Host memory ahead of the break, as much again as the heap (up to 64 MiB): a
        # heap grown a page at a time stays a few Unicorn regions (each costs every map).
        room = min(max(new_end - old_end, new_end - page_up(mm.start_brk)), HEAP_ROOM_MAX)
        try:
            mm.map(old_end, new_end - old_end, 3, name="[heap]", kind="heap", grow_room=room)
        except OutOfMemory:
            k.note(f"syscall-lab's guest memory cap ({mm.limit >> 20} MiB) is reached")
            return mm.brk
    elif new_end < old_end:
        mm.unmap(new_end, old_end - new_end)
    mm.brk = addr
    return addr


@syscall("mlock", Ptr(), UInt())
def sys_mlock(k: SyscallContext, addr, length):
    return 0


@syscall("munlock", Ptr(), UInt())
def sys_munlock(k: SyscallContext, addr, length):
    return 0


@syscall("msync", Ptr(), UInt(), Hex())
def sys_msync(k: SyscallContext, addr, length, flags):
    return 0 if addr % PAGE == 0 else -errnos.EINVAL


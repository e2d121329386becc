"""Memory syscalls (mm/mmap.c, mm/mprotect.c, mm/mremap.c, mm/madvise.c): the address
space is the kernel model's VMA list, kept in step with the machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.machine import PAGE, PROT_WRITE, page_up
from kernel_model.files.uapi import O_PATH
from kernel_model.memory.mm import STACK_GUARD_GAP, OutOfMemory
from kernel_model.memory.shmem import map_shared_anonymous
from kernel_model.syscalls.argkinds import Fd, Flags, Hex, Ptr, UInt
from kernel_model.syscalls.registry import syscall
from kernel_model.syscalls.writeback import write_back
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

PROT_MASK = 0x7
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x01, 0x02, 0x10, 0x20
MAP_32BIT, MAP_GROWSDOWN, MAP_FIXED_NOREPLACE = 0x40, 0x100, 0x100000
MAP_TYPE, MAP_SHARED_VALIDATE, MAP_DROPPABLE = 0x0F, 0x03, 0x08
MAP_DROPPABLE_SINCE = (6, 11)
# What MAP_SHARED_VALIDATE accepts (LEGACY_MAP_MASK): any other flag is EOPNOTSUPP.
LEGACY_MAP_MASK = 0x01 | 0x02 | 0x10 | 0x20 | 0x800 | 0x1000 | 0x4000000 | 0x100 | 0x2000 \
    | 0x4000 | 0x8000 | 0x10000 | 0x20000 | 0x40000
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
    if err := _map_type_error(k, flags, anonymous):
        return -err
    if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
        if addr % PAGE:
            return -errnos.EINVAL
        if addr + size > task_size(k) or any(s < addr + size and addr < e for s, e in
                                              mm.reserved):
            return -errnos.ENOMEM
        if flags & MAP_FIXED_NOREPLACE and not flags & MAP_FIXED and not mm.is_free(addr,
                                                                                     addr + size):
            return -errnos.EEXIST
        start = addr
    elif flags & MAP_32BIT and k.abi.bits == 64 and not addr:
        # x86-64's MAP_32BIT: the first free range of the second GiB (find_start_end)
        start = mm.find_free_between(size, 0x40000000, 0x80000000)
        if start is None:
            return -errnos.ENOMEM
    else:
        start = mm.find_free(size, addr, task_size(k))
        if start is None:
            return -errnos.ENOMEM
    file_data = b""
    name = ""
    maywrite = True
    zero_file = None  # the /dev/zero inode a mapping of it names
    file_ids: dict = {}
    if opened is not None:
        maywrite = not flags & MAP_SHARED or opened.writable
        if flags & MAP_SHARED and prot & PROT_WRITE and not opened.writable:
            return -errnos.EACCES  # a shared writable mapping writes to the file
        if not opened.readable:
            return -errnos.EACCES
        if getattr(opened, "maps_zero", False):
            zero_file = opened.inode
        else:
            data = opened.mmap_bytes()
            if data is None:
                if getattr(opened.inode, "rdev", None) == (1, 3):
                    k.note("Linux 6.18 maps /dev/null (touching it raises SIGBUS); "
                           "syscall-lab refuses it with ENODEV")
                return -errnos.ENODEV  # pipes, terminals, most devices: no mmap operation
            file_data = data[offset:offset + size]
            name = getattr(opened, "guest_path", "") or ""
            node = getattr(opened, "inode", None)
            if node is not None:  # the maps line names the file by device and inode too
                file_ids = {"dev": node.dev, "inode": node.ino}
    try:
        if flags & MAP_SHARED and (anonymous or zero_file is not None):
            # drivers/char/mem.c mmap_zero and do_mmap: shared anonymous memory (shmem).
            map_shared_anonymous(mm, start, size, prot & PROT_MASK,
                                 offset=0 if anonymous else offset, maywrite=maywrite)
        elif zero_file is not None:
            # A private /dev/zero mapping is anonymous memory that still names the device
            # (Linux 6.18's maps: "/dev/zero" with its device, inode and the offset).
            mm.map(start, size, prot & PROT_MASK, name="/dev/zero", offset=offset,
                   dev=zero_file.dev, inode=zero_file.ino, kind="anon")
        else:
            # MAP_DROPPABLE (vgetrandom's states): private memory the kernel may drop
            # under pressure (the model never does) and a fork's child gets zeroed.
            mm.map(start, size, prot & PROT_MASK, name=name, offset=offset, **file_ids,
                   shared=bool(flags & MAP_SHARED), kind="file" if name else "anon",
                   maywrite=maywrite, wipeonfork=flags & MAP_TYPE == MAP_DROPPABLE,
                   file=opened if flags & MAP_SHARED and opened is not None else None)
    except OutOfMemory:
        k.note(f"syscall-lab's guest memory cap ({mm.limit >> 20} MiB) is reached")
        return -errnos.ENOMEM
    if flags & MAP_SHARED:
        k.share_memory(start, size)  # a fork's child maps the same pages (emu/hostmem.py)
    if file_data:
        k.populate(start, file_data)
    return start


def _map_type_error(k: SyscallContext, flags: int, anonymous: bool) -> int:
    """do_mmap's switch on flags & MAP_TYPE: anonymous memory is MAP_SHARED, MAP_PRIVATE or
    (6.11+) MAP_DROPPABLE; a file also takes MAP_SHARED_VALIDATE, which refuses flags it
    does not know."""
    kind = flags & MAP_TYPE
    if kind in (MAP_SHARED, MAP_PRIVATE):
        return 0
    if kind == MAP_DROPPABLE and k.version >= MAP_DROPPABLE_SINCE:
        return errnos.EINVAL if not anonymous else 0
    if kind == MAP_SHARED_VALIDATE and not anonymous:
        return errnos.EOPNOTSUPP if flags & ~LEGACY_MAP_MASK else 0
    return errnos.EINVAL


def task_size(k: SyscallContext) -> int:
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
    limit = task_size(k)
    if addr % PAGE or length == 0 or addr > limit or length > limit - addr:
        return -errnos.EINVAL
    write_back(k, addr, addr + page_up(length))  # a shared file mapping's last word
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
    if addr >= task_size(k):
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
        if new_end > task_size(k) or not mm.is_free(old_end, new_end) or any(
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

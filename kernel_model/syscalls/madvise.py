"""madvise (mm/madvise.c) and mincore (mm/mincore.c): advice about a range of the address
space, and which of its pages are in memory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.machine import PAGE, page_up
from kernel_model.memory.mm import Vma
from kernel_model.syscalls.argkinds import Enum, Ptr, UInt
from kernel_model.syscalls.memory import task_size
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

(MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED) = range(5)
(MADV_FREE, MADV_REMOVE, MADV_DONTFORK, MADV_DOFORK, MADV_MERGEABLE, MADV_UNMERGEABLE,
 MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP, MADV_WIPEONFORK,
 MADV_KEEPONFORK, MADV_COLD, MADV_PAGEOUT, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
 MADV_DONTNEED_LOCKED, MADV_COLLAPSE) = range(8, 26)
MADV_HWPOISON, MADV_SOFT_OFFLINE, MADV_GUARD_INSTALL, MADV_GUARD_REMOVE = range(100, 104)
HUGE_PAGE = 2 << 20

# madvise_behavior_valid, with the release that added each value (the model's eras).
SINCE = {MADV_FREE: (4, 5), MADV_WIPEONFORK: (4, 14), MADV_KEEPONFORK: (4, 14),
         MADV_COLD: (5, 4), MADV_PAGEOUT: (5, 4), MADV_POPULATE_READ: (5, 14),
         MADV_POPULATE_WRITE: (5, 14), MADV_DONTNEED_LOCKED: (5, 18), MADV_COLLAPSE: (6, 1),
         MADV_GUARD_INSTALL: (6, 13), MADV_GUARD_REMOVE: (6, 13)}
VALID = set(range(5)) | set(range(8, 26)) | set(range(100, 104))


def _valid(k: SyscallContext, advice: int) -> bool:
    return advice in VALID and k.version >= SINCE.get(advice, (0, 0))


def _anonymous(v: Vma) -> bool:
    """vma_is_anonymous: private memory with no file behind it (a private /dev/zero
    mapping included, whose pages are anonymous). Not the vDSO's text or data: special
    mappings whose pages the kernel supplies."""
    return (not v.shared and (v.inode == 0 or v.name == "/dev/zero") and v.backed
            and v.kind not in ("vdso", "vvar"))


def _refused(v: Vma, advice: int) -> int:
    """The errno this VMA gives the advice (madvise_vma_behavior's checks), or 0."""
    special = v.kind == "vvar" or not v.backed  # VM_PFNMAP / VM_IO mappings
    if advice in (MADV_DONTNEED, MADV_COLD, MADV_PAGEOUT) and (v.locked or special):
        return errnos.EINVAL
    if advice == MADV_FREE and not _anonymous(v):
        return errnos.EINVAL
    if advice == MADV_REMOVE:
        if v.locked or not v.inode or not v.shared:
            return errnos.EINVAL if v.locked or not v.inode else errnos.EACCES
    if advice == MADV_WIPEONFORK and (v.shared or v.inode):
        return errnos.EINVAL
    if advice in (MADV_DONTFORK, MADV_DOFORK) and special:
        return errnos.EINVAL
    return 0


@syscall("madvise", Ptr(), UInt(), Enum("madvise"))
def sys_madvise(k: SyscallContext, addr, length, advice):
    """do_madvise: the start, the advice and the length first, then each VMA of the range;
    a hole gives ENOMEM after the VMAs around it have taken the advice."""
    if addr % PAGE or not _valid(k, advice):
        return -errnos.EINVAL
    size = page_up(length)
    if length and not size:
        return -errnos.EINVAL
    end = addr + size
    if end >= 1 << 64:
        return -errnos.EINVAL  # the range wraps (the kernel's unsigned long, for i386 too)
    if end == addr:
        return 0
    if advice in (MADV_HWPOISON, MADV_SOFT_OFFLINE):
        if k.process.creds.euid != 0:
            return -errnos.EPERM  # CAP_SYS_ADMIN
        k.note("memory poisoning is not modelled: the pages stay as they are")
        return 0
    mm = k.process.mm
    # The vsyscall page above TASK_SIZE is no VMA of the process's: a hole.
    vmas = [v for v in mm.vmas if v.start < end and addr < v.end and v.end <= task_size(k)]
    for v in vmas:
        if err := _refused(v, advice):
            return -err
    for v in vmas:
        _apply(k, v, max(v.start, addr), min(v.end, end), advice)
    covered = sum(min(v.end, end) - max(v.start, addr) for v in vmas)
    return -errnos.ENOMEM if covered < size else 0


def _apply(k: SyscallContext, v: Vma, lo: int, hi: int, advice: int) -> None:
    mm = k.process.mm
    if advice in (MADV_DONTNEED, MADV_DONTNEED_LOCKED) and _anonymous(v):
        k.discard(lo, hi - lo)  # private anonymous pages read back as zeros
    elif advice in (MADV_DONTNEED, MADV_DONTNEED_LOCKED) and not v.shared and v.inode:
        k.note("MADV_DONTNEED on a private file mapping keeps the pages' contents (Linux "
               "reads the file again)")
    elif advice == MADV_REMOVE:
        k.discard(lo, hi - lo, keep_shared=False)  # the hole reads as zeros for all
    elif advice in (MADV_DONTFORK, MADV_DOFORK):
        mm.set_flags(lo, hi, dontfork=advice == MADV_DONTFORK)
    elif advice in (MADV_WIPEONFORK, MADV_KEEPONFORK):
        mm.set_flags(lo, hi, wipeonfork=advice == MADV_WIPEONFORK)
    elif advice in (MADV_GUARD_INSTALL, MADV_GUARD_REMOVE):
        k.note("guard regions (MADV_GUARD_INSTALL) are not modelled: the pages stay "
               "accessible")
    # The rest is a hint about paging (readahead, THP, KSM, core dumps, reclaim): Linux may
    # ignore it too, and nothing the program can read changes.


@syscall("mincore", Ptr(), UInt(), Ptr())
def sys_mincore(k: SyscallContext, addr, length, vec):
    """One byte per page, bit 0 set where the page is in memory. The range must be mapped
    throughout (ENOMEM), the vector writable (EFAULT)."""
    if addr % PAGE:
        return -errnos.EINVAL
    size = page_up(length)
    if addr + size > task_size(k) or (length and not size):
        return -errnos.ENOMEM  # access_ok: not a user address range
    if size == 0:
        return 0
    mm = k.process.mm
    at = addr
    while at < addr + size:
        v = mm.find(at)
        if v is None:
            return -errnos.ENOMEM
        at = v.end
    k.write(vec, k.resident(addr, size))
    return 0

"""mlock, munlock, mlock2, mlockall, munlockall (mm/mlock.c) and msync (mm/msync.c).

The model keeps every page in memory anyway, so locking only records VM_LOCKED (which
madvise and msync consult, and fork does not inherit) and checks RLIMIT_MEMLOCK as Linux
does for a process without CAP_IPC_LOCK (root has it: no limit)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.machine import PAGE, page_down, page_up
from kernel_model.syscalls.argkinds import Flags, Ptr, UInt
from kernel_model.syscalls.info import RLIM_INFINITY, RLIMITS
from kernel_model.syscalls.memory import task_size
from kernel_model.syscalls.registry import syscall
from kernel_model.syscalls.writeback import write_back
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

RLIMIT_MEMLOCK = 8
MLOCK_ONFAULT = 1
MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4
MS_ASYNC, MS_INVALIDATE, MS_SYNC = 1, 2, 4


def _memlock_limit(k: SyscallContext) -> int | None:
    """The bytes this process may lock, None for no limit (CAP_IPC_LOCK: held while the
    effective uid is 0)."""
    if k.process.creds.euid == 0:
        return None
    cur = k.process.rlimits.get(RLIMIT_MEMLOCK, RLIMITS[RLIMIT_MEMLOCK])[0]
    return None if cur == RLIM_INFINITY else cur


def _lock(k: SyscallContext, addr: int, length: int, lock: bool) -> int:
    """apply_vma_lock_flags: the range is widened to whole pages; every page must be
    mapped (ENOMEM); the locked total must stay within RLIMIT_MEMLOCK."""
    start = page_down(addr)
    end = page_up(addr + length)
    if end >= 1 << 64 or end < start:
        return -errnos.EINVAL
    if end == start:
        return 0
    if end > task_size(k):
        return -errnos.ENOMEM  # no VMA of the process's up there (the vsyscall page)
    mm = k.process.mm
    limit = _memlock_limit(k)
    if lock and limit is not None:
        if limit == 0:
            return -errnos.EPERM  # can_do_mlock
        locked = sum(min(v.end, end) - max(v.start, start) for v in mm.vmas
                     if v.start < end and start < v.end and not v.locked)
        if sum(v.size for v in mm.vmas if v.locked) + locked > limit:
            return -errnos.ENOMEM
    at = start
    while at < end:
        v = mm.find(at)
        if v is None:
            return -errnos.ENOMEM
        at = v.end
    mm.set_flags(start, end, locked=lock)
    return 0


@syscall("mlock", Ptr(), UInt())
def sys_mlock(k: SyscallContext, addr, length):
    return _lock(k, addr, length, True)


@syscall("mlock2", Ptr(), UInt(), Flags("mlock2"))
def sys_mlock2(k: SyscallContext, addr, length, flags):
    if flags & ~MLOCK_ONFAULT:
        return -errnos.EINVAL
    return _lock(k, addr, length, True)


@syscall("munlock", Ptr(), UInt())
def sys_munlock(k: SyscallContext, addr, length):
    return _lock(k, addr, length, False)


@syscall("mlockall", Flags("mlockall"))
def sys_mlockall(k: SyscallContext, flags):
    if not flags or flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) or flags == MCL_ONFAULT:
        return -errnos.EINVAL
    mm = k.process.mm
    limit = _memlock_limit(k)
    if limit is not None:
        if limit == 0:
            return -errnos.EPERM
        if flags & MCL_CURRENT and mm.total > limit:
            return -errnos.ENOMEM
    if flags & MCL_CURRENT:
        for v in list(mm.vmas):
            if not v.hidden:
                mm.set_flags(v.start, v.end, locked=True)
    mm.lock_future = bool(flags & MCL_FUTURE)  # apply_mlockall_flags sets or clears it
    return 0


@syscall("munlockall")
def sys_munlockall(k: SyscallContext):
    mm = k.process.mm
    mm.lock_future = False
    for v in list(mm.vmas):
        if v.locked:
            mm.set_flags(v.start, v.end, locked=False)
    return 0


@syscall("msync", Ptr(), UInt(), Flags("msync"))
def sys_msync(k: SyscallContext, addr, length, flags):
    """The checks of sys_msync; then each VMA of the range: MS_INVALIDATE of locked pages
    is EBUSY, a shared file mapping is written to its file (kernel_model/syscalls/
    writeback.py: in the model it is a copy), a hole ENOMEM (after the rest was done)."""
    if flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC):
        return -errnos.EINVAL
    if addr % PAGE or (flags & MS_ASYNC and flags & MS_SYNC):
        return -errnos.EINVAL
    end = addr + page_up(length)
    if end >= 1 << 64 or (length and end == addr):
        return -errnos.ENOMEM
    if end == addr:
        return 0
    if end > task_size(k):
        return -errnos.ENOMEM  # no VMA of the process's up there (the vsyscall page)
    mm = k.process.mm
    vmas = [v for v in mm.vmas if v.start < end and addr < v.end]
    if not vmas or vmas[0].start > addr:
        return -errnos.ENOMEM
    if flags & MS_INVALIDATE and any(v.locked for v in vmas):
        return -errnos.EBUSY
    if flags & (MS_SYNC | MS_ASYNC) and (err := write_back(k, addr, end)):
        return err
    covered = sum(min(v.end, end) - max(v.start, addr) for v in vmas)
    return -errnos.ENOMEM if covered < end - addr else 0

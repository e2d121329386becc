"""futex(2) (kernel/futex/syscalls.c): wait and wake on a 32-bit word in user memory;
kernel_model.proc.futex keeps the queues."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from kernel_model.proc.futex import (
    FUTEX_BITSET_MATCH_ANY,
    FUTEX_OWNER_DIED,
    FUTEX_TID_MASK,
    FUTEX_WAITERS,
    futex_requeue,
    futex_wake,
)
from kernel_model.proc.sched import ERESTART_RESTARTBLOCK, ERESTARTSYS, Blocked
from kernel_model.syscalls.argkinds import Hex, Ptr, UInt
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

(FUTEX_WAIT, FUTEX_WAKE, FUTEX_FD, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP,
 FUTEX_LOCK_PI, FUTEX_UNLOCK_PI, FUTEX_TRYLOCK_PI, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET,
 FUTEX_WAIT_REQUEUE_PI, FUTEX_CMP_REQUEUE_PI, FUTEX_LOCK_PI2) = range(14)
FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME = 128, 256
NSEC = 1_000_000_000


def _word(k, addr: int) -> int:
    if addr & 3:
        raise _Err(errnos.EINVAL)
    return struct.unpack("<I", k.read(addr, 4))[0]


class _Err(Exception):
    def __init__(self, errno: int):
        self.errno = errno


def _deadline(k, timeout: int, time64: bool, absolute: bool, realtime: bool) -> int | None:
    """The wait's end on the guest's monotonic clock, or None (no timeout)."""
    call = k.current.blocked
    if call is not None and call.name.startswith("futex"):
        return call.deadline_ns  # a retry: the end was fixed when the wait began
    if not timeout:
        return None
    bits64 = k.abi.bits == 64 or time64
    sec, nsec = struct.unpack("<qq" if bits64 else "<ii", k.read(timeout, 16 if bits64 else 8))
    if sec < 0 or not 0 <= nsec < NSEC:
        raise _Err(errnos.EINVAL)
    ns = sec * NSEC + nsec
    if not absolute:
        return k.clock.monotonic_ns() + ns
    if realtime:
        return k.clock.monotonic_ns() + (ns - k.clock.realtime_ns())
    return ns


def _wait(k, uaddr: int, val: int, deadline: int | None, bitset: int) -> int:
    me = k.current
    retry = me.blocked is not None and me.blocked.name.startswith("futex")
    if retry:
        if me.futex_woken:
            me.futex_woken = False
            return 0
        if deadline is not None and k.clock.monotonic_ns() >= deadline:
            return -errnos.ETIMEDOUT
    else:
        if bitset == 0:
            return -errnos.EINVAL
        if _word(k, uaddr) != val & 0xFFFFFFFF:
            return -errnos.EAGAIN
        if deadline is not None and k.clock.monotonic_ns() >= deadline:
            return -errnos.ETIMEDOUT
        me.futex_woken = False
        me.futex_bitset = bitset
    queue = k.futexes.queue(k.process.mm, uaddr)
    raise Blocked(queue, f"futex wait on {uaddr:#x}",
                  restart=ERESTART_RESTARTBLOCK if deadline is not None else ERESTARTSYS,
                  deadline_ns=deadline)


def _wake_op(k, uaddr: int, n1: int, uaddr2: int, n2: int, val3: int) -> int:
    op, cmp = (val3 >> 28) & 7, (val3 >> 24) & 0xF
    oparg, cmparg = (val3 >> 12) & 0xFFF, val3 & 0xFFF
    if (val3 >> 31) & 1 or op & 8:  # FUTEX_OP_OPARG_SHIFT
        op &= 7
        oparg = 1 << (oparg & 31)
    old = _word(k, uaddr2)
    new = {0: oparg, 1: old + oparg, 2: old | oparg, 3: old & ~oparg, 4: old ^ oparg}.get(op)
    if new is None:
        return -errnos.ENOSYS
    k.write(uaddr2, struct.pack("<I", new & 0xFFFFFFFF))
    signed_old = old - (1 << 32) if old >> 31 else old
    cmparg = cmparg - 0x1000 if cmparg & 0x800 else cmparg
    hit = {0: signed_old == cmparg, 1: signed_old != cmparg, 2: signed_old < cmparg,
           3: signed_old <= cmparg, 4: signed_old > cmparg, 5: signed_old >= cmparg}.get(cmp)
    if hit is None:
        return -errnos.ENOSYS
    woken = futex_wake(k, k.process, uaddr, n1)
    if hit:
        woken += futex_wake(k, k.process, uaddr2, n2)
    return woken


def _lock_pi(k, uaddr: int, deadline: int | None, try_only: bool) -> int:
    me = k.current
    word = _word(k, uaddr)
    owner = word & FUTEX_TID_MASK
    if owner == me.tid:
        if me.blocked is not None:  # handed to us by the unlock that woke us
            return 0
        return -errnos.EDEADLK
    if owner == 0 or (word & FUTEX_OWNER_DIED and k.processes.task(owner) is None):
        k.write(uaddr, struct.pack("<I", me.tid | (word & FUTEX_WAITERS)))
        return 0
    if try_only:
        return -errnos.EAGAIN
    if k.processes.task(owner) is None:
        return -errnos.ESRCH
    if deadline is not None and k.clock.monotonic_ns() >= deadline:
        return -errnos.ETIMEDOUT
    k.write(uaddr, struct.pack("<I", word | FUTEX_WAITERS))
    queue = k.futexes.queue(k.process.mm, uaddr)
    raise Blocked(queue, f"futex PI lock {uaddr:#x} held by {owner}", deadline_ns=deadline,
                  restart=ERESTARTSYS)


def _unlock_pi(k, uaddr: int) -> int:
    me = k.current
    word = _word(k, uaddr)
    if word & FUTEX_TID_MASK != me.tid:
        return -errnos.EPERM
    queue = k.futexes.existing(k.process.mm, uaddr)
    waiters = list(queue) if queue is not None else []
    if waiters:
        heir = waiters[0]
        more = FUTEX_WAITERS if len(waiters) > 1 else 0
        k.write(uaddr, struct.pack("<I", heir.tid | more))
        k.sched.wake(heir)
    else:
        k.write(uaddr, struct.pack("<I", 0))
    return 0


def do_futex(k, uaddr, op, val, timeout, uaddr2, val3, time64=False) -> int:
    cmd = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
    realtime = bool(op & FUTEX_CLOCK_REALTIME)
    if realtime and cmd not in (FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI,
                                FUTEX_LOCK_PI2):
        return -errnos.ENOSYS
    val &= 0xFFFFFFFF
    try:
        if cmd == FUTEX_WAIT:
            deadline = _deadline(k, timeout, time64, False, realtime)
            return _wait(k, uaddr, val, deadline, FUTEX_BITSET_MATCH_ANY)
        if cmd == FUTEX_WAIT_BITSET:
            deadline = _deadline(k, timeout, time64, True, realtime)
            return _wait(k, uaddr, val, deadline, val3 & 0xFFFFFFFF)
        if cmd == FUTEX_WAKE:
            _word(k, uaddr) if uaddr & 3 else None
            return futex_wake(k, k.process, uaddr, val)
        if cmd == FUTEX_WAKE_BITSET:
            if not val3 & 0xFFFFFFFF:
                return -errnos.EINVAL
            return futex_wake(k, k.process, uaddr, val, val3 & 0xFFFFFFFF)
        if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
            move = timeout & 0x7FFFFFFF  # val2 travels in the timeout argument
            if cmd == FUTEX_CMP_REQUEUE and _word(k, uaddr) != val3 & 0xFFFFFFFF:
                return -errnos.EAGAIN
            if uaddr == uaddr2:
                return -errnos.EINVAL
            return futex_requeue(k, k.process, uaddr, uaddr2, val, move)
        if cmd == FUTEX_WAKE_OP:
            return _wake_op(k, uaddr, val, uaddr2, timeout & 0x7FFFFFFF, val3 & 0xFFFFFFFF)
        if cmd in (FUTEX_LOCK_PI, FUTEX_LOCK_PI2):
            return _lock_pi(k, uaddr, _deadline(k, timeout, time64, True,
                                                 cmd == FUTEX_LOCK_PI or realtime), False)
        if cmd == FUTEX_TRYLOCK_PI:
            return _lock_pi(k, uaddr, None, True)
        if cmd == FUTEX_UNLOCK_PI:
            return _unlock_pi(k, uaddr)
    except _Err as e:
        return -e.errno
    k.note(f"futex operation {cmd} is not implemented in syscall-lab")
    return -errnos.ENOSYS


@syscall("futex", Ptr(), Hex(), UInt(), Ptr(), Ptr(), Hex())
def sys_futex(k: SyscallContext, uaddr, op, val, timeout, uaddr2, val3):
    return do_futex(k, uaddr, op, val, timeout, uaddr2, val3)


@syscall("futex_time64", Ptr(), Hex(), UInt(), Ptr(), Ptr(), Hex())
def sys_futex_time64(k: SyscallContext, uaddr, op, val, timeout, uaddr2, val3):
    return do_futex(k, uaddr, op, val, timeout, uaddr2, val3, time64=True)

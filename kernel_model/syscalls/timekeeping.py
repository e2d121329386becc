"""Time syscalls (kernel/time/): the clocks come from kernel_model.clock, real or frozen.
i386 has two layouts: the old 32-bit time_t calls and the *_time64 ones."""

from __future__ import annotations

import struct
import time
from typing import TYPE_CHECKING

from kernel_model.proc.sched import ERESTART_RESTARTBLOCK, Blocked
from kernel_model.syscalls.argkinds import Enum, Flags, InStruct, OutStruct, Ptr
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

NSEC = 1_000_000_000
CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID = 0, 1, 2, 3
CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME = 4, 5, 6, 7
CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM, CLOCK_TAI = 8, 9, 11
TIMER_ABSTIME = 1
# The syscalls whose result depends on the clock's reading (the stepping session makes the
# guest's instruction count exact before each, for a virtual clock).
READS_CLOCK = frozenset({"clock_gettime", "clock_gettime64", "gettimeofday", "time",
                         "nanosleep", "clock_nanosleep", "clock_nanosleep_time64", "times",
                         "sysinfo"})
COARSE_RES_NS = 4_000_000  # one tick at HZ=250


def clock_ns(k: SyscallContext, clock_id: int) -> int | None:
    c = k.clock
    clock_id = k.abi.signed(clock_id) if clock_id >> 31 else clock_id
    if clock_id in (CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE):
        return c.coarse_ns(clock_id)  # the last tick's time, never ahead of the precise
    if clock_id in (CLOCK_REALTIME, CLOCK_REALTIME_ALARM):
        return c.realtime_ns()
    if clock_id == CLOCK_TAI:
        return c.realtime_ns() + 37 * NSEC
    if clock_id in (CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW):
        return c.monotonic_ns()
    if clock_id in (CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM):
        return c.boottime_ns()
    if clock_id in (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID) or clock_id < 0:
        return c.cputime_ns()
    return None


KTIME_MAX = (1 << 63) - 1  # include/linux/ktime.h


def pack_timespec(ns: int, bits: int) -> bytes:
    sec, nsec = divmod(ns, NSEC)
    if bits == 32:
        sec = _s32(sec)  # put_old_timespec32 truncates a time past 2038
    return struct.pack("<qq" if bits == 64 else "<ii", sec, nsec)


def _s32(value: int) -> int:
    return ((value + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def unpack_timespec(data: bytes, bits: int) -> tuple[int, int]:
    return struct.unpack("<qq" if bits == 64 else "<ii", data)


def _ts_bits(k: SyscallContext, time64: bool) -> int:
    return 64 if time64 or k.abi.bits == 64 else 32


def _clock_gettime(k: SyscallContext, clock_id, tp, time64):
    ns = clock_ns(k, clock_id)
    if ns is None:
        return -errnos.EINVAL
    k.write(tp, pack_timespec(ns, _ts_bits(k, time64)))
    return 0


@syscall("clock_gettime", Enum("clock"), OutStruct("timespec"))
def sys_clock_gettime(k: SyscallContext, clock_id, tp):
    return _clock_gettime(k, clock_id, tp, False)


@syscall("clock_gettime64", Enum("clock"), OutStruct("timespec64"))
def sys_clock_gettime64(k: SyscallContext, clock_id, tp):
    return _clock_gettime(k, clock_id, tp, True)


def _clock_getres(k: SyscallContext, clock_id, res, time64):
    if clock_ns(k, clock_id) is None:
        return -errnos.EINVAL
    coarse = clock_id in (CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE)
    if res:
        k.write(res, pack_timespec(COARSE_RES_NS if coarse else 1, _ts_bits(k, time64)))
    return 0


@syscall("clock_getres", Enum("clock"), OutStruct("timespec"))
def sys_clock_getres(k: SyscallContext, clock_id, res):
    return _clock_getres(k, clock_id, res, False)


@syscall("clock_getres_time64", Enum("clock"), OutStruct("timespec64"))
def sys_clock_getres_time64(k: SyscallContext, clock_id, res):
    return _clock_getres(k, clock_id, res, True)


@syscall("gettimeofday", OutStruct("timeval"), OutStruct("timezone"))
def sys_gettimeofday(k: SyscallContext, tv, tz):
    ns = k.clock.realtime_ns()
    if tv:
        sec, usec = ns // NSEC, (ns % NSEC) // 1000
        if k.abi.bits == 32:
            sec = _s32(sec)  # compat_put_timeval truncates too
        k.write(tv, struct.pack("<qq" if k.abi.bits == 64 else "<ii", sec, usec))
    if tz:
        k.write(tz, bytes(8))  # UTC: tz_minuteswest 0, tz_dsttime 0
    return 0


@syscall("time", Ptr())
def sys_time(k: SyscallContext, tloc):
    sec = k.clock.realtime_ns() // NSEC
    if tloc:
        k.write_word(tloc, sec)
    return sec


def _sleep(k: SyscallContext, req, rem, time64, clock_id=CLOCK_MONOTONIC, absolute=False):
    """hrtimer_nanosleep: a relative or absolute (TIMER_ABSTIME) sleep. A frozen or virtual
    clock moves by the sleep and returns at once; the real clock waits in kernel_model.proc.wait,
    which ends early for the run's deadline, Ctrl-C or a deliverable signal (-EINTR, and a
    relative sleep writes the time left to `rem`, as Linux does)."""
    bits = _ts_bits(k, time64)
    call = k.current.blocked
    if call is not None and call.name in _SLEEPS:
        return _sleep_again(k, call.deadline_ns or 0, rem, absolute, bits)
    sec, nsec = unpack_timespec(k.read(req, 16 if bits == 64 else 8), bits)
    if sec < 0 or not 0 <= nsec < NSEC:
        return -errnos.EINVAL
    # timespec64_to_ktime saturates at KTIME_MAX (about 292 years): no longer sleep exists.
    want = min(sec * NSEC + nsec, KTIME_MAX)
    if absolute:
        now = clock_ns(k, clock_id)
        assert now is not None  # the callers answer an unknown clock with -EINVAL first
        want -= now
        if want <= 0:
            return 0  # a moment already past: at once
    if _others_exist(k):
        # Other tasks can use the CPU meanwhile: sleep as a wait with a deadline (the run
        # loop lets time pass, or runs them, until it), as hrtimer_nanosleep sleeps.
        return _sleep_again(k, k.clock.monotonic_ns() + want, rem, absolute, bits)
    if k.clock.kind != "real":
        k.clock.sleep_ns(want)
        return 0
    from kernel_model.proc.wait import SIGNAL, waiter_of

    start = time.monotonic_ns()
    # A float deadline for select; past ~10^17 s it is "never", which is what it means.
    outcome = waiter_of(k).sleep_until((start + want) / NSEC)
    if outcome != SIGNAL:
        return 0
    if rem and not absolute:
        left = max(0, want - (time.monotonic_ns() - start))
        k.write(rem, pack_timespec(min(left, _TIMESPEC_MAX[bits]), bits))
    return -errnos.EINTR


_SLEEPS = ("nanosleep", "clock_nanosleep", "clock_nanosleep_time64")


def _others_exist(k) -> bool:
    """Another task that is not gone (a zombie or dead): it may want the CPU while this one
    sleeps. Alone, a sleep keeps the one-task path (the clock moves, or the host waits)."""
    processes = getattr(k, "processes", None)
    if processes is None:
        return False
    me = k.current
    return any(t is not me and t.state not in ("Z", "X") for t in processes.tasks())


def _sleep_again(k, deadline: int, rem: int, absolute: bool, bits: int) -> int:
    """The sleep as a wait: done once the deadline passed; a signal that ends it early finds
    the time left in `rem` (a relative sleep), written before the run loop decides between
    EINTR (a handler runs) and a restart (none does: the model restarts the whole sleep,
    where Linux's restart_block goes on with the time left)."""
    left = deadline - k.clock.monotonic_ns()
    if left <= 0:
        return 0
    if rem and not absolute and k.signals.deliverable():
        k.write(rem, pack_timespec(min(left, _TIMESPEC_MAX[bits]), bits))
    raise Blocked(None, f"a timeout in {left} ns (sleep)", restart=ERESTART_RESTARTBLOCK,
                  deadline_ns=deadline)


# The largest struct timespec each layout holds, for a `rem` after a "forever" sleep.
_TIMESPEC_MAX = {64: (1 << 63) * NSEC - 1, 32: (1 << 31) * NSEC - 1}


@syscall("nanosleep", InStruct("timespec"), OutStruct("timespec"))
def sys_nanosleep(k: SyscallContext, req, rem):
    return _sleep(k, req, rem, False)


@syscall("clock_nanosleep", Enum("clock"), Flags("clock_flags"), InStruct("timespec"),
         OutStruct("timespec"))
def sys_clock_nanosleep(k: SyscallContext, clock_id, flags, req, rem):
    if clock_ns(k, clock_id) is None or clock_id == CLOCK_THREAD_CPUTIME_ID:
        return -errnos.EINVAL
    return _sleep(k, req, rem, False, clock_id, bool(flags & TIMER_ABSTIME))


@syscall("clock_nanosleep_time64", Enum("clock"), Flags("clock_flags"), InStruct("timespec64"),
         OutStruct("timespec64"))
def sys_clock_nanosleep_time64(k: SyscallContext, clock_id, flags, req, rem):
    if clock_ns(k, clock_id) is None or clock_id == CLOCK_THREAD_CPUTIME_ID:
        return -errnos.EINVAL
    return _sleep(k, req, rem, True, clock_id, bool(flags & TIMER_ABSTIME))


@syscall("times", OutStruct("tms"))
def sys_times(k: SyscallContext, buf):
    ticks = k.clock.cputime_ns() // (NSEC // 100)
    if buf:
        fmt = "<4q" if k.abi.bits == 64 else "<4i"
        k.write(buf, struct.pack(fmt, ticks, 0, 0, 0))
    # The return value is clock ticks since an arbitrary point: boot, here.
    return (k.clock.boottime_ns() // (NSEC // 100)) & k.abi.mask

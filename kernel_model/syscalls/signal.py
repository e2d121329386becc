"""Signal syscalls (kernel/signal.c, arch/x86/kernel/signal.c): dispositions, the mask,
the alternate stack, and the return from a handler through the frame kernel_model.signals.frame
built."""

from __future__ import annotations

import struct
import weakref
from typing import TYPE_CHECKING

from kernel_model.proc.process import SigAction
from kernel_model.proc.sched import ERESTARTNOHAND, Blocked
from kernel_model.signals.delivery import NSIG, SIGCHLD, SIGKILL, SIGSTOP
from kernel_model.syscalls.argkinds import (
    Enum,
    InStruct,
    Int,
    OutSigSet,
    OutStruct,
    Signal,
    SigSet,
    UInt,
)
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

# The kernel's struct sigaction: handler, flags, restorer, mask (k_sigaction layout).
UNBLOCKABLE = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))
NSEC = 1_000_000_000


def _sigaction_fmt(k: SyscallContext) -> str:
    return "<QQQQ" if k.abi.bits == 64 else "<IIIQ"


@syscall("rt_sigaction", Signal(), InStruct("sigaction"), OutStruct("sigaction"), UInt())
def sys_rt_sigaction(k: SyscallContext, sig, act, oact, sigsetsize):
    if sigsetsize != 8:
        return -errnos.EINVAL
    if not 1 <= sig <= NSIG or (act and sig in (SIGKILL, SIGSTOP)):
        return -errnos.EINVAL
    fmt = _sigaction_fmt(k)
    old = k.process.sigactions.get(sig, SigAction())
    new = None
    if act:
        handler, flags, restorer, mask = struct.unpack(fmt, k.read(act, struct.calcsize(fmt)))
        new = SigAction(handler, flags, restorer, mask & ~UNBLOCKABLE)
    if oact:
        k.write(oact, struct.pack(fmt, old.handler, old.flags, old.restorer, old.mask))
    if new is not None:
        k.process.sigactions[sig] = new
    return 0


SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2


@syscall("rt_sigprocmask", Enum("sigprocmask_how"), SigSet(), OutSigSet(), UInt())
def sys_rt_sigprocmask(k: SyscallContext, how, nset, oset, sigsetsize):
    if sigsetsize != 8:
        return -errnos.EINVAL
    task = k.current
    old = task.sigmask
    if nset:
        mask = struct.unpack("<Q", k.read(nset, 8))[0] & ~UNBLOCKABLE
        if how == SIG_BLOCK:
            task.sigmask = old | mask
        elif how == SIG_UNBLOCK:
            task.sigmask = old & ~mask
        elif how == SIG_SETMASK:
            task.sigmask = mask
        else:
            return -errnos.EINVAL
    if oset:
        k.write(oset, struct.pack("<Q", old))
    if task.sigmask != old:
        k.signals.mask_changed()
    return 0


SS_ONSTACK, SS_DISABLE, SS_AUTODISARM = 1, 2, 1 << 31
MINSIGSTKSZ = 2048


@syscall("sigaltstack", InStruct("stack_t"), OutStruct("stack_t"))
def sys_sigaltstack(k: SyscallContext, ss, old_ss):
    """do_sigaltstack(): the old stack reports SS_ONSTACK while running on it and
    SS_DISABLE when none is set; a new one may not be set while running on the old one."""
    from kernel_model.signals import frame as sigframe

    fmt = "<QiiQ" if k.abi.bits == 64 else "<IiI"
    size = struct.calcsize(fmt)
    task = k.current
    sp = k.user_sp()
    old_sp, old_flags, old_size = task.altstack
    on_stack = sigframe.on_sig_stack(task, sp)
    new = None
    if ss:
        vals = struct.unpack(fmt, k.read(ss, size))
        new = (vals[0], vals[1], vals[3]) if k.abi.bits == 64 else vals
    if old_ss:
        flags = sigframe.sas_ss_flags(task, sp) | (old_flags & SS_AUTODISARM)
        vals = (old_sp, flags, 0, old_size) if k.abi.bits == 64 else (old_sp, flags, old_size)
        k.write(old_ss, struct.pack(fmt, *vals))
    if new is not None:
        new_sp, new_flags, new_size = new
        if on_stack:
            return -errnos.EPERM
        mode = new_flags & ~SS_AUTODISARM
        if mode not in (0, SS_ONSTACK, SS_DISABLE):
            return -errnos.EINVAL
        if mode == SS_DISABLE:
            task.altstack = (0, SS_DISABLE, 0)
        else:
            if new_size < MINSIGSTKSZ:
                return -errnos.ENOMEM
            task.altstack = (new_sp, new_flags & SS_AUTODISARM, new_size)
    return 0


@syscall("rt_sigreturn", ret="none")
def sys_rt_sigreturn(k: SyscallContext):
    from kernel_model.signals import frame as sigframe

    return sigframe.restore_frame(k, rt=True)


@syscall("sigreturn", ret="none")
def sys_sigreturn(k: SyscallContext):
    from kernel_model.signals import frame as sigframe

    return sigframe.restore_frame(k, rt=False)


@syscall("rt_sigpending", OutSigSet(), UInt())
def sys_rt_sigpending(k: SyscallContext, buf, size):
    if size > 8:
        return -errnos.EINVAL
    k.write(buf, k.signals.pending_mask().to_bytes(8, "little")[:size])
    return 0


# -- waiting for a signal ---------------------------------------------------------------------
# pause and sigsuspend end only by a signal: with a handler they return EINTR after it ran;
# a signal that runs no handler (ignored, or a stop and continue) restarts them
# (-ERESTARTNOHAND). Nothing but a signal wakes them, so no wait queue.
def _wait_for_a_signal(k, what: str):
    raise Blocked(None, what, restart=ERESTARTNOHAND)


@syscall("pause")
def sys_pause(k: SyscallContext):
    _wait_for_a_signal(k, "a signal (pause)")


def _sigsuspend(k, mask: int):
    """kernel/signal.c sigsuspend(): wait with `mask` in place of the task's; the old mask is
    kept as saved_sigmask, for the handler's frame to save and sigreturn to put back."""
    task = k.current
    if task.blocked is None:
        task.saved_sigmask = task.sigmask
        task.sigmask = mask & ~UNBLOCKABLE
        if k.signals.deliverable():
            # The new mask lets a pending signal through: it is handled at once.
            k.stop_cpu()
            return -errnos.EINTR
    _wait_for_a_signal(k, f"a signal (sigsuspend with mask {task.sigmask:#x})")


@syscall("rt_sigsuspend", SigSet(), UInt())
def sys_rt_sigsuspend(k: SyscallContext, mask, sigsetsize):
    if k.current.blocked is None:
        if sigsetsize != 8:
            return -errnos.EINVAL
        return _sigsuspend(k, struct.unpack("<Q", k.read(mask, 8))[0])
    return _sigsuspend(k, 0)


@syscall("sigsuspend", Int(), Int(), UInt())
def sys_sigsuspend(k: SyscallContext, _unused1, _unused2, mask):
    """The i386 call: an old_sigset_t (the first 32 signals) by value, in the third
    argument."""
    return _sigsuspend(k, mask & 0xFFFFFFFF)


# rt_sigtimedwait: the mask the task had before the call unblocked the waited-for signals
# (Linux's real_blocked), by task.
_real_blocked: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_TIMEDWAIT_NAMES = ("rt_sigtimedwait", "rt_sigtimedwait_time64")


def _take_signal(k, wanted: int):
    """Dequeue the first pending signal of `wanted` (the thread's own, as the model keeps
    every signal pending per thread)."""
    task = k.current
    for p in task.pending:
        if wanted & (1 << (p[0] - 1)):
            task.pending.remove(p)
            return p
    return None


def _siginfo_bytes(k, signo: int, code: int, addr: int, info: dict) -> bytes:
    from kernel_model.signals.frame import _siginfo

    bits = k.abi.bits
    data = _siginfo(signo, code, addr, info, bits)
    if signo == SIGCHLD and code > 0:  # _sigchld: pid, uid, status, utime, stime
        fields = struct.pack("<iIi4xqq" if bits == 64 else "<iIiii", info.get("pid", 0),
                             info.get("uid", 0) & 0xFFFFFFFF, info.get("status", 0) or 0,
                             info.get("utime", 0) or 0, info.get("stime", 0) or 0)
        start = 16 if bits == 64 else 12
        data = data[:start] + fields + data[start + len(fields):]
    return data


def _sigtimedwait(k, uthese, uinfo, uts, sigsetsize, time64: bool):
    """kernel/signal.c do_sigtimedwait(): take a pending signal of the set without running
    its handler, and return its number (its siginfo in `uinfo`); wait for one until the
    timeout (EAGAIN), or until another signal is delivered (EINTR)."""
    task = k.current
    call = task.blocked
    retry = call is not None and call.name in _TIMEDWAIT_NAMES
    if sigsetsize != 8:
        return -errnos.EINVAL
    wanted = struct.unpack("<Q", k.read(uthese, 8))[0] & ~UNBLOCKABLE
    if retry:
        task.sigmask = _real_blocked.pop(task, task.sigmask)
        deadline = call.deadline_ns
    else:
        deadline = None
        if uts:
            bits64 = time64 or k.abi.bits == 64
            sec, nsec = struct.unpack("<qq" if bits64 else "<ii",
                                      k.read(uts, 16 if bits64 else 8))
            if sec < 0 or not 0 <= nsec < NSEC:
                return -errnos.EINVAL
            deadline = k.clock.monotonic_ns() + sec * NSEC + nsec
    got = _take_signal(k, wanted)
    if got is not None:
        signo, code, addr, info = got
        if uinfo:
            k.write(uinfo, _siginfo_bytes(k, signo, code, addr, info))
        return signo
    if deadline is not None and k.clock.monotonic_ns() >= deadline:
        return -errnos.EAGAIN
    if retry and k.signals.deliverable():
        # Woken by a signal outside the set: the wait ends, interrupted (the run loop
        # delivers it, with the task's own mask back in place).
        raise Blocked(None, "a signal", restart=ERESTARTNOHAND, deadline_ns=deadline)
    # While it waits, the set's signals are unblocked, so that sending one wakes it.
    _real_blocked[task] = task.sigmask
    task.sigmask &= ~wanted
    raise Blocked(None, f"a signal of {wanted:#x} (sigtimedwait)", restart=ERESTARTNOHAND,
                  deadline_ns=deadline)


@syscall("rt_sigtimedwait", SigSet(), OutStruct("siginfo"), InStruct("timespec"), UInt())
def sys_rt_sigtimedwait(k: SyscallContext, uthese, uinfo, uts, sigsetsize):
    return _sigtimedwait(k, uthese, uinfo, uts, sigsetsize, False)


@syscall("rt_sigtimedwait_time64", SigSet(), OutStruct("siginfo"), InStruct("timespec64"),
         UInt())
def sys_rt_sigtimedwait_time64(k: SyscallContext, uthese, uinfo, uts, sigsetsize):
    return _sigtimedwait(k, uthese, uinfo, uts, sigsetsize, True)

"""Signal syscalls (kernel/signal.c, arch/x86/kernel/signal.c): dispositions, the mask,
the alternate stack, and the return from a handler through the frame kernel_model.signals.frame
built."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from kernel_model.proc.process import SigAction
from kernel_model.signals.delivery import NSIG, SIGKILL, SIGSTOP
from kernel_model.syscalls.argkinds import (
    Enum,
    InStruct,
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

"""i386's old `sigaction` (number 67), before rt_sigaction (kernel/signal.c,
compat_sys_sigaction): struct old_sigaction holds the handler, a 32-bit mask (the first 32
signals), the flags and the restorer, in that order. Programs that call it directly, such
as Linux's own x86 selftests, install handlers without SA_RESTORER this way; those return
through the vDSO's __kernel_sigreturn."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from kernel_model.proc.process import SigAction
from kernel_model.signals.delivery import NSIG, SIGKILL, SIGSTOP
from kernel_model.syscalls.argkinds import InStruct, OutStruct, Signal
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

_OLD_SIGACTION = struct.Struct("<IIII")  # sa_handler, sa_mask, sa_flags, sa_restorer
_UNBLOCKABLE = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))


@syscall("sigaction", Signal(), InStruct("old_sigaction"), OutStruct("old_sigaction"),
         abi="i386")
def sys_sigaction(k: SyscallContext, sig, act, oact):
    """do_sigaction() with the old layout: the new mask is the 32 bits given (siginitset),
    the old one is reported as its first 32 bits."""
    if not 1 <= sig <= NSIG or (act and sig in (SIGKILL, SIGSTOP)):
        return -errnos.EINVAL
    new = None
    if act:
        handler, mask, flags, restorer = _OLD_SIGACTION.unpack(k.read(act,
                                                                       _OLD_SIGACTION.size))
        new = SigAction(handler, flags, restorer, mask & ~_UNBLOCKABLE)
    old = k.process.sigactions.get(sig, SigAction())
    if new is not None:
        k.process.sigactions[sig] = new
    if oact:
        k.write(oact, _OLD_SIGACTION.pack(old.handler & 0xFFFFFFFF, old.mask & 0xFFFFFFFF,
                                          old.flags & 0xFFFFFFFF, old.restorer & 0xFFFFFFFF))
    return 0

"""fork, vfork, clone and clone3 (kernel/fork.c): the calls; kernel_model.proc.fork does
the copying."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from kernel_model.proc.fork import (
    CLONE_THREAD,
    CLONE_VFORK,
    CLONE_VM,
    SIGCHLD,
    CloneRefused,
    copy_process,
)
from kernel_model.proc.sched import ERESTARTNOINTR, Blocked, WaitQueue
from kernel_model.syscalls.argkinds import Hex, Ptr, UInt
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


def _clone(k, flags: int, stack: int, parent_tid: int, child_tid: int, tls: int,
           exit_signal: int | None = None) -> int:
    me = k.current
    if me.vfork_child is not None:
        # Woken in the vfork wait: the child has exec'd or exited.
        child = me.vfork_child
        if not child.vfork_released:
            raise Blocked(child.vfork_done, f"vfork: until pid {child.pid} execs or exits",
                          restart=ERESTARTNOINTR, interruptible=False)
        me.vfork_child = None
        return child.pid
    try:
        task = copy_process(k, flags, stack, parent_tid, child_tid, tls, exit_signal)
    except CloneRefused as refused:
        if refused.why:
            k.note(refused.why)
        return -refused.errno
    k.note_fork(task, flags)
    if flags & CLONE_VFORK and not flags & CLONE_THREAD:
        child = task.process
        child.vfork_done = WaitQueue(f"vfork of {child.pid}")
        me.vfork_child = child
        raise Blocked(child.vfork_done, f"vfork: until pid {child.pid} execs or exits",
                      restart=ERESTARTNOINTR, interruptible=False)
    return task.tid


@syscall("fork")
def sys_fork(k: SyscallContext):
    return _clone(k, SIGCHLD, 0, 0, 0, 0)


@syscall("vfork")
def sys_vfork(k: SyscallContext):
    return _clone(k, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0)


@syscall("clone", Hex(), Ptr(), Ptr(), Ptr(), Hex(), abi="x86_64")
def sys_clone(k: SyscallContext, flags, stack, parent_tid, child_tid, tls):
    return _clone(k, flags & 0xFFFFFFFF, stack, parent_tid, child_tid, tls)


@syscall("clone", Hex(), Ptr(), Ptr(), Hex(), Ptr(), abi="i386")
def sys_clone_i386(k: SyscallContext, flags, stack, parent_tid, tls, child_tid):
    # i386 passes tls before child_tid (CONFIG_CLONE_BACKWARDS).
    return _clone(k, flags, stack, parent_tid, child_tid, tls)


CLONE_ARGS_SIZE_VER0 = 64
CLONE_INTO_CGROUP, CLONE_CLEAR_SIGHAND = 0x200000000, 0x100000000


@syscall("clone3", Ptr(), UInt())
def sys_clone3(k: SyscallContext, uargs, size):
    """struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, stack,
    stack_size, tls (then set_tid, set_tid_size, cgroup), every field 64 bits."""
    if size < CLONE_ARGS_SIZE_VER0 or size > 4096:
        return -errnos.EINVAL
    raw = k.read(uargs, min(size, 88))
    raw += bytes(88 - len(raw))
    (flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
     set_tid, set_tid_size, _cgroup) = struct.unpack("<11Q", raw)
    if size > 88 and any(k.read(uargs + 88, size - 88)):
        return -errnos.E2BIG
    if flags & ~0xFFFFFFFF & ~CLONE_CLEAR_SIGHAND or set_tid or set_tid_size:
        k.note("clone3: set_tid and cgroups are not modelled")
        return -errnos.EINVAL
    if exit_signal > 64 or (flags & CLONE_THREAD and exit_signal):
        return -errnos.EINVAL
    if (stack == 0) != (stack_size == 0):
        return -errnos.EINVAL
    if flags & 0x1000:  # CLONE_PIDFD
        k.note("clone3: pidfds are not modelled")
        return -errnos.EINVAL
    top = stack + stack_size if stack else 0
    ret = _clone(k, flags & 0xFFFFFFFF & ~0xFF, top, parent_tid, child_tid, tls,
                 exit_signal=exit_signal)
    if flags & CLONE_CLEAR_SIGHAND and ret > 0:
        child = k.processes.get(ret)
        if child is not None and child.sigactions is not k.process.sigactions:
            for action in child.sigactions.values():
                if action.handler not in (0, 1):
                    action.handler = 0
    return ret


__all__ = ["CLONE_VM"]

"""pipe and pipe2 (fs/pipe.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_model.files.inode import FsError
from kernel_model.files.uapi import O_CLOEXEC, O_DIRECT, O_EXCL, O_NONBLOCK
from kernel_model.syscalls.argkinds import Flags, OutStruct
from kernel_model.syscalls.fs.plumbing import _fds, _nofile, _u32, fs_call
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

PIPE2_FLAGS = O_CLOEXEC | O_NONBLOCK | O_DIRECT | O_EXCL  # O_EXCL: O_NOTIFICATION_PIPE


def _pipe(k: SyscallContext, fds_addr, flags):
    flags = _u32(flags)
    if flags & ~PIPE2_FLAGS:
        raise FsError(errnos.EINVAL)
    if flags & O_EXCL:
        raise FsError(errnos.NUMBERS["ENOPKG"])  # notification pipes need CONFIG_WATCH_QUEUE
    pipe = k.vfs.new_pipe(k.process.creds.fsuid, k.process.creds.fsgid)  # current_fsuid()
    r, w = pipe.ends(flags & (O_NONBLOCK | O_DIRECT))
    table = _fds(k)
    cloexec = bool(flags & O_CLOEXEC)
    limit = _nofile(k)
    rfd = table.install(r, cloexec=cloexec, limit=limit)
    try:
        wfd = table.install(w, cloexec=cloexec, limit=limit)
    except FsError:
        table.close(rfd)
        w.release()
        raise
    try:
        k.write(fds_addr, rfd.to_bytes(4, "little") + wfd.to_bytes(4, "little"))
    except BaseException:
        table.close(rfd)  # the fds are only installed once user space has them
        table.close(wfd)
        raise
    return 0


@syscall("pipe", OutStruct("int_pair"))
@fs_call
def sys_pipe(k: SyscallContext, fds):
    return _pipe(k, fds, 0)


@syscall("pipe2", OutStruct("int_pair"), Flags("pipe"))
@fs_call
def sys_pipe2(k: SyscallContext, fds, flags):
    return _pipe(k, fds, flags)

"""sync, syncfs, fsync, fdatasync (fs/sync.c). The model's own file systems live in
memory, so there is nothing to write back; a shared host file is fsync'ed on the host, so
a guest's fsync means what it says for the user's data. The fd checks are Linux's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_model.files.inode import FsError
from kernel_model.files.uapi import S_IFIFO
from kernel_model.syscalls.argkinds import Fd
from kernel_model.syscalls.fs.plumbing import _fds, _u32, fs_call
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


@syscall("sync")
def sys_sync(k: SyscallContext):
    return 0


@syscall("syncfs", Fd())
@fs_call
def sys_syncfs(k: SyscallContext, fd):
    _fds(k)[_u32(fd)]  # EBADF for a closed fd; O_PATH fds are accepted (fdget)
    return 0


def _fsync(k: SyscallContext, fd: int) -> int:
    from kernel_model.files.file import PathFile

    f = _fds(k)[_u32(fd)]
    if isinstance(f, PathFile):
        raise FsError(errnos.EBADF)
    node = f.inode
    # A pipe, a socket or a terminal has no fsync operation: EINVAL (vfs_fsync_range).
    if node is None or node.kind == S_IFIFO:
        raise FsError(errnos.EINVAL)
    sync = getattr(f, "sync", None)
    if sync is not None:
        sync()
    return 0


@syscall("fsync", Fd())
@fs_call
def sys_fsync(k: SyscallContext, fd):
    return _fsync(k, fd)


@syscall("fdatasync", Fd())
@fs_call
def sys_fdatasync(k: SyscallContext, fd):
    return _fsync(k, fd)

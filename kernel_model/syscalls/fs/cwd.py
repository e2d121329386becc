"""The working directory: getcwd (fs/d_path.c), chdir and fchdir (fs/open.c)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from kernel_model.files.inode import FsError
from kernel_model.files.uapi import X_OK
from kernel_model.syscalls.argkinds import Fd, OutStr, Path, UInt
from kernel_model.syscalls.fs.plumbing import _cred, _fds, _path, _u32, fs_call
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


@syscall("getcwd", OutStr(), UInt())
@fs_call
def sys_getcwd(k: SyscallContext, buf, size):
    data = os.fsencode(k.process.cwd) + b"\0"
    if len(data) > size:
        raise FsError(errnos.ERANGE)
    k.write(buf, data)
    return len(data)  # the raw syscall counts the NUL (glibc's wrapper returns buf)


@syscall("chdir", Path())
@fs_call
def sys_chdir(k: SyscallContext, path_addr):
    path = _path(k, path_addr)
    lk = k.vfs.resolve(path, base=k.process.cwd)
    node = lk.existing()
    if not node.is_dir:
        raise FsError(errnos.ENOTDIR)
    node.permission(_cred(k), X_OK)
    k.process.cwd = lk.path
    return 0


@syscall("fchdir", Fd())
@fs_call
def sys_fchdir(k: SyscallContext, fd):
    f = _fds(k)[_u32(fd)]
    if not f.is_dir:
        raise FsError(errnos.ENOTDIR)
    f.inode.permission(_cred(k), X_OK)
    k.process.cwd = f.path
    return 0

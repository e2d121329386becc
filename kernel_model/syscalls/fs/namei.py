"""Creating and removing names: mkdir, unlink, rmdir and their *at forms (fs/namei.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_model.files.inode import FsError
from kernel_model.files.uapi import AT_FDCWD, AT_REMOVEDIR
from kernel_model.syscalls.argkinds import DirFd, Flags, Mode, Path
from kernel_model.syscalls.fs.plumbing import _base, _cred, _path, _u32, fs_call
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


def _mkdir(k: SyscallContext, dirfd, path_addr, mode):
    path = _path(k, path_addr)
    k.vfs.mkdir(path, _u32(mode), base=_base(k, dirfd, path), cred=_cred(k),
                umask=getattr(k.process, "umask", 0o022))
    return 0


@syscall("mkdir", Path(), Mode())
@fs_call
def sys_mkdir(k: SyscallContext, path, mode):
    return _mkdir(k, AT_FDCWD, path, mode)


@syscall("mkdirat", DirFd(), Path(), Mode())
@fs_call
def sys_mkdirat(k: SyscallContext, dirfd, path, mode):
    return _mkdir(k, dirfd, path, mode)


def _unlink(k: SyscallContext, dirfd, path_addr, directory: bool):
    path = _path(k, path_addr)
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if directory and last == ".":
        raise FsError(errnos.EINVAL)
    if last == "..":
        raise FsError(errnos.ENOTEMPTY if directory else errnos.EISDIR)
    k.vfs.unlink(path, base=_base(k, dirfd, path), cred=_cred(k), directory=directory)
    return 0


@syscall("unlink", Path())
@fs_call
def sys_unlink(k: SyscallContext, path):
    return _unlink(k, AT_FDCWD, path, False)


@syscall("rmdir", Path())
@fs_call
def sys_rmdir(k: SyscallContext, path):
    return _unlink(k, AT_FDCWD, path, True)


@syscall("unlinkat", DirFd(), Path(), Flags("at"))
@fs_call
def sys_unlinkat(k: SyscallContext, dirfd, path, flags):
    flags = _u32(flags)
    if flags & ~AT_REMOVEDIR:
        raise FsError(errnos.EINVAL)
    return _unlink(k, dirfd, path, bool(flags & AT_REMOVEDIR))

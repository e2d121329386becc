"""rename, renameat, renameat2 (fs/namei.c: do_renameat2). The checks live in the VFS
(Vfs.rename, in Linux's order); here the flags are decoded and checked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_model.files.inode import FsError
from kernel_model.files.uapi import (
    AT_FDCWD,
    RENAME_EXCHANGE,
    RENAME_NOREPLACE,
    RENAME_WHITEOUT,
)
from kernel_model.syscalls.argkinds import DirFd, Flags, Path
from kernel_model.syscalls.fs.plumbing import _base, _cred, _path, _u32, fs_call
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


def _rename(k: SyscallContext, olddirfd, old_addr, newdirfd, new_addr, flags: int) -> int:
    flags = _u32(flags)
    if flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT):
        raise FsError(errnos.EINVAL)
    if flags & RENAME_EXCHANGE and flags & (RENAME_NOREPLACE | RENAME_WHITEOUT):
        raise FsError(errnos.EINVAL)
    cred = _cred(k)
    if flags & RENAME_WHITEOUT and not cred.fs_capable and not cred.capable:
        raise FsError(errnos.EPERM)  # a whiteout is a device node: CAP_MKNOD
    old, new = _path(k, old_addr), _path(k, new_addr)
    k.vfs.rename(old, new, old_base=_base(k, olddirfd, old), new_base=_base(k, newdirfd, new),
                 cred=cred, noreplace=bool(flags & RENAME_NOREPLACE),
                 exchange=bool(flags & RENAME_EXCHANGE),
                 whiteout=bool(flags & RENAME_WHITEOUT))
    return 0


@syscall("rename", Path(), Path())
@fs_call
def sys_rename(k: SyscallContext, old, new):
    return _rename(k, AT_FDCWD, old, AT_FDCWD, new, 0)


@syscall("renameat", DirFd(), Path(), DirFd(), Path())
@fs_call
def sys_renameat(k: SyscallContext, olddirfd, old, newdirfd, new):
    return _rename(k, olddirfd, old, newdirfd, new, 0)


@syscall("renameat2", DirFd(), Path(), DirFd(), Path(), Flags("rename"))
@fs_call
def sys_renameat2(k: SyscallContext, olddirfd, old, newdirfd, new, flags):
    return _rename(k, olddirfd, old, newdirfd, new, flags)

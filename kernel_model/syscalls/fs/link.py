"""Hard links and symlinks: link, linkat, symlink, symlinkat (fs/namei.c: do_linkat,
do_symlinkat). The VFS does the checks (Vfs.link, Vfs.symlink)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_model.files.inode import FsError
from kernel_model.files.uapi import AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_FOLLOW, PATH_MAX
from kernel_model.syscalls.argkinds import DirFd, Flags, Path
from kernel_model.syscalls.fs.plumbing import (
    _at_path,
    _base,
    _cred,
    _empty_path_target,
    _path,
    _u32,
    fs_call,
)
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


def _link(k: SyscallContext, olddirfd, old_addr, newdirfd, new_addr, flags: int) -> int:
    flags = _u32(flags)
    if flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH):
        raise FsError(errnos.EINVAL)
    cred = _cred(k)
    old = _at_path(k, old_addr, flags)
    node = None
    if old == "" and flags & AT_EMPTY_PATH:
        # linkat(fd, "", ..., AT_EMPTY_PATH): the open file itself; CAP_DAC_READ_SEARCH
        # only, since an fd may name a file its holder could never reach by path.
        if not cred.fs_capable:
            raise FsError(errnos.ENOENT)
        target = _empty_path_target(k, olddirfd)
        node = getattr(target, "inode", target)
        if node is None:
            raise FsError(errnos.EXDEV, "the host's own stdin/stdout are not in a guest "
                                        "file system")
    new = _path(k, new_addr)
    k.vfs.link(old, new, old_base=_base(k, olddirfd, old) if node is None else "/",
               new_base=_base(k, newdirfd, new), cred=cred,
               follow=bool(flags & AT_SYMLINK_FOLLOW), node=node)
    return 0


@syscall("link", Path(), Path())
@fs_call
def sys_link(k: SyscallContext, old, new):
    return _link(k, AT_FDCWD, old, AT_FDCWD, new, 0)


@syscall("linkat", DirFd(), Path(), DirFd(), Path(), Flags("at"))
@fs_call
def sys_linkat(k: SyscallContext, olddirfd, old, newdirfd, new, flags):
    return _link(k, olddirfd, old, newdirfd, new, flags)


def _symlink(k: SyscallContext, target_addr, newdirfd, new_addr) -> int:
    raw = k.read_cstring(target_addr)
    if len(raw) >= PATH_MAX:
        raise FsError(errnos.ENAMETOOLONG)
    import os

    target = os.fsdecode(raw)
    new = _path(k, new_addr)
    k.vfs.symlink(target, new, base=_base(k, newdirfd, new), cred=_cred(k))
    return 0


@syscall("symlink", Path(), Path())
@fs_call
def sys_symlink(k: SyscallContext, target, new):
    return _symlink(k, target, AT_FDCWD, new)


@syscall("symlinkat", Path(), DirFd(), Path())
@fs_call
def sys_symlinkat(k: SyscallContext, target, newdirfd, new):
    return _symlink(k, target, newdirfd, new)

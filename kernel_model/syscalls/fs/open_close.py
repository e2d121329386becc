"""Opening and closing files, access checks, ftruncate and chmod (fs/open.c; fs/attr.c:
setattr_prepare)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from kernel_model.files.file import PathFile
from kernel_model.files.inode import FsError
from kernel_model.files.uapi import (
    AT_EACCESS,
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_SYMLINK_NOFOLLOW,
    O_CLOEXEC,
    O_CREAT,
    O_LARGEFILE,
    O_TRUNC,
    O_WRONLY,
    S_IFREG,
)
from kernel_model.syscalls.argkinds import DirFd, Fd, Flags, Long, Mode, Path
from kernel_model.syscalls.fs.plumbing import (
    _at_path,
    _base,
    _cred,
    _empty_path_target,
    _fds,
    _nofile,
    _path,
    _u32,
    fs_call,
)
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


# -- open and close -----------------------------------------------------------------------
def _open(k: SyscallContext, dirfd: int, path_addr: int, flags: int, mode: int) -> int:
    flags = _u32(flags)
    if k.abi.bits == 64:
        flags |= O_LARGEFILE  # force_o_largefile(): every 64-bit open is large-file
    path = _path(k, path_addr)
    table = _fds(k)
    limit = _nofile(k)
    # get_unused_fd_flags() runs before the path walk: EMFILE wins over ENOENT.
    if all(fd in table for fd in range(limit)):
        raise FsError(errnos.EMFILE)
    f = k.vfs.open(path, flags, _u32(mode) if flags & O_CREAT else 0,
                   base=_base(k, dirfd, path), cred=_cred(k),
                   umask=getattr(k.process, "umask", 0o022))
    try:
        return table.install(f, cloexec=bool(flags & O_CLOEXEC), limit=limit)
    except FsError:
        if f.refs == 0:
            f.release()
        raise


@syscall("open", Path(), Flags("open"), Mode())
@fs_call
def sys_open(k: SyscallContext, path, flags, mode):
    return _open(k, AT_FDCWD, path, flags, mode)


@syscall("openat", DirFd(), Path(), Flags("open"), Mode())
@fs_call
def sys_openat(k: SyscallContext, dirfd, path, flags, mode):
    return _open(k, dirfd, path, flags, mode)


@syscall("creat", Path(), Mode())
@fs_call
def sys_creat(k: SyscallContext, path, mode):
    return _open(k, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode)


@syscall("close", Fd())
@fs_call
def sys_close(k: SyscallContext, fd):
    _fds(k).close(_u32(fd))
    return 0


# -- access -------------------------------------------------------------------------------
def _access(k: SyscallContext, dirfd, path_addr, mode, flags):
    mode, flags = _u32(mode), _u32(flags)
    if mode & ~7 or flags & ~(AT_SYMLINK_NOFOLLOW | AT_EACCESS | AT_EMPTY_PATH):
        raise FsError(errnos.EINVAL)
    path = _at_path(k, path_addr, flags)
    cred = _cred(k)
    if not flags & AT_EACCESS:
        # access_override_creds: the check is made as the real user and group, so a
        # setuid program can ask what its caller may do.
        cred = cred.with_(fsuid=cred.ruid, fsgid=cred.rgid)
    if path == "":
        if not flags & AT_EMPTY_PATH:
            raise FsError(errnos.ENOENT)
        target = _empty_path_target(k, dirfd)
        node = getattr(target, "inode", target)
        if node is None:  # a borrowed host stream: the host's answer
            return 0 if os.access(f"/proc/self/fd/{target.host_fd}", mode) else \
                -errnos.EACCES
    else:
        node = k.vfs.resolve(path, base=_base(k, dirfd, path),
                             follow=not flags & AT_SYMLINK_NOFOLLOW, cred=cred).existing()
    if mode:
        node.permission(cred, mode)
    return 0


@syscall("access", Path(), Flags("access"))
@fs_call
def sys_access(k: SyscallContext, path, mode):
    return _access(k, AT_FDCWD, path, mode, 0)


@syscall("faccessat", DirFd(), Path(), Flags("access"))
@fs_call
def sys_faccessat(k: SyscallContext, dirfd, path, mode):
    return _access(k, dirfd, path, mode, 0)


@syscall("faccessat2", DirFd(), Path(), Flags("access"), Flags("at"))
@fs_call
def sys_faccessat2(k: SyscallContext, dirfd, path, mode, flags):
    return _access(k, dirfd, path, mode, flags)


# -- ftruncate ----------------------------------------------------------------------------
@syscall("ftruncate", Fd(), Long())
@fs_call
def sys_ftruncate(k: SyscallContext, fd, length):
    length = k.abi.signed(length)
    if length < 0:
        raise FsError(errnos.EINVAL)
    f = _fds(k)[_u32(fd)]
    # do_sys_ftruncate: EINVAL unless a regular file open for writing.
    if not f.writable or f.inode is None or f.inode.kind != S_IFREG:
        raise FsError(errnos.EINVAL)
    f.inode.truncate(length)
    return 0


# -- chmod (fs/open.c: chmod_common; fs/attr.c: setattr_prepare) ---------------------------
S_ISGID = 0o2000


def _chmod(k: SyscallContext, node, mode: int) -> int:
    """Change a node's permission bits: EROFS on a read-only file system, EPERM unless the
    caller's fsuid owns it (or it is root); a caller outside the file's group (fsgid and
    supplementary groups) loses S_ISGID. On a
    shared host directory the host loses S_ISUID and S_ISGID too (hostfs.py)."""
    if node is None:  # a borrowed host stream: the guest does not own the host's file
        raise FsError(errnos.EPERM, "syscall-lab does not chmod the host's own stdin/stdout")
    mode = _u32(mode) & 0o7777
    if node.read_only_fs:
        raise FsError(errnos.EROFS)
    cred = _cred(k)
    uid, gid = node.owner_ids()
    if cred.fsuid != uid and not cred.fs_capable:  # inode_owner_or_capable: CAP_FOWNER
        raise FsError(errnos.EPERM)
    if not cred.in_group_p(gid) and not cred.fs_capable:  # CAP_FSETID keeps it
        mode &= ~S_ISGID
    node.chmod(mode)
    return 0


def _chmod_at(k: SyscallContext, dirfd, path_addr, mode, flags) -> int:
    flags = _u32(flags)
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise FsError(errnos.EINVAL)
    path = _at_path(k, path_addr, flags)
    if path == "" and flags & AT_EMPTY_PATH:
        target = _empty_path_target(k, dirfd)
        node = getattr(target, "inode", target)
    else:
        node = k.vfs.resolve(path, base=_base(k, dirfd, path),
                             follow=not flags & AT_SYMLINK_NOFOLLOW).existing()
    if node is not None and node.is_symlink:  # a symlink's own mode cannot change
        raise FsError(errnos.EOPNOTSUPP)
    return _chmod(k, node, mode)


@syscall("chmod", Path(), Mode())
@fs_call
def sys_chmod(k: SyscallContext, path, mode):
    return _chmod_at(k, AT_FDCWD, path, mode, 0)


@syscall("fchmod", Fd(), Mode())
@fs_call
def sys_fchmod(k: SyscallContext, fd, mode):
    f = _fds(k)[_u32(fd)]
    if isinstance(f, PathFile):  # O_PATH descriptors cannot change what they name
        raise FsError(errnos.EBADF)
    return _chmod(k, f.inode, mode)


@syscall("fchmodat", DirFd(), Path(), Mode())
@fs_call
def sys_fchmodat(k: SyscallContext, dirfd, path, mode):
    return _chmod_at(k, dirfd, path, mode, 0)


@syscall("fchmodat2", DirFd(), Path(), Mode(), Flags("at"))
@fs_call
def sys_fchmodat2(k: SyscallContext, dirfd, path, mode, flags):
    return _chmod_at(k, dirfd, path, mode, flags)

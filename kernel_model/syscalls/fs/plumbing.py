"""What every file syscall shares: errors as -errno, the 32-bit views of raw registers,
the caller's fd table, credentials and limits, and where a path (or a *at dirfd) starts
from (fs/namei.c: path_init; fs/file.c: the fd limit; fs/stat.c: AT_EMPTY_PATH).

The helpers keep their leading underscores: they are private to this package."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

from kernel_model.files.inode import Cred, FsError
from kernel_model.files.uapi import AT_EMPTY_PATH, AT_FDCWD, NR_OPEN_DEFAULT, RLIMIT_NOFILE
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


def fs_call(fn):
    """A handler whose file-system errors become -errno (and their notes trace notes)."""

    @functools.wraps(fn)
    def wrapper(k, *args):
        try:
            return fn(k, *args)
        except FsError as e:
            if e.note:
                k.note(e.note)
            return -e.errno

    return wrapper


def _u32(v: int) -> int:
    return v & 0xFFFFFFFF


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _fds(k: SyscallContext):
    return k.process.fds


def _nofile(k: SyscallContext) -> int:
    """The soft RLIMIT_NOFILE: new fds must be below it."""
    limits = getattr(k.process, "rlimits", None) or {}
    return limits.get(RLIMIT_NOFILE, (NR_OPEN_DEFAULT, 0))[0]


def _cred(k: SyscallContext) -> Cred:
    return k.process.creds


def _path(k: SyscallContext, addr: int) -> str:
    return os.fsdecode(k.read_cstring(addr))


def _base(k: SyscallContext, dirfd: int, path: str) -> str:
    """The directory a relative path starts from: the cwd for AT_FDCWD, else the dirfd's
    (EBADF if none, ENOTDIR if not a directory). Absolute paths ignore dirfd entirely."""
    if path.startswith("/"):
        return "/"
    dirfd = _i32(dirfd)
    if dirfd == AT_FDCWD:
        return k.process.cwd
    f = _fds(k)[dirfd]
    if not f.is_dir:
        raise FsError(errnos.ENOTDIR)
    return f.path


def _empty_path_target(k: SyscallContext, dirfd: int):
    """AT_EMPTY_PATH with "": the dirfd itself (AT_FDCWD: the cwd)."""
    dirfd = _i32(dirfd)
    if dirfd == AT_FDCWD:
        return k.vfs.resolve(k.process.cwd).existing()
    return _fds(k)[dirfd]


def _at_path(k: SyscallContext, addr: int, flags: int) -> str:
    """A *at path argument; with AT_EMPTY_PATH a NULL pointer counts as "" (Linux 6.11+)."""
    if addr == 0 and flags & AT_EMPTY_PATH:
        return ""
    return _path(k, addr)

"""Owners and times: chown, fchown, lchown, fchownat (and i386's 16-bit and *32 forms),
utime, utimes, futimesat, utimensat (fs/open.c: chown_common; fs/attr.c: chown_ok,
chgrp_ok, setattr_prepare; fs/utimes.c: do_utimes, vfs_utimes; kernel/uid16.c).

Who may: changing the owner needs CAP_CHOWN (root); the owner may change the group to one
of its own groups; a chown that keeps the owner is allowed to the owner. Explicit times
need ownership (or CAP_FOWNER): EPERM; "now" (NULL, or both UTIME_NOW) needs ownership or
write permission: EACCES. Owners of host files never change (hostfs.py: root-squashed)."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from kernel_model.files.file import PathFile
from kernel_model.files.inode import TIME_NOW, FsError
from kernel_model.files.uapi import (
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_SYMLINK_NOFOLLOW,
    S_ISGID,
    S_ISUID,
    UTIME_NOW,
    UTIME_OMIT,
    W_OK,
)
from kernel_model.proc.creds import NO_CHANGE
from kernel_model.syscalls.argkinds import DirFd, Fd, Flags, InStruct, Path, Uid
from kernel_model.syscalls.fs.plumbing import (
    _at_path,
    _base,
    _cred,
    _empty_path_target,
    _fds,
    _i32,
    _u32,
    fs_call,
)
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

NS = 1_000_000_000


def _node_of_fd(k: SyscallContext, fd: int):
    f = _fds(k)[_u32(fd)]
    if isinstance(f, PathFile):  # O_PATH descriptors cannot change what they name
        raise FsError(errnos.EBADF)
    if f.inode is None:  # a borrowed host stream
        raise FsError(errnos.EPERM, "syscall-lab does not change the host's own "
                                    "stdin/stdout")
    return f.inode


def _node_at(k: SyscallContext, dirfd, path_addr, flags: int, *, null_is_fd: bool = False):
    """The inode a *at call names: the path from dirfd, or with AT_EMPTY_PATH and "" the
    dirfd itself (`null_is_fd`: utimensat's NULL path means the same)."""
    if null_is_fd and path_addr == 0:
        return _node_of_fd(k, dirfd)
    path = _at_path(k, path_addr, flags)
    if path == "" and flags & AT_EMPTY_PATH:
        target = _empty_path_target(k, dirfd)
        node = getattr(target, "inode", target)
        if node is None:
            raise FsError(errnos.EPERM, "syscall-lab does not change the host's own "
                                        "stdin/stdout")
        return node
    return k.vfs.resolve(path, base=_base(k, dirfd, path),
                         follow=not flags & AT_SYMLINK_NOFOLLOW).existing()


# -- chown --------------------------------------------------------------------------------
def chown_node(k: SyscallContext, node, uid: int, gid: int) -> int:
    if node.read_only_fs:
        raise FsError(errnos.EROFS)
    cred = _cred(k)
    owner, group = node.owner_ids()
    # chown_ok / chgrp_ok (fs/attr.c)
    if uid != NO_CHANGE and not ((cred.fsuid == owner and uid == owner) or cred.fs_capable):
        raise FsError(errnos.EPERM)
    if gid != NO_CHANGE and not ((cred.fsuid == owner and (gid == group or cred.in_group_p(gid)))
                                 or cred.fs_capable):
        raise FsError(errnos.EPERM)
    new_uid = owner if uid == NO_CHANGE else uid
    new_gid = group if gid == NO_CHANGE else gid
    node.chown(new_uid, new_gid)
    # chown_common: a non-directory loses S_ISUID, and S_ISGID when group-executable
    # (ATTR_KILL_SUID, ATTR_KILL_SGID), whoever changes it.
    mode = node.mode & 0o7777
    if not node.is_dir and not node.is_symlink and (uid != NO_CHANGE or gid != NO_CHANGE):
        kept = mode & ~S_ISUID
        if kept & S_ISGID and kept & 0o010:
            kept &= ~S_ISGID
        if kept != mode:
            node.chmod(kept)
    return 0


def _conv(width: int):
    if width == 4:
        return lambda v: v & 0xFFFFFFFF

    def low2high(v: int) -> int:
        v &= 0xFFFF
        return NO_CHANGE if v == 0xFFFF else v
    return low2high


def _register_chown(suffix: str, abi: str | None, width: int) -> None:
    conv = _conv(width)
    ident = Uid(bits=8 * width)

    @fs_call
    def chown(k, path, uid, gid):
        return chown_node(k, _node_at(k, AT_FDCWD, path, 0), conv(uid), conv(gid))

    @fs_call
    def lchown(k, path, uid, gid):
        return chown_node(k, _node_at(k, AT_FDCWD, path, AT_SYMLINK_NOFOLLOW), conv(uid),
                          conv(gid))

    @fs_call
    def fchown(k, fd, uid, gid):
        return chown_node(k, _node_of_fd(k, fd), conv(uid), conv(gid))

    syscall("chown" + suffix, Path(), ident, ident, abi=abi)(chown)
    syscall("lchown" + suffix, Path(), ident, ident, abi=abi)(lchown)
    syscall("fchown" + suffix, Fd(), ident, ident, abi=abi)(fchown)


_register_chown("", None, 4)
_register_chown("", "i386", 2)  # i386's chown, lchown, fchown take 16-bit ids
_register_chown("32", "i386", 4)


@syscall("fchownat", DirFd(), Path(), Uid(), Uid(), Flags("at"))
@fs_call
def sys_fchownat(k: SyscallContext, dirfd, path, uid, gid, flags):
    flags = _u32(flags)
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise FsError(errnos.EINVAL)
    return chown_node(k, _node_at(k, dirfd, path, flags), _u32(uid), _u32(gid))


# -- times --------------------------------------------------------------------------------
def set_times(k: SyscallContext, node, times: tuple[int | None, int | None] | None) -> int:
    """vfs_utimes: `times` as (atime, mtime) in ns, TIME_NOW or None (UTIME_OMIT); None
    for both "now"."""
    if times is not None and times == (TIME_NOW, TIME_NOW):
        times = None
    if node.read_only_fs:
        raise FsError(errnos.EROFS)
    cred = _cred(k)
    owner = cred.fs_capable or cred.fsuid == node.owner_ids()[0]
    if times is None:
        if not owner:
            try:
                node.permission(cred, W_OK)
            except FsError as e:
                raise FsError(errnos.EACCES if e.errno != errnos.EROFS else e.errno) \
                    from None
        node.set_times(TIME_NOW, TIME_NOW)
        return 0
    explicit = [t for t in times if t is not None and t != TIME_NOW]
    if explicit and not owner:
        raise FsError(errnos.EPERM)
    if not explicit and not owner:  # UTIME_NOW with UTIME_OMIT: as "now"
        try:
            node.permission(cred, W_OK)
        except FsError:
            raise FsError(errnos.EACCES) from None
    node.set_times(times[0], times[1])
    return 0


def _timespec_pair(k: SyscallContext, addr: int,
                   word: str) -> tuple[int | None, int | None] | None:
    """struct timespec[2] (word "q" or "i"): UTIME_NOW -> TIME_NOW, UTIME_OMIT -> None;
    EINVAL for a tv_nsec outside 0..999999999 that is neither."""
    if addr == 0:
        return None
    size = struct.calcsize("<" + word * 4)
    a_s, a_ns, m_s, m_ns = struct.unpack("<" + word * 4, k.read(addr, size))
    out: list[int | None] = []
    for sec, nsec in ((a_s, a_ns), (m_s, m_ns)):
        if nsec == UTIME_NOW:
            out.append(TIME_NOW)
        elif nsec == UTIME_OMIT:
            out.append(None)
        elif 0 <= nsec < NS:
            out.append(sec * NS + nsec)
        else:
            raise FsError(errnos.EINVAL)
    return out[0], out[1]


def _timeval_pair(k: SyscallContext, addr: int) -> tuple[int, int] | None:
    """struct timeval[2] (utimes, futimesat): EINVAL for a tv_usec outside 0..999999."""
    if addr == 0:
        return None
    w = "q" if k.abi.bits == 64 else "i"
    a_s, a_us, m_s, m_us = struct.unpack("<" + w * 4, k.read(addr, struct.calcsize(w * 4)))
    if not (0 <= a_us < 1_000_000 and 0 <= m_us < 1_000_000):
        raise FsError(errnos.EINVAL)
    return a_s * NS + a_us * 1000, m_s * NS + m_us * 1000


def _utimensat(k: SyscallContext, dirfd, path, times_addr, flags, word: str) -> int:
    flags = _u32(flags)
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise FsError(errnos.EINVAL)
    times = _timespec_pair(k, times_addr, word)
    if times is not None and times == (None, None):  # both UTIME_OMIT: nothing to do
        return 0
    if path == 0 and flags & AT_SYMLINK_NOFOLLOW:
        raise FsError(errnos.EINVAL)
    if path == 0 and _i32(dirfd) == AT_FDCWD:
        raise FsError(errnos.EFAULT)
    node = _node_at(k, dirfd, path, flags, null_is_fd=True)
    return set_times(k, node, times)


@syscall("utimensat", DirFd(), Path(), InStruct("timespec_pair"), Flags("at"))
@fs_call
def sys_utimensat(k: SyscallContext, dirfd, path, times, flags):
    return _utimensat(k, dirfd, path, times, flags, "q" if k.abi.bits == 64 else "i")


@syscall("utimensat_time64", DirFd(), Path(), InStruct("timespec64_pair"), Flags("at"))
@fs_call
def sys_utimensat_time64(k: SyscallContext, dirfd, path, times, flags):
    return _utimensat(k, dirfd, path, times, flags, "q")


@syscall("utimes", Path(), InStruct("timeval_pair"))
@fs_call
def sys_utimes(k: SyscallContext, path, times):
    return set_times(k, _node_at(k, AT_FDCWD, path, 0), _timeval_pair(k, times))


@syscall("futimesat", DirFd(), Path(), InStruct("timeval_pair"))
@fs_call
def sys_futimesat(k: SyscallContext, dirfd, path, times):
    node = _node_at(k, dirfd, path, 0, null_is_fd=True)
    return set_times(k, node, _timeval_pair(k, times))


@syscall("utime", Path(), InStruct("utimbuf"))
@fs_call
def sys_utime(k: SyscallContext, path, buf):
    node = _node_at(k, AT_FDCWD, path, 0)
    if buf == 0:
        return set_times(k, node, None)
    w = "q" if k.abi.bits == 64 else "i"
    actime, modtime = struct.unpack("<" + w * 2, k.read(buf, struct.calcsize(w * 2)))
    return set_times(k, node, (actime * NS, modtime * NS))


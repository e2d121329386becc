"""Inodes: what a path names in the guest's tree, whatever file system it lives on.

Every file system here (the synthetic root, /proc, /dev, /tmp, a shared host directory)
hands out objects of this shape; the path walk in vfs.py and the handlers only ever talk
to this interface, so no handler can name a host path itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from emu.records import Record
from kernel_model.files.uapi import (
    S_IFDIR,
    S_IFLNK,
    S_IFMT,
    S_IFREG,
    W_OK,
    X_OK,
)
from kernel_model.proc.creds import Credentials
from kernel_model.uapi import errnos

# set_times's "now" (utimensat's UTIME_NOW): each file system reads its own clock.
TIME_NOW = -1


class FsError(Exception):
    """A file-system operation failed with this (positive) errno."""

    def __init__(self, errno: int, note: str = ""):
        super().__init__(errnos.errno_name(errno) + (": " + note if note else ""))
        self.errno = errno
        self.note = note


@dataclass
class Stat:
    """struct kstat: what stat(2) learns, before any ABI's struct layout."""

    dev: tuple[int, int]
    ino: int
    mode: int
    nlink: int
    uid: int
    gid: int
    rdev: tuple[int, int]
    size: int
    blksize: int
    blocks: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int
    btime_ns: int | None = None

    @property
    def kind(self) -> int:
        return self.mode & S_IFMT


class DirEntry(Record):
    _fields = ("name", "ino", "dtype")
    name: str
    ino: int
    dtype: int

    def __init__(self, name: str, ino: int, dtype: int) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "ino", ino)
        object.__setattr__(self, "dtype", dtype)


class Inode:
    """A node in the guest's tree. Subclasses override what their kind supports."""

    mode = S_IFREG | 0o444
    dev = (0, 0)
    rdev = (0, 0)
    nlink = 1
    uid = 0
    gid = 0
    ino = 0
    # Writes to a read-only file system fail with EROFS before any permission check
    # (fs/namei.c: inode_permission -> sb_permission).
    read_only_fs = False

    @property
    def kind(self) -> int:
        return self.mode & S_IFMT

    @property
    def is_dir(self) -> bool:
        return self.kind == S_IFDIR

    @property
    def is_symlink(self) -> bool:
        return self.kind == S_IFLNK

    def size(self) -> int:
        return 0

    def times_ns(self) -> tuple[int, int, int]:
        t = getattr(self, "created_ns", 0)
        return t, t, t

    def owner_ids(self) -> tuple[int, int]:
        """(uid, gid) of the owner, for stat and the permission checks."""
        return self.uid, self.gid

    def stat(self) -> Stat:
        size = self.size()
        a, m, c = self.times_ns()
        uid, gid = self.owner_ids()
        return Stat(self.dev, self.ino, self.mode, self.nlink, uid, gid, self.rdev,
                    size, 4096, (size + 511) // 512, a, m, c)

    # -- directories -----------------------------------------------------------
    def lookup(self, name: str) -> Inode | None:
        raise FsError(errnos.ENOTDIR)

    def entries(self) -> list[DirEntry]:
        """The directory's children, without "." and ".." (the VFS adds those)."""
        raise FsError(errnos.ENOTDIR)

    def create(self, name: str, mode: int, uid: int, gid: int) -> Inode:
        """Make a regular file `name` in this directory (O_CREAT)."""
        raise FsError(errnos.EROFS if self.read_only_fs else errnos.EACCES)

    def mkdir(self, name: str, mode: int, uid: int, gid: int) -> Inode:
        raise FsError(errnos.EROFS if self.read_only_fs else errnos.EPERM)

    def unlink(self, name: str, *, directory: bool) -> None:
        raise FsError(errnos.EROFS if self.read_only_fs else errnos.EPERM)

    def symlink(self, name: str, target: str, uid: int, gid: int) -> Inode:
        """Make a symlink `name` -> `target` in this directory."""
        raise FsError(errnos.EROFS if self.read_only_fs else errnos.EPERM)

    def link(self, name: str, node: Inode) -> None:
        """A new name `name` here for `node` (same file system, checked by the VFS)."""
        raise FsError(errnos.EROFS if self.read_only_fs else errnos.EPERM)

    def rename(self, name: str, new_dir: Inode, new_name: str, *, exchange: bool,
               whiteout: bool, noreplace: bool = False) -> None:
        """Move `name` to `new_dir`/`new_name` (same file system; kinds, permissions and
        loops checked by the VFS): replace what is there, or swap with it (exchange)."""
        raise FsError(errnos.EROFS if self.read_only_fs else errnos.EPERM)

    # -- symlinks --------------------------------------------------------------
    def readlink(self) -> str:
        raise FsError(errnos.EINVAL)

    def follow(self) -> str | tuple[Inode, str]:
        """Where a symlink leads: a guest path to walk (relative to the link's directory),
        or, for /proc's "magic" links, the inode itself and the path it is shown as."""
        return self.readlink()

    # -- opening ---------------------------------------------------------------
    def open(self, flags: int, path: str, cred: Cred):
        """A new open file description (kernel_model.files.file.OpenFile) for this inode.
        Access checks have been done by the VFS."""
        raise FsError(errnos.ENXIO)

    def truncate(self, size: int) -> None:
        raise FsError(errnos.EINVAL)

    def chmod(self, mode: int) -> None:
        """Set the permission bits (0o7777), after the VFS's checks (notify_change)."""
        raise FsError(errnos.EROFS if self.read_only_fs else errnos.EPERM)

    def chown(self, uid: int, gid: int) -> None:
        """Set the owner, after the checks (fs/open.c chown_common, notify_change)."""
        raise FsError(errnos.EROFS if self.read_only_fs else errnos.EPERM)

    def set_times(self, atime_ns: int | None, mtime_ns: int | None) -> None:
        """Set the access and modification times (None: leave it), after the checks."""
        raise FsError(errnos.EROFS if self.read_only_fs else errnos.EPERM)

    def permission(self, cred: Cred, want: int) -> None:
        """generic_permission(): raise EACCES unless `cred` may `want` (R_OK|W_OK|X_OK)."""
        if want & W_OK and self.read_only_fs and self.kind in (S_IFREG, S_IFDIR, S_IFLNK):
            raise FsError(errnos.EROFS)
        if not may(self.mode, *self.owner_ids(), cred, want):
            raise FsError(errnos.EACCES)


# The permission checks' view of a process: its fs ids and groups decide.
Cred = Credentials


def may(mode: int, uid: int, gid: int, cred: Cred, want: int) -> bool:
    """The owner/group/other permission bits for the fsuid, fsgid and groups, then root's
    CAP_DAC_OVERRIDE (held while the fsuid is 0): it may read and write anything and search
    any directory, but execute a file only if some x bit is set (fs/namei.c:
    generic_permission, acl_permission_check; capable_wrt_inode_uidgid)."""
    want &= 7
    if cred.fsuid == uid:
        bits = (mode >> 6) & 7
    elif cred.in_group_p(gid):
        bits = (mode >> 3) & 7
    else:
        bits = mode & 7
    if (bits & want) == want:
        return True
    if cred.fs_capable:
        return not (want & X_OK and (mode & S_IFMT) != S_IFDIR and not mode & 0o111)
    return False


def errno_of(error: OSError) -> int:
    """The Linux errno for a host OSError (the same number on a Linux host; by name
    elsewhere)."""
    import errno as host_errno

    name = host_errno.errorcode.get(error.errno or 0, "")
    return errnos.NUMBERS.get(name, errnos.EIO)


def stat_from_host(st) -> Stat:
    """A host os.stat_result as the guest sees it: the real numbers, nothing invented."""
    import os

    return Stat(
        dev=(os.major(st.st_dev), os.minor(st.st_dev)),
        ino=st.st_ino,
        mode=st.st_mode,
        nlink=st.st_nlink,
        uid=st.st_uid,
        gid=st.st_gid,
        rdev=(os.major(st.st_rdev), os.minor(st.st_rdev)),
        size=st.st_size,
        blksize=getattr(st, "st_blksize", 4096),
        blocks=getattr(st, "st_blocks", (st.st_size + 511) // 512),
        atime_ns=st.st_atime_ns,
        mtime_ns=st.st_mtime_ns,
        ctime_ns=st.st_ctime_ns,
    )

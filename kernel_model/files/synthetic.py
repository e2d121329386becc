"""Building blocks for the trees the model makes up itself (the root, /proc, /dev): fixed
directories and symlinks, with the device numbers Linux gives those file systems."""

from __future__ import annotations

from typing import Callable

from kernel_model.files.inode import DirEntry, FsError, Inode
from kernel_model.files.uapi import S_IFDIR, S_IFLNK, dtype
from kernel_model.uapi import errnos

# st_dev of each made-up file system: anonymous block devices (major 0) in the order a
# typical boot mounts them (proc 0:22, devtmpfs 0:5, a tmpfs /tmp 0:33, pipefs 0:13).
ROOT_DEV = (0, 1)  # the synthetic "/": a read-only file system of its own
DEVTMPFS_DEV = (0, 5)
PIPEFS_DEV = (0, 13)
PROC_DEV = (0, 22)
TMPFS_DEV = (0, 33)
SHM_DEV = (0, 34)  # /dev/shm: a tmpfs of its own


class InodeNumbers:
    """Deterministic inode numbers for a made-up file system: the same run, the same
    numbers."""

    def __init__(self, first: int = 2):
        self.next = first

    def __call__(self) -> int:
        n = self.next
        self.next += 1
        return n


class StaticDir(Inode):
    """A directory whose children come from a function (fixed, or computed per call)."""

    def __init__(self, dev, ino: int, children: Callable[[], dict[str, Inode]], *,
                 mode: int = 0o555, created_ns: int = 0, read_only_fs: bool = False,
                 nlink: int = 2, strict: bool = False):
        self.dev = dev
        self.ino = ino
        self.mode = S_IFDIR | mode
        self.children = children
        self.created_ns = created_ns
        self.read_only_fs = read_only_fs
        self.nlink = nlink
        # procfs's lookups fail outright (proc_root_lookup returns -ENOENT) rather than
        # leaving a negative dentry, so even O_CREAT there gives ENOENT.
        self.strict = strict

    def lookup(self, name: str) -> Inode | None:
        node = self.children().get(name)
        if node is None and self.strict:
            raise FsError(errnos.ENOENT)
        return node

    def entries(self) -> list[DirEntry]:
        return [DirEntry(name, node.ino, dtype(node.mode))
                for name, node in self.children().items()]


class Symlink(Inode):
    """A symlink whose text comes from a function (fixed, or computed per call)."""

    def __init__(self, dev, ino: int, target: Callable[[], str], *, created_ns: int = 0,
                 uid: int = 0, gid: int = 0, sized: bool = True):
        self.dev = dev
        self.ino = ino
        self.mode = S_IFLNK | 0o777
        self.target = target
        self.created_ns = created_ns
        self.uid = uid
        self.gid = gid
        self.sized = sized  # /proc's links report st_size 0

    def readlink(self) -> str:
        return self.target()

    def size(self) -> int:
        return len(self.target().encode()) if self.sized else 0

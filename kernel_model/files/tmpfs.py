"""/tmp: a writable file system in memory (mm/shmem.c's tmpfs), gone when the run ends.
Files are byte arrays shared by every description opened on them; directories keep their
children in creation order, which is the order tmpfs lists them in (simple_offset)."""

from __future__ import annotations

from typing import Callable

from kernel_model import errnos
from kernel_model.files.file import PositionalFile
from kernel_model.files.inode import DirEntry, FsError, Inode
from kernel_model.files.synthetic import TMPFS_DEV, InodeNumbers
from kernel_model.files.uapi import S_IFDIR, S_IFREG, dtype

# A tmpfs file may not grow past this in the model (the host's memory is the limit).
TMPFS_MAX_FILE = 256 << 20


class TmpFs:
    def __init__(self, now_ns: Callable[[], int]):
        self.now_ns = now_ns
        self.numbers = InodeNumbers(first=1)
        # /tmp itself: root-owned, world-writable, sticky (drwxrwxrwt).
        self.root = TmpDir(self, 0o1777, 0, 0)


class TmpNode(Inode):
    def __init__(self, fs: TmpFs, mode: int, uid: int, gid: int):
        self.fs = fs
        self.dev = TMPFS_DEV
        self.ino = fs.numbers()
        self.mode = mode
        self.uid = uid
        self.gid = gid
        t = fs.now_ns()
        self.atime_ns = self.mtime_ns = self.ctime_ns = t

    def times_ns(self) -> tuple[int, int, int]:
        return self.atime_ns, self.mtime_ns, self.ctime_ns

    def chmod(self, mode: int) -> None:
        self.mode = self.kind | mode
        self.ctime_ns = self.fs.now_ns()  # a change to the inode, not its contents

    def touch(self) -> None:
        """A change to the contents: mtime and ctime move."""
        self.mtime_ns = self.ctime_ns = self.fs.now_ns()


class TmpFile(TmpNode):
    def __init__(self, fs: TmpFs, mode: int, uid: int, gid: int):
        super().__init__(fs, S_IFREG | (mode & 0o7777), uid, gid)
        self.data = bytearray()

    def size(self) -> int:
        return len(self.data)

    def truncate(self, size: int) -> None:
        if size > TMPFS_MAX_FILE:
            raise FsError(errnos.EFBIG)
        if size < len(self.data):
            del self.data[size:]
        else:
            self.data.extend(bytes(size - len(self.data)))
        self.touch()

    def open(self, flags: int, path: str, cred) -> TmpOpenFile:
        return TmpOpenFile(self, path, flags)


class TmpOpenFile(PositionalFile):
    def mmap_bytes(self) -> bytes | None:
        return bytes(self.inode.data)

    def pread(self, k, offset: int, n: int) -> bytes:
        return bytes(self.inode.data[offset:offset + n])

    def pwrite(self, k, offset: int, data: bytes) -> int:
        node: TmpFile = self.inode
        end = offset + len(data)
        if end > TMPFS_MAX_FILE:
            raise FsError(errnos.EFBIG)
        if offset > len(node.data):  # writing past the end leaves a hole of zeros
            node.data.extend(bytes(offset - len(node.data)))
        node.data[offset:end] = data
        node.touch()
        return len(data)


class TmpDir(TmpNode):
    def __init__(self, fs: TmpFs, mode: int, uid: int, gid: int):
        super().__init__(fs, S_IFDIR | (mode & 0o7777), uid, gid)
        self.children: dict[str, TmpNode] = {}

    @property
    def nlink(self) -> int:  # "." and the entry in the parent, plus each subdir's ".."
        return 2 + sum(1 for c in self.children.values() if c.is_dir)

    def size(self) -> int:
        # tmpfs reports a directory's size as 20 bytes per entry plus 40 (BOGO_DIRENT_SIZE).
        return 40 + 20 * len(self.children)

    def lookup(self, name: str) -> Inode | None:
        return self.children.get(name)

    def entries(self) -> list[DirEntry]:
        return [DirEntry(name, n.ino, dtype(n.mode)) for name, n in self.children.items()]

    def _add(self, name: str, node: TmpNode) -> TmpNode:
        if name in self.children:
            raise FsError(errnos.EEXIST)
        self.children[name] = node
        self.touch()
        return node

    def create(self, name: str, mode: int, uid: int, gid: int) -> Inode:
        return self._add(name, TmpFile(self.fs, mode, uid, gid))

    def mkdir(self, name: str, mode: int, uid: int, gid: int) -> Inode:
        return self._add(name, TmpDir(self.fs, mode, uid, gid))

    def unlink(self, name: str, *, directory: bool) -> None:
        node = self.children.get(name)
        if node is None:
            raise FsError(errnos.ENOENT)
        if directory:
            if not node.is_dir:
                raise FsError(errnos.ENOTDIR)
            if node.children:
                raise FsError(errnos.ENOTEMPTY)
        elif node.is_dir:
            raise FsError(errnos.EISDIR)
        del self.children[name]  # open descriptions keep the inode alive, as in Linux
        self.touch()

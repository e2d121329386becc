"""/tmp: a writable file system in memory (mm/shmem.c's tmpfs), gone when the run ends.
A file's data is sparse (files/sparse.py: only the pages written take memory) and shared by
every description opened on it; directories keep their children in creation order, which is
the order tmpfs lists them in (simple_offset).

Its pages are guest memory, as shmem pages are RAM: they count against the memory cap
(--memory-limit) together with the guest's mappings, and against the file system's own
size (--tmpfs-limit, tmpfs's size= option; default the memory cap, where Linux's default is
half of RAM). A write that would allocate beyond either fails with ENOSPC; a file may still
be made as large as Linux allows by ftruncate, since a hole takes no memory."""

from __future__ import annotations

from typing import Callable

from kernel_model.files.file import PositionalFile
from kernel_model.files.inode import DirEntry, FsError, Inode, Stat
from kernel_model.files.sparse import SparseData
from kernel_model.files.synthetic import TMPFS_DEV, InodeNumbers
from kernel_model.files.uapi import S_IFDIR, S_IFREG, dtype
from kernel_model.uapi import errnos

# shmem's s_maxbytes (MAX_LFS_FILESIZE): a hole costs nothing, so the model takes Linux's.
TMPFS_MAX_FILE = (1 << 63) - 1


class TmpBudget:
    """The pages /tmp holds, against its size limit and the guest's memory cap (`mm`: the
    process's Mm, whose cap then counts them with the mappings, see Mm.outside)."""

    def __init__(self, limit: int | None = None, mm=None):
        self.limit = limit
        self.mm = mm
        self.used = 0

    def charge(self, delta: int) -> None:
        mm = self.mm
        if delta > 0:
            if self.limit is not None and self.used + delta > self.limit:
                raise FsError(errnos.ENOSPC, "the tmpfs size limit (--tmpfs-limit) is reached")
            if mm is not None and mm.total + mm.outside + delta > mm.limit:
                raise FsError(errnos.ENOSPC, "the guest memory cap (--memory-limit) is "
                                             "reached")
        self.used += delta
        if mm is not None:
            mm.outside += delta


class TmpFs:
    def __init__(self, now_ns: Callable[[], int], budget: TmpBudget | None = None,
                 dev: tuple[int, int] = TMPFS_DEV):
        self.now_ns = now_ns
        self.dev = dev  # each tmpfs mount (/tmp, /dev/shm) is its own device
        self.budget = budget if budget is not None else TmpBudget()
        self.numbers = InodeNumbers(first=1)
        # /tmp itself: root-owned, world-writable, sticky (drwxrwxrwt).
        self.root = TmpDir(self, 0o1777, 0, 0)


class TmpNode(Inode):
    def __init__(self, fs: TmpFs, mode: int, uid: int, gid: int):
        self.fs = fs
        self.dev = fs.dev
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
        self.data = SparseData(fs.budget)
        self.linked = True  # in a directory; its pages are freed once unlinked and closed
        self.opens = 0

    def size(self) -> int:
        return len(self.data)

    def stat(self) -> Stat:
        st = super().stat()
        st.blocks = self.data.allocated // 512  # a sparse file's blocks: its pages only
        return st

    def truncate(self, size: int) -> None:
        if size > TMPFS_MAX_FILE:
            raise FsError(errnos.EFBIG)
        self.data.truncate(size)
        self.touch()

    def open(self, flags: int, path: str, cred) -> TmpOpenFile:
        self.opens += 1
        return TmpOpenFile(self, path, flags)

    def forget(self) -> None:
        """Unlinked, or its last description closed: once both, the pages are free."""
        if not self.linked and self.opens == 0:
            self.data.release()


class TmpOpenFile(PositionalFile):
    inode: TmpFile

    def mmap_bytes(self) -> SparseData:
        return self.inode.data  # sliced by mmap: only the mapped range is made

    def pread(self, k, offset: int, n: int) -> bytes:
        return self.inode.data.read(offset, n)

    def pwrite(self, k, offset: int, data: bytes) -> int:
        node = self.inode
        end = offset + len(data)
        if end > TMPFS_MAX_FILE:
            raise FsError(errnos.EFBIG)
        try:
            n = node.data.write(offset, data)
        except FsError as e:
            if k is not None and e.note:
                k.note(e.note)
            raise
        if n:
            node.touch()
        return n

    def release(self) -> None:
        node = self.inode
        node.opens -= 1
        node.forget()


class TmpDir(TmpNode):
    def __init__(self, fs: TmpFs, mode: int, uid: int, gid: int):
        super().__init__(fs, S_IFDIR | (mode & 0o7777), uid, gid)
        self.children: dict[str, TmpNode] = {}

    def stat(self) -> Stat:
        st = super().stat()
        # "." and the entry in the parent, plus each subdir's ".."
        st.nlink = 2 + sum(1 for c in self.children.values() if c.is_dir)
        return st

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
            if not isinstance(node, TmpDir):
                raise FsError(errnos.ENOTDIR)
            if node.children:
                raise FsError(errnos.ENOTEMPTY)
        elif node.is_dir:
            raise FsError(errnos.EISDIR)
        del self.children[name]  # open descriptions keep the inode alive, as in Linux
        if isinstance(node, TmpFile):
            node.linked = False
            node.forget()
        self.touch()

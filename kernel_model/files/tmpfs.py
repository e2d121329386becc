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
from kernel_model.files.inode import TIME_NOW, DirEntry, FsError, Inode, Stat
from kernel_model.files.sparse import SparseData
from kernel_model.files.synthetic import TMPFS_DEV, InodeNumbers
from kernel_model.files.uapi import S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, dtype
from kernel_model.uapi import errnos

FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2
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
        self.nlink = 1  # names in directories (hard links); a directory's is computed

    def times_ns(self) -> tuple[int, int, int]:
        return self.atime_ns, self.mtime_ns, self.ctime_ns

    def changed(self) -> None:
        """A change to the inode (owner, mode, links), not its contents: ctime moves."""
        self.ctime_ns = self.fs.now_ns()

    def set_times(self, atime_ns: int | None, mtime_ns: int | None) -> None:
        """utimensat: each given time (None: UTIME_OMIT, TIME_NOW: now); ctime moves to
        now."""
        now = self.fs.now_ns()
        if atime_ns is not None:
            self.atime_ns = now if atime_ns == TIME_NOW else atime_ns
        if mtime_ns is not None:
            self.mtime_ns = now if mtime_ns == TIME_NOW else mtime_ns
        self.ctime_ns = now

    def chown(self, uid: int, gid: int) -> None:
        self.uid, self.gid = uid, gid
        self.changed()

    def unlinked(self) -> None:
        """One name fewer: with none left (and no open description) its data goes."""
        self.nlink -= 1
        self.changed()

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
        self.opens = 0

    @property
    def linked(self) -> bool:
        """In a directory: its pages are freed once unlinked everywhere and closed."""
        return self.nlink > 0

    def unlinked(self) -> None:
        super().unlinked()
        self.forget()

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

    def fallocate(self, mode: int, offset: int, length: int) -> None:
        """shmem_fallocate: allocate (mode 0, or KEEP_SIZE), or punch a hole (PUNCH_HOLE
        with KEEP_SIZE); other modes are EOPNOTSUPP on tmpfs."""
        end = offset + length
        if end > TMPFS_MAX_FILE:
            raise FsError(errnos.EFBIG)
        if mode & FALLOC_FL_PUNCH_HOLE:
            self.data.punch(offset, length)
        else:
            self.data.allocate(offset, length)
            if not mode & FALLOC_FL_KEEP_SIZE and end > len(self.data):
                self.data.length = end
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

    def symlink(self, name: str, target: str, uid: int, gid: int) -> Inode:
        return self._add(name, TmpSymlink(self.fs, target, uid, gid))

    def link(self, name: str, node: Inode) -> None:
        assert isinstance(node, TmpNode) and not node.is_dir
        self._add(name, node)
        node.nlink += 1
        node.changed()

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
        node.unlinked()
        self.touch()

    def rename(self, name: str, new_dir: Inode, new_name: str, *, exchange: bool,
               whiteout: bool, noreplace: bool = False) -> None:
        """mm/shmem.c shmem_rename2: the VFS has checked kinds, permissions and loops;
        what is left is tmpfs's own: a directory replaced must be empty."""
        assert isinstance(new_dir, TmpDir)
        node = self.children[name]
        victim = new_dir.children.get(new_name)
        if exchange:
            assert victim is not None
            self.children[name], new_dir.children[new_name] = victim, node
            victim.changed()
        else:
            if isinstance(victim, TmpDir) and victim.children:
                raise FsError(errnos.ENOTEMPTY)
            if whiteout:  # a 0:0 character device stays behind (overlayfs's marker)
                self.children[name] = TmpNode(self.fs, S_IFCHR, node.uid, node.gid)
            else:
                del self.children[name]
            if victim is not None:
                new_dir.children.pop(new_name)
                victim.unlinked()
            new_dir.children[new_name] = node
        node.changed()
        self.touch()
        new_dir.touch()


class TmpSymlink(TmpNode):
    """A symlink: its target is data, walked by the VFS in the guest's own tree."""

    def __init__(self, fs: TmpFs, target: str, uid: int, gid: int):
        super().__init__(fs, S_IFLNK | 0o777, uid, gid)
        self.target = target

    def readlink(self) -> str:
        return self.target

    def size(self) -> int:
        return len(self.target.encode())

    def stat(self) -> Stat:
        st = super().stat()
        # shmem_symlink: a target under 128 bytes lives in the inode, a longer one a page.
        st.blocks = 0 if st.size < 128 else 8
        return st

"""The kinds of inode /proc is made of (fs/proc/base.c): read-only texts generated at open,
"magic" links that reach an inode rather than a path, the program file /proc/<pid>/exe
reaches, and what /proc/<pid>/fd/N reaches for a stream with no inode of its own."""

from __future__ import annotations

import os
from dataclasses import replace

from kernel_model.files.file import SnapshotFile
from kernel_model.files.inode import FsError, Inode, Stat
from kernel_model.files.synthetic import PROC_DEV, StaticDir, Symlink
from kernel_model.files.uapi import O_ACCMODE, O_PATH, O_RDONLY, O_RDWR, O_WRONLY, S_IFLNK, S_IFREG
from kernel_model.uapi import errnos


class ProcStat:
    """What stat says of every /proc inode: blocks of 1 KiB (proc's s_blocksize), none
    allocated."""

    def stat(self) -> Stat:
        return replace(super().stat(), blksize=1024, blocks=0)  # type: ignore[misc]


class ProcDir(ProcStat, StaticDir):
    pass


class ProcLink(ProcStat, Symlink):
    pass


class ProcFile(ProcStat, Inode):
    """A read-only /proc text: st_size 0 like every seq_file, contents made at open (so a
    text that cannot be made, a zombie's environ, fails the open itself) and made again by
    every later read from offset 0 (SeqFile)."""

    def __init__(self, ino: int, make, *, mode: int = 0o444, created_ns: int = 0,
                 owner=None, write_errno: int = errnos.EINVAL):
        self.dev = PROC_DEV
        self.ino = ino
        self.mode = S_IFREG | mode
        self.make = make
        self.created_ns = created_ns
        self.owner = owner  # a function giving (uid, gid): the process's, for /proc/<pid>
        self.write_errno = write_errno

    def owner_ids(self) -> tuple[int, int]:
        return self.owner() if self.owner else (0, 0)

    def truncate(self, size: int) -> None:
        """O_TRUNC, as a shell's `>` asks: procfs's setattr lets a size change pass."""

    def open(self, flags: int, path: str, cred) -> SnapshotFile:
        return SeqFile(self, path, flags, self.make(), write_errno=self.write_errno)


class SeqFile(SnapshotFile):
    """fs/seq_file.c's reading: a read from offset 0 generates the text afresh (a mapping
    made since the open shows in /proc/self/maps), and a read further on continues in the
    text the last generation made, so a reader taking it in small pieces sees one
    consistent text. The text made at open serves the first read."""

    inode: ProcFile

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fresh = True

    def pread(self, k, offset: int, n: int) -> bytes:
        if offset == 0 and not self.fresh:
            self.data = self.inode.make()
        self.fresh = False
        return super().pread(k, offset, n)


class MagicLink(ProcLink):
    """A /proc link that, when followed, reaches an inode rather than a path."""

    def __init__(self, ino: int, text, target, *, created_ns: int, owner):
        uid, gid = owner()
        super().__init__(PROC_DEV, ino, text, created_ns=created_ns, uid=uid, gid=gid,
                         sized=False)
        self.resolve = target

    def follow(self):
        return self.resolve(), self.readlink()


class FdLink(MagicLink):
    """/proc/<pid>/fd/N: its permission bits say how the fd was opened (r-x for reading,
    -wx for writing, an O_PATH fd none), and its size is 64, as fs/proc/fd.c sets them."""

    def __init__(self, ino: int, file, fd: int, *, created_ns: int, owner):
        super().__init__(ino, file.link_text, lambda: fd_target(file, fd),
                         created_ns=created_ns, owner=owner)
        access = file.flags & O_ACCMODE
        bits = 0
        if not file.flags & O_PATH:
            if access in (O_RDONLY, O_RDWR):
                bits |= 0o500
            if access in (O_WRONLY, O_RDWR):
                bits |= 0o300
        self.mode = S_IFLNK | bits

    def size(self) -> int:
        return 64


class FdDir(ProcDir):
    """/proc/<pid>/fd: its size is the number of open fds (Linux 6.2's proc_fd_getattr)."""

    def size(self) -> int:
        return len(self.children())


class ExeInode(Inode):
    """What /proc/<pid>/exe reaches: the program file the process was started from."""

    def __init__(self, process, created_ns: int):
        self.process = process
        self.created_ns = created_ns
        self.dev, self.ino = process.exe_dev, process.exe_ino  # the model's, not the host's
        try:
            st = os.stat(process.exe_path)
            self.mode = S_IFREG | (st.st_mode & 0o7777)
            self.uid, self.gid = st.st_uid, st.st_gid
            self.created_ns = st.st_mtime_ns
        except OSError:
            self.mode = S_IFREG | 0o755

    def size(self) -> int:
        return len(self.process.exe_bytes)

    def open(self, flags: int, path: str, cred) -> SnapshotFile:
        if flags & O_ACCMODE != O_RDONLY:
            raise FsError(errnos.NUMBERS["ETXTBSY"])  # writing to a running program's file
        return SnapshotFile(self, path, flags, self.process.exe_bytes, seq=False)


class OpenFileInode(Inode):
    """What /proc/<pid>/fd/N reaches for a stream with no inode of its own in the model
    (the borrowed host stdin/stdout/stderr): opening it opens the same host stream."""

    def __init__(self, file, guest_fd: int):
        self.file = file
        self.guest_fd = guest_fd
        st = file.stat()
        self.mode, self.ino, self.dev, self.rdev = st.mode, st.ino, st.dev, st.rdev
        self.uid, self.gid = st.uid, st.gid

    def stat(self) -> Stat:
        return self.file.stat()

    def open(self, flags: int, path: str, cred):
        from kernel_model.files.streams import HostStream

        return HostStream(self.file.host_fd, flags, self.guest_fd, self.file.host_files)


def fd_target(f, fd: int) -> Inode:
    if f.inode is not None:
        return f.inode
    return OpenFileInode(f, fd)

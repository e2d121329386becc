"""Open file descriptions (struct file): what an fd points at. dup() shares one, open()
makes a new one. Each holds the file offset and the status flags (O_APPEND, O_NONBLOCK...);
the per-fd FD_CLOEXEC bit lives in the fd table instead, as in Linux."""

from __future__ import annotations

from typing import Callable, Protocol

from kernel_model.files.inode import DirEntry, FsError, Inode, Stat
from kernel_model.files.uapi import (
    O_ACCMODE,
    O_APPEND,
    O_NONBLOCK,
    O_PATH,
    O_RDONLY,
    O_WRONLY,
    SEEK_CUR,
    SEEK_DATA,
    SEEK_END,
    SEEK_HOLE,
    SEEK_SET,
)
from kernel_model.uapi import errnos


class FileContents(Protocol):
    """What a private file mapping copies from: bytes, or a sparse tmpfs file's data."""

    def __len__(self) -> int: ...

    def __getitem__(self, key: slice, /) -> bytes: ...


class OpenFile:
    """The default answers are Linux's for a file whose driver lacks the operation."""

    seekable = True

    def __init__(self, inode: Inode | None, path: str, flags: int):
        self.inode = inode
        self.path = path  # the canonical guest path (fchdir, *at dirfds, /proc/self/fd)
        self.flags = flags
        self.offset = 0
        self.refs = 0  # fds pointing here; released when the last one closes

    # -- access ----------------------------------------------------------------
    @property
    def readable(self) -> bool:
        return not self.flags & O_PATH and (self.flags & O_ACCMODE) != O_WRONLY

    @property
    def writable(self) -> bool:
        return not self.flags & O_PATH and (self.flags & O_ACCMODE) != O_RDONLY

    @property
    def nonblocking(self) -> bool:
        return bool(self.flags & O_NONBLOCK)

    @property
    def is_dir(self) -> bool:
        return self.inode is not None and self.inode.is_dir

    # -- data --------------------------------------------------------------------
    def read(self, k, n: int) -> bytes:
        raise FsError(errnos.EINVAL)

    def write(self, k, data: bytes) -> int:
        raise FsError(errnos.EINVAL)

    def pread(self, k, offset: int, n: int) -> bytes:
        raise FsError(errnos.ESPIPE if not self.seekable else errnos.EINVAL)

    def pwrite(self, k, offset: int, data: bytes) -> int:
        raise FsError(errnos.ESPIPE if not self.seekable else errnos.EINVAL)

    def unread(self, data: bytes) -> None:
        """Give back bytes the guest could not receive (its buffer faulted), as a failed
        copy_to_user leaves the file position where it was."""
        if self.seekable:
            self.offset -= len(data)

    def lseek(self, offset: int, whence: int) -> int:
        if not self.seekable:
            raise FsError(errnos.ESPIPE)
        return self._generic_lseek(offset, whence, self.size())

    def _generic_lseek(self, offset: int, whence: int, size: int) -> int:
        """fs/read_write.c: generic_file_llseek_size."""
        if whence == SEEK_SET:
            new = offset
        elif whence == SEEK_CUR:
            new = self.offset + offset
        elif whence == SEEK_END:
            new = size + offset
        elif whence in (SEEK_DATA, SEEK_HOLE):
            if offset < 0 or offset >= size:
                raise FsError(errnos.ENXIO)
            new = offset if whence == SEEK_DATA else size
        else:
            raise FsError(errnos.EINVAL)
        if new < 0:
            raise FsError(errnos.EINVAL)
        self.offset = new
        return new

    def size(self) -> int:
        return self.inode.size() if self.inode is not None else 0

    # -- metadata and control --------------------------------------------------
    def stat(self) -> Stat:
        # Descriptions without an inode (the host streams) override stat.
        assert self.inode is not None
        return self.inode.stat()

    def entries(self) -> list[DirEntry]:
        raise FsError(errnos.ENOTDIR)

    def ioctl(self, k, request: int, arg: int) -> int:
        raise FsError(errnos.ENOTTY)

    def set_flags(self, flags: int) -> None:
        """F_SETFL: the caller has already kept only the changeable bits."""
        self.flags = flags

    def link_text(self) -> str:
        """What readlink("/proc/self/fd/N") shows."""
        return self.path

    @property
    def guest_path(self) -> str:
        """The name mmap gives a file mapping in /proc/self/maps."""
        return self.path

    def mmap_bytes(self) -> FileContents | None:
        """The whole contents, for a private file mapping; None where mmap is not
        supported (pipes, devices, directories, streams)."""
        return None

    def release(self) -> None:
        """The last fd pointing here was closed."""


class PositionalFile(OpenFile):
    """A seekable file with random access: read and write go through pread/pwrite at the
    description's offset, and O_APPEND moves the offset to the end before each write."""

    def read(self, k, n: int) -> bytes:
        data = self.pread(k, self.offset, n)
        self.offset += len(data)
        return data

    def write(self, k, data: bytes) -> int:
        if self.flags & O_APPEND:
            self.offset = self.size()
        n = self.pwrite(k, self.offset, data)
        self.offset += n
        return n


class SnapshotFile(PositionalFile):
    """A /proc text generated once at open time (seq_file): reads see that snapshot,
    SEEK_END is refused as seq_lseek refuses it, and writes fail with `write_errno`."""

    def __init__(self, inode: Inode, path: str, flags: int, data: bytes, *,
                 write_errno: int = errnos.EINVAL, seq: bool = True):
        super().__init__(inode, path, flags)
        self.data = data
        self.write_errno = write_errno
        self.seq = seq

    def pread(self, k, offset: int, n: int) -> bytes:
        return self.data[offset:offset + n]

    def mmap_bytes(self) -> bytes | None:
        return None if self.seq else self.data  # /proc/self/exe maps; seq files do not

    def pwrite(self, k, offset: int, data: bytes) -> int:
        raise FsError(self.write_errno)

    def lseek(self, offset: int, whence: int) -> int:
        if self.seq and whence not in (SEEK_SET, SEEK_CUR):
            raise FsError(errnos.EINVAL)
        return self._generic_lseek(offset, whence, len(self.data))


class DirFile(OpenFile):
    """An open directory: getdents64 walks a listing taken at the first read (and again
    after a rewind), each entry's d_off being the position of the next one."""

    def __init__(self, inode: Inode, path: str, flags: int,
                 lister: Callable[[], list[DirEntry]]):
        super().__init__(inode, path, flags)
        self.lister = lister
        self.listing: list[DirEntry] | None = None

    def read(self, k, n: int) -> bytes:
        raise FsError(errnos.EISDIR)

    def write(self, k, data: bytes) -> int:
        raise FsError(errnos.EISDIR)

    def pread(self, k, offset: int, n: int) -> bytes:
        raise FsError(errnos.EISDIR)

    def entries(self) -> list[DirEntry]:
        if self.listing is None or self.offset == 0:
            self.listing = self.lister()
        return self.listing

    def lseek(self, offset: int, whence: int) -> int:
        # dcache_dir_lseek: SEEK_SET and SEEK_CUR only.
        if whence == SEEK_CUR:
            offset += self.offset
        elif whence != SEEK_SET:
            raise FsError(errnos.EINVAL)
        if offset < 0:
            raise FsError(errnos.EINVAL)
        self.offset = offset
        return offset


class PathFile(OpenFile):
    """O_PATH: names a place in the tree (for fstat, fchdir, *at) but cannot be read,
    written or listed: those fail with EBADF (fs/open.c: empty_fops via FMODE_PATH)."""

    def read(self, k, n: int) -> bytes:
        raise FsError(errnos.EBADF)

    def write(self, k, data: bytes) -> int:
        raise FsError(errnos.EBADF)

    def lseek(self, offset: int, whence: int) -> int:
        raise FsError(errnos.EBADF)

    def ioctl(self, k, request: int, arg: int) -> int:
        raise FsError(errnos.EBADF)

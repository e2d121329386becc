"""pipe(2) inside the model (fs/pipe.c): a byte buffer with a read end and a write end.

The guest is one thread, so nothing can ever refill an empty pipe while it waits, nor
drain a full one. Where Linux would block for ever, the model answers at once instead:
  - read of an empty pipe whose write end is still open: EAGAIN (with a note in the trace
    when the read end is blocking, since Linux would hang there);
  - write to a full pipe: as much as fits, or EAGAIN when nothing fits.
Everything else is Linux's: a read returns what is there (up to the count), a read after
every writer closed returns 0 (end of file), a write with no reader left fails with EPIPE
and raises SIGPIPE, and a non-blocking write of at most PIPE_BUF bytes is all or nothing."""

from __future__ import annotations

from kernel_model.files.file import OpenFile
from kernel_model.files.inode import FsError, Inode
from kernel_model.files.synthetic import PIPEFS_DEV
from kernel_model.files.uapi import (
    FIONREAD,
    O_ACCMODE,
    O_RDONLY,
    O_WRONLY,
    PIPE_BUF,
    PIPE_DEF_SIZE,
    S_IFIFO,
)
from kernel_model.uapi import errnos


class Pipe(Inode):
    """The pipe's inode in pipefs: one buffer, counts of open ends."""

    def __init__(self, ino: int, uid: int, gid: int, created_ns: int):
        self.dev = PIPEFS_DEV
        self.ino = ino
        self.mode = S_IFIFO | 0o600
        self.uid = uid
        self.gid = gid
        self.created_ns = created_ns
        self.buffer = bytearray()
        self.capacity = PIPE_DEF_SIZE
        self.readers = 0
        self.writers = 0

    def open(self, flags: int, path: str, cred) -> PipeEnd:
        """Reopening through /proc/self/fd/N: a new end of the same pipe."""
        return PipeEnd(self, flags, reader=(flags & O_ACCMODE) == O_RDONLY)

    def ends(self, flags: int) -> tuple[PipeEnd, PipeEnd]:
        r = PipeEnd(self, O_RDONLY | flags, reader=True)
        w = PipeEnd(self, O_WRONLY | flags, reader=False)
        return r, w


class PipeEnd(OpenFile):
    seekable = False
    inode: Pipe

    def __init__(self, pipe: Pipe, flags: int, *, reader: bool):
        super().__init__(pipe, f"pipe:[{pipe.ino}]", flags)
        self.reader = reader
        if reader:
            pipe.readers += 1
        else:
            pipe.writers += 1

    @property
    def pipe(self) -> Pipe:
        return self.inode

    def read(self, k, n: int) -> bytes:
        pipe = self.pipe
        if n == 0:
            return b""
        if not pipe.buffer:
            if pipe.writers == 0:
                return b""  # end of file
            if not self.nonblocking and k is not None:
                k.note("the pipe is empty and its write end is open: Linux would block for "
                       "ever in a one-thread program; syscall-lab returns EAGAIN")
            raise FsError(errnos.EAGAIN)
        data = bytes(pipe.buffer[:n])
        del pipe.buffer[:n]
        return data

    def unread(self, data: bytes) -> None:
        self.pipe.buffer[:0] = data

    def write(self, k, data: bytes) -> int:
        pipe = self.pipe
        if pipe.readers == 0:
            raise FsError(errnos.EPIPE)
        room = pipe.capacity - len(pipe.buffer)
        if not data:
            return 0
        if room == 0 or (self.nonblocking and len(data) <= PIPE_BUF and room < len(data)):
            if not self.nonblocking and k is not None:
                k.note("the pipe is full and nothing will drain it: Linux would block for "
                       "ever in a one-thread program; syscall-lab returns EAGAIN")
            raise FsError(errnos.EAGAIN)
        if len(data) > room and not self.nonblocking and k is not None:
            k.note(f"the pipe had room for {room} bytes only: a short write (Linux would wait "
                   "for a reader)")
        part = data[:room]
        pipe.buffer += part
        return len(part)

    def ioctl(self, k, request: int, arg: int) -> int:
        if request == FIONREAD:
            k.write(arg, len(self.pipe.buffer).to_bytes(4, "little"))
            return 0
        raise FsError(errnos.ENOTTY)

    def release(self) -> None:
        if self.reader:
            self.pipe.readers -= 1
        else:
            self.pipe.writers -= 1

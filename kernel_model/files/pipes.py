"""pipe(2) inside the model (fs/pipe.c): a byte buffer with a read end and a write end, and
two wait queues, as Linux's pipe_inode_info has rd_wait and wr_wait.

Another task (a forked child, a thread) can fill or drain the pipe, so a call that cannot
go on waits, as in Linux:
  - a read of an empty pipe whose write end is open somewhere sleeps on the readers' queue
    until a write, or the last writer's close, wakes it (O_NONBLOCK: EAGAIN); it returns
    what is there, up to its count, without waiting for the count to fill;
  - a write of at most PIPE_BUF bytes goes in all at once or waits for room for all of it;
    a longer one puts in what fits, waits for room for the rest, and returns only when
    everything is in (O_NONBLOCK: what fits, or EAGAIN when nothing does). A signal ends
    the wait: with the count written so far if any, else the call is interrupted;
  - a read after every writer closed returns 0 (end of file), a write with no reader left
    fails with EPIPE and raises SIGPIPE in the writing thread (even midway through a long
    write, which then returns what it wrote).
A reader alone with the only write end of its own pipe waits for ever, as in Linux: the
run loop then reports the deadlock (every task blocked, nothing can wake one).

The buffer counts bytes, not Linux's page-sized slots: a write of at most PIPE_BUF bytes
needs that many bytes of room (Linux needs one free slot, which holds PIPE_BUF bytes), and
poll reports the write end writable when PIPE_BUF bytes fit."""

from __future__ import annotations

import weakref

from kernel_model.files.file import OpenFile
from kernel_model.files.inode import FsError, Inode
from kernel_model.files.synthetic import PIPEFS_DEV
from kernel_model.files.uapi import (
    FIONREAD,
    O_ACCMODE,
    O_RDONLY,
    O_RDWR,
    O_WRONLY,
    PIPE_BUF,
    PIPE_DEF_SIZE,
    S_IFIFO,
)
from kernel_model.proc.sched import Blocked, WaitQueue
from kernel_model.uapi import errnos

# poll's event bits (include/uapi/asm-generic/poll.h); epoll's have the same values.
POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
POLLRDNORM, POLLWRNORM = 0x40, 0x100


class Pipe(Inode):
    """The pipe's inode in pipefs: one buffer, counts of open ends, and who waits."""

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
        # Tasks waiting for data (readers, and polls for POLLIN) and for room (writers,
        # polls for POLLOUT). A poll waits on both, as pipe_poll's two poll_wait calls.
        self.rd_wait = WaitQueue(f"pipe:[{ino}] data")
        self.wr_wait = WaitQueue(f"pipe:[{ino}] room")
        # The scheduler that wakes them, learnt from the first task that waits here: a
        # close (release) has no kernel at hand, and with no waiter there is none to wake.
        self.sched = None
        # How much of its write each blocked writer has already put in (the call is run
        # again from the start when it is woken, with the same arguments).
        self.written: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def open(self, flags: int, path: str, cred) -> PipeEnd:
        """Reopening through /proc/self/fd/N: a new end of the same pipe (O_RDWR: both)."""
        mode = flags & O_ACCMODE
        return PipeEnd(self, flags, reader=mode in (O_RDONLY, O_RDWR),
                       writer=mode in (O_WRONLY, O_RDWR))

    def ends(self, flags: int) -> tuple[PipeEnd, PipeEnd]:
        r = PipeEnd(self, O_RDONLY | flags, reader=True, writer=False)
        w = PipeEnd(self, O_WRONLY | flags, reader=False, writer=True)
        return r, w

    # -- waiting and waking -------------------------------------------------------------
    def wait(self, k, queue: WaitQueue, what: str) -> Blocked:
        sched = getattr(k, "sched", None)
        if sched is not None:
            self.sched = sched
        return Blocked(queue, what)

    def wake(self, queue: WaitQueue) -> None:
        if queue and self.sched is not None:
            self.sched.wake_all(queue)

    @property
    def room(self) -> int:
        return self.capacity - len(self.buffer)


class PipeEnd(OpenFile):
    seekable = False
    inode: Pipe

    def __init__(self, pipe: Pipe, flags: int, *, reader: bool, writer: bool):
        super().__init__(pipe, f"pipe:[{pipe.ino}]", flags)
        self.reader = reader
        self.writer = writer
        pipe.readers += reader
        pipe.writers += writer

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
            if self.nonblocking:
                raise FsError(errnos.EAGAIN)
            raise pipe.wait(k, pipe.rd_wait, f"data in {self.path}: it is empty and its "
                                             "write end is open")
        data = bytes(pipe.buffer[:n])
        del pipe.buffer[:n]
        pipe.wake(pipe.wr_wait)  # room for a waiting writer (or a poll for POLLOUT)
        return data

    def unread(self, data: bytes) -> None:
        self.pipe.buffer[:0] = data

    def write(self, k, data: bytes) -> int:
        """pipe_write. A blocking write may be entered several times (once, then once per
        wake-up): `done` is what earlier entries of this same call put in."""
        pipe = self.pipe
        task = getattr(k, "current", None)
        retry = task is not None and task.blocked is not None
        done = pipe.written.pop(task, 0) if retry else 0
        if not data:
            return 0  # a null write succeeds, readers or not
        rest = data[done:]
        if pipe.readers == 0:
            if not done:
                raise FsError(errnos.EPIPE)  # the caller raises SIGPIPE
            _sigpipe(k)
            return done
        room = pipe.room
        atomic = len(data) <= PIPE_BUF
        if rest and (room == 0 or (atomic and room < len(rest))):
            if self.nonblocking:
                raise FsError(errnos.EAGAIN)
            if done and _signal_pending(k):
                return done  # a signal ends the wait: what is written so far
            _remember(pipe, task, done)
            raise pipe.wait(k, pipe.wr_wait, f"room in {self.path}: it is full, "
                                             f"{len(rest)} bytes to write")
        part = rest[:room]
        pipe.buffer += part
        done += len(part)
        pipe.wake(pipe.rd_wait)
        if done < len(data) and not self.nonblocking:
            if _signal_pending(k):
                return done
            _remember(pipe, task, done)
            raise pipe.wait(k, pipe.wr_wait, f"room in {self.path}: it is full, "
                                             f"{len(data) - done} bytes to write")
        return done

    def poll(self) -> int:
        """pipe_poll: what a read or write would find now."""
        pipe = self.pipe
        mask = 0
        if self.reader:
            if pipe.buffer:
                mask |= POLLIN | POLLRDNORM
            if pipe.writers == 0:
                mask |= POLLHUP
        if self.writer:
            if pipe.room >= PIPE_BUF:
                mask |= POLLOUT | POLLWRNORM
            if pipe.readers == 0:
                mask |= POLLERR
        return mask

    @property
    def queues(self) -> tuple[WaitQueue, WaitQueue]:
        return self.pipe.rd_wait, self.pipe.wr_wait

    def ioctl(self, k, request: int, arg: int) -> int:
        if request == FIONREAD:
            k.write(arg, len(self.pipe.buffer).to_bytes(4, "little"))
            return 0
        raise FsError(errnos.ENOTTY)

    def release(self) -> None:
        # pipe_release: the other side learns of it (EOF for readers, EPIPE for writers).
        pipe = self.pipe
        pipe.readers -= self.reader
        pipe.writers -= self.writer
        if self.reader and pipe.readers == 0:
            pipe.wake(pipe.wr_wait)
        if self.writer and pipe.writers == 0:
            pipe.wake(pipe.rd_wait)


def _signal_pending(k) -> bool:
    deliverable = getattr(k.signals, "deliverable", None)
    return bool(deliverable and deliverable())


def _remember(pipe: Pipe, task, done: int) -> None:
    if task is not None:  # a stand-in kernel without tasks never runs the call again
        pipe.written[task] = done


def _sigpipe(k) -> None:
    """The last reader left midway through a long write: the writer still gets SIGPIPE,
    and the bytes it wrote as the call's result (pipe_write)."""
    process = getattr(k, "process", None)
    k.signals.send(13, 0, pid=getattr(process, "pid", 0), uid=getattr(process, "uid", 0),
                   synchronous=False)

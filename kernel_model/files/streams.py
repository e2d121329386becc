"""The guest's standard streams: guest fds 0, 1 and 2 are host fds the emulator was handed
(the terminal, a redirect, or the TUI's pipes). Reads and writes go straight through with
os.read/os.write; fstat and the terminal ioctls report what the host fd really is.

The host fd is borrowed, never owned: closing the guest's fd 1 does not close the host's
stdout, and F_SETFL O_NONBLOCK is kept on the guest's side only (setting it on a shared
terminal would leave the user's shell with a non-blocking stdin after the run)."""

from __future__ import annotations

import fcntl
import os

from kernel_model.files.file import OpenFile
from kernel_model.files.inode import FsError, Stat, errno_of, stat_from_host
from kernel_model.files.uapi import (
    FIONREAD,
    O_ACCMODE,
    O_APPEND,
    O_LARGEFILE,
    O_NONBLOCK,
    PIPE_BUF,
    S_IFIFO,
    S_IFMT,
    S_IFREG,
    S_IFSOCK,
    SEEK_CUR,
    TCGETS,
    TIOCGWINSZ,
)
from kernel_model.proc.wait import ready_fds
from kernel_model.uapi import errnos

# One host read moves at most this much: os.read allocates its whole count up front, and a
# short read is always allowed on a stream.
HOST_READ_CHUNK = 1 << 20
# A stream redirected from or to a host file is shown as an anonymous inode (its /proc link
# is "anon_inode:[host file]"): the device of anon_inodefs on a typical boot, and inode
# numbers the model hands out per host file (1, 2...), so that neither the host's device
# nor its inode number reaches the guest, while `cat f > f` still sees one file twice.
ANON_INODE_DEV = (0, 14)
KERNEL_TERMIOS_SIZE = 36  # struct termios: 4 x tcflag_t, c_line, c_cc[19]
WINSIZE_SIZE = 8


class HostStream(OpenFile):
    def __init__(self, host_fd: int, flags: int, guest_fd: int,
                 host_files: dict | None = None):
        super().__init__(None, f"/proc/self/fd/{guest_fd}", flags)
        self.host_fd = host_fd
        # (host dev, host ino) -> the model's inode number, shared by the process's streams
        self.host_files = host_files if host_files is not None else {}
        try:
            mode = os.fstat(host_fd).st_mode
        except OSError:
            mode = 0
        # A redirect from/to a regular file is seekable (offsets shared with the host fd).
        self.seekable = (mode & S_IFMT) == S_IFREG
        # What may make a host read or write wait: a pipe, a socket, a terminal (not a
        # regular file, nor /dev/null and its kind).
        self.may_block = (mode & S_IFMT) in (S_IFIFO, S_IFSOCK) or os.isatty(host_fd)

    @classmethod
    def borrow(cls, host_fd: int, guest_fd: int,
               host_files: dict | None = None) -> HostStream | None:
        """None when the host fd is not open (the guest then starts with that fd closed)."""
        try:
            host_flags = fcntl.fcntl(host_fd, fcntl.F_GETFL)
        except OSError:
            return None
        keep = O_ACCMODE | O_APPEND | O_NONBLOCK | O_LARGEFILE
        return cls(host_fd, host_flags & keep, guest_fd, host_files)

    # -- data ----------------------------------------------------------------------
    def read(self, k, n: int) -> bytes:
        if not self._ready():
            if self.nonblocking:
                raise FsError(errnos.EAGAIN)
            self._wait(k, write=False)
        try:
            return os.read(self.host_fd, min(n, HOST_READ_CHUNK))
        except BlockingIOError:
            raise FsError(errnos.EAGAIN) from None
        except OSError as e:
            raise FsError(errno_of(e)) from None

    def _ready(self, write: bool = False) -> bool:
        if not self.may_block:
            return True  # a regular file never blocks (the stepping session's streams)
        fds = [self.host_fd]
        try:
            readable, writable = ready_fds([] if write else fds, fds if write else [], 0)
        except (OSError, ValueError):
            return True
        return bool(writable if write else readable)

    def _wait(self, k, write: bool) -> None:
        """Block as Linux would (a pipe nobody writes, a terminal nobody types at), in
        kernel_model.proc.wait: the run's deadline and Ctrl-C end it, a guest signal makes the
        call fail with EINTR."""
        from kernel_model.proc.wait import SIGNAL, waiter_of

        if waiter_of(k).wait(fd=self.host_fd, write=write) == SIGNAL:
            raise FsError(errnos.EINTR)

    def write(self, k, data: bytes) -> int:
        if not self.may_block or not data:
            return self._host_write(data)
        # A pipe or a terminal: PIPE_BUF bytes at a time, each once poll says there is
        # room (at least PIPE_BUF in a pipe), so the host write never blocks and a reader
        # that never reads leaves the run's deadline and Ctrl-C in force.
        done = 0
        while done < len(data):
            if not self._ready(write=True):
                try:
                    if self.nonblocking:
                        raise FsError(errnos.EAGAIN)
                    self._wait(k, write=True)
                except FsError:
                    if done:
                        return done  # interrupted after a part: the part, as Linux does
                    raise
            try:
                done += self._host_write(data[done:done + PIPE_BUF])
            except FsError:
                if done:
                    return done
                raise
        return done

    def _host_write(self, data: bytes) -> int:
        try:
            return os.write(self.host_fd, data)
        except BlockingIOError:
            raise FsError(errnos.EAGAIN) from None
        except OSError as e:
            raise FsError(errno_of(e)) from None

    def pread(self, k, offset: int, n: int) -> bytes:
        if not self.seekable:
            raise FsError(errnos.ESPIPE)
        try:
            return os.pread(self.host_fd, min(n, HOST_READ_CHUNK), offset)
        except OSError as e:
            raise FsError(errno_of(e)) from None

    def pwrite(self, k, offset: int, data: bytes) -> int:
        if not self.seekable:
            raise FsError(errnos.ESPIPE)
        try:
            return os.pwrite(self.host_fd, data, offset)
        except OSError as e:
            raise FsError(errno_of(e)) from None

    def unread(self, data: bytes) -> None:
        if self.seekable:
            self.lseek(-len(data), SEEK_CUR)
        # From a pipe or terminal the bytes are gone, as they would be on Linux.

    def lseek(self, offset: int, whence: int) -> int:
        try:
            return os.lseek(self.host_fd, offset, whence)
        except OSError as e:
            raise FsError(errno_of(e)) from None

    # -- metadata and control --------------------------------------------------
    def size(self) -> int:
        return self.stat().size

    def stat(self) -> Stat:
        try:
            st = os.fstat(self.host_fd)
        except OSError as e:
            raise FsError(errno_of(e)) from None
        s = stat_from_host(st)
        if (st.st_mode & S_IFMT) == S_IFREG:  # terminals and pipes keep their own numbers
            key = (st.st_dev, st.st_ino)
            s.dev = ANON_INODE_DEV
            s.ino = self.host_files.setdefault(key, len(self.host_files) + 1)
        return s

    @property
    def is_tty(self) -> bool:
        return os.isatty(self.host_fd)

    def ioctl(self, k, request: int, arg: int) -> int:
        if request in (TCGETS, TIOCGWINSZ):
            if not self.is_tty:
                raise FsError(errnos.ENOTTY)
            size = KERNEL_TERMIOS_SIZE if request == TCGETS else WINSIZE_SIZE
            try:
                answer = fcntl.ioctl(self.host_fd, request, bytes(size))
            except OSError as e:
                raise FsError(errno_of(e)) from None
            k.write(arg, answer[:size])
            return 0
        if request == FIONREAD:
            try:
                answer = fcntl.ioctl(self.host_fd, request, bytes(4))
            except OSError as e:
                raise FsError(errno_of(e)) from None
            k.write(arg, answer[:4])
            return 0
        raise FsError(errnos.ENOTTY)

    def link_text(self) -> str:
        """The host's own name for the stream when it is a terminal or a pipe
        ("/dev/pts/3", "pipe:[1234]"); a redirected host file is not named, so that no host
        path shows through."""
        try:
            target = os.readlink(f"/proc/self/fd/{self.host_fd}")
        except OSError:
            return "anon_inode:[host stream]"
        if target.startswith(("/dev/", "pipe:", "socket:", "anon_inode:")):
            return target
        return "anon_inode:[host file]"

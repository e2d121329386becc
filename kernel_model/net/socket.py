"""What every socket shares (net/socket.c, net/core/sock.c): an inode in sockfs, a receive
queue of messages (sk_buffs), two wait queues, shutdown bits, a pending error, options, and
the wait-and-wake rules, which follow pipes (kernel_model/files/pipes.py):

- a receive on an empty queue sleeps on the socket's data queue until a send, a shutdown
  or the peer's close wakes it (O_NONBLOCK or MSG_DONTWAIT: EAGAIN);
- a send that finds no room at the receiver sleeps on the receiver's room queue, which
  the receiver wakes as it takes messages out; a stream send puts in what fits and waits
  for the rest (a signal ends the wait with the count sent so far);
- the call is entered again from the start when woken (the scheduler's Blocked), so a
  handler changes nothing before it knows it will not wait.

Room is counted in bytes of payload against the sender's SO_SNDBUF (Linux counts each
sk_buff's truesize, a few hundred bytes more per message): a program that fills a socket
sees it full a little later than on Linux."""

from __future__ import annotations

import weakref
from collections import deque
from dataclasses import dataclass, field

from kernel_model.files.file import OpenFile
from kernel_model.files.inode import FsError, Inode
from kernel_model.files.pipes import (
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLOUT,
    POLLRDNORM,
    POLLWRNORM,
)
from kernel_model.files.uapi import FIONREAD, O_NONBLOCK, O_RDWR, S_IFSOCK
from kernel_model.net import uapi as U
from kernel_model.proc.sched import Blocked, WaitQueue
from kernel_model.uapi import errnos

SOCKFS_DEV = (0, 8)  # sockfs, mounted early at boot
POLLWRBAND = 0x200


class SockFsInode(Inode):
    """The socket's own inode in sockfs (what fstat and /proc/self/fd show)."""

    dev = SOCKFS_DEV
    mode = S_IFSOCK | 0o777

    def __init__(self, ino: int, uid: int, gid: int, created_ns: int):
        self.ino = ino
        self.uid = uid
        self.gid = gid
        self.created_ns = created_ns


@dataclass
class Skb:
    """One message in a receive queue: its bytes, who sent it (a raw sockaddr, datagrams),
    the open files it carries (SCM_RIGHTS, each holding a reference while in flight) and
    the sender's credentials (pid, uid, gid)."""

    data: bytes
    sender: bytes = b""
    files: list[OpenFile] = field(default_factory=list)
    cred: tuple[int, int, int] | None = None


@dataclass
class Received:
    """What one receive took: the bytes for the caller, the message's full length (for
    MSG_TRUNC), the sender's address, files and credentials, and recvmsg's msg_flags."""

    data: bytes
    length: int
    sender: bytes = b""
    files: list[OpenFile] = field(default_factory=list)
    cred: tuple[int, int, int] | None = None
    msg_flags: int = 0
    consumed: bool = True  # False for MSG_PEEK: the files stay in flight too


def drop_files(files: list[OpenFile]) -> None:
    """In-flight references that nobody will receive (a purged queue, a read(2))."""
    for f in files:
        f.refs -= 1
        if f.refs == 0:
            f.release()


class Socket(OpenFile):
    """The parts every family shares. Subclasses say how to send, receive, connect."""

    seekable = False
    family = U.AF_UNSPEC
    # The errno of a receive on a stream socket that is not connected (unix: EINVAL).
    recv_unconnected = U.ENOTCONN

    def __init__(self, inode: SockFsInode, stype: int, protocol: int, flags: int, sched,
                 cred: tuple[int, int, int]):
        super().__init__(inode, f"socket:[{inode.ino}]", O_RDWR | (flags & O_NONBLOCK))
        self.stype = stype
        self.protocol = protocol
        self.sched = sched  # who wakes the waiters, also from a close (which has no kernel)
        self.rd_wait = WaitQueue(f"socket:[{inode.ino}] data")
        self.wr_wait = WaitQueue(f"socket:[{inode.ino}] room")
        self.rq: deque[Skb] = deque()
        self.rq_bytes = 0
        self.peer: Socket | None = None
        self.connected = False  # established (streams), or a default peer (datagrams)
        self.listening = False
        self.backlog: deque[Socket] = deque()
        self.max_backlog = 0
        self.shutdown = 0  # RCV_SHUTDOWN | SEND_SHUTDOWN, as sk_shutdown
        self.err = 0  # sk_err: reported once, by the next call or SO_ERROR
        self.closed = False
        self.cred = cred  # (pid, uid, gid) of its creator: its peer's SO_PEERCRED
        self.peer_cred: tuple[int, int, int] | None = None
        self.rcvbuf = U.RMEM_DEFAULT
        self.sndbuf = U.WMEM_DEFAULT
        self.options: dict[tuple[int, int], int] = {}  # plain int options, by (level, name)
        self.passcred = False
        self.linger = (0, 0)  # SO_LINGER: kept, not acted on (a close never waits here)
        # How much of a stream send each blocked sender has already queued (the call is
        # run again from the start once woken).
        self.sent: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        # What each blocked MSG_WAITALL receive has already taken.
        self.gathered: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    # -- naming -------------------------------------------------------------------------
    @property
    def ino(self) -> int:
        return self.inode.ino if self.inode is not None else 0

    def link_text(self) -> str:
        return f"socket:[{self.ino}]"

    def sockname(self) -> bytes:
        raise FsError(U.EOPNOTSUPP)

    def peername(self) -> bytes:
        raise FsError(U.ENOTCONN)

    def bind(self, k, raw: bytes) -> None:
        raise FsError(U.EOPNOTSUPP)

    def listen(self, k, backlog: int) -> None:
        raise FsError(U.EOPNOTSUPP)

    def connect(self, k, raw: bytes) -> int:
        raise FsError(U.EOPNOTSUPP)

    def peer_credentials(self) -> tuple[int, int, int]:
        """SO_PEERCRED: who was at the other end when the connection was made."""
        return self.peer_cred or (0, U.OVERFLOW_ID, U.OVERFLOW_ID)

    @property
    def connection_based(self) -> bool:
        return self.stype in (U.SOCK_STREAM, U.SOCK_SEQPACKET)

    # -- waiting and waking ----------------------------------------------------------------
    def wake(self, *queues: WaitQueue) -> None:
        if self.sched is None:
            return
        for q in queues:
            if q:
                self.sched.wake_all(q)

    def wake_all(self) -> None:
        self.wake(self.rd_wait, self.wr_wait)

    def wait_for_data(self, what: str = "") -> Blocked:
        return Blocked(self.rd_wait, what or f"data in {self.path}")

    @property
    def queues(self) -> tuple[WaitQueue, ...]:
        """What a poll of this socket sleeps on: its own two, and its peer's room."""
        if self.peer is not None and self.peer is not self:
            return self.rd_wait, self.wr_wait, self.peer.wr_wait
        return self.rd_wait, self.wr_wait

    # -- the receive queue ------------------------------------------------------------------
    def enqueue(self, skb: Skb) -> None:
        for f in skb.files:
            f.refs += 1  # in flight: the file stays open until received or purged
        self.rq.append(skb)
        self.rq_bytes += len(skb.data)
        self.wake(self.rd_wait)

    def purge(self) -> None:
        for skb in self.rq:
            drop_files(skb.files)
        self.rq.clear()
        self.rq_bytes = 0

    def took(self, n: int) -> None:
        """n bytes left the queue: a sender waiting for room may go on."""
        self.rq_bytes -= n
        self.wake(self.wr_wait)

    def take_error(self) -> int:
        err, self.err = self.err, 0
        return err

    # -- receiving -----------------------------------------------------------------------------
    def must_wait(self, k, flags: int) -> bool:
        return not (self.nonblocking or flags & U.MSG_DONTWAIT)

    def recv_stream(self, k, n: int, flags: int) -> Received:
        """unix_stream_read_generic / tcp_recvmsg: bytes across messages, up to n; a message
        carrying files ends the read (they come with its bytes). MSG_WAITALL takes what is
        there and waits for the rest (kept per task while it waits: the call is entered
        again), until n bytes, the end of file, an error or a signal."""
        task = getattr(k, "current", None)
        prefix = self.gathered.pop(task, b"") if task is not None and task.blocked else b""
        peek = bool(flags & U.MSG_PEEK)
        if not self.rq and not prefix:
            if self.err:
                raise FsError(self.take_error())
            if not self.connected:
                raise FsError(self.recv_unconnected)
        if n == 0:
            return Received(b"", 0)
        eof = bool(self.shutdown & U.RCV_SHUTDOWN)
        if not self.rq and not eof and not prefix:
            if not self.must_wait(k, flags):
                raise FsError(errnos.EAGAIN)
            raise self.wait_for_data()
        data, files, cred = self._take(n - len(prefix), peek)
        data = prefix + data
        if flags & U.MSG_WAITALL and not peek and len(data) < n and not files and not eof \
                and not self.err and self.must_wait(k, flags):
            signals = getattr(k, "signals", None)
            if not (data and signals is not None and signals.deliverable()):
                if task is not None:
                    self.gathered[task] = data
                raise self.wait_for_data()
        return Received(data, len(data), files=files, cred=cred, consumed=not peek)

    def _take(self, n: int, peek: bool) -> tuple[bytes, list[OpenFile], tuple | None]:
        out = bytearray()
        files: list[OpenFile] = []
        cred = self.rq[0].cred if self.rq else None
        for skb in list(self.rq):
            if len(out) >= n or files:
                break
            part = skb.data[:n - len(out)]
            out += part
            files = list(skb.files)
            if not peek:
                skb.files = []
                if len(part) == len(skb.data):
                    self.rq.popleft()
                else:
                    skb.data = skb.data[len(part):]
        if not peek and out:
            self.took(len(out))
        return bytes(out), files, cred

    def recv_dgram(self, k, n: int, flags: int) -> Received:
        """skb_recv_datagram: one whole message; what does not fit in n is lost (MSG_TRUNC
        in msg_flags, and the full length as the result when asked with MSG_TRUNC)."""
        if self.err:
            raise FsError(self.take_error())
        if not self.rq:
            if self.shutdown & U.RCV_SHUTDOWN:
                return Received(b"", 0)
            if not self.must_wait(k, flags):
                raise FsError(errnos.EAGAIN)
            raise self.wait_for_data()
        skb = self.rq[0]
        peek = bool(flags & U.MSG_PEEK)
        got = Received(skb.data[:n], len(skb.data), skb.sender, list(skb.files), skb.cred,
                       consumed=not peek)
        if len(skb.data) > n:
            got.msg_flags |= U.MSG_TRUNC
        if not peek:
            self.rq.popleft()
            self.took(len(skb.data))
        return got

    def recvmsg(self, k, n: int, flags: int) -> Received:
        raise FsError(errnos.EOPNOTSUPP)

    # -- sending -------------------------------------------------------------------------------
    def send_stream(self, k, to: Socket, data: bytes, flags: int, files: list[OpenFile],
                    cred) -> int:
        """Queue `data` at `to` as it finds room (up to our SO_SNDBUF in flight), waiting for
        the rest unless non-blocking. Returns what was queued."""
        task = getattr(k, "current", None)
        retry = task is not None and task.blocked is not None
        done = self.sent.pop(task, 0) if retry else 0
        rest = data[done:]
        while rest:
            room = self.sndbuf - to.rq_bytes
            if room <= 0:
                if not self.must_wait(k, flags):
                    if done:
                        return done
                    raise FsError(errnos.EAGAIN)
                if done and k.signals.deliverable():
                    return done
                if task is not None:
                    self.sent[task] = done
                raise Blocked(to.wr_wait, f"room in {to.path}: {len(rest)} bytes to send")
            part = rest[:room]
            to.enqueue(Skb(part, files=files if done == 0 else [], cred=cred))
            done += len(part)
            rest = rest[len(part):]
        return done

    def send(self, k, data: bytes, flags: int, dest: bytes | None, files: list[OpenFile],
             cred) -> int:
        raise FsError(errnos.EOPNOTSUPP)

    # -- read(2) and write(2) on a socket --------------------------------------------------------
    def read(self, k, n: int) -> bytes:
        got = self.recvmsg(k, n, 0)
        if got.consumed:
            drop_files(got.files)  # a plain read cannot receive them: they are closed
        return got.data

    def write(self, k, data: bytes) -> int:
        p = k.process  # write(2) carries the writer's credentials too (unix sockets)
        return self.send(k, data, 0, None, [], (p.pid, p.uid, p.gid))

    def unread(self, data: bytes) -> None:
        if data:
            self.rq.appendleft(Skb(data))
            self.rq_bytes += len(data)

    def ioctl(self, k, request: int, arg: int) -> int:
        if request == FIONREAD:  # SIOCINQ: bytes waiting (datagrams: the next one's)
            n = self.rq_bytes if self.stype == U.SOCK_STREAM else (
                len(self.rq[0].data) if self.rq else 0)
            k.write(arg, n.to_bytes(4, "little"))
            return 0
        raise FsError(errnos.ENOTTY)

    # -- poll -------------------------------------------------------------------------------------
    def has_room(self) -> bool:
        peer = self.peer
        if peer is None or not self.connected:
            return True
        return peer.rq_bytes * 4 <= self.sndbuf  # unix_writable: a quarter in flight at most

    def poll(self) -> int:
        """unix_poll and tcp_poll: the bits a stream or seqpacket socket shows."""
        mask = 0
        if self.err:
            mask |= POLLERR
        if self.listening:
            return mask | (POLLIN | POLLRDNORM if self.backlog else 0)
        if self.shutdown == U.SHUTDOWN_MASK or (self.connection_based and not self.connected):
            mask |= POLLHUP
        if self.shutdown & U.RCV_SHUTDOWN:
            mask |= POLLIN | POLLRDNORM | U.POLLRDHUP
        if self.rq:
            mask |= POLLIN | POLLRDNORM
        if self.shutdown & U.SEND_SHUTDOWN or self.has_room():
            mask |= POLLOUT | POLLWRNORM | self.wrband
        return mask

    wrband = POLLWRBAND

    # -- shutdown and close --------------------------------------------------------------------
    def shut(self, how: int) -> None:
        raise FsError(U.ENOTCONN)

    def accept(self, k, flags: int) -> Socket:
        """inet_csk_accept / unix_accept: the oldest connection waiting, or a wait for one."""
        if not self.listening:
            raise FsError(errnos.EINVAL)
        if not self.backlog:
            if self.nonblocking:
                raise FsError(errnos.EAGAIN)
            raise Blocked(self.rd_wait, f"a connection to {self.path}")
        conn = self.backlog.popleft()
        conn.flags = O_RDWR | (flags & O_NONBLOCK)
        self.wake(self.rd_wait)  # a connect waiting for room in the backlog
        return conn

    def release(self) -> None:
        self.closed = True
        self.purge()
        for pending in list(self.backlog):
            pending.release()
        self.backlog.clear()
        self.wake_all()

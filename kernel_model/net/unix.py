"""AF_UNIX sockets (net/unix/af_unix.c): stream, datagram and seqpacket, found by a path in
the guest's files or by an abstract name (a leading NUL byte).

bind() to a path makes a socket inode (S_IFSOCK) in the guest's tmpfs, as unix_bind_bsd
makes one with mknod; the node stays after close, and connect() to it then finds nobody
(ECONNREFUSED) until it is unlinked and bound again. No host socket is ever made: in a
directory shared with --mount, bind fails with EPERM and a note (EROFS when the mount is
read-only), because the host would need a real socket file there and its processes could
then reach the guest's. For the same reason a socket file the host made in a shared
directory leads nowhere: connect() to it is ECONNREFUSED.

A connect() to a listener makes the listener's end at once (the embryo unix_stream_connect
queues) and returns: the client can send before accept(), as on Linux."""

from __future__ import annotations

from kernel_model.files.hostfs import HostNode
from kernel_model.files.inode import FsError
from kernel_model.files.pipes import POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM
from kernel_model.files.tmpfs import TmpDir, TmpNode
from kernel_model.files.uapi import S_IFSOCK, W_OK, X_OK
from kernel_model.net import uapi as U
from kernel_model.net.addr import unix_name, unix_sockaddr
from kernel_model.net.socket import Received, Skb, Socket
from kernel_model.proc.sched import Blocked
from kernel_model.uapi import errnos


class SocketNode(TmpNode):
    """The file bind() leaves in /tmp: it names a socket (or, after close, nobody).
    open() of it fails with ENXIO, as on Linux (the Inode default)."""

    def __init__(self, fs, mode: int, uid: int, gid: int):
        super().__init__(fs, S_IFSOCK | (mode & 0o7777), uid, gid)
        self.socket: UnixSocket | None = None


def _make_node(k, path: str) -> SocketNode:
    cred = k.process.creds
    lookup = k.vfs.resolve(path, base=k.process.cwd, follow=False)
    if lookup.node is not None:
        raise FsError(U.EADDRINUSE)
    parent = lookup.new_entry_dir()
    if isinstance(parent, HostNode):
        if parent.read_only_fs:
            raise FsError(errnos.EROFS)
        raise FsError(errnos.EPERM, "syscall-lab makes no socket files on the host: bind "
                                    "to a path under /tmp, or to an abstract name")
    if not isinstance(parent, TmpDir):
        raise FsError(errnos.EROFS if parent.read_only_fs else errnos.EACCES)
    parent.permission(cred, W_OK | X_OK)
    umask = getattr(k.process, "umask", 0o022)
    node = SocketNode(parent.fs, 0o777 & ~umask, cred.fsuid, cred.fsgid)
    parent._add(lookup.name, node)
    return node


class UnixSocket(Socket):
    family = U.AF_UNIX
    recv_unconnected = errnos.EINVAL  # unix_stream_read_generic: not TCP_ESTABLISHED

    def __init__(self, ns, inode, stype: int, flags: int, sched, cred):
        super().__init__(inode, stype, 0, flags, sched, cred)
        self.ns = ns
        self.name: bytes | None = None
        self.node: SocketNode | None = None

    # -- names ---------------------------------------------------------------------------------
    def sockname(self) -> bytes:
        return unix_sockaddr(self.name)

    @property
    def unix_peer(self) -> UnixSocket | None:
        peer = self.peer
        return peer if isinstance(peer, UnixSocket) else None

    def peername(self) -> bytes:
        peer = self.unix_peer
        if peer is None or not self.connected:
            raise FsError(U.ENOTCONN)
        return unix_sockaddr(peer.name)

    def bind(self, k, raw: bytes) -> None:
        name = unix_name(raw)
        if name and name[0] != 0:
            node = _make_node(k, name.decode("utf-8", "surrogateescape"))
            if self.name is not None:
                node.socket = None
                raise FsError(errnos.EINVAL)
            node.socket = self
            self.node = node
            self.name = name
            return
        if self.name is not None:
            raise FsError(errnos.EINVAL)
        if not name:
            self.autobind(k)
            return
        if name in self.ns.abstract:
            raise FsError(U.EADDRINUSE)
        self.ns.abstract[name] = self
        self.name = name

    def autobind(self, k) -> None:
        """unix_autobind: an abstract name of five hex digits, from a random start."""
        start = int.from_bytes(k.random_bytes(4), "little") & 0xFFFFF
        for i in range(0x100000):
            name = b"\0" + f"{(start + i) & 0xFFFFF:05x}".encode()
            if name not in self.ns.abstract:
                self.ns.abstract[name] = self
                self.name = name
                return
        raise FsError(errnos.ENOSPC)

    def _find(self, k, raw: bytes) -> UnixSocket:
        """unix_find_other: the socket a name leads to (ENOENT: no such path;
        ECONNREFUSED: nobody bound there now; EPROTOTYPE: another type)."""
        name = unix_name(raw)
        if not name:
            raise FsError(errnos.EINVAL)
        if name[0] == 0:
            other = self.ns.abstract.get(name)
        else:
            node = k.vfs.resolve(name.decode("utf-8", "surrogateescape"),
                                 base=k.process.cwd).existing()
            node.permission(k.process.creds, W_OK)
            if not isinstance(node, SocketNode):
                raise FsError(U.ECONNREFUSED)
            other = node.socket
        if other is None or other.closed:
            raise FsError(U.ECONNREFUSED)
        if other.stype != self.stype:
            # A path leads to one inode, whatever its type (EPROTOTYPE); an abstract name
            # is looked up per type, so another type's name is nobody's (ECONNREFUSED).
            raise FsError(U.EPROTOTYPE if name[0] != 0 else U.ECONNREFUSED)
        return other

    # -- connections ----------------------------------------------------------------------
    def listen(self, k, backlog: int) -> None:
        if not self.connection_based:
            raise FsError(U.EOPNOTSUPP)
        if self.name is None or self.connected:
            raise FsError(errnos.EINVAL)  # no listens on an unbound socket
        self.max_backlog = backlog
        if not self.listening:
            self.listening = True
            self.cred = _caller_cred(k)  # init_peercred: the listener's side of SO_PEERCRED
            self.wake_all()

    def connect(self, k, raw: bytes) -> int:
        if self.stype == U.SOCK_DGRAM:
            if len(raw) >= 2 and int.from_bytes(raw[:2], "little") == U.AF_UNSPEC:
                self.peer, self.connected = None, False
                return 0
            self.peer = self._find(k, raw)
            self.connected = True
            return 0
        if self.connected:
            raise FsError(U.EISCONN)
        if self.listening:
            raise FsError(errnos.EINVAL)
        other = self._find(k, raw)
        if not other.listening:
            raise FsError(U.ECONNREFUSED)
        if len(other.backlog) > other.max_backlog:  # unix_recvq_full: wait for an accept
            if self.nonblocking:
                raise FsError(errnos.EAGAIN)
            raise Blocked(other.rd_wait, f"room in the backlog of {other.path}")
        embryo = new_unix_socket(k, self.stype, 0)
        embryo.name = other.name
        embryo.cred = other.cred
        embryo.peer, self.peer = self, embryo
        embryo.connected = self.connected = True
        embryo.peer_cred = _caller_cred(k)
        self.peer_cred = other.cred
        other.backlog.append(embryo)
        other.wake(other.rd_wait)
        return 0

    # -- data ----------------------------------------------------------------------------------
    def recvmsg(self, k, n: int, flags: int) -> Received:
        if self.stype == U.SOCK_STREAM:
            return self.recv_stream(k, n, flags)
        if self.stype == U.SOCK_SEQPACKET and not self.connected:
            raise FsError(U.ENOTCONN)
        return self.recv_dgram(k, n, flags)

    def send(self, k, data: bytes, flags: int, dest: bytes | None, files, cred) -> int:
        if self.stype == U.SOCK_DGRAM:
            return self._send_dgram(k, data, flags, dest, files, cred)
        if dest:  # unix_stream_sendmsg: no address on a connection
            raise FsError(U.EISCONN if self.connected else U.EOPNOTSUPP)
        if not self.connected:
            raise FsError(U.ENOTCONN)
        task = getattr(k, "current", None)
        done = self.sent.get(task, 0) if task is not None and task.blocked else 0
        peer = self.unix_peer
        if self.shutdown & U.SEND_SHUTDOWN or peer is None or peer.closed or \
                peer.shutdown & U.RCV_SHUTDOWN:
            if done:
                self.sent.pop(task, None)
                return done
            raise FsError(errnos.EPIPE)
        if self.stype == U.SOCK_SEQPACKET:
            if len(data) > self.sndbuf - 32:
                raise FsError(U.EMSGSIZE)
            self._wait_for_room(k, peer, len(data), flags)
            peer.enqueue(Skb(data, files=files, cred=cred))
            return len(data)
        return self.send_stream(k, peer, data, flags, files, cred)

    def _wait_for_room(self, k, other: UnixSocket, size: int, flags: int) -> None:
        """unix_dgram_sendmsg's waits: a receiver not connected back to us holds at most
        net.unix.max_dgram_qlen messages; one that is (a pair) as much as our SO_SNDBUF."""
        if other.peer is self:
            full = other.rq and other.rq_bytes + size > self.sndbuf
        else:
            full = len(other.rq) > U.UNIX_MAX_DGRAM_QLEN
        if not full:
            return
        if not self.must_wait(k, flags):
            raise FsError(errnos.EAGAIN)
        raise Blocked(other.wr_wait, f"room in {other.path}: its queue is full")

    def _send_dgram(self, k, data: bytes, flags: int, dest: bytes | None, files, cred) -> int:
        other: UnixSocket | None = self._find(k, dest) if dest else self.unix_peer
        if other is None:
            raise FsError(U.ENOTCONN)
        if not dest:
            if other.closed:
                self.peer, self.connected = None, False  # unix_dgram_disconnected
                raise FsError(U.ECONNREFUSED)
        if self.shutdown & U.SEND_SHUTDOWN:
            raise FsError(errnos.EPIPE)
        if len(data) > self.sndbuf - 32:
            raise FsError(U.EMSGSIZE)
        if other.peer is not None and other.peer is not self and other.connected:
            raise FsError(errnos.EPERM)  # unix_may_send: it only hears its own peer
        if other.shutdown & U.RCV_SHUTDOWN:
            raise FsError(errnos.EPIPE)
        self._wait_for_room(k, other, len(data), flags)
        sender = self.sockname() if self.name else b""  # unix_copy_addr: no name, no length
        other.enqueue(Skb(data, sender=sender, files=files, cred=cred))
        return len(data)

    # -- shutdown, close, poll -----------------------------------------------------------------
    def shut(self, how: int) -> None:
        mode = how + 1  # SHUT_RD -> RCV_SHUTDOWN, SHUT_WR -> SEND_SHUTDOWN, both
        self.shutdown |= mode
        self.wake_all()
        peer = self.peer
        if peer is not None and self.connection_based:
            mirrored = (U.SEND_SHUTDOWN if mode & U.RCV_SHUTDOWN else 0) | \
                (U.RCV_SHUTDOWN if mode & U.SEND_SHUTDOWN else 0)
            peer.shutdown |= mirrored
            peer.wake_all()

    def poll(self) -> int:
        if self.stype == U.SOCK_STREAM:
            return super().poll()
        mask = POLLERR if self.err else 0
        if self.listening:
            return mask | (POLLIN | POLLRDNORM if self.backlog else 0)
        if self.shutdown & U.RCV_SHUTDOWN:
            mask |= U.POLLRDHUP | POLLIN | POLLRDNORM
        if self.shutdown == U.SHUTDOWN_MASK:
            mask |= POLLHUP
        if self.rq:
            mask |= POLLIN | POLLRDNORM
        if self.stype == U.SOCK_SEQPACKET and not self.connected:
            mask |= POLLHUP
        other = self.peer
        full = other is not None and other.peer is not self and \
            len(other.rq) > U.UNIX_MAX_DGRAM_QLEN
        if not full and self.has_room():
            mask |= POLLOUT | POLLWRNORM | self.wrband
        return mask

    def release(self) -> None:
        unread = bool(self.rq)
        super().release()
        if self.name is not None and self.name[:1] == b"\0" and \
                self.ns.abstract.get(self.name) is self:
            del self.ns.abstract[self.name]
        if self.node is not None and self.node.socket is self:
            self.node.socket = None
        peer = self.peer
        if peer is not None and self.connection_based and peer.peer is self:
            peer.shutdown = U.SHUTDOWN_MASK
            if unread:
                peer.err = U.ECONNRESET
            peer.wake_all()


def _caller_cred(k) -> tuple[int, int, int]:
    p = k.process
    return p.pid, p.creds.euid, p.creds.egid  # cred_to_ucred: the effective ids


def new_unix_socket(k, stype: int, flags: int) -> UnixSocket:
    from kernel_model.net.namespace import namespace_of
    from kernel_model.net.socket import SockFsInode

    ns = namespace_of(k)
    p = k.process
    inode = SockFsInode(ns.inode_number(), p.uid, p.gid, k.clock.realtime_ns())
    return UnixSocket(ns, inode, stype, flags, k.sched, _caller_cred(k))

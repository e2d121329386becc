"""AF_INET and AF_INET6 over loopback only (net/ipv4/af_inet.c, tcp.c, udp.c, and their
IPv6 twins): TCP and UDP between guest processes on 127.0.0.0/8 and ::1.

The machine has no other interface: connect() or sendto() to any other address fails with
ENETUNREACH and a note in the trace, bind() to one with EADDRNOTAVAIL, and no byte ever
leaves the model. Loopback TCP is what Linux makes of it, without the packets: connect()
to a listening port completes at once (the listener's end waits in its backlog for
accept()), to a port nobody listens on it is refused (ECONNREFUSED; non-blocking:
EINPROGRESS, then SO_ERROR says ECONNREFUSED). A close with unread data resets the
connection (the peer's next receive: ECONNRESET); a send to a peer that closed is taken
once and answered with a reset, so the next one fails with EPIPE.

An IPv6 socket bound to :: also takes IPv4 connections (IPV6_V6ONLY off, Linux's default),
seeing their addresses as ::ffff:a.b.c.d."""

from __future__ import annotations

import ipaddress

from kernel_model.files.inode import FsError
from kernel_model.files.pipes import POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM
from kernel_model.net import uapi as U
from kernel_model.net.addr import (
    IpAddress,
    inet_endpoint,
    inet_sockaddr,
    is_loopback,
    unmapped,
)
from kernel_model.net.socket import POLLWRBAND, Received, Skb, Socket
from kernel_model.uapi import errnos

NO_NETWORK = ("the machine has no network: only loopback (127.0.0.0/8, ::1) is reachable, "
              "so {dest} is unreachable")
V4_LOOPBACK = ipaddress.IPv4Address("127.0.0.1")
V6_LOOPBACK = ipaddress.IPv6Address("::1")
UDP_MAX_PAYLOAD = {U.AF_INET: 65507, U.AF_INET6: 65527}


def _covers(bound: IpAddress, family: int, v6only: bool) -> tuple[object, object]:
    """What a bound address takes: (its IPv4 part, its IPv6 part), "*" for a wildcard."""
    if family == U.AF_INET:
        return ("*" if bound.is_unspecified else bound), None
    ip = unmapped(bound)
    if isinstance(ip, ipaddress.IPv4Address):
        return ("*" if ip.is_unspecified else ip), None
    if ip.is_unspecified:
        return (None if v6only else "*"), "*"
    return None, ip


def _overlap(a: tuple[object, object], b: tuple[object, object]) -> bool:
    return any(x is not None and y is not None and (x == "*" or y == "*" or x == y)
               for x, y in zip(a, b, strict=True))


class InetSocket(Socket):
    recv_unconnected = U.ENOTCONN

    def __init__(self, ns, inode, family: int, stype: int, protocol: int, flags: int, sched,
                 cred):
        super().__init__(inode, stype, protocol, flags, sched, cred)
        self.ns = ns
        self.family = family
        self.proto = U.IPPROTO_TCP if stype == U.SOCK_STREAM else U.IPPROTO_UDP
        self.local: tuple[IpAddress, int] | None = None
        self.registered = False  # holds its port in the namespace
        self.autobound = False
        self.remote: tuple[IpAddress, int] | None = None
        self.peer_reset = False  # TCP: the peer closed; our next send draws its reset
        self.v6only = False
        if self.proto == U.IPPROTO_TCP:
            self.rcvbuf, self.sndbuf = U.TCP_RMEM_DEFAULT, U.TCP_WMEM_DEFAULT
            self.wrband = 0  # tcp_poll sets no POLLWRBAND

    # -- addresses -----------------------------------------------------------------------------
    def sockname(self) -> bytes:
        ip, port = self.local or (self._any(), 0)
        return inet_sockaddr(self.family, ip, port)

    def peername(self) -> bytes:
        if self.remote is None or not self.connected:
            raise FsError(U.ENOTCONN)
        return inet_sockaddr(self.family, *self.remote)

    def _any(self) -> IpAddress:
        return ipaddress.IPv4Address(0) if self.family == U.AF_INET else ipaddress.IPv6Address(0)

    def _covers(self) -> tuple[object, object]:
        assert self.local is not None
        return _covers(self.local[0], self.family, self.v6only)

    def _conflicts(self, port: int, ip: IpAddress) -> bool:
        mine = _covers(ip, self.family, self.v6only)
        for other in self.ns.bound(self.proto, port):
            if other is self or not _overlap(mine, other._covers()):
                continue
            if self.options.get((U.SOL_SOCKET, U.SO_REUSEADDR)) and \
                    other.options.get((U.SOL_SOCKET, U.SO_REUSEADDR)) and not other.listening:
                continue
            return True
        return False

    def _take_port(self, k, ip: IpAddress, port: int, parity: int | None) -> None:
        if port == 0:
            port = self.ns.ephemeral(k, self.proto, parity,
                                     lambda p: not self.ns.bound(self.proto, p))
            self.autobound = True
        elif self._conflicts(port, ip):
            raise FsError(U.EADDRINUSE)
        self.local = (ip, port)
        self.ns.add_port(self.proto, port, self)
        self.registered = True

    def bind(self, k, raw: bytes) -> None:
        ip, port = inet_endpoint(raw, self.family)
        if self.local is not None:
            raise FsError(errnos.EINVAL)
        if not is_loopback(ip) or (not ip.is_unspecified and unmapped(ip).is_unspecified):
            raise FsError(U.EADDRNOTAVAIL)
        if 0 < port < 1024 and k.process.creds.euid != 0:
            raise FsError(errnos.EACCES)  # CAP_NET_BIND_SERVICE
        # Linux 4.6+: bind() to port 0 prefers odd ports, leaving even ones to connect().
        self._take_port(k, ip, port, 1 if self.proto == U.IPPROTO_TCP else None)
        self.autobound = False

    def _autobind(self, k, parity: int | None) -> None:
        if self.local is None:
            self._take_port(k, self._any(), 0, parity)

    def _destination(self, k, raw: bytes) -> tuple[IpAddress, int]:
        ip, port = inet_endpoint(raw, self.family)
        if not is_loopback(ip):
            k.note(NO_NETWORK.format(dest=unmapped(ip)))
            raise FsError(U.ENETUNREACH)
        if unmapped(ip).is_unspecified:  # the wildcard: Linux sends it to loopback
            ip = V4_LOOPBACK if isinstance(unmapped(ip), ipaddress.IPv4Address) else V6_LOOPBACK
        return ip, port

    def _source(self, dest: IpAddress) -> IpAddress:
        """The address a connection from here carries: the bound one, or loopback's."""
        assert self.local is not None
        ip = self.local[0]
        if not unmapped(ip).is_unspecified:
            return ip
        if isinstance(unmapped(dest), ipaddress.IPv4Address):
            v4 = V4_LOOPBACK
            return v4 if self.family == U.AF_INET else \
                ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + v4.packed)
        return V6_LOOPBACK

    def _accepts(self, dest: IpAddress) -> bool:
        """Whether this bound socket takes packets for `dest`."""
        v4, v6 = self._covers()
        ip = unmapped(dest)
        if isinstance(ip, ipaddress.IPv4Address):
            if ip.is_unspecified:
                ip = V4_LOOPBACK
            return v4 == "*" or v4 == ip
        return v6 == "*" or v6 == ip

    # -- TCP connections ---------------------------------------------------------------------------
    def listen(self, k, backlog: int) -> None:
        if self.proto != U.IPPROTO_TCP:
            raise FsError(U.EOPNOTSUPP)
        if self.connected:
            raise FsError(errnos.EINVAL)
        if not self.listening:
            if self.local is None:
                self._autobind(k, 1)
            elif self._conflicts(self.local[1], self.local[0]):
                raise FsError(U.EADDRINUSE)  # a reused port another socket listens on
        self.max_backlog = backlog
        self.listening = True

    def connect(self, k, raw: bytes) -> int:
        if self.proto == U.IPPROTO_UDP:
            return self._connect_udp(k, raw)
        if self.connected:
            raise FsError(U.EISCONN)
        if self.listening:
            raise FsError(errnos.EINVAL)
        dest, port = self._destination(k, raw)
        self._autobind(k, 0)
        listener = next((s for s in self.ns.bound(U.IPPROTO_TCP, port)
                         if s.listening and not s.closed and s._accepts(dest)), None)
        if listener is None:
            self._unbind_auto()
            if self.nonblocking:
                self.err = U.ECONNREFUSED  # the reset comes back after connect returns
                raise FsError(U.EINPROGRESS)
            raise FsError(U.ECONNREFUSED)
        assert self.local is not None
        source = self._source(dest)
        self.local = (source, self.local[1])
        conn = new_inet_socket(k, listener.family, U.SOCK_STREAM, listener.protocol, 0)
        conn.local = (listener._as_own(dest), port)
        conn.remote = (listener._as_own(source), self.local[1])
        self.remote = (dest, port)
        conn.peer, self.peer = self, conn
        conn.connected = self.connected = True
        conn.options = {key: v for key, v in listener.options.items()}
        listener.backlog.append(conn)
        listener.wake(listener.rd_wait)
        if self.nonblocking:
            raise FsError(U.EINPROGRESS)  # loopback completes it at once: POLLOUT is up
        return 0

    def _as_own(self, ip: IpAddress) -> IpAddress:
        """An address as this socket's family shows it (v4 in a v6 socket: mapped)."""
        if self.family == U.AF_INET6 and isinstance(ip, ipaddress.IPv4Address):
            return ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + ip.packed)
        return ip

    def _unbind_auto(self) -> None:
        if self.autobound and self.local is not None:
            self.ns.drop_port(self.proto, self.local[1], self)
            self.local, self.registered, self.autobound = None, False, False

    def _connect_udp(self, k, raw: bytes) -> int:
        if len(raw) >= 2 and int.from_bytes(raw[:2], "little") == U.AF_UNSPEC:
            self.connected, self.remote = False, None  # udp_disconnect
            return 0
        dest, port = self._destination(k, raw)
        self._autobind(k, None)
        assert self.local is not None
        if unmapped(self.local[0]).is_unspecified:  # ip4_datagram_connect: the source
            self.local = (self._source(dest), self.local[1])
        self.remote = (dest, port)
        self.connected = True
        return 0

    # -- data --------------------------------------------------------------------------------------
    def recvmsg(self, k, n: int, flags: int) -> Received:
        if self.proto == U.IPPROTO_TCP:
            if self.listening:
                raise FsError(U.ENOTCONN)
            return self.recv_stream(k, n, flags)
        return self.recv_dgram(k, n, flags)

    def send(self, k, data: bytes, flags: int, dest: bytes | None, files, cred) -> int:
        if files:
            raise FsError(errnos.EINVAL)  # SCM_RIGHTS is AF_UNIX's alone
        if self.proto == U.IPPROTO_UDP:
            return self._send_udp(k, data, dest)
        if self.err:
            raise FsError(self.take_error())
        if self.shutdown & U.SEND_SHUTDOWN or not self.connected or self.peer is None:
            raise FsError(errnos.EPIPE)
        peer = self.peer
        if peer.closed:
            if self.peer_reset:  # our last send drew the reset: the connection is gone
                self.shutdown = U.SHUTDOWN_MASK
                raise FsError(errnos.EPIPE)
            self.peer_reset = True
            return len(data)
        return self.send_stream(k, peer, data, flags, [], None)

    def _send_udp(self, k, data: bytes, dest_raw: bytes | None) -> int:
        if dest_raw:
            dest, port = self._destination(k, dest_raw)
        elif self.connected and self.remote is not None:
            dest, port = self.remote
        else:
            raise FsError(U.EDESTADDRREQ)
        if port == 0:
            raise FsError(errnos.EINVAL)
        if self.shutdown & U.SEND_SHUTDOWN:
            raise FsError(errnos.EPIPE)
        if len(data) > UDP_MAX_PAYLOAD[self.family]:
            raise FsError(U.EMSGSIZE)
        self._autobind(k, None)
        assert self.local is not None
        source = self._source(dest)
        port_from = self.local[1]
        for other in self.ns.bound(U.IPPROTO_UDP, port):
            if other.closed or not other._accepts(dest):
                continue
            if other.connected and other.remote is not None and \
                    (unmapped(other.remote[0]), other.remote[1]) != (unmapped(source), port_from):
                continue
            if other.rq_bytes + len(data) <= other.rcvbuf:  # else dropped, as UDP does
                sender = inet_sockaddr(other.family, other._as_own(unmapped(source)),
                                       port_from)
                other.enqueue(Skb(data, sender=sender))
            return len(data)
        if self.connected:
            self.err = U.ECONNREFUSED  # the ICMP port unreachable, for a connected socket
        return len(data)

    # -- shutdown, close, poll ---------------------------------------------------------------------
    def shut(self, how: int) -> None:
        mode = how + 1
        if self.listening:
            if mode & U.RCV_SHUTDOWN:
                self.listening = False
                self.wake_all()
            return
        if not self.connected:
            self.shutdown |= mode
            raise FsError(U.ENOTCONN)
        self.shutdown |= mode
        self.wake_all()
        peer = self.peer
        if peer is not None and mode & U.SEND_SHUTDOWN:
            peer.shutdown |= U.RCV_SHUTDOWN  # our FIN: end of file after its data
            peer.wake_all()

    def poll(self) -> int:
        if self.proto == U.IPPROTO_TCP:
            return super().poll()
        mask = POLLERR if self.err else 0
        if self.shutdown & U.RCV_SHUTDOWN:
            mask |= U.POLLRDHUP | POLLIN | POLLRDNORM
        if self.shutdown == U.SHUTDOWN_MASK:
            mask |= POLLHUP
        if self.rq:
            mask |= POLLIN | POLLRDNORM
        return mask | POLLOUT | POLLWRNORM | POLLWRBAND

    def peer_credentials(self) -> tuple[int, int, int]:
        return 0, U.OVERFLOW_ID, U.OVERFLOW_ID  # no credentials travel over TCP

    def release(self) -> None:
        unread = bool(self.rq)
        super().release()
        if self.registered and self.local is not None:
            self.ns.drop_port(self.proto, self.local[1], self)
            self.registered = False
        peer = self.peer
        if peer is not None and self.proto == U.IPPROTO_TCP and peer.peer is self:
            if unread:
                peer.err = U.ECONNRESET  # a close with unread data sends a reset
                peer.shutdown = U.SHUTDOWN_MASK
            else:
                peer.shutdown |= U.RCV_SHUTDOWN
            peer.wake_all()


def new_inet_socket(k, family: int, stype: int, protocol: int, flags: int) -> InetSocket:
    from kernel_model.net.namespace import namespace_of
    from kernel_model.net.socket import SockFsInode

    ns = namespace_of(k)
    p = k.process
    inode = SockFsInode(ns.inode_number(), p.uid, p.gid, k.clock.realtime_ns())
    return InetSocket(ns, inode, family, stype, protocol, flags, k.sched,
                      (p.pid, p.uid, p.gid))

"""The names sockets are found by, one set per machine (a network namespace, reduced):
abstract AF_UNIX names, and the TCP and UDP ports of the loopback interface
(net/unix/af_unix.c: unix_find_abstract, net/ipv4/inet_hashtables.c, net/ipv4/udp.c).

Ephemeral ports come from Linux's range (net.ipv4.ip_local_port_range, 32768-60999),
starting at an offset drawn from the guest's randomness (so --seed fixes them), and, as
Linux 4.6+ does, connect() takes even ports and bind() to port 0 odd ones (UDP: any)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_model.files.inode import FsError
from kernel_model.net import uapi as U
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.net.socket import Socket


class NetNamespace:
    def __init__(self) -> None:
        self.abstract: dict[bytes, Socket] = {}
        self.ports: dict[tuple[int, int], list[Any]] = {}  # (IPPROTO_*, port) -> sockets
        self._next_ino = 200000  # sockfs inode numbers (socket:[N]), apart from pipefs's

    def inode_number(self) -> int:
        self._next_ino += 1
        return self._next_ino

    def bound(self, proto: int, port: int) -> list[Any]:
        return self.ports.get((proto, port), [])

    def add_port(self, proto: int, port: int, sock) -> None:
        self.ports.setdefault((proto, port), []).append(sock)

    def drop_port(self, proto: int, port: int, sock) -> None:
        users = self.ports.get((proto, port))
        if users and sock in users:
            users.remove(sock)
            if not users:
                del self.ports[(proto, port)]

    def ephemeral(self, k, proto: int, parity: int | None, fits) -> int:
        """A free port of the range (`fits(port)` says whether this socket may take it);
        EADDRNOTAVAIL (connect) when none is left, as Linux's -EADDRNOTAVAIL."""
        low, high = U.EPHEMERAL_LOW, U.EPHEMERAL_HIGH
        span = high - low + 1
        offset = int.from_bytes(k.random_bytes(4), "little") % span
        for i in range(span):
            port = low + (offset + i) % span
            if parity is not None and port % 2 != parity:
                continue
            if fits(port):
                return port
        if parity is not None:
            return self.ephemeral(k, proto, None, fits)
        raise FsError(U.EADDRNOTAVAIL if proto == U.IPPROTO_TCP else errnos.EAGAIN)


def namespace_of(k) -> NetNamespace:
    """The machine's names: kept beside its files (one Vfs per run), so a copy of the
    kernel's state (the debugger's history) copies them with the sockets they name."""
    vfs = k.vfs
    ns = getattr(vfs, "net_namespace", None)
    if ns is None:
        ns = NetNamespace()
        setattr(vfs, "net_namespace", ns)  # noqa: B010 (the Vfs knows nothing of sockets)
    return ns

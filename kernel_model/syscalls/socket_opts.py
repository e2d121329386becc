"""getsockopt and setsockopt (net/core/sock.c: sk_setsockopt/sk_getsockopt; net/ipv4/
tcp.c; net/ipv6/ipv6_sockglue.c). The options a program on loopback asks about are
modelled; another one is ENOPROTOOPT with a note saying it is not modelled.

Buffer sizes behave as Linux's: a value set is doubled (room for sk_buff overhead),
capped at net.core.{r,w}mem_max (212992 by default) before doubling and floored at
SOCK_MIN_RCVBUF/SOCK_MIN_SNDBUF; getsockopt reads back the doubled value."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from kernel_model.files.inode import FsError
from kernel_model.net import uapi as U
from kernel_model.net.inet import InetSocket
from kernel_model.net.socket import Socket
from kernel_model.syscalls.argkinds import Fd, Int, Ptr
from kernel_model.syscalls.fs.plumbing import _i32, fs_call
from kernel_model.syscalls.registry import syscall
from kernel_model.syscalls.socket import sock_of
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

# Boolean or plain int options kept as given (SOL_SOCKET), with their defaults.
PLAIN_SOCKET = {U.SO_REUSEADDR: 0, U.SO_KEEPALIVE: 0, U.SO_BROADCAST: 0, U.SO_DEBUG: 0,
                U.SO_DONTROUTE: 0, U.SO_OOBINLINE: 0, U.SO_REUSEPORT: 0, U.SO_PRIORITY: 0,
                U.SO_RCVLOWAT: 1, U.SO_SNDLOWAT: 1}
BOOLEAN_SOCKET = {U.SO_REUSEADDR, U.SO_KEEPALIVE, U.SO_BROADCAST, U.SO_DEBUG,
                  U.SO_DONTROUTE, U.SO_OOBINLINE, U.SO_REUSEPORT}
# TCP options kept as given, with tcp_sock_init's defaults.
PLAIN_TCP = {U.TCP_NODELAY: 0, U.TCP_CORK: 0, U.TCP_KEEPIDLE: 7200, U.TCP_KEEPINTVL: 75,
             U.TCP_KEEPCNT: 9}
BOOLEAN_TCP = {U.TCP_NODELAY, U.TCP_CORK}
TIMEVAL_OPTIONS = (U.SO_RCVTIMEO_OLD, U.SO_SNDTIMEO_OLD)


def _not_modelled(level: int, name: int) -> FsError:
    return FsError(U.ENOPROTOOPT, f"socket option (level {level}, {name}) is not modelled "
                                  "in syscall-lab")


def _int_value(k, optval: int, optlen: int) -> int:
    if optlen < 4:
        raise FsError(errnos.EINVAL)
    return struct.unpack("<i", k.read(optval, 4))[0]


def _set_socket_level(k, sock: Socket, name: int, optval: int, optlen: int) -> None:
    if name in (U.SO_RCVBUF, U.SO_RCVBUFFORCE):
        v = _int_value(k, optval, optlen)
        if name == U.SO_RCVBUFFORCE and k.process.creds.euid != 0:
            raise FsError(errnos.EPERM)
        v = min(v, U.RMEM_MAX) if name == U.SO_RCVBUF else v
        sock.rcvbuf = max(min(v, 0x3FFFFFFF) * 2, U.SOCK_MIN_RCVBUF)
        return
    if name in (U.SO_SNDBUF, U.SO_SNDBUFFORCE):
        v = _int_value(k, optval, optlen)
        if name == U.SO_SNDBUFFORCE and k.process.creds.euid != 0:
            raise FsError(errnos.EPERM)
        v = min(v, U.WMEM_MAX) if name == U.SO_SNDBUF else v
        sock.sndbuf = max(min(v, 0x3FFFFFFF) * 2, U.SOCK_MIN_SNDBUF)
        sock.wake(sock.wr_wait)
        return
    if name == U.SO_PASSCRED:
        sock.passcred = bool(_int_value(k, optval, optlen))
        return
    if name in PLAIN_SOCKET:
        v = _int_value(k, optval, optlen)
        sock.options[(U.SOL_SOCKET, name)] = int(v != 0) if name in BOOLEAN_SOCKET else v
        return
    if name == U.SO_LINGER:
        if optlen < 8:
            raise FsError(errnos.EINVAL)
        onoff, linger = struct.unpack("<ii", k.read(optval, 8))
        sock.linger = (int(onoff != 0), linger)
        return
    if name in TIMEVAL_OPTIONS:
        size = 16 if k.abi.bits == 64 else 8
        if optlen < size:
            raise FsError(errnos.EINVAL)
        sec, usec = struct.unpack("<qq" if size == 16 else "<ii", k.read(optval, size))
        sock.options[(U.SOL_SOCKET, name)] = max(sec, 0) * 1_000_000 + usec
        if sec or usec:
            k.note("SO_RCVTIMEO/SO_SNDTIMEO are kept but not enforced: a receive or send "
                   "waits without that limit")
        return
    if name in (U.SO_TYPE, U.SO_ERROR, U.SO_PEERCRED, U.SO_ACCEPTCONN, U.SO_DOMAIN,
                U.SO_PROTOCOL):
        raise FsError(U.ENOPROTOOPT)  # read-only options
    raise _not_modelled(U.SOL_SOCKET, name)


def _get_socket_level(k, sock: Socket, name: int) -> bytes:
    ints = {U.SO_TYPE: sock.stype, U.SO_DOMAIN: sock.family, U.SO_RCVBUF: sock.rcvbuf,
            U.SO_SNDBUF: sock.sndbuf, U.SO_ACCEPTCONN: int(sock.listening),
            U.SO_PASSCRED: int(sock.passcred),
            U.SO_PROTOCOL: getattr(sock, "proto", 0) if sock.family != U.AF_UNIX else 0}
    if name == U.SO_ERROR:
        return struct.pack("<i", sock.take_error())
    if name in ints:
        return struct.pack("<i", ints[name])
    if name in PLAIN_SOCKET:
        return struct.pack("<i", sock.options.get((U.SOL_SOCKET, name), PLAIN_SOCKET[name]))
    if name == U.SO_PEERCRED:
        return struct.pack("<iII", *sock.peer_credentials())
    if name == U.SO_LINGER:
        return struct.pack("<ii", *sock.linger)
    if name in TIMEVAL_OPTIONS:
        sec, usec = divmod(sock.options.get((U.SOL_SOCKET, name), 0), 1_000_000)
        return struct.pack("<qq" if k.abi.bits == 64 else "<ii", sec, usec)
    raise _not_modelled(U.SOL_SOCKET, name)


def _protocol_level(sock: Socket, level: int, name: int) -> tuple[int, int]:
    """Which protocol option this is, or the error Linux gives for its socket."""
    if not isinstance(sock, InetSocket):
        raise FsError(U.EOPNOTSUPP)  # unix sockets: SOL_SOCKET only
    if level == U.SOL_TCP:
        if sock.proto != U.IPPROTO_TCP:
            raise FsError(U.ENOPROTOOPT)
        if name not in PLAIN_TCP:
            raise _not_modelled(level, name)
        return level, name
    if level == U.SOL_IPV6 and name == U.IPV6_V6ONLY and sock.family == U.AF_INET6:
        return level, name
    raise _not_modelled(level, name)


@syscall("setsockopt", Fd(), Int(), Int(), Ptr(), Int())
@fs_call
def sys_setsockopt(k: SyscallContext, fd, level, name, optval, optlen):
    sock = sock_of(k, fd)
    level, name, optlen = _i32(level), _i32(name), _i32(optlen)
    if optlen < 0:
        raise FsError(errnos.EINVAL)
    if level == U.SOL_SOCKET:
        _set_socket_level(k, sock, name, optval, optlen)
        return 0
    level, name = _protocol_level(sock, level, name)
    v = _int_value(k, optval, optlen)
    if level == U.SOL_IPV6:
        if sock.local is not None:  # type: ignore[attr-defined]
            raise FsError(errnos.EINVAL)  # IPV6_V6ONLY only before bind
        sock.v6only = bool(v)  # type: ignore[attr-defined]
        return 0
    sock.options[(level, name)] = int(v != 0) if name in BOOLEAN_TCP else v
    return 0


@syscall("getsockopt", Fd(), Int(), Int(), Ptr(), Ptr())
@fs_call
def sys_getsockopt(k: SyscallContext, fd, level, name, optval, optlenp):
    sock = sock_of(k, fd)
    level, name = _i32(level), _i32(name)
    size = struct.unpack("<i", k.read(optlenp, 4))[0]
    if size < 0:
        raise FsError(errnos.EINVAL)
    if level == U.SOL_SOCKET:
        value = _get_socket_level(k, sock, name)
    else:
        level, name = _protocol_level(sock, level, name)
        if level == U.SOL_IPV6:
            value = struct.pack("<i", int(sock.v6only))  # type: ignore[attr-defined]
        else:
            value = struct.pack("<i", sock.options.get((level, name), PLAIN_TCP[name]))
    n = min(size, len(value))
    k.write(optval, value[:n])
    k.write(optlenp, struct.pack("<i", n))
    return 0

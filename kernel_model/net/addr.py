"""sockaddr layouts (include/uapi/linux/un.h, in.h, in6.h) and their checks
(net/unix/af_unix.c: unix_validate_addr, net/ipv4/af_inet.c: inet_bind/inet_connect)."""

from __future__ import annotations

import ipaddress
import struct

from kernel_model.files.inode import FsError
from kernel_model.net import uapi as U
from kernel_model.uapi import errnos

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SOCKADDR_IN_SIZE, SOCKADDR_IN6_SIZE = 16, 28


def family_of(raw: bytes) -> int:
    return int.from_bytes(raw[:2], "little") if len(raw) >= 2 else U.AF_UNSPEC


# -- AF_UNIX -------------------------------------------------------------------------------
def unix_name(raw: bytes) -> bytes:
    """The name in a sockaddr_un as the kernel keeps it: a path up to its first NUL, or an
    abstract name (a leading NUL, then exactly the bytes given). b"" asks for autobind."""
    if len(raw) < U.SUN_PATH_OFFSET or len(raw) > U.SUN_PATH_OFFSET + U.UNIX_PATH_MAX:
        raise FsError(errnos.EINVAL)
    if family_of(raw) != U.AF_UNIX:
        raise FsError(errnos.EINVAL)
    path = raw[U.SUN_PATH_OFFSET:]
    if not path:
        return b""
    if path[0] == 0:
        return path  # abstract: every byte counts, NULs too
    return path.split(b"\0", 1)[0]


def unix_sockaddr(name: bytes | None) -> bytes:
    """What getsockname/getpeername/accept/recvfrom give for a unix name: the family alone
    when unbound, else the name (a path with its NUL: unix_bind_bsd's addr->len)."""
    head = struct.pack("<H", U.AF_UNIX)
    if not name:
        return head
    if name[0] == 0:
        return head + name
    return head + name + b"\0"


# -- AF_INET and AF_INET6 -------------------------------------------------------------------
def inet_endpoint(raw: bytes, family: int) -> tuple[IpAddress, int]:
    """(address, port) of a sockaddr_in or sockaddr_in6; EINVAL when too short,
    EAFNOSUPPORT for another family."""
    if family == U.AF_INET:
        if len(raw) < SOCKADDR_IN_SIZE:
            raise FsError(errnos.EINVAL)
        if family_of(raw) != U.AF_INET:
            raise FsError(U.EAFNOSUPPORT)
        port = struct.unpack(">H", raw[2:4])[0]
        return ipaddress.IPv4Address(raw[4:8]), port
    if len(raw) < 24:  # SIN6_LEN_RFC2133: the scope id may be left out
        raise FsError(errnos.EINVAL)
    if family_of(raw) != U.AF_INET6:
        raise FsError(U.EAFNOSUPPORT)
    port = struct.unpack(">H", raw[2:4])[0]
    return ipaddress.IPv6Address(raw[8:24]), port


def inet_sockaddr(family: int, ip: IpAddress, port: int) -> bytes:
    if family == U.AF_INET:
        return struct.pack("<H", U.AF_INET) + struct.pack(">H", port) + ip.packed + bytes(8)
    if isinstance(ip, ipaddress.IPv4Address):  # a v4 peer of a v6 socket: mapped
        ip = ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + ip.packed)
    return (struct.pack("<H", U.AF_INET6) + struct.pack(">H", port) + bytes(4) + ip.packed
            + bytes(4))


def unmapped(ip: IpAddress) -> IpAddress:
    """::ffff:a.b.c.d is the IPv4 address a.b.c.d."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_any(ip: IpAddress) -> bool:
    return ip.is_unspecified


def is_loopback(ip: IpAddress) -> bool:
    """Addresses that reach this machine: 127.0.0.0/8 and ::1, and the wildcard, which
    Linux sends to loopback when connected to."""
    ip = unmapped(ip)
    return ip.is_loopback or ip.is_unspecified

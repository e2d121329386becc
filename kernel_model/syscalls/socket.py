"""socket, socketpair, bind, listen, connect, accept, accept4, getsockname, getpeername and
shutdown (net/socket.c): decode the user's arguments, hand them to the socket objects of
kernel_model/net, and copy addresses back as move_addr_to_user does.

No host socket is ever opened: the families are AF_UNIX and loopback-only AF_INET/AF_INET6
(kernel_model/net); any other family is EAFNOSUPPORT, with a note."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from kernel_model.files.inode import FsError
from kernel_model.net import uapi as U
from kernel_model.net.inet import new_inet_socket
from kernel_model.net.socket import Socket
from kernel_model.net.unix import new_unix_socket
from kernel_model.syscalls.argkinds import Fd, Int, Ptr
from kernel_model.syscalls.fs.plumbing import _fds, _i32, _nofile, _u32, fs_call
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

INET_FAMILIES = (U.AF_INET, U.AF_INET6)


def sock_of(k, fd: int) -> Socket:
    """sockfd_lookup: EBADF for no fd, ENOTSOCK for a file that is not a socket."""
    f = _fds(k)[_u32(fd)]
    if not isinstance(f, Socket):
        raise FsError(U.ENOTSOCK)
    return f


def sockaddr_in(k, addr: int, addrlen: int) -> bytes:
    """move_addr_to_kernel: at most sizeof(struct sockaddr_storage) bytes."""
    n = _i32(addrlen)
    if n < 0 or n > U.SOCKADDR_STORAGE:
        raise FsError(errnos.EINVAL)
    return k.read(addr, n) if n else b""


def sockaddr_out(k, addr: int, lenp: int, raw: bytes) -> None:
    """move_addr_to_user: as much of the address as the buffer holds; its whole length
    goes to *lenp either way."""
    if not addr:
        return
    n = struct.unpack("<i", k.read(lenp, 4))[0]
    if n < 0:
        raise FsError(errnos.EINVAL)
    if n:
        k.write(addr, raw[:min(n, len(raw))])
    k.write(lenp, struct.pack("<i", len(raw)))


def install(k, sock: Socket, cloexec: bool) -> int:
    return _fds(k).install(sock, cloexec=cloexec, limit=_nofile(k))


def _split_type(stype: int) -> tuple[int, int]:
    kind = stype & U.SOCK_TYPE_MASK
    if stype & ~(U.SOCK_TYPE_MASK | U.SOCK_NONBLOCK | U.SOCK_CLOEXEC):
        raise FsError(errnos.EINVAL)
    return kind, stype & (U.SOCK_NONBLOCK | U.SOCK_CLOEXEC)


def new_socket(k, family: int, stype: int, protocol: int) -> tuple[Socket, int]:
    """__sock_create: the socket and its SOCK_CLOEXEC/SOCK_NONBLOCK flags."""
    kind, flags = _split_type(stype)
    if family == U.AF_UNIX:
        if kind == U.SOCK_RAW:
            kind = U.SOCK_DGRAM  # unix_create: a raw unix socket is a datagram one
        if kind not in (U.SOCK_STREAM, U.SOCK_DGRAM, U.SOCK_SEQPACKET):
            raise FsError(U.ESOCKTNOSUPPORT)
        if protocol not in (0, U.AF_UNIX):
            raise FsError(U.EPROTONOSUPPORT)
        return new_unix_socket(k, kind, flags), flags
    if family in INET_FAMILIES:
        wanted = {U.SOCK_STREAM: U.IPPROTO_TCP, U.SOCK_DGRAM: U.IPPROTO_UDP}.get(kind)
        if wanted is None:
            raise FsError(U.ESOCKTNOSUPPORT, "syscall-lab models TCP and UDP over loopback "
                                             "only (no raw or other socket types)")
        if protocol not in (0, wanted):
            raise FsError(U.EPROTONOSUPPORT)
        return new_inet_socket(k, family, kind, protocol, flags), flags
    raise FsError(U.EAFNOSUPPORT, "syscall-lab models AF_UNIX, and AF_INET/AF_INET6 over "
                                  "loopback only")


@syscall("socket", Int(), Int(), Int())
@fs_call
def sys_socket(k: SyscallContext, family, stype, protocol):
    sock, flags = new_socket(k, _i32(family), _i32(stype), _i32(protocol))
    return install(k, sock, bool(flags & U.SOCK_CLOEXEC))


@syscall("socketpair", Int(), Int(), Int(), Ptr())
@fs_call
def sys_socketpair(k: SyscallContext, family, stype, protocol, sv):
    family = _i32(family)
    if family != U.AF_UNIX:
        if family in INET_FAMILIES:
            _split_type(_i32(stype))
            raise FsError(U.EOPNOTSUPP)  # inet's socketpair is sock_no_socketpair
        raise FsError(U.EAFNOSUPPORT)
    a, flags = new_socket(k, family, _i32(stype), _i32(protocol))
    b, _ = new_socket(k, family, _i32(stype), _i32(protocol))
    a.peer, b.peer = b, a
    a.connected = b.connected = True
    a.peer_cred, b.peer_cred = b.cred, a.cred  # both ends: the caller's credentials
    cloexec = bool(flags & U.SOCK_CLOEXEC)
    table = _fds(k)
    fd_a = install(k, a, cloexec)
    try:
        fd_b = install(k, b, cloexec)
    except FsError:
        table.close(fd_a)
        b.release()
        raise
    try:
        k.write(sv, struct.pack("<ii", fd_a, fd_b))
    except BaseException:
        table.close(fd_a)
        table.close(fd_b)
        raise
    return 0


@syscall("bind", Fd(), Ptr(), Int())
@fs_call
def sys_bind(k: SyscallContext, fd, addr, addrlen):
    sock = sock_of(k, fd)
    sock.bind(k, sockaddr_in(k, addr, addrlen))
    return 0


@syscall("listen", Fd(), Int())
@fs_call
def sys_listen(k: SyscallContext, fd, backlog):
    sock = sock_of(k, fd)
    n = _i32(backlog)
    n = U.SOMAXCONN if n < 0 or n > U.SOMAXCONN else n  # capped by net.core.somaxconn
    sock.listen(k, n)
    return 0


@syscall("connect", Fd(), Ptr(), Int())
@fs_call
def sys_connect(k: SyscallContext, fd, addr, addrlen):
    sock = sock_of(k, fd)
    raw = sockaddr_in(k, addr, addrlen)
    if len(raw) < 2:
        raise FsError(errnos.EINVAL)
    return sock.connect(k, raw)


def _accept(k, fd, addr, lenp, flags):
    flags = _i32(flags)
    if flags & ~(U.SOCK_CLOEXEC | U.SOCK_NONBLOCK):
        raise FsError(errnos.EINVAL)
    sock = sock_of(k, fd)
    if not sock.connection_based:
        raise FsError(U.EOPNOTSUPP)
    if addr:
        sockaddr_out_check(k, lenp)
    conn = sock.accept(k, flags)
    newfd = install(k, conn, bool(flags & U.SOCK_CLOEXEC))
    try:
        sockaddr_out(k, addr, lenp, conn.peername())
    except BaseException:
        _fds(k).close(newfd)
        raise
    return newfd


def sockaddr_out_check(k, lenp: int) -> None:
    if struct.unpack("<i", k.read(lenp, 4))[0] < 0:
        raise FsError(errnos.EINVAL)


@syscall("accept", Fd(), Ptr(), Ptr())
@fs_call
def sys_accept(k: SyscallContext, fd, addr, lenp):
    return _accept(k, fd, addr, lenp, 0)


@syscall("accept4", Fd(), Ptr(), Ptr(), Int())
@fs_call
def sys_accept4(k: SyscallContext, fd, addr, lenp, flags):
    return _accept(k, fd, addr, lenp, flags)


@syscall("getsockname", Fd(), Ptr(), Ptr())
@fs_call
def sys_getsockname(k: SyscallContext, fd, addr, lenp):
    sock = sock_of(k, fd)
    sockaddr_out_check(k, lenp)
    sockaddr_out(k, addr, lenp, sock.sockname())
    return 0


@syscall("getpeername", Fd(), Ptr(), Ptr())
@fs_call
def sys_getpeername(k: SyscallContext, fd, addr, lenp):
    sock = sock_of(k, fd)
    sockaddr_out_check(k, lenp)
    sockaddr_out(k, addr, lenp, sock.peername())
    return 0


@syscall("shutdown", Fd(), Int())
@fs_call
def sys_shutdown(k: SyscallContext, fd, how):
    sock = sock_of(k, fd)
    how = _i32(how)
    if how not in (U.SHUT_RD, U.SHUT_WR, U.SHUT_RDWR):
        raise FsError(errnos.EINVAL)
    sock.shut(how)
    return 0

"""i386's socketcall(call, args) (net/socket.c: SYSCALL_DEFINE2(socketcall)): one entry for
every socket operation, its arguments as an array of words in memory. Programs built for
kernels before 4.3 use it (the direct i386 socket syscalls, 359 and up, came then);
strace shows each call under its own name, as the syscall-lab trace does."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from kernel_model.syscalls import socket as S
from kernel_model.syscalls import socket_msg as M
from kernel_model.syscalls import socket_opts as O
from kernel_model.syscalls.argkinds import Int, Ptr
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

# SYS_SOCKET = 1 ... SYS_SENDMMSG = 20 (include/uapi/linux/net.h): name and argument count.
SUBCALLS: dict[int, tuple[str, int]] = {
    1: ("socket", 3), 2: ("bind", 3), 3: ("connect", 3), 4: ("listen", 2),
    5: ("accept", 3), 6: ("getsockname", 3), 7: ("getpeername", 3), 8: ("socketpair", 4),
    9: ("send", 4), 10: ("recv", 4), 11: ("sendto", 6), 12: ("recvfrom", 6),
    13: ("shutdown", 2), 14: ("setsockopt", 5), 15: ("getsockopt", 5), 16: ("sendmsg", 3),
    17: ("recvmsg", 3), 18: ("accept4", 4), 19: ("recvmmsg", 5), 20: ("sendmmsg", 4),
}


def _handlers():
    return {
        "socket": S.sys_socket, "bind": S.sys_bind, "connect": S.sys_connect,
        "listen": S.sys_listen, "accept": S.sys_accept, "getsockname": S.sys_getsockname,
        "getpeername": S.sys_getpeername, "socketpair": S.sys_socketpair,
        "send": lambda k, fd, buf, n, flags: M.sys_sendto(k, fd, buf, n, flags, 0, 0),
        "recv": lambda k, fd, buf, n, flags: M.sys_recvfrom(k, fd, buf, n, flags, 0, 0),
        "sendto": M.sys_sendto, "recvfrom": M.sys_recvfrom, "shutdown": S.sys_shutdown,
        "setsockopt": O.sys_setsockopt, "getsockopt": O.sys_getsockopt,
        "sendmsg": M.sys_sendmsg, "recvmsg": M.sys_recvmsg, "accept4": S.sys_accept4,
        "sendmmsg": M.sys_sendmmsg, "recvmmsg": M.sys_recvmmsg,
    }


def socketcall_args(k, call: int, args: int) -> tuple[str, tuple[int, ...]] | None:
    sub = SUBCALLS.get(call)
    if sub is None:
        return None
    name, n = sub
    return name, struct.unpack(f"<{n}I", k.read(args, 4 * n))


@syscall("socketcall", Int(), Ptr(), abi="i386")
def sys_socketcall(k: SyscallContext, call, args):
    found = socketcall_args(k, call & 0xFFFFFFFF, args)
    if found is None:
        return -errnos.EINVAL
    name, words = found
    handler = _handlers().get(name)
    if handler is None:
        k.note(f"socketcall {name} is not implemented in syscall-lab")
        return -errnos.ENOSYS
    return handler(k, *words)

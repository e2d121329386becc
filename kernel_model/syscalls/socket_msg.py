"""sendto, recvfrom, sendmsg, recvmsg, sendmmsg and recvmmsg (net/socket.c: __sys_sendto,
___sys_sendmsg, ___sys_recvmsg; net/core/scm.c: SCM_RIGHTS and SCM_CREDENTIALS).

A failed send with EPIPE raises SIGPIPE in the caller unless MSG_NOSIGNAL was given, as
Linux's stream sockets do. Files passed with SCM_RIGHTS travel as references to their open
file descriptions (the receiver's new fds share offsets and flags with the sender's, as
on Linux); a receive that has no room for them (msg_controllen too small, or read(2))
closes them and says MSG_CTRUNC."""

from __future__ import annotations

import struct
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kernel_model.files.inode import FsError
from kernel_model.files.uapi import MAX_RW_COUNT
from kernel_model.net import uapi as U
from kernel_model.net.socket import Received, Socket, drop_files
from kernel_model.proc.sched import Blocked
from kernel_model.syscalls.argkinds import Fd, InBuf, Int, OutBuf, Ptr, UInt
from kernel_model.syscalls.fs.plumbing import _fds, _i32, _nofile, _u32, fs_call
from kernel_model.syscalls.fs.read_write import _iovecs
from kernel_model.syscalls.registry import syscall
from kernel_model.syscalls.socket import sock_of, sockaddr_in, sockaddr_out
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

SIGPIPE = 13
SEND_FLAGS_KNOWN = (U.MSG_OOB | U.MSG_DONTROUTE | U.MSG_DONTWAIT | U.MSG_EOR | U.MSG_NOSIGNAL
                    | U.MSG_MORE | U.MSG_CONFIRM)


@dataclass
class MsgHdr:
    name: int
    namelen: int
    iov: int
    iovlen: int
    control: int
    controllen: int
    flags: int


def msghdr_layout(abi) -> tuple[str, int]:
    """struct msghdr / compat_msghdr: the field format and its size."""
    return ("<QIxxxxQQQQIxxxx", 56) if abi.bits == 64 else ("<7I", 28)


def read_msghdr(k, addr: int) -> MsgHdr:
    fmt, size = msghdr_layout(k.abi)
    return MsgHdr(*struct.unpack(fmt, k.read(addr, size)))


def cmsg_layout(abi) -> tuple[int, int]:
    """(sizeof(struct cmsghdr), the alignment CMSG_ALIGN rounds to)."""
    return (16, 8) if abi.bits == 64 else (12, 4)


def _align(n: int, a: int) -> int:
    return (n + a - 1) & ~(a - 1)


# -- control messages in ---------------------------------------------------------------------
def parse_control(k, sock: Socket, addr: int, size: int):
    """__scm_send: the files of SCM_RIGHTS and the credentials of SCM_CREDENTIALS."""
    hdr, align = cmsg_layout(k.abi)
    raw = k.read(addr, size) if size else b""
    files: list = []
    cred = None
    pos = 0
    while pos + hdr <= len(raw):
        if hdr == 16:
            length, level, kind = struct.unpack_from("<Qii", raw, pos)
        else:
            length, level, kind = struct.unpack_from("<Iii", raw, pos)
        if length < hdr or pos + length > len(raw):
            raise FsError(errnos.EINVAL)
        data = raw[pos + hdr:pos + length]
        if level != U.SOL_SOCKET or sock.family != U.AF_UNIX:
            raise FsError(errnos.EINVAL)
        if kind == U.SCM_RIGHTS:
            count = len(data) // 4
            if not count or count > U.SCM_MAX_FD or files:
                raise FsError(errnos.EINVAL)
            table = _fds(k)
            files = [table[fd] for fd in struct.unpack(f"<{count}i", data[:4 * count])]
        elif kind == U.SCM_CREDENTIALS:
            if len(data) < 12:
                raise FsError(errnos.EINVAL)
            pid, uid, gid = struct.unpack_from("<iII", data)
            p = k.process
            if p.uid != 0 and (pid != p.pid or uid != p.uid or gid != p.gid):
                raise FsError(errnos.EPERM)  # scm_check_creds: only root may pretend
            cred = (pid, uid, gid)
        else:
            raise FsError(errnos.EINVAL)
        pos += _align(length, align)
    return files, cred


def caller_cred(k) -> tuple[int, int, int]:
    p = k.process
    return p.pid, p.uid, p.gid


# -- sending ---------------------------------------------------------------------------------
def do_send(k, sock: Socket, data: bytes, flags: int, dest: bytes | None, files=(),
            cred=None) -> int:
    if flags & U.MSG_OOB:
        raise FsError(U.EOPNOTSUPP, "out-of-band data is not modelled")
    try:
        return sock.send(k, data, flags, dest, list(files), cred or caller_cred(k))
    except FsError as e:
        if e.errno == errnos.EPIPE and not flags & U.MSG_NOSIGNAL:
            k.signals.send(SIGPIPE, 0, pid=k.process.pid, uid=k.process.uid,
                           synchronous=False)
        raise


@syscall("sendto", Fd(), InBuf(2), UInt(), Int(), Ptr(), Int())
@fs_call
def sys_sendto(k: SyscallContext, fd, buf, length, flags, dest, addrlen):
    sock = sock_of(k, fd)
    data = k.read(buf, min(length, MAX_RW_COUNT)) if length else b""
    raw = sockaddr_in(k, dest, addrlen) if dest else None
    return do_send(k, sock, data, _u32(flags), raw)


def _sendmsg(k, fd: int, msg_addr: int, flags: int) -> int:
    sock = sock_of(k, fd)
    msg = read_msghdr(k, msg_addr)
    vecs = _iovecs(k, msg.iov, msg.iovlen)
    data = b"".join(k.read(base, n) for base, n in vecs if n)
    raw = sockaddr_in(k, msg.name, msg.namelen) if msg.name and msg.namelen else None
    if msg.controllen > MAX_RW_COUNT:
        raise FsError(U.ENOBUFS)
    files, cred = parse_control(k, sock, msg.control, msg.controllen) if msg.control \
        else ([], None)
    return do_send(k, sock, data, flags, raw, files, cred)


@syscall("sendmsg", Fd(), Ptr(), Int())
@fs_call
def sys_sendmsg(k: SyscallContext, fd, msg, flags):
    return _sendmsg(k, fd, msg, _u32(flags))


@syscall("sendmmsg", Fd(), Ptr(), UInt(), Int())
@fs_call
def sys_sendmmsg(k: SyscallContext, fd, vec, vlen, flags):
    """__sys_sendmmsg: one sendmsg per entry, each one's count in its msg_len; an error
    after the first ends the run with the count so far."""
    _, size = msghdr_layout(k.abi)
    entry = size + 8 if k.abi.bits == 64 else size + 4
    sent = 0
    for i in range(min(_u32(vlen), 1024)):  # UIO_MAXIOV entries at most
        at = vec + i * entry
        try:
            n = _sendmsg(k, fd, at, _u32(flags))
        except FsError:
            if sent:
                return sent
            raise
        k.write(at + size, struct.pack("<I", n))
        sent += 1
    return sent


# -- receiving -------------------------------------------------------------------------------
def _install_files(k, got: Received, room: int, cloexec: bool) -> list[int]:
    """scm_detach_fds: as many fds as the control buffer holds; the rest are closed."""
    table = _fds(k)
    fds: list[int] = []
    for f in got.files[:max(room, 0)]:
        try:
            fds.append(table.install(f, cloexec=cloexec, limit=_nofile(k)))
        except FsError:
            break
    if got.consumed:
        kept = got.files[:len(fds)]
        for f in kept:
            f.refs -= 1  # the in-flight reference became the new fd's
        drop_files(got.files[len(fds):])
    return fds


def _control_out(k, sock: Socket, got: Received, msg: MsgHdr, cloexec: bool) -> tuple[bytes, int]:
    """The control messages a receive hands back (put_cmsg), and MSG_CTRUNC if cut."""
    hdr, align = cmsg_layout(k.abi)
    out = b""
    flags = 0
    fmt = "<Qii" if hdr == 16 else "<Iii"
    room = msg.controllen if msg.control else 0
    if sock.passcred and got.cred is not None:
        body = struct.pack("<iII", *got.cred)
        length = hdr + len(body)
        if room - len(out) >= length:
            out += (struct.pack(fmt, length, U.SOL_SOCKET, U.SCM_CREDENTIALS) + body).ljust(
                min(_align(length, align), room - len(out)), b"\0")
        else:
            flags |= U.MSG_CTRUNC
    if got.files:
        space = room - len(out) - hdr
        fits = space // 4 if space > 0 else 0
        fds = _install_files(k, got, fits, cloexec)
        if len(fds) < len(got.files):
            flags |= U.MSG_CTRUNC
        if fds:
            body = struct.pack(f"<{len(fds)}i", *fds)
            length = hdr + len(body)
            out += (struct.pack(fmt, length, U.SOL_SOCKET, U.SCM_RIGHTS) + body).ljust(
                min(_align(length, align), room - len(out)), b"\0")
    return out, flags


def _recvmsg(k, fd: int, msg_addr: int, flags: int) -> int:
    sock = sock_of(k, fd)
    msg = read_msghdr(k, msg_addr)
    vecs = _iovecs(k, msg.iov, msg.iovlen)
    if _i32(msg.namelen) < 0:
        raise FsError(errnos.EINVAL)
    got = sock.recvmsg(k, sum(n for _, n in vecs), flags)
    pos = 0
    for base, n in vecs:
        piece = got.data[pos:pos + n]
        if not piece:
            break
        k.write(base, piece)
        pos += len(piece)
    namelen = 0
    if msg.name and got.sender:
        k.write(msg.name, got.sender[:min(msg.namelen, len(got.sender))])
        namelen = len(got.sender)
    control, cflags = _control_out(k, sock, got, msg, bool(flags & U.MSG_CMSG_CLOEXEC))
    if control:
        k.write(msg.control, control)
    out_flags = (flags & U.MSG_CMSG_CLOEXEC) | got.msg_flags | cflags
    fmt, size = msghdr_layout(k.abi)
    if k.abi.bits == 64:
        k.write(msg_addr + 8, struct.pack("<I", namelen))
        k.write(msg_addr + 40, struct.pack("<QI", len(control), out_flags))
    else:
        k.write(msg_addr + 4, struct.pack("<I", namelen))
        k.write(msg_addr + 20, struct.pack("<II", len(control), out_flags))
    return got.length if flags & U.MSG_TRUNC and not sock.stype == U.SOCK_STREAM \
        else len(got.data)


@syscall("recvmsg", Fd(), Ptr(), Int())
@fs_call
def sys_recvmsg(k: SyscallContext, fd, msg, flags):
    return _recvmsg(k, fd, msg, _u32(flags))


@syscall("recvfrom", Fd(), OutBuf(2), UInt(), Int(), Ptr(), Ptr())
@fs_call
def sys_recvfrom(k: SyscallContext, fd, buf, length, flags, src, lenp):
    sock = sock_of(k, fd)
    flags = _u32(flags)
    got = sock.recvmsg(k, min(length, MAX_RW_COUNT), flags)
    if got.consumed:
        drop_files(got.files)  # no control buffer: the files are closed
    try:
        k.write(buf, got.data)
    except BaseException:
        if got.consumed:
            sock.unread(got.data)
        raise
    if src:
        sockaddr_out(k, src, lenp, got.sender) if got.sender else \
            k.write(lenp, struct.pack("<i", 0))
    if flags & U.MSG_TRUNC and sock.stype != U.SOCK_STREAM:
        return got.length
    return len(got.data)


# -- recvmmsg ------------------------------------------------------------------------------
MSG_WAITFORONE = 0x10000
# How many messages each waiting recvmmsg has already received (the call is run again from
# the start once woken; what it stored in user memory stays there).
_received: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _recvmmsg(k, fd, vec, vlen, flags, timeout_addr) -> int:
    """__sys_recvmmsg: one recvmsg per entry, each one's count in its msg_len. Without
    MSG_WAITFORONE it waits for every entry, as Linux does; with it, only for the first.
    An error after the first message ends the run with the count so far."""
    if timeout_addr:
        k.note("recvmmsg's timeout is not enforced: it waits as without one")
    task = k.current
    done = _received.pop(task, 0) if task.blocked is not None else 0
    _, size = msghdr_layout(k.abi)
    entry = size + 8 if k.abi.bits == 64 else size + 4
    flags = _u32(flags)
    for i in range(done, min(_u32(vlen), 1024)):
        at = vec + i * entry
        each = flags | (U.MSG_DONTWAIT if flags & MSG_WAITFORONE and i else 0)
        try:
            n = _recvmsg(k, fd, at, each & ~MSG_WAITFORONE)
        except Blocked:
            if i:
                _received[task] = i
            raise
        except FsError:
            if i:
                return i
            raise
        k.write(at + size, struct.pack("<I", n))
        sock = sock_of(k, fd)
        if sock.stype == U.SOCK_STREAM and n == 0:
            return i + 1  # end of file: nothing more will come
    return min(_u32(vlen), 1024)


@syscall("recvmmsg", Fd(), Ptr(), UInt(), Int(), Ptr())
@fs_call
def sys_recvmmsg(k: SyscallContext, fd, vec, vlen, flags, timeout):
    return _recvmmsg(k, fd, vec, vlen, flags, timeout)


@syscall("recvmmsg_time64", Fd(), Ptr(), UInt(), Int(), Ptr())
@fs_call
def sys_recvmmsg_time64(k: SyscallContext, fd, vec, vlen, flags, timeout):
    return _recvmmsg(k, fd, vec, vlen, flags, timeout)

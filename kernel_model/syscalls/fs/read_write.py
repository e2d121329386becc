"""read, write, their vector and positioned forms, and seeking (fs/read_write.c;
fs/iov_iter.c: import_iovec; fs/pipe.c: SIGPIPE on a write to a pipe nobody reads)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_model.files.inode import FsError
from kernel_model.files.uapi import MAX_RW_COUNT, SEEK_HOLE, UIO_MAXIOV
from kernel_model.syscalls.argkinds import (
    Enum,
    Fd,
    InBuf,
    Int,
    Iovec,
    Long,
    OutBuf,
    OutStruct,
    UInt,
)
from kernel_model.syscalls.fs.plumbing import _fds, _i32, _u32, fs_call
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos, structs

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

SIGPIPE = 13


def _write_to(k: SyscallContext, f, data: bytes) -> int:
    try:
        return f.write(k, data)
    except FsError as e:
        if e.errno == errnos.EPIPE:
            # fs/pipe.c: send_sig(SIGPIPE, current, 0): its default action ends the process.
            k.signals.send(SIGPIPE, 0, pid=k.process.pid, uid=k.process.uid,
                                  synchronous=False)
        raise


def _deliver(k: SyscallContext, f, addr: int, data: bytes) -> None:
    """copy_to_user of what was read; on a fault the file keeps the bytes (EFAULT)."""
    try:
        k.write(addr, data)
    except BaseException:
        f.unread(data)
        raise


def _readable(f):
    if not f.readable:
        raise FsError(errnos.EBADF)
    return f


def _writable(f):
    if not f.writable:
        raise FsError(errnos.EBADF)
    return f


# -- read and write -----------------------------------------------------------------------
@syscall("read", Fd(), OutBuf(2), UInt())
@fs_call
def sys_read(k: SyscallContext, fd, buf, count):
    f = _readable(_fds(k)[_u32(fd)])
    data = f.read(k, min(count, MAX_RW_COUNT))
    _deliver(k, f, buf, data)
    return len(data)


@syscall("write", Fd(), InBuf(2), UInt())
@fs_call
def sys_write(k: SyscallContext, fd, buf, count):
    f = _writable(_fds(k)[_u32(fd)])
    data = k.read(buf, min(count, MAX_RW_COUNT))
    return _write_to(k, f, data)


def _iovecs(k: SyscallContext, addr: int, count: int) -> list[tuple[int, int]]:
    """The iovec array (fs/iov_iter.c: import_iovec): EINVAL past UIO_MAXIOV or for a
    negative length; the total is cut to MAX_RW_COUNT."""
    count = _i32(count)
    if count < 0 or count > UIO_MAXIOV:
        raise FsError(errnos.EINVAL)
    if count == 0:
        return []
    size = structs.sizeof("iovec", k.abi)
    raw = k.read(addr, size * count)
    out, total = [], 0
    for i in range(count):
        v = structs.unpack("iovec", k.abi, raw[i * size:(i + 1) * size])
        base, length = v["iov_base"], v["iov_len"]
        if k.abi.signed(length) < 0:
            raise FsError(errnos.EINVAL)
        length = min(length, MAX_RW_COUNT - total)
        total += length
        out.append((base, length))
    return out


@syscall("readv", Fd(), Iovec(2, writes=True), Int())
@fs_call
def sys_readv(k: SyscallContext, fd, iov, iovcnt):
    f = _readable(_fds(k)[_u32(fd)])
    vecs = _iovecs(k, iov, iovcnt)
    data = f.read(k, sum(n for _, n in vecs))
    pos = 0
    try:
        for base, n in vecs:
            piece = data[pos:pos + n]
            if not piece:
                break
            k.write(base, piece)
            pos += len(piece)
    except BaseException:
        f.unread(data[pos:])
        if pos == 0:
            raise
        return pos  # a fault after some bytes landed: a short read, as copy_to_iter gives
    return len(data)


@syscall("writev", Fd(), Iovec(2), Int())
@fs_call
def sys_writev(k: SyscallContext, fd, iov, iovcnt):
    f = _writable(_fds(k)[_u32(fd)])
    vecs = _iovecs(k, iov, iovcnt)
    data = b"".join(k.read(base, n) for base, n in vecs)
    if not vecs:
        return 0
    return _write_to(k, f, data)


def _pread(k: SyscallContext, fd, buf, count, pos):
    if pos < 0:
        raise FsError(errnos.EINVAL)
    f = _fds(k)[_u32(fd)]
    if not f.seekable:
        raise FsError(errnos.ESPIPE)
    _readable(f)
    data = f.pread(k, pos, min(count, MAX_RW_COUNT))
    k.write(buf, data)  # the offset does not move, so nothing to give back on a fault
    return len(data)


def _pwrite(k: SyscallContext, fd, buf, count, pos):
    if pos < 0:
        raise FsError(errnos.EINVAL)
    f = _fds(k)[_u32(fd)]
    if not f.seekable:
        raise FsError(errnos.ESPIPE)
    _writable(f)
    data = k.read(buf, min(count, MAX_RW_COUNT))
    return f.pwrite(k, pos, data)


@syscall("pread64", Fd(), OutBuf(2), UInt(), Long(), abi="x86_64")
@fs_call
def sys_pread64(k: SyscallContext, fd, buf, count, pos):
    return _pread(k, fd, buf, count, k.abi.signed(pos))


@syscall("pwrite64", Fd(), InBuf(2), UInt(), Long(), abi="x86_64")
@fs_call
def sys_pwrite64(k: SyscallContext, fd, buf, count, pos):
    return _pwrite(k, fd, buf, count, k.abi.signed(pos))


def _pos64(lo: int, hi: int) -> int:
    """i386 passes a 64-bit file position as two registers, low word first."""
    v = (_u32(hi) << 32) | _u32(lo)
    return v - (1 << 64) if v >> 63 else v


@syscall("pread64", Fd(), OutBuf(2), UInt(), UInt(), UInt(), abi="i386")
@fs_call
def sys_pread64_i386(k: SyscallContext, fd, buf, count, lo, hi):
    return _pread(k, fd, buf, count, _pos64(lo, hi))


@syscall("pwrite64", Fd(), InBuf(2), UInt(), UInt(), UInt(), abi="i386")
@fs_call
def sys_pwrite64_i386(k: SyscallContext, fd, buf, count, lo, hi):
    return _pwrite(k, fd, buf, count, _pos64(lo, hi))


# -- seeking ------------------------------------------------------------------------------
@syscall("lseek", Fd(), Long(), Enum("whence"))
@fs_call
def sys_lseek(k: SyscallContext, fd, offset, whence):
    f = _fds(k)[_u32(fd)]
    whence = _u32(whence)
    if whence > SEEK_HOLE:
        raise FsError(errnos.EINVAL)
    result = f.lseek(k.abi.signed(offset), whence)
    if k.abi.bits == 32 and result > 0x7FFFFFFF:
        raise FsError(errnos.EOVERFLOW)  # the result does not fit i386's off_t
    return result


@syscall("_llseek", Fd(), UInt(), UInt(), OutStruct("loff_t"), Enum("whence"))
@fs_call
def sys_llseek(k: SyscallContext, fd, offset_high, offset_low, result, whence):
    f = _fds(k)[_u32(fd)]
    whence = _u32(whence)
    if whence > SEEK_HOLE:
        raise FsError(errnos.EINVAL)
    pos = f.lseek(_pos64(offset_low, offset_high), whence)
    k.write(result, pos.to_bytes(8, "little", signed=True))
    return 0

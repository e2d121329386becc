"""Copies inside the kernel: sendfile (and i386's sendfile64) and copy_file_range
(fs/read_write.c: do_sendfile, vfs_copy_file_range). The bytes go from one open file to
another without passing through the guest's memory; only the offsets are read and written
there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_model.files.file import PathFile
from kernel_model.files.inode import FsError
from kernel_model.files.uapi import MAX_RW_COUNT, O_APPEND, S_IFDIR, S_IFREG
from kernel_model.syscalls.argkinds import Fd, InOutStruct, UInt
from kernel_model.syscalls.fs.plumbing import _fds, _u32, fs_call
from kernel_model.syscalls.fs.read_write import _write_to
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

CHUNK = 1 << 16  # how much is read before it is written (a pipe buffer's worth, 16 pages)


def _offset(k: SyscallContext, addr: int, size: int) -> int | None:
    if addr == 0:
        return None
    return int.from_bytes(k.read(addr, size), "little", signed=True)


def _open_for(k: SyscallContext, fd: int, *, write: bool):
    f = _fds(k)[_u32(fd)]
    if isinstance(f, PathFile) or not (f.writable if write else f.readable):
        raise FsError(errnos.EBADF)
    return f


def _copy(k: SyscallContext, src, dst, pos: int | None, count: int,
          dst_pos: int | None = None) -> tuple[int, int | None, int | None]:
    """Up to `count` bytes from src (at pos, else its offset) to dst (at dst_pos, else its
    offset, as write does): (bytes, src's new pos, dst's new pos). A short read ends it; an
    error after some bytes moved returns those, as Linux does."""
    done = 0
    while done < count:
        at = src.offset if pos is None else pos
        want = min(CHUNK, count - done)
        pipe = getattr(dst, "pipe", None)
        if done and pipe is not None:
            # Once some bytes moved, a full pipe ends the call (a short count) rather than
            # a wait: a restarted call would copy them again.
            if pipe.room == 0:
                break
            want = min(want, pipe.room)
        try:
            data = src.pread(k, at, want)
        except FsError:
            if done:
                break
            raise
        if not data:
            break
        try:
            if dst_pos is None:
                n = _write_to(k, dst, data)
            else:
                n = dst.pwrite(k, dst_pos, data)
                dst_pos += n
        except FsError:
            if done:
                break
            raise
        if pos is None:
            src.offset += n
        else:
            pos += n
        done += n
        if n < len(data):
            break
    return done, pos, dst_pos


def _sendfile(k: SyscallContext, out_fd, in_fd, offset_addr, count, size: int) -> int:
    src = _open_for(k, in_fd, write=False)
    dst = _open_for(k, out_fd, write=True)
    if dst.flags & O_APPEND:
        raise FsError(errnos.EINVAL)
    if not hasattr(src, "pread") or src.inode is None or src.inode.kind != S_IFREG:
        raise FsError(errnos.EINVAL, "syscall-lab's sendfile reads regular files only")
    pos = _offset(k, offset_addr, size)
    if pos is not None and pos < 0:
        raise FsError(errnos.EINVAL)
    count = min(_u32(count) if size == 4 else count, MAX_RW_COUNT)
    done, new_pos, _ = _copy(k, src, dst, pos, count)
    if offset_addr and new_pos is not None:
        k.write(offset_addr, new_pos.to_bytes(size, "little", signed=True))
    return done


@syscall("sendfile", Fd(), Fd(), InOutStruct("loff_t"), UInt(), abi="x86_64")
@fs_call
def sys_sendfile(k: SyscallContext, out_fd, in_fd, offset, count):
    return _sendfile(k, out_fd, in_fd, offset, count, 8)


@syscall("sendfile", Fd(), Fd(), InOutStruct("int"), UInt(), abi="i386")
@fs_call
def sys_sendfile32(k: SyscallContext, out_fd, in_fd, offset, count):
    return _sendfile(k, out_fd, in_fd, offset, count, 4)


@syscall("sendfile64", Fd(), Fd(), InOutStruct("loff_t"), UInt(), abi="i386")
@fs_call
def sys_sendfile64(k: SyscallContext, out_fd, in_fd, offset, count):
    return _sendfile(k, out_fd, in_fd, offset, count, 8)


@syscall("copy_file_range", Fd(), InOutStruct("loff_t"), Fd(), InOutStruct("loff_t"), UInt(),
         UInt())
@fs_call
def sys_copy_file_range(k: SyscallContext, fd_in, off_in, fd_out, off_out, length, flags):
    if _u32(flags):
        raise FsError(errnos.EINVAL)
    src = _open_for(k, fd_in, write=False)
    dst = _open_for(k, fd_out, write=True)
    for f in (src, dst):
        kind = f.inode.kind if f.inode is not None else 0
        if kind == S_IFDIR:
            raise FsError(errnos.EISDIR)
        if kind != S_IFREG:
            raise FsError(errnos.EINVAL)
    if dst.flags & O_APPEND:
        raise FsError(errnos.EBADF)
    pos_in, pos_out = _offset(k, off_in, 8), _offset(k, off_out, 8)
    if (pos_in is not None and pos_in < 0) or (pos_out is not None and pos_out < 0):
        raise FsError(errnos.EINVAL)
    length = min(length if k.abi.bits == 64 else _u32(length), MAX_RW_COUNT)
    start_in = src.offset if pos_in is None else pos_in
    start_out = dst.offset if pos_out is None else pos_out
    # generic_copy_file_checks: the same file's ranges must not overlap.
    if src.inode is dst.inode and start_in + length > start_out and \
            start_out + length > start_in:
        raise FsError(errnos.EINVAL)
    size = src.size()
    length = max(0, min(length, size - start_in))
    done, new_in, new_out = _copy(k, src, dst, start_in, length, start_out)
    if off_in:
        k.write(off_in, (new_in or 0).to_bytes(8, "little", signed=True))
    else:
        src.offset = new_in or start_in
    if off_out:
        k.write(off_out, (new_out or 0).to_bytes(8, "little", signed=True))
    else:
        dst.offset = new_out or start_out
    return done

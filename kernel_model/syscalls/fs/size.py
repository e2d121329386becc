"""A file's size by path and preallocation: truncate, i386's truncate64 and ftruncate64,
fallocate (fs/open.c: do_sys_truncate, do_sys_ftruncate, vfs_fallocate; i386's 64-bit
arguments come in two registers, low word first: arch/x86/kernel/sys_ia32.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_model.files.inode import FsError
from kernel_model.files.uapi import S_IFDIR, S_IFIFO, S_IFREG, W_OK
from kernel_model.syscalls.argkinds import Fd, Flags, Long, Path, UInt
from kernel_model.syscalls.fs.plumbing import _cred, _fds, _path, _u32, fs_call
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2
FALLOC_SUPPORTED = 0x7F  # every mode bit Linux knows (FALLOC_FL_SUPPORTED_MASK)


def _signed64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


def _pair(low: int, high: int) -> int:
    return _signed64((low & 0xFFFFFFFF) | (high & 0xFFFFFFFF) << 32)


def _truncate_path(k: SyscallContext, path_addr: int, length: int) -> int:
    if length < 0:
        raise FsError(errnos.EINVAL)
    path = _path(k, path_addr)
    node = k.vfs.resolve(path, base=k.process.cwd).existing()
    if node.kind == S_IFDIR:
        raise FsError(errnos.EISDIR)
    if node.kind != S_IFREG:
        raise FsError(errnos.EINVAL)
    node.permission(_cred(k), W_OK)
    node.truncate(length)
    return 0


@syscall("truncate", Path(), Long())
@fs_call
def sys_truncate(k: SyscallContext, path, length):
    return _truncate_path(k, path, k.abi.signed(length))


@syscall("truncate64", Path(), UInt(), UInt(), abi="i386")
@fs_call
def sys_truncate64(k: SyscallContext, path, low, high):
    return _truncate_path(k, path, _pair(low, high))


@syscall("ftruncate64", Fd(), UInt(), UInt(), abi="i386")
@fs_call
def sys_ftruncate64(k: SyscallContext, fd, low, high):
    length = _pair(low, high)
    if length < 0:
        raise FsError(errnos.EINVAL)
    f = _fds(k)[_u32(fd)]
    if not f.writable or f.inode is None or f.inode.kind != S_IFREG:
        raise FsError(errnos.EINVAL)
    f.inode.truncate(length)
    return 0


def _fallocate(k: SyscallContext, fd: int, mode: int, offset: int, length: int) -> int:
    """vfs_fallocate's checks in order, then the file system's own."""
    mode = _u32(mode)
    if offset < 0 or length <= 0:
        raise FsError(errnos.EINVAL)
    if mode & ~FALLOC_SUPPORTED:
        raise FsError(errnos.EOPNOTSUPP)
    if mode & FALLOC_FL_PUNCH_HOLE and not mode & FALLOC_FL_KEEP_SIZE:
        raise FsError(errnos.EOPNOTSUPP)
    f = _fds(k)[_u32(fd)]
    if not f.writable:
        raise FsError(errnos.EBADF)
    node = f.inode
    kind = node.kind if node is not None else S_IFIFO
    if kind == S_IFIFO:
        raise FsError(errnos.ESPIPE)
    if kind == S_IFDIR:
        raise FsError(errnos.EISDIR)
    if kind != S_IFREG:
        raise FsError(errnos.ENODEV)
    if offset + length > (1 << 63) - 1:
        raise FsError(errnos.EFBIG)
    target = f if hasattr(f, "fallocate") else node
    if not hasattr(target, "fallocate"):
        raise FsError(errnos.EOPNOTSUPP)
    if mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE) and target is node:
        raise FsError(errnos.EOPNOTSUPP)  # tmpfs: no collapse, zero, insert or unshare
    target.fallocate(mode, offset, length)
    return 0


@syscall("fallocate", Fd(), Flags("fallocate"), Long(), Long(), abi="x86_64")
@fs_call
def sys_fallocate(k: SyscallContext, fd, mode, offset, length):
    return _fallocate(k, fd, mode, _signed64(offset), _signed64(length))


@syscall("fallocate", Fd(), Flags("fallocate"), UInt(), UInt(), UInt(), UInt(), abi="i386")
@fs_call
def sys_fallocate32(k: SyscallContext, fd, mode, off_lo, off_hi, len_lo, len_hi):
    return _fallocate(k, fd, mode, _pair(off_lo, off_hi), _pair(len_lo, len_hi))

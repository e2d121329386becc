"""fcntl and the dup family (fs/fcntl.c; fs/file.c: dup, dup2, dup3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_model.files.inode import FsError
from kernel_model.files.pipes import Pipe
from kernel_model.files.uapi import (
    F_DUPFD,
    F_DUPFD_CLOEXEC,
    F_GETFD,
    F_GETFL,
    F_GETLK,
    F_GETLK64,
    F_GETOWN,
    F_GETPIPE_SZ,
    F_OFD_GETLK,
    F_OFD_SETLK,
    F_OFD_SETLKW,
    F_SETFD,
    F_SETFL,
    F_SETLK,
    F_SETLK64,
    F_SETLKW,
    F_SETLKW64,
    F_SETOWN,
    F_SETPIPE_SZ,
    F_UNLCK,
    FD_CLOEXEC,
    O_DIRECT,
    SETFL_MASK,
)
from kernel_model.syscalls.argkinds import Enum, Fd, Flags, Hex
from kernel_model.syscalls.fs.plumbing import _fds, _nofile, _u32, fs_call
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


@syscall("dup", Fd())
@fs_call
def sys_dup(k: SyscallContext, fd):
    return _fds(k).dup(_u32(fd), limit=_nofile(k))


@syscall("dup2", Fd(), Fd())
@fs_call
def sys_dup2(k: SyscallContext, oldfd, newfd):
    return _fds(k).dup2(_u32(oldfd), _u32(newfd), limit=_nofile(k))


@syscall("dup3", Fd(), Fd(), Flags("dup3"))
@fs_call
def sys_dup3(k: SyscallContext, oldfd, newfd, flags):
    return _fds(k).dup3(_u32(oldfd), _u32(newfd), _u32(flags), limit=_nofile(k))


def _flock_size(k: SyscallContext, cmd: int) -> int:
    """struct flock (x86_64: 32 bytes; i386: 16) or i386's struct flock64 (24, packed)."""
    if k.abi.bits == 64:
        return 32
    return 24 if cmd in (F_GETLK64, F_SETLK64, F_SETLKW64, F_OFD_GETLK, F_OFD_SETLK,
                         F_OFD_SETLKW) else 16


def _fcntl(k: SyscallContext, fd, cmd, arg, *, fcntl64: bool):
    table = _fds(k)
    fd, cmd = _u32(fd), _u32(cmd)
    f = table[fd]
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        return table.dup(fd, lowest=arg, cloexec=cmd == F_DUPFD_CLOEXEC, limit=_nofile(k))
    if cmd == F_GETFD:
        return FD_CLOEXEC if table.get_cloexec(fd) else 0
    if cmd == F_SETFD:
        table.set_cloexec(fd, bool(arg & FD_CLOEXEC))
        return 0
    if cmd == F_GETFL:
        return f.flags
    if cmd == F_SETFL:
        if arg & O_DIRECT and f.inode is None:
            raise FsError(errnos.EINVAL)
        f.set_flags((arg & SETFL_MASK) | (f.flags & ~SETFL_MASK))
        return 0
    lock64 = (F_GETLK64, F_SETLK64, F_SETLKW64)
    ofd = (F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW)
    if cmd in (F_GETLK, F_SETLK, F_SETLKW) + lock64 + ofd:
        if k.abi.bits == 64 and cmd in lock64:
            raise FsError(errnos.EINVAL)  # x86_64 has no separate 64-bit lock commands
        if k.abi.bits == 32 and not fcntl64 and cmd in lock64 + ofd:
            raise FsError(errnos.EINVAL)  # compat fcntl() refuses the flock64 commands
        k.read(arg, _flock_size(k, cmd))
        if cmd in (F_GETLK, F_GETLK64, F_OFD_GETLK):
            # One process holds every lock there is: nothing would conflict.
            k.write(arg, F_UNLCK.to_bytes(2, "little"))
        else:
            k.note("record locks always succeed: syscall-lab runs a single process")
        return 0
    if cmd == F_GETOWN:
        return 0
    if cmd == F_SETOWN:
        return 0
    if cmd in (F_GETPIPE_SZ, F_SETPIPE_SZ):
        pipe = f.inode
        if not isinstance(pipe, Pipe):
            raise FsError(errnos.EBADF)
        if cmd == F_SETPIPE_SZ:
            size = max(4096, 1 << max(0, (int(arg) - 1).bit_length()))
            if size > 1 << 20:
                raise FsError(errnos.EPERM)  # past /proc/sys/fs/pipe-max-size, unprivileged
            if size < len(pipe.buffer):
                raise FsError(errnos.EBUSY)
            pipe.capacity = size
        return pipe.capacity
    k.note(f"fcntl command {cmd} is not modelled")
    raise FsError(errnos.EINVAL)


@syscall("fcntl", Fd(), Enum("fcntl"), Hex())
@fs_call
def sys_fcntl(k: SyscallContext, fd, cmd, arg):
    return _fcntl(k, fd, cmd, arg, fcntl64=False)


@syscall("fcntl64", Fd(), Enum("fcntl"), Hex())
@fs_call
def sys_fcntl64(k: SyscallContext, fd, cmd, arg):
    return _fcntl(k, fd, cmd, arg, fcntl64=True)

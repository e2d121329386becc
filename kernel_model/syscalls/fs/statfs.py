"""statfs, fstatfs and i386's statfs64, fstatfs64 (fs/statfs.c; each file system's
->statfs: mm/shmem.c shmem_statfs, fs/libfs.c simple_statfs; kernel/compat and
fs/statfs.c put_compat_statfs and put_compat_statfs64 with their EOVERFLOW checks).

Which file system a file is on follows from its device: the in-memory /tmp reports its
size limit and the pages its files hold, /proc and /dev and pipes what Linux's report
(zero blocks), the read-only root a ramfs, and a shared host directory the host's own file
system's numbers and f_type (read with statfs on the host directory)."""

from __future__ import annotations

import ctypes
import os
from typing import TYPE_CHECKING

from kernel_model.files.hostfs import HostNode
from kernel_model.files.inode import FsError, errno_of
from kernel_model.files.synthetic import (
    DEVTMPFS_DEV,
    PIPEFS_DEV,
    PROC_DEV,
    ROOT_DEV,
    TMPFS_DEV,
)
from kernel_model.files.tmpfs import TmpNode
from kernel_model.syscalls.argkinds import Fd, OutStruct, Path, UInt
from kernel_model.syscalls.fs.plumbing import _fds, _path, _u32, fs_call
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos, structs

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

PAGE = 4096
TMPFS_MAGIC = 0x01021994
PROC_SUPER_MAGIC = 0x9FA0
PIPEFS_MAGIC = 0x50495045
RAMFS_MAGIC = 0x858458F6
NAME_MAX = 255
# f_flags (ST_* of statvfs, plus ST_VALID: "f_flags is filled in")
ST_RDONLY, ST_NOSUID, ST_NODEV, ST_NOEXEC, ST_RELATIME, ST_VALID = 1, 2, 4, 8, 4096, 0x20


def _encode_dev(dev: tuple[int, int]) -> int:
    """huge_encode_dev: what simple_statfs-based file systems put in f_fsid[0]."""
    major, minor = dev
    return (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)


def _host_statfs(path: str) -> dict:
    """statfs(2) of a host directory (the C library's; Python's statvfs has no f_type)."""
    buf = ctypes.create_string_buffer(120)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.statfs(os.fsencode(path), buf) != 0:
        raise FsError(errno_of(OSError(ctypes.get_errno(), "statfs")))
    return structs.unpack("statfs", "x86_64", buf.raw)


def fs_info(k: SyscallContext, node) -> dict:
    """struct kstatfs for the file system `node` lives on."""
    base = {"f_bsize": PAGE, "f_frsize": PAGE, "f_namelen": NAME_MAX, "f_blocks": 0,
            "f_bfree": 0, "f_bavail": 0, "f_files": 0, "f_ffree": 0,
            "f_fsid": (_encode_dev(node.dev), 0), "f_flags": ST_VALID | ST_RELATIME}
    if isinstance(node, HostNode):
        host = _host_statfs(node.mount.host_root)
        flags = ST_VALID | ST_NOSUID | (0 if node.mount.writable else ST_RDONLY)
        return {**host, "f_fsid": (_encode_dev(node.dev), 0),
                "f_flags": flags | (host["f_flags"] & ST_RELATIME)}
    if isinstance(node, TmpNode) or node.dev == TMPFS_DEV:
        fs = node.fs if isinstance(node, TmpNode) else k.vfs.tmp  # any tmpfs: its own size
        budget = fs.budget
        limit = budget.limit if budget.limit is not None else 1 << 30
        blocks = limit // PAGE
        free = max(0, blocks - budget.used // PAGE)
        files = blocks // 2  # tmpfs's default nr_inodes: half the pages
        used = fs.numbers.next - 1
        # nosuid,nodev: as /proc/mounts lists /tmp and /dev/shm
        return {**base, "f_type": TMPFS_MAGIC, "f_blocks": blocks, "f_bfree": free,
                "f_bavail": free, "f_files": files, "f_ffree": max(0, files - used),
                "f_flags": ST_VALID | ST_NOSUID | ST_NODEV | ST_RELATIME}
    if node.dev == PROC_DEV:
        return {**base, "f_type": PROC_SUPER_MAGIC,
                "f_flags": ST_VALID | ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_RELATIME}
    if node.dev == DEVTMPFS_DEV:  # devtmpfs is a tmpfs underneath
        return {**base, "f_type": TMPFS_MAGIC, "f_flags": ST_VALID | ST_NOSUID | ST_RELATIME}
    if node.dev == PIPEFS_DEV:
        return {**base, "f_type": PIPEFS_MAGIC, "f_flags": ST_VALID}
    if node.dev == ROOT_DEV:
        return {**base, "f_type": RAMFS_MAGIC, "f_flags": ST_VALID | ST_RDONLY | ST_RELATIME}
    raise FsError(errnos.ENOSYS, "statfs: no file system is known for this file")


def _node_of(k: SyscallContext, path_addr: int):
    path = _path(k, path_addr)
    return k.vfs.resolve(path, base=k.process.cwd).existing()


def _fd_info(k: SyscallContext, fd: int) -> dict:
    f = _fds(k)[_u32(fd)]
    if f.inode is None:  # the host's own stdin/stdout (a terminal, a pipe, a file): its own
        buf = ctypes.create_string_buffer(120)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.fstatfs(f.host_fd, buf) != 0:
            raise FsError(errno_of(OSError(ctypes.get_errno(), "fstatfs")))
        return {**structs.unpack("statfs", "x86_64", buf.raw), "f_fsid": (0, 0)}
    return fs_info(k, f.inode)


def _put(k: SyscallContext, addr: int, info: dict, kind: str) -> int:
    """The ABI's struct; a 32-bit struct statfs refuses counts that do not fit
    (put_compat_statfs: EOVERFLOW), statfs64 takes them whole."""
    abi = k.abi.name
    if kind == "statfs" and k.abi.bits == 32:
        for name in ("f_blocks", "f_bfree", "f_bavail", "f_bsize", "f_frsize"):
            if info[name] > 0xFFFFFFFF:
                raise FsError(errnos.EOVERFLOW)
        for name in ("f_files", "f_ffree"):  # -1 ("unknown") passes as 32-bit -1
            if info[name] > 0xFFFFFFFF and info[name] != (1 << 64) - 1:
                raise FsError(errnos.EOVERFLOW)
            info = {**info, name: info[name] & 0xFFFFFFFF}
    k.write(addr, structs.pack(kind, abi, **info))
    return 0


@syscall("statfs", Path(), OutStruct("statfs"))
@fs_call
def sys_statfs(k: SyscallContext, path, buf):
    return _put(k, buf, fs_info(k, _node_of(k, path)), "statfs")


@syscall("fstatfs", Fd(), OutStruct("statfs"))
@fs_call
def sys_fstatfs(k: SyscallContext, fd, buf):
    return _put(k, buf, _fd_info(k, fd), "statfs")


def _check_size(k: SyscallContext, size: int) -> None:
    if _u32(size) != structs.sizeof("statfs64", k.abi.name):
        raise FsError(errnos.EINVAL)


@syscall("statfs64", Path(), UInt(), OutStruct("statfs64"), abi="i386")
@fs_call
def sys_statfs64(k: SyscallContext, path, size, buf):
    _check_size(k, size)
    return _put(k, buf, fs_info(k, _node_of(k, path)), "statfs64")


@syscall("fstatfs64", Fd(), UInt(), OutStruct("statfs64"), abi="i386")
@fs_call
def sys_fstatfs64(k: SyscallContext, fd, size, buf):
    _check_size(k, size)
    return _put(k, buf, _fd_info(k, fd), "statfs64")

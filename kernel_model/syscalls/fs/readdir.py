"""Reading directories: getdents and getdents64 (fs/readdir.c)."""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING

from kernel_model.files.inode import FsError
from kernel_model.syscalls.argkinds import Fd, Ptr, UInt
from kernel_model.syscalls.fs.plumbing import _fds, _u32, fs_call
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos, structs

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


def _dirents(k: SyscallContext, fd, buf, count, pack_one):
    f = _fds(k)[_u32(fd)]
    if not f.readable:
        raise FsError(errnos.EBADF)
    if not f.is_dir:
        raise FsError(errnos.ENOTDIR)
    entries = f.entries()
    pos = f.offset
    out = bytearray()
    while pos < len(entries):
        e = entries[pos]
        record = pack_one(e, pos + 1)
        if len(out) + len(record) > count:
            if not out:
                raise FsError(errnos.EINVAL)  # not even one entry fits
            break
        out += record
        pos += 1
    k.write(buf, bytes(out))
    f.offset = pos
    return len(out)


@syscall("getdents64", Fd(), Ptr(), UInt())
@fs_call
def sys_getdents64(k: SyscallContext, fd, buf, count):
    return _dirents(k, fd, buf, count, lambda e, off: structs.pack_dirent64(
        e.ino, off, e.dtype, os.fsencode(e.name)))


def pack_old_dirent(e, off: int, word: int) -> bytes:
    """struct linux_dirent (getdents): d_ino, d_off as unsigned longs, d_reclen, the name
    and its NUL, padding, and d_type in the record's last byte."""
    name = os.fsencode(e.name)
    if word == 4 and e.ino > 0xFFFFFFFF:
        raise FsError(errnos.EOVERFLOW)
    head = 2 * word + 2
    reclen = (head + len(name) + 2 + word - 1) & ~(word - 1)
    fmt = "<QQH" if word == 8 else "<IIH"
    body = struct.pack(fmt, e.ino, off, reclen) + name + b"\0"
    return body.ljust(reclen - 1, b"\0") + bytes([e.dtype])


@syscall("getdents", Fd(), Ptr(), UInt())
@fs_call
def sys_getdents(k: SyscallContext, fd, buf, count):
    return _dirents(k, fd, buf, count, lambda e, off: pack_old_dirent(e, off, k.abi.word))

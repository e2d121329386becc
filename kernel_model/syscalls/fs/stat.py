"""stat, fstat, the *at and 64-bit forms, statx, and readlink (fs/stat.c;
arch/x86/kernel/sys_ia32.c: cp_stat64; include/linux/kdev_t.h)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from kernel_model.files.inode import FsError, Stat
from kernel_model.files.mounts import mount_id_of
from kernel_model.files.uapi import (
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_NO_AUTOMOUNT,
    AT_STATX_SYNC_TYPE,
    AT_SYMLINK_NOFOLLOW,
    STATX__RESERVED,
    STATX_BASIC_STATS,
    STATX_MNT_ID,
    STATX_MNT_ID_UNIQUE,
)
from kernel_model.syscalls.argkinds import DirFd, Fd, Flags, OutStr, OutStruct, Path, UInt
from kernel_model.syscalls.fs.plumbing import (
    _at_path,
    _base,
    _empty_path_target,
    _fds,
    _i32,
    _path,
    _u32,
    fs_call,
)
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos, structs

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


# -- stat ---------------------------------------------------------------------------------
def new_encode_dev(dev: tuple[int, int]) -> int:
    """include/linux/kdev_t.h: the 32-bit dev_t user space sees."""
    major, minor = dev
    return (minor & 0xFF) | ((major & 0xFFF) << 8) | ((minor & ~0xFF) << 12)


def _times(st: Stat, mask: int) -> dict:
    out = {}
    for name, ns in (("atime", st.atime_ns), ("mtime", st.mtime_ns), ("ctime", st.ctime_ns)):
        out[f"st_{name}"] = (ns // 1_000_000_000) & mask
        out[f"st_{name}_nsec"] = ns % 1_000_000_000
    return out


def _high2low(uid: int) -> int:
    return uid if uid <= 0xFFFF else 65534  # the overflow uid for 16-bit fields


def pack_stat(st: Stat, kind: str, abi) -> bytes:
    """A kstat in the ABI's struct stat / stat64 (fs/stat.c: cp_new_stat, cp_compat_stat;
    arch/x86/kernel/sys_ia32.c: cp_stat64), with their EOVERFLOW checks."""
    abi_name = getattr(abi, "name", abi)
    if kind == "stat64":
        return structs.pack("stat64", abi_name, st_dev=new_encode_dev(st.dev),
                            __st_ino=st.ino & 0xFFFFFFFF, st_ino=st.ino, st_mode=st.mode,
                            st_nlink=st.nlink, st_uid=st.uid, st_gid=st.gid,
                            st_rdev=new_encode_dev(st.rdev), st_size=st.size,
                            st_blksize=st.blksize, st_blocks=st.blocks,
                            **_times(st, 0xFFFFFFFF))
    if abi_name == "i386":  # struct compat_stat: 32-bit sizes and inodes, 16-bit ids
        if st.ino > 0xFFFFFFFF or st.nlink > 0xFFFF or st.size > 0x7FFFFFFF:
            raise FsError(errnos.EOVERFLOW)
        return structs.pack("stat", "i386", st_dev=new_encode_dev(st.dev), st_ino=st.ino,
                            st_mode=st.mode, st_nlink=st.nlink, st_uid=_high2low(st.uid),
                            st_gid=_high2low(st.gid), st_rdev=new_encode_dev(st.rdev),
                            st_size=st.size, st_blksize=st.blksize,
                            st_blocks=st.blocks & 0xFFFFFFFF, **_times(st, 0xFFFFFFFF))
    return structs.pack("stat", "x86_64", st_dev=new_encode_dev(st.dev), st_ino=st.ino,
                        st_nlink=st.nlink, st_mode=st.mode, st_uid=st.uid, st_gid=st.gid,
                        st_rdev=new_encode_dev(st.rdev), st_size=st.size,
                        st_blksize=st.blksize, st_blocks=st.blocks,
                        **_times(st, (1 << 64) - 1))


# The 64-bit ids STATX_MNT_ID_UNIQUE asks for come from a second counter that starts past
# every 32-bit id (fs/namespace.c: MNT_UNIQUE_ID_OFFSET) and counts the same mounts.
MNT_UNIQUE_ID_OFFSET = 1 << 31


def pack_statx(st: Stat, mnt_id: int = 0, unique: bool = False) -> bytes:
    """struct statx. Every file system fills the basic stats; the mount's id is always
    there (fs/stat.c: vfs_statx_path), the unique one if asked for, else the old one."""
    fields = {}
    for name, ns in (("atime", st.atime_ns), ("mtime", st.mtime_ns), ("ctime", st.ctime_ns)):
        fields[f"stx_{name}_sec"] = ns // 1_000_000_000
        fields[f"stx_{name}_nsec"] = ns % 1_000_000_000
    if unique:
        mask, mnt_id = STATX_BASIC_STATS | STATX_MNT_ID_UNIQUE, MNT_UNIQUE_ID_OFFSET + 1 + mnt_id
    else:
        mask = STATX_BASIC_STATS | STATX_MNT_ID
    return structs.pack("statx", "x86_64", stx_mask=mask, stx_mnt_id=mnt_id,
                        stx_blksize=st.blksize,
                        stx_nlink=st.nlink, stx_uid=st.uid, stx_gid=st.gid,
                        stx_mode=st.mode & 0xFFFF, stx_ino=st.ino, stx_size=st.size,
                        stx_blocks=st.blocks, stx_rdev_major=st.rdev[0],
                        stx_rdev_minor=st.rdev[1], stx_dev_major=st.dev[0],
                        stx_dev_minor=st.dev[1], **fields)


def _stat_path(k: SyscallContext, dirfd: int, path: str, flags: int) -> Stat:
    if path == "":
        if not flags & AT_EMPTY_PATH:
            raise FsError(errnos.ENOENT)
        return _empty_path_target(k, dirfd).stat()
    node = k.vfs.resolve(path, base=_base(k, dirfd, path),
                         follow=not flags & AT_SYMLINK_NOFOLLOW).existing()
    return node.stat()


STAT_AT_FLAGS = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH


def _fstatat(k: SyscallContext, dirfd, path_addr, buf, flags, kind):
    flags = _u32(flags)
    if flags & ~STAT_AT_FLAGS:
        raise FsError(errnos.EINVAL)
    st = _stat_path(k, dirfd, _at_path(k, path_addr, flags), flags)
    k.write(buf, pack_stat(st, kind, k.abi))
    return 0


@syscall("stat", Path(), OutStruct("stat"))
@fs_call
def sys_stat(k: SyscallContext, path, buf):
    return _fstatat(k, AT_FDCWD, path, buf, 0, "stat")


@syscall("lstat", Path(), OutStruct("stat"))
@fs_call
def sys_lstat(k: SyscallContext, path, buf):
    return _fstatat(k, AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW, "stat")


@syscall("fstat", Fd(), OutStruct("stat"))
@fs_call
def sys_fstat(k: SyscallContext, fd, buf):
    st = _fds(k)[_u32(fd)].stat()
    k.write(buf, pack_stat(st, "stat", k.abi))
    return 0


@syscall("newfstatat", DirFd(), Path(), OutStruct("stat"), Flags("at"))
@fs_call
def sys_newfstatat(k: SyscallContext, dirfd, path, buf, flags):
    return _fstatat(k, dirfd, path, buf, flags, "stat")


@syscall("stat64", Path(), OutStruct("stat64"))
@fs_call
def sys_stat64(k: SyscallContext, path, buf):
    return _fstatat(k, AT_FDCWD, path, buf, 0, "stat64")


@syscall("lstat64", Path(), OutStruct("stat64"))
@fs_call
def sys_lstat64(k: SyscallContext, path, buf):
    return _fstatat(k, AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW, "stat64")


@syscall("fstat64", Fd(), OutStruct("stat64"))
@fs_call
def sys_fstat64(k: SyscallContext, fd, buf):
    st = _fds(k)[_u32(fd)].stat()
    k.write(buf, pack_stat(st, "stat64", k.abi))
    return 0


@syscall("fstatat64", DirFd(), Path(), OutStruct("stat64"), Flags("at"))
@fs_call
def sys_fstatat64(k: SyscallContext, dirfd, path, buf, flags):
    return _fstatat(k, dirfd, path, buf, flags, "stat64")


@syscall("statx", DirFd(), Path(), Flags("statx_flags"), Flags("statx_mask"),
         OutStruct("statx"))
@fs_call
def sys_statx(k: SyscallContext, dirfd, path_addr, flags, mask, buf):
    flags, mask = _u32(flags), _u32(mask)
    if flags & ~(STAT_AT_FLAGS | AT_STATX_SYNC_TYPE) or \
            flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE or mask & STATX__RESERVED:
        raise FsError(errnos.EINVAL)
    st = _stat_path(k, dirfd, _at_path(k, path_addr, flags), flags)
    mnt_id = mount_id_of(k.vfs.mount_table(), st.dev)
    k.write(buf, pack_statx(st, mnt_id, unique=bool(mask & STATX_MNT_ID_UNIQUE)))
    return 0


# -- symlinks -----------------------------------------------------------------------------
def _readlink(k: SyscallContext, dirfd, path_addr, buf, bufsiz):
    bufsiz = _i32(bufsiz)
    if bufsiz <= 0:
        raise FsError(errnos.EINVAL)
    path = _path(k, path_addr)
    if path == "":
        node = _empty_path_target(k, dirfd)
        node = getattr(node, "inode", node)
        if node is None or not node.is_symlink:
            raise FsError(errnos.ENOENT)
    else:
        node = k.vfs.resolve(path, base=_base(k, dirfd, path), follow=False).existing()
    if not node.is_symlink:
        raise FsError(errnos.EINVAL)
    data = os.fsencode(node.readlink())[:bufsiz]
    k.write(buf, data)
    return len(data)


@syscall("readlink", Path(), OutStr(), UInt())
@fs_call
def sys_readlink(k: SyscallContext, path, buf, bufsiz):
    return _readlink(k, AT_FDCWD, path, buf, bufsiz)


@syscall("readlinkat", DirFd(), Path(), OutStr(), UInt())
@fs_call
def sys_readlinkat(k: SyscallContext, dirfd, path, buf, bufsiz):
    return _readlink(k, dirfd, path, buf, bufsiz)

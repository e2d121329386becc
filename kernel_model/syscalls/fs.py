"""File and file-descriptor syscalls (fs/read_write.c, fs/open.c, fs/stat.c, fs/namei.c,
fs/fcntl.c, fs/file.c, fs/readdir.c, fs/pipe.c, fs/ioctl.c, fs/d_path.c).

Handlers only decode arguments, call the VFS and the fd table (kernel_model/files), and
lay results out in the caller's ABI; every path goes through Vfs.resolve, so no handler can
reach a host file except through a --mount."""

from __future__ import annotations

import functools
import os
import struct
from typing import TYPE_CHECKING

from kernel_model.files.file import PathFile
from kernel_model.files.inode import Cred, FsError, Stat
from kernel_model.files.pipes import Pipe
from kernel_model.files.uapi import (
    AT_EACCESS,
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_NO_AUTOMOUNT,
    AT_REMOVEDIR,
    AT_STATX_SYNC_TYPE,
    AT_SYMLINK_NOFOLLOW,
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
    FIOCLEX,
    FIONBIO,
    FIONCLEX,
    MAX_RW_COUNT,
    NR_OPEN_DEFAULT,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECT,
    O_EXCL,
    O_LARGEFILE,
    O_NONBLOCK,
    O_TRUNC,
    O_WRONLY,
    RLIMIT_NOFILE,
    S_IFREG,
    SEEK_HOLE,
    SETFL_MASK,
    STATX__RESERVED,
    STATX_BASIC_STATS,
    TCGETS,
    TIOCGWINSZ,
    UIO_MAXIOV,
    X_OK,
)
from kernel_model.syscalls.argkinds import (
    DirFd,
    Enum,
    Fd,
    Flags,
    Hex,
    InBuf,
    Int,
    Iovec,
    Long,
    Mode,
    OutBuf,
    OutStr,
    OutStruct,
    Path,
    Ptr,
    UInt,
)
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos, structs

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

SIGPIPE = 13


# -- plumbing -----------------------------------------------------------------------------
def fs_call(fn):
    """A handler whose file-system errors become -errno (and their notes trace notes)."""

    @functools.wraps(fn)
    def wrapper(k, *args):
        try:
            return fn(k, *args)
        except FsError as e:
            if e.note:
                k.note(e.note)
            return -e.errno

    return wrapper


def _u32(v: int) -> int:
    return v & 0xFFFFFFFF


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _fds(k: SyscallContext):
    return k.process.fds


def _nofile(k: SyscallContext) -> int:
    """The soft RLIMIT_NOFILE: new fds must be below it."""
    limits = getattr(k.process, "rlimits", None) or {}
    return limits.get(RLIMIT_NOFILE, (NR_OPEN_DEFAULT, 0))[0]


def _cred(k: SyscallContext) -> Cred:
    return Cred(k.process.uid, k.process.gid)


def _path(k: SyscallContext, addr: int) -> str:
    return os.fsdecode(k.read_cstring(addr))


def _base(k: SyscallContext, dirfd: int, path: str) -> str:
    """The directory a relative path starts from: the cwd for AT_FDCWD, else the dirfd's
    (EBADF if none, ENOTDIR if not a directory). Absolute paths ignore dirfd entirely."""
    if path.startswith("/"):
        return "/"
    dirfd = _i32(dirfd)
    if dirfd == AT_FDCWD:
        return k.process.cwd
    f = _fds(k)[dirfd]
    if not f.is_dir:
        raise FsError(errnos.ENOTDIR)
    return f.path


def _empty_path_target(k: SyscallContext, dirfd: int):
    """AT_EMPTY_PATH with "": the dirfd itself (AT_FDCWD: the cwd)."""
    dirfd = _i32(dirfd)
    if dirfd == AT_FDCWD:
        return k.vfs.resolve(k.process.cwd).existing()
    return _fds(k)[dirfd]


def _at_path(k: SyscallContext, addr: int, flags: int) -> str:
    """A *at path argument; with AT_EMPTY_PATH a NULL pointer counts as "" (Linux 6.11+)."""
    if addr == 0 and flags & AT_EMPTY_PATH:
        return ""
    return _path(k, addr)


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


# -- open and close -----------------------------------------------------------------------
def _open(k: SyscallContext, dirfd: int, path_addr: int, flags: int, mode: int) -> int:
    flags = _u32(flags)
    if k.abi.bits == 64:
        flags |= O_LARGEFILE  # force_o_largefile(): every 64-bit open is large-file
    path = _path(k, path_addr)
    table = _fds(k)
    limit = _nofile(k)
    # get_unused_fd_flags() runs before the path walk: EMFILE wins over ENOENT.
    if all(fd in table for fd in range(limit)):
        raise FsError(errnos.EMFILE)
    f = k.vfs.open(path, flags, _u32(mode) if flags & O_CREAT else 0,
                   base=_base(k, dirfd, path), cred=_cred(k),
                   umask=getattr(k.process, "umask", 0o022))
    try:
        return table.install(f, cloexec=bool(flags & O_CLOEXEC), limit=limit)
    except FsError:
        if f.refs == 0:
            f.release()
        raise


@syscall("open", Path(), Flags("open"), Mode())
@fs_call
def sys_open(k: SyscallContext, path, flags, mode):
    return _open(k, AT_FDCWD, path, flags, mode)


@syscall("openat", DirFd(), Path(), Flags("open"), Mode())
@fs_call
def sys_openat(k: SyscallContext, dirfd, path, flags, mode):
    return _open(k, dirfd, path, flags, mode)


@syscall("creat", Path(), Mode())
@fs_call
def sys_creat(k: SyscallContext, path, mode):
    return _open(k, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode)


@syscall("close", Fd())
@fs_call
def sys_close(k: SyscallContext, fd):
    _fds(k).close(_u32(fd))
    return 0


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


def pack_statx(st: Stat) -> bytes:
    fields = {}
    for name, ns in (("atime", st.atime_ns), ("mtime", st.mtime_ns), ("ctime", st.ctime_ns)):
        fields[f"stx_{name}_sec"] = ns // 1_000_000_000
        fields[f"stx_{name}_nsec"] = ns % 1_000_000_000
    return structs.pack("statx", "x86_64", stx_mask=STATX_BASIC_STATS, stx_blksize=st.blksize,
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
    k.write(buf, pack_statx(st))
    return 0


# -- access -------------------------------------------------------------------------------
def _access(k: SyscallContext, dirfd, path_addr, mode, flags):
    mode, flags = _u32(mode), _u32(flags)
    if mode & ~7 or flags & ~(AT_SYMLINK_NOFOLLOW | AT_EACCESS | AT_EMPTY_PATH):
        raise FsError(errnos.EINVAL)
    path = _at_path(k, path_addr, flags)
    if path == "":
        if not flags & AT_EMPTY_PATH:
            raise FsError(errnos.ENOENT)
        target = _empty_path_target(k, dirfd)
        node = getattr(target, "inode", target)
        if node is None:  # a borrowed host stream: the host's answer
            return 0 if os.access(f"/proc/self/fd/{target.host_fd}", mode) else \
                -errnos.EACCES
    else:
        node = k.vfs.resolve(path, base=_base(k, dirfd, path),
                             follow=not flags & AT_SYMLINK_NOFOLLOW).existing()
    if mode:
        node.permission(_cred(k), mode)
    return 0


@syscall("access", Path(), Flags("access"))
@fs_call
def sys_access(k: SyscallContext, path, mode):
    return _access(k, AT_FDCWD, path, mode, 0)


@syscall("faccessat", DirFd(), Path(), Flags("access"))
@fs_call
def sys_faccessat(k: SyscallContext, dirfd, path, mode):
    return _access(k, dirfd, path, mode, 0)


@syscall("faccessat2", DirFd(), Path(), Flags("access"), Flags("at"))
@fs_call
def sys_faccessat2(k: SyscallContext, dirfd, path, mode, flags):
    return _access(k, dirfd, path, mode, flags)


# -- the working directory ----------------------------------------------------------------
@syscall("getcwd", OutStr(), UInt())
@fs_call
def sys_getcwd(k: SyscallContext, buf, size):
    data = os.fsencode(k.process.cwd) + b"\0"
    if len(data) > size:
        raise FsError(errnos.ERANGE)
    k.write(buf, data)
    return len(data)  # the raw syscall counts the NUL (glibc's wrapper returns buf)


@syscall("chdir", Path())
@fs_call
def sys_chdir(k: SyscallContext, path_addr):
    path = _path(k, path_addr)
    lk = k.vfs.resolve(path, base=k.process.cwd)
    node = lk.existing()
    if not node.is_dir:
        raise FsError(errnos.ENOTDIR)
    node.permission(_cred(k), X_OK)
    k.process.cwd = lk.path
    return 0


@syscall("fchdir", Fd())
@fs_call
def sys_fchdir(k: SyscallContext, fd):
    f = _fds(k)[_u32(fd)]
    if not f.is_dir:
        raise FsError(errnos.ENOTDIR)
    f.inode.permission(_cred(k), X_OK)
    k.process.cwd = f.path
    return 0


# -- directories --------------------------------------------------------------------------
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


def _mkdir(k: SyscallContext, dirfd, path_addr, mode):
    path = _path(k, path_addr)
    k.vfs.mkdir(path, _u32(mode), base=_base(k, dirfd, path), cred=_cred(k),
                umask=getattr(k.process, "umask", 0o022))
    return 0


@syscall("mkdir", Path(), Mode())
@fs_call
def sys_mkdir(k: SyscallContext, path, mode):
    return _mkdir(k, AT_FDCWD, path, mode)


@syscall("mkdirat", DirFd(), Path(), Mode())
@fs_call
def sys_mkdirat(k: SyscallContext, dirfd, path, mode):
    return _mkdir(k, dirfd, path, mode)


def _unlink(k: SyscallContext, dirfd, path_addr, directory: bool):
    path = _path(k, path_addr)
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if directory and last == ".":
        raise FsError(errnos.EINVAL)
    if last == "..":
        raise FsError(errnos.ENOTEMPTY if directory else errnos.EISDIR)
    k.vfs.unlink(path, base=_base(k, dirfd, path), cred=_cred(k), directory=directory)
    return 0


@syscall("unlink", Path())
@fs_call
def sys_unlink(k: SyscallContext, path):
    return _unlink(k, AT_FDCWD, path, False)


@syscall("rmdir", Path())
@fs_call
def sys_rmdir(k: SyscallContext, path):
    return _unlink(k, AT_FDCWD, path, True)


@syscall("unlinkat", DirFd(), Path(), Flags("at"))
@fs_call
def sys_unlinkat(k: SyscallContext, dirfd, path, flags):
    flags = _u32(flags)
    if flags & ~AT_REMOVEDIR:
        raise FsError(errnos.EINVAL)
    return _unlink(k, dirfd, path, bool(flags & AT_REMOVEDIR))


@syscall("ftruncate", Fd(), Long())
@fs_call
def sys_ftruncate(k: SyscallContext, fd, length):
    length = k.abi.signed(length)
    if length < 0:
        raise FsError(errnos.EINVAL)
    f = _fds(k)[_u32(fd)]
    # do_sys_ftruncate: EINVAL unless a regular file open for writing.
    if not f.writable or f.inode is None or f.inode.kind != S_IFREG:
        raise FsError(errnos.EINVAL)
    f.inode.truncate(length)
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


# -- the fd table -------------------------------------------------------------------------
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


# -- pipes --------------------------------------------------------------------------------
PIPE2_FLAGS = O_CLOEXEC | O_NONBLOCK | O_DIRECT | O_EXCL  # O_EXCL: O_NOTIFICATION_PIPE


def _pipe(k: SyscallContext, fds_addr, flags):
    flags = _u32(flags)
    if flags & ~PIPE2_FLAGS:
        raise FsError(errnos.EINVAL)
    if flags & O_EXCL:
        raise FsError(errnos.NUMBERS["ENOPKG"])  # notification pipes need CONFIG_WATCH_QUEUE
    pipe = k.vfs.new_pipe(k.process.uid, k.process.gid)
    r, w = pipe.ends(flags & (O_NONBLOCK | O_DIRECT))
    table = _fds(k)
    cloexec = bool(flags & O_CLOEXEC)
    limit = _nofile(k)
    rfd = table.install(r, cloexec=cloexec, limit=limit)
    try:
        wfd = table.install(w, cloexec=cloexec, limit=limit)
    except FsError:
        table.close(rfd)
        w.release()
        raise
    try:
        k.write(fds_addr, rfd.to_bytes(4, "little") + wfd.to_bytes(4, "little"))
    except BaseException:
        table.close(rfd)  # the fds are only installed once user space has them
        table.close(wfd)
        raise
    return 0


@syscall("pipe", OutStruct("int_pair"))
@fs_call
def sys_pipe(k: SyscallContext, fds):
    return _pipe(k, fds, 0)


@syscall("pipe2", OutStruct("int_pair"), Flags("pipe"))
@fs_call
def sys_pipe2(k: SyscallContext, fds, flags):
    return _pipe(k, fds, flags)


# -- ioctl --------------------------------------------------------------------------------
@syscall("ioctl", Fd(), Enum("ioctl"), Hex())
@fs_call
def sys_ioctl(k: SyscallContext, fd, request, arg):
    table = _fds(k)
    fd, request = _u32(fd), _u32(request)
    f = table[fd]
    # fs/ioctl.c: do_vfs_ioctl answers these for every file before the driver sees them.
    if request in (FIOCLEX, FIONCLEX):
        table.set_cloexec(fd, request == FIOCLEX)
        return 0
    if request == FIONBIO:
        on = int.from_bytes(k.read(arg, 4), "little")
        f.set_flags(f.flags | O_NONBLOCK if on else f.flags & ~O_NONBLOCK)
        return 0
    try:
        return f.ioctl(k, request, arg)
    except FsError as e:
        if e.errno == errnos.ENOTTY and request not in (TCGETS, TIOCGWINSZ):
            k.note(f"ioctl {request:#x} is not modelled: ENOTTY")
        raise



# -- chmod (fs/open.c: chmod_common; fs/attr.c: setattr_prepare) ---------------------------
S_ISGID = 0o2000


def _chmod(k: SyscallContext, node, mode: int) -> int:
    """Change a node's permission bits: EROFS on a read-only file system, EPERM unless the
    caller owns it (or is root); a caller outside the file's group loses S_ISGID. On a
    shared host directory the host loses S_ISUID and S_ISGID too (hostfs.py)."""
    if node is None:  # a borrowed host stream: the guest does not own the host's file
        raise FsError(errnos.EPERM, "syscall-lab does not chmod the host's own stdin/stdout")
    mode = _u32(mode) & 0o7777
    if node.read_only_fs:
        raise FsError(errnos.EROFS)
    cred = _cred(k)
    if cred.uid != 0 and cred.uid != node.uid:
        raise FsError(errnos.EPERM)
    if cred.uid != 0 and cred.gid != node.gid:
        mode &= ~S_ISGID
    node.chmod(mode)
    return 0


def _chmod_at(k: SyscallContext, dirfd, path_addr, mode, flags) -> int:
    flags = _u32(flags)
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise FsError(errnos.EINVAL)
    path = _at_path(k, path_addr, flags)
    if path == "" and flags & AT_EMPTY_PATH:
        target = _empty_path_target(k, dirfd)
        node = getattr(target, "inode", target)
    else:
        node = k.vfs.resolve(path, base=_base(k, dirfd, path),
                             follow=not flags & AT_SYMLINK_NOFOLLOW).existing()
    if node is not None and node.is_symlink:  # a symlink's own mode cannot change
        raise FsError(errnos.EOPNOTSUPP)
    return _chmod(k, node, mode)


@syscall("chmod", Path(), Mode())
@fs_call
def sys_chmod(k: SyscallContext, path, mode):
    return _chmod_at(k, AT_FDCWD, path, mode, 0)


@syscall("fchmod", Fd(), Mode())
@fs_call
def sys_fchmod(k: SyscallContext, fd, mode):
    f = _fds(k)[_u32(fd)]
    if isinstance(f, PathFile):  # O_PATH descriptors cannot change what they name
        raise FsError(errnos.EBADF)
    return _chmod(k, f.inode, mode)


@syscall("fchmodat", DirFd(), Path(), Mode())
@fs_call
def sys_fchmodat(k: SyscallContext, dirfd, path, mode):
    return _chmod_at(k, dirfd, path, mode, 0)


@syscall("fchmodat2", DirFd(), Path(), Mode(), Flags("at"))
@fs_call
def sys_fchmodat2(k: SyscallContext, dirfd, path, mode, flags):
    return _chmod_at(k, dirfd, path, mode, flags)

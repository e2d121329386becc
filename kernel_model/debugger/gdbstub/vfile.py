"""gdb's host I/O packets (vFile:open/pread/close/fstat/readlink/setfs) on the guest's own
file tree, read-only.

gdb reads the program, its libraries and /proc/PID/task/PID/maps "from the target" when the
stub offers this; without it gdb falls back to the files of the machine it runs on
(warning "remote target does not support file transfer"), which are not the guest's: with
--sysroot or --no-host-libs they differ, the guest's pid names some host process, and
gdb finds no [vdso] range in maps (so no __kernel_vsyscall or __vdso_* names in a static
program). Serving the guest's view fixes all three, and shows gdb nothing the guest could
not read itself. The one exception is the file qXfer:exec-file names, a host file with the
program's symbols (symfile.py), served as it is.

Replies are `F result[,errno][;data]` with the protocol's errno numbers (gdb's File-I/O
appendix: Linux's for all we use, except ENAMETOOLONG, 91 there)."""

from __future__ import annotations

import os
import stat as host_stat
import struct

from kernel_model.files.inode import FsError

# The protocol's open flags, which are not Linux's.
GDB_O_WRONLY, GDB_O_RDWR = 0x1, 0x2
GDB_O_CREAT, GDB_O_TRUNC, GDB_O_APPEND = 0x200, 0x400, 0x8
EBADF, EACCES, EINVAL, EMFILE, EROFS, ENOENT, EIO = 9, 13, 22, 24, 30, 2, 5
PROTOCOL_ERRNOS = {1, 2, 4, 9, 13, 14, 16, 17, 19, 20, 21, 22, 23, 24, 27, 28, 29, 30}
ENAMETOOLONG_LINUX, ENAMETOOLONG_GDB, EUNKNOWN = 36, 91, 9999
MAX_OPEN = 64


def _errno(e: int) -> int:
    if e == ENAMETOOLONG_LINUX:
        return ENAMETOOLONG_GDB
    return e if e in PROTOCOL_ERRNOS else EUNKNOWN


def _fail(e: int) -> bytes:
    return b"F-1,%x" % _errno(e)


class HostIo:
    def __init__(self, session, exec_path: str | None = None):
        self.s = session
        self.exec_path = exec_path
        self.files: dict[int, object] = {}  # fd -> an OpenFile of the guest, or a host path

    def handle(self, t: str) -> bytes:
        op, _, args = t[len("vFile:"):].partition(":")
        parts = args.split(",") if args else []
        if op == "setfs":  # one file tree: the guest's, whatever process gdb names
            return b"F0"
        if op == "open":
            return self._open(bytes.fromhex(parts[0]).decode("utf-8", "surrogateescape"),
                              int(parts[1], 16))
        if op == "pread":
            return self._pread(int(parts[0], 16), int(parts[1], 16), int(parts[2], 16))
        if op == "close":
            return b"F0" if self.files.pop(int(parts[0], 16), None) is not None \
                else _fail(EBADF)
        if op == "fstat":
            return self._fstat(int(parts[0], 16))
        if op == "readlink":
            return self._readlink(bytes.fromhex(parts[0]).decode("utf-8", "surrogateescape"))
        if op in ("pwrite", "unlink"):
            return _fail(EROFS)  # read-only: gdb may look, not change the guest's files
        return b""  # unknown: unsupported

    def _process(self):
        return self.s.system.process

    def _open(self, path: str, flags: int) -> bytes:
        if flags & (GDB_O_WRONLY | GDB_O_RDWR | GDB_O_CREAT | GDB_O_TRUNC | GDB_O_APPEND):
            return _fail(EROFS)
        if len(self.files) >= MAX_OPEN:
            return _fail(EMFILE)
        if self.exec_path and path == self.exec_path:
            handle: object = path
        else:
            p = self._process()
            try:
                handle = self.s.system.vfs.open(path, os.O_RDONLY, 0, base=p.cwd or "/",
                                                cred=p.creds)
            except FsError as e:
                return _fail(e.errno)
            if handle.is_dir:  # type: ignore[attr-defined]
                return _fail(21)  # EISDIR: gdb reads files
        fd = next(n for n in range(MAX_OPEN + 1) if n not in self.files)
        self.files[fd] = handle
        return b"F%x" % fd

    def _pread(self, fd: int, count: int, offset: int) -> bytes:
        f = self.files.get(fd)
        if f is None:
            return _fail(EBADF)
        if count < 0 or offset < 0:
            return _fail(EINVAL)
        count = min(count, 0x3F00)  # what fits one reply, escapes included
        if isinstance(f, str):
            try:
                with open(f, "rb") as h:
                    h.seek(offset)
                    data = h.read(count)
            except OSError as e:
                return _fail(e.errno or EIO)
        else:
            try:
                data = f.pread(self.s.kernel, offset, count)  # type: ignore[attr-defined]
            except FsError as e:
                return _fail(e.errno)
        return b"F%x;" % len(data) + data

    def _fstat(self, fd: int) -> bytes:
        f = self.files.get(fd)
        if f is None:
            return _fail(EBADF)
        if isinstance(f, str):
            st = os.stat(f)
            fields = (0, st.st_ino, host_stat.S_IFREG | 0o444, 1, 0, 0, 0, st.st_size,
                      4096, (st.st_size + 511) // 512, 0, 0, 0)
        else:
            k = f.stat()  # type: ignore[attr-defined]
            fields = (k.dev[0] << 8 | k.dev[1], k.ino, k.mode, k.nlink, k.uid, k.gid,
                      k.rdev[0] << 8 | k.rdev[1], k.size, k.blksize, k.blocks,
                      k.atime_ns // 10**9, k.mtime_ns // 10**9, k.ctime_ns // 10**9)
        # gdb's struct stat on the wire: big-endian, 32-bit except size/blksize/blocks
        packed = struct.pack(">IIIIIIIQQQIII", *(v & ((1 << 64) - 1) if i in (7, 8, 9)
                                                 else v & 0xFFFFFFFF
                                                 for i, v in enumerate(fields)))
        return b"F%x;" % len(packed) + packed

    def _readlink(self, path: str) -> bytes:
        p = self._process()
        try:
            lk = self.s.system.vfs.resolve(path, base=p.cwd or "/", follow=False)
            node = lk.existing()
            if not node.is_symlink:
                return _fail(EINVAL)
            target = node.readlink().encode("utf-8", "surrogateescape")
        except FsError as e:
            return _fail(e.errno)
        return b"F%x;" % len(target) + target

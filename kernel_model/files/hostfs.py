"""Shared host directories (--mount HOST[:GUEST][:rw]): the only way a guest reaches a
host file. Every host path used here is built by joining one checked name at a time onto a
directory already known to be inside the mount, and a symlink is followed only after
os.path.realpath shows its end inside the mount's (real) host directory, or (guest_links:
the library directories) only as text, by the guest's own walk of the guest's tree. So
neither "..", nor a symlink (relative, absolute, to a file or to a directory) leads out of
what the user shared. Read-only mounts refuse every change with EROFS, as `mount -o ro` does.

What the guest sees of the host: device and inode numbers are the model's (a device 0:NN
per mount, like Linux's anonymous devices, and inode numbers handed out per host file in
the order the run meets them), never the host's. Files and directories the guest creates
lose their setuid and setgid bits on the host (the guest's chmod bits never make a setuid
file appear there: like `nosuid`, but stricter, since nosuid keeps the bits on disk)."""

from __future__ import annotations

import os
import time

from kernel_model.files.file import PositionalFile
from kernel_model.files.inode import (
    TIME_NOW,
    DirEntry,
    FsError,
    Inode,
    Stat,
    errno_of,
    may,
    stat_from_host,
)
from kernel_model.files.streams import HOST_READ_CHUNK
from kernel_model.files.uapi import (
    O_ACCMODE,
    O_NOATIME,
    S_IFLNK,
    S_IFREG,
    W_OK,
    dtype,
)
from kernel_model.uapi import errnos

RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT = 1, 2, 4


def _renameat2(old: str, new: str, flags: int) -> None:
    """renameat2(2) through the C library (Python's os has only plain rename)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd = -100
    if libc.renameat2(at_fdcwd, os.fsencode(old), at_fdcwd, os.fsencode(new), flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), old)


# The largest host file the model copies in for a file mapping.
MMAP_MAX = 256 << 20
# What a read-only mount keeps of mapped files' contents (libc.so.6 is 2 MiB).
CONTENTS_MAX = 128 << 20
S_ISUID, S_ISGID = 0o4000, 0o2000


class HostMount:
    def __init__(self, host: str, guest: str, writable: bool, dev: tuple[int, int] = (0, 40),
                 *, guest_links: bool = False):
        """`guest_links`: a symlink's text is followed by the guest's path walk (from the
        guest's root when absolute), as Linux follows it in a chroot; for trees shared at
        the paths they have in their own root (the library directories, sysroot.py).
        Otherwise a link is followed to where it really ends on the host, if that is
        inside this mount (a --mount at another guest path than its host path)."""
        real = os.path.realpath(host)
        if not os.path.isdir(real):
            raise ValueError(f"--mount {host}: not a directory on the host")
        self.host_root = real
        self.guest = guest
        self.writable = writable
        self.dev = dev
        self.guest_links = guest_links
        self._inodes: dict[tuple[int, int], int] = {}
        # A read-only mount's file contents for mmap, read once per file (the loader maps
        # libc.so.6 four or five times, and every exec of a dynamic program again).
        self._contents: dict[int, tuple[tuple[int, int], bytes]] = {}
        self._contents_size = 0
        self.ino_of(os.stat(real))  # the mount's root is inode 2, as on ext4

    def ino_of(self, st) -> int:
        """The model's inode number for a host file: stable for the run, distinct per host
        file (hard links share one, as they share the host's)."""
        key = (st.st_dev, st.st_ino)
        n = self._inodes.get(key)
        if n is None:
            n = self._inodes[key] = len(self._inodes) + 2
        return n

    def stat(self, st) -> Stat:
        s = stat_from_host(st)
        s.dev, s.ino = self.dev, self.ino_of(st)
        return s

    def contains(self, real: str) -> bool:
        return real == self.host_root or real.startswith(self.host_root.rstrip("/") + "/")

    def guest_path_of(self, real: str) -> str:
        rel = os.path.relpath(real, self.host_root)
        if rel == ".":
            return self.guest
        return self.guest.rstrip("/") + "/" + rel

    def root(self) -> HostNode:
        return HostNode(self, self.host_root, os.lstat(self.host_root))

    def contents(self, fd: int, st: os.stat_result) -> bytes:
        """The whole file behind `fd`, for a private mapping. On a read-only mount it is
        kept per file while the host's size and mtime stay the same (up to CONTENTS_MAX
        in all): a file is read from the host once however often it is mapped."""
        if self.writable:
            return os.pread(fd, st.st_size, 0)
        ino = self.ino_of(st)
        key = (st.st_size, st.st_mtime_ns)
        kept = self._contents.get(ino)
        if kept is not None and kept[0] == key:
            return kept[1]
        data = os.pread(fd, st.st_size, 0)
        if self._contents_size + len(data) <= CONTENTS_MAX:
            if kept is not None:
                self._contents_size -= len(kept[1])
            self._contents[ino] = (key, data)
            self._contents_size += len(data)
        return data


class HostNode(Inode):
    def __init__(self, mount: HostMount, host_path: str, st: os.stat_result):
        self.mount = mount
        self.host_path = host_path
        self.mode = st.st_mode
        self.ino = mount.ino_of(st)
        self.dev = mount.dev
        self.uid = st.st_uid
        self.gid = st.st_gid
        self.read_only_fs = not mount.writable

    def stat(self) -> Stat:
        try:
            return self.mount.stat(os.lstat(self.host_path))
        except OSError as e:
            raise FsError(errno_of(e)) from None

    def size(self) -> int:
        return self.stat().size

    # -- directories -----------------------------------------------------------
    def _child_path(self, name: str) -> str:
        # The VFS never passes "", ".", ".." or a name with "/" here.
        assert name not in ("", ".", "..") and "/" not in name and "\0" not in name
        return os.path.join(self.host_path, name)

    def lookup(self, name: str) -> Inode | None:
        if not self.is_dir:
            raise FsError(errnos.ENOTDIR)
        path = self._child_path(name)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise FsError(errno_of(e)) from None
        return HostNode(self.mount, path, st)

    def entries(self) -> list[DirEntry]:
        out = []
        try:
            with os.scandir(self.host_path) as it:
                for entry in it:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue  # gone since the listing began
                    out.append(DirEntry(entry.name, self.mount.ino_of(st), dtype(st.st_mode)))
        except OSError as e:
            raise FsError(errno_of(e)) from None
        # Sorted, so that a run lists the same way every time (ext4's hash order would not).
        return sorted(out, key=lambda e: e.name)

    def _writable_dir(self) -> None:
        if self.read_only_fs:
            raise FsError(errnos.EROFS)

    def create(self, name: str, mode: int, uid: int, gid: int) -> Inode:
        self._writable_dir()
        path = self._child_path(name)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW
                         | os.O_CLOEXEC, mode & 0o7777 & ~(S_ISUID | S_ISGID))
            os.close(fd)
            return HostNode(self.mount, path, os.lstat(path))
        except OSError as e:
            raise FsError(errno_of(e)) from None

    def mkdir(self, name: str, mode: int, uid: int, gid: int) -> Inode:
        self._writable_dir()
        path = self._child_path(name)
        try:
            os.mkdir(path, mode & 0o7777 & ~(S_ISUID | S_ISGID))
            return HostNode(self.mount, path, os.lstat(path))
        except OSError as e:
            raise FsError(errno_of(e)) from None

    def unlink(self, name: str, *, directory: bool) -> None:
        self._writable_dir()
        path = self._child_path(name)
        try:
            (os.rmdir if directory else os.unlink)(path)
        except OSError as e:
            raise FsError(errno_of(e)) from None

    def symlink(self, name: str, target: str, uid: int, gid: int) -> Inode:
        """The target is stored as given: it is data, and the walk only ever follows a
        link to where it really ends inside the mount (follow())."""
        self._writable_dir()
        path = self._child_path(name)
        try:
            os.symlink(target, path)
            return HostNode(self.mount, path, os.lstat(path))
        except OSError as e:
            raise FsError(errno_of(e)) from None

    def link(self, name: str, node: Inode) -> None:
        self._writable_dir()
        assert isinstance(node, HostNode) and node.mount is self.mount
        try:
            os.link(node.host_path, self._child_path(name), follow_symlinks=False)
        except OSError as e:
            raise FsError(errno_of(e)) from None

    def rename(self, name: str, new_dir: Inode, new_name: str, *, exchange: bool,
               whiteout: bool, noreplace: bool = False) -> None:
        self._writable_dir()
        assert isinstance(new_dir, HostNode) and new_dir.mount is self.mount
        old, new = self._child_path(name), new_dir._child_path(new_name)
        # RENAME_NOREPLACE reaches the host too: the VFS's EEXIST check could race.
        flags = ((RENAME_EXCHANGE if exchange else 0) | (RENAME_WHITEOUT if whiteout else 0)
                 | (RENAME_NOREPLACE if noreplace else 0))
        try:
            if flags:
                _renameat2(old, new, flags)
            else:
                os.rename(old, new)
        except OSError as e:
            raise FsError(errno_of(e)) from None

    # -- symlinks --------------------------------------------------------------
    def readlink(self) -> str:
        if self.kind != S_IFLNK:
            raise FsError(errnos.EINVAL)
        try:
            return os.readlink(self.host_path)
        except OSError as e:
            raise FsError(errno_of(e)) from None

    def follow(self) -> str:
        """The guest path of where the link really ends, if that is inside the mount; or,
        on a guest_links mount, its text, for the guest's walk to follow."""
        if self.mount.guest_links:
            return self.readlink()
        real = os.path.realpath(self.host_path)
        if not self.mount.contains(real):
            raise FsError(errnos.EACCES, "the symlink leads outside the shared directory "
                                         f"{self.mount.guest}; syscall-lab does not follow it")
        return self.mount.guest_path_of(real)

    # -- files -----------------------------------------------------------------
    def permission(self, cred, want: int) -> None:
        if want & W_OK and self.read_only_fs:
            raise FsError(errnos.EROFS)
        # The guest's user first (the host file's owner and bits, as Linux checks them),
        # then the host: the guest never has more rights than the host user running it.
        if want and not may(self.mode, self.uid, self.gid, cred, want):
            raise FsError(errnos.EACCES)
        if want and not os.access(self.host_path, want, follow_symlinks=False):
            raise FsError(errnos.EACCES)

    def open(self, flags: int, path: str, cred) -> HostFile:
        if self.kind != S_IFREG:
            # Like a `nodev` mount, and never blocking the emulator on a host FIFO.
            raise FsError(errnos.EACCES, "syscall-lab opens only regular files and "
                                         "directories from a shared host directory")
        # O_TRUNC was applied by the VFS (truncate()); O_APPEND is the model's to apply.
        access = flags & O_ACCMODE
        host_flags = (os.O_RDWR if access == O_ACCMODE else access) | os.O_NOFOLLOW | os.O_CLOEXEC
        if flags & O_NOATIME:
            host_flags |= os.O_NOATIME
        try:
            fd = os.open(self.host_path, host_flags)
        except OSError as e:
            raise FsError(errno_of(e)) from None
        return HostFile(self, path, flags, fd)

    def chmod(self, mode: int) -> None:
        """The host file's bits, without S_ISUID and S_ISGID: no setuid file appears."""
        if self.read_only_fs:
            raise FsError(errnos.EROFS)
        try:
            if os.path.islink(self.host_path):  # replaced by a link since the lookup
                raise FsError(errnos.ENOENT)
            os.chmod(self.host_path, mode & ~(S_ISUID | S_ISGID))
        except OSError as e:
            raise FsError(errno_of(e)) from None

    def set_times(self, atime_ns: int | None, mtime_ns: int | None) -> None:
        """The host file's times (UTIME_OMIT keeps the one it has); never through a
        symlink the lookup did not see."""
        if self.read_only_fs:
            raise FsError(errnos.EROFS)
        try:
            st = os.lstat(self.host_path)
            now = time.time_ns()  # the host stamps its own writes with its own clock
            def pick(old: int, new: int | None) -> int:
                return old if new is None else now if new == TIME_NOW else new

            times = (pick(st.st_atime_ns, atime_ns), pick(st.st_mtime_ns, mtime_ns))
            os.utime(self.host_path, ns=times, follow_symlinks=False)
        except OSError as e:
            raise FsError(errno_of(e)) from None

    def chown(self, uid: int, gid: int) -> None:
        """Owners on the host never change (see docs/kernel_facts.md, "Files, users"):
        a chown that changes nothing succeeds, any other is EPERM, as on an NFS export
        that squashes root."""
        if self.read_only_fs:
            raise FsError(errnos.EROFS)
        if (uid, gid) != (self.uid, self.gid):
            raise FsError(errnos.EPERM, "syscall-lab does not change the owner of a host "
                                        "file (a --mount is root-squashed)")

    def truncate(self, size: int) -> None:
        if self.read_only_fs:
            raise FsError(errnos.EROFS)
        try:
            os.truncate(self.host_path, size)
        except OSError as e:
            raise FsError(errno_of(e)) from None


class HostFile(PositionalFile):
    """A host regular file opened for the guest. The model keeps the offset itself (so
    O_APPEND and dup'd descriptions behave as in Linux) and uses pread/pwrite."""

    inode: HostNode

    def __init__(self, inode: HostNode, path: str, flags: int, host_fd: int):
        super().__init__(inode, path, flags)
        self.host_fd = host_fd

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except OSError as e:
            raise FsError(errno_of(e)) from None

    def pread(self, k, offset: int, n: int) -> bytes:
        return self._call(os.pread, self.host_fd, min(n, HOST_READ_CHUNK), offset)

    def pwrite(self, k, offset: int, data: bytes) -> int:
        return self._call(os.pwrite, self.host_fd, data, offset)

    def size(self) -> int:
        return self._call(os.fstat, self.host_fd).st_size

    def mmap_bytes(self) -> bytes | None:
        st = self._call(os.fstat, self.host_fd)
        if st.st_size > MMAP_MAX:
            return None
        return self._call(self.inode.mount.contents, self.host_fd, st)

    def stat(self) -> Stat:
        return self.inode.mount.stat(self._call(os.fstat, self.host_fd))

    def fallocate(self, mode: int, offset: int, length: int) -> None:
        """fallocate(2) on the host file (its own file system's answer, EOPNOTSUPP too)."""
        if self.inode.read_only_fs:
            raise FsError(errnos.EROFS)
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
        if libc.fallocate(self.host_fd, mode, offset, length) != 0:
            raise FsError(errno_of(OSError(ctypes.get_errno(), "fallocate")))

    def sync(self) -> None:
        self._call(os.fsync, self.host_fd)

    def release(self) -> None:
        os.close(self.host_fd)

"""The libraries a dynamically linked program needs, shared read-only from a sysroot: the
host's own "/" by default, or the --sysroot DIR the user names.

What the guest sees of it, at the same guest paths as in the sysroot:

    /lib /lib64 /lib32 /libx32 /usr/lib /usr/lib64 /usr/lib32 /usr/libx32
        a real directory: a read-only hostfs mount of it (hostfs.py, links="guest");
        a symlink (merged /usr: /lib -> usr/lib): the same symlink on the guest's root;
        missing: absent.
    /etc/ld.so.cache /etc/ld.so.conf /etc/ld.so.conf.d/*
        read-only copies on the guest's /etc, made when first read.

Nothing is walked or read until a path walk reaches it: building the tree costs one
lstat per name above. A symlink inside these trees is followed by the guest's own path
walk (an absolute one from the guest's root, as Linux follows it from the process's
root), so /lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 ends
at the canonical /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 through the guest's /lib,
and a link to anything the guest does not have (the host's /usr/bin) ends nowhere."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from kernel_model.files.file import SnapshotFile
from kernel_model.files.inode import Inode
from kernel_model.files.synthetic import ROOT_DEV, InodeNumbers, StaticDir
from kernel_model.files.uapi import S_IFREG

# The library directories of the x86 ABIs (x86-64, i386, x32), in the order Linux's
# filesystem hierarchy lists them: what ld.so's default search and ld.so.cache name.
LIB_DIRS = ("/lib", "/lib64", "/lib32", "/libx32",
            "/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/libx32")
# What ld.so reads of /etc (the cache), and what ldconfig -p / a student's cat would.
ETC_FILES = ("ld.so.cache", "ld.so.conf")
ETC_DIR = "ld.so.conf.d"
COPY_MAX = 16 << 20  # the largest /etc file copied in (the cache is tens of KiB)


@dataclass(frozen=True)
class Sysroot:
    """Where the libraries come from: "/" for the host's own, else a --sysroot directory."""

    root: str = "/"

    def __post_init__(self):
        if not os.path.isdir(self.root):
            raise ValueError(f"--sysroot {self.root}: not a directory")

    def host_path(self, guest: str) -> str:
        return os.path.join(self.root, guest.lstrip("/"))

    def library_dirs(self) -> list[tuple[str, str, str]]:
        """(guest path, "dir" or "link", host directory or link text) for each of LIB_DIRS
        the sysroot has: one lstat each, nothing below them."""
        found = []
        for guest in LIB_DIRS:
            host = self.host_path(guest)
            try:
                st = os.lstat(host)
                if stat.S_ISLNK(st.st_mode):
                    found.append((guest, "link", os.readlink(host)))
                elif stat.S_ISDIR(st.st_mode):
                    found.append((guest, "dir", host))
            except OSError:
                continue  # missing (or unreadable): simply absent, as in the sysroot
        return found

    def etc_files(self, numbers: InodeNumbers, created_ns: int) -> dict[str, Inode]:
        """/etc's entries from the sysroot: ld.so.cache, ld.so.conf (regular files) and
        ld.so.conf.d (a directory of regular files), those it has."""
        out: dict[str, Inode] = {}
        for name in ETC_FILES:
            host = self.host_path("/etc/" + name)
            if _is_file(host):
                out[name] = CopiedFile(numbers(), host, created_ns)
        host_dir = self.host_path("/etc/" + ETC_DIR)
        if os.path.isdir(host_dir) and not os.path.islink(host_dir):
            out[ETC_DIR] = copied_dir(host_dir, numbers, created_ns)
        return out


def _is_file(host: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(host).st_mode)
    except OSError:
        return False


class CopiedFile(Inode):
    """A read-only regular file on the guest's root holding a host file's bytes, read once
    when first needed (stat or open); opens map like any file (ld.so mmaps the cache)."""

    def __init__(self, ino: int, host: str, created_ns: int):
        self.dev = ROOT_DEV
        self.ino = ino
        self.mode = S_IFREG | 0o644
        self.host = host
        self.created_ns = created_ns
        self.read_only_fs = True
        self._data: bytes | None = None

    def data(self) -> bytes:
        if self._data is None:
            try:
                # O_NOFOLLOW: the name was a regular file when the tree was built; a link
                # put there since does not lead the guest elsewhere on the host.
                fd = os.open(self.host, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                try:
                    self._data = os.read(fd, COPY_MAX)
                finally:
                    os.close(fd)
            except OSError:
                self._data = b""  # gone since: an empty file, not an error in the walk
        return self._data

    def size(self) -> int:
        return len(self.data())

    def open(self, flags: int, path: str, cred) -> SnapshotFile:
        return SnapshotFile(self, path, flags, self.data(), seq=False)


def copied_dir(host_dir: str, numbers: InodeNumbers, created_ns: int) -> StaticDir:
    """A read-only directory of CopiedFiles, listed from the host when first looked in."""
    ino = numbers()
    children: dict[str, Inode] | None = None

    def listing() -> dict[str, Inode]:
        nonlocal children
        if children is None:
            try:
                names = sorted(os.listdir(host_dir))
            except OSError:
                names = []
            children = {n: CopiedFile(numbers(), os.path.join(host_dir, n), created_ns)
                        for n in names if _is_file(os.path.join(host_dir, n))}
        return children

    return StaticDir(ROOT_DEV, ino, listing, mode=0o755, created_ns=created_ns,
                     read_only_fs=True)

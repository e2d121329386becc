"""/dev: the character devices a small program reaches for (drivers/char/mem.c,
drivers/char/random.c), plus the /dev/std* and /dev/fd symlinks into /proc/self/fd."""

from __future__ import annotations

import os
from typing import Callable

from kernel_model.files.file import OpenFile
from kernel_model.files.inode import FsError, Inode
from kernel_model.files.synthetic import DEVTMPFS_DEV, InodeNumbers, StaticDir, Symlink
from kernel_model.files.uapi import S_IFCHR
from kernel_model.uapi import errnos

# One read from a device moves at most this much (a signal would cut Linux's loop short
# too); it keeps a read(fd, buf, 2 GiB) from allocating 2 GiB on the host.
DEVICE_READ_CHUNK = 16 << 20


class CharDevice(Inode):
    def __init__(self, ino: int, rdev: tuple[int, int], mode: int, created_ns: int,
                 reader: Callable[[int], bytes] | None, write_errno: int | None = None,
                 open_errno: int | None = None, gid: int = 0):
        self.dev = DEVTMPFS_DEV
        self.ino = ino
        self.rdev = rdev
        self.mode = S_IFCHR | mode
        self.created_ns = created_ns
        self.reader = reader
        self.write_errno = write_errno
        self.open_errno = open_errno
        self.gid = gid

    def open(self, flags: int, path: str, cred) -> OpenFile:
        if self.open_errno is not None:
            raise FsError(self.open_errno)
        return DeviceFile(self, path, flags)


class DeviceFile(OpenFile):
    """Reads come from the device's reader; writes vanish (or fail with its errno); every
    lseek lands on 0 (null_lseek, and noop_llseek for random)."""

    seekable = True
    inode: CharDevice

    @property
    def maps_zero(self) -> bool:
        """/dev/zero is the one device here with an mmap operation (mmap_zero)."""
        return self.inode.rdev == (1, 5)

    def read(self, k, n: int) -> bytes:
        reader = self.inode.reader
        assert reader is not None, "a device without a reader fails to open (open_errno)"
        return reader(min(n, DEVICE_READ_CHUNK))

    def write(self, k, data: bytes) -> int:
        write_errno = self.inode.write_errno
        if write_errno is not None:
            raise FsError(write_errno)
        return len(data)

    def pread(self, k, offset: int, n: int) -> bytes:
        return self.read(k, n)

    def pwrite(self, k, offset: int, data: bytes) -> int:
        return self.write(k, data)

    def unread(self, data: bytes) -> None:
        pass

    def lseek(self, offset: int, whence: int) -> int:
        self.offset = 0
        return 0


def random_source(rng) -> Callable[[int], bytes]:
    """/dev/urandom's bytes: the run's seeded generator (--seed gives the same bytes every
    run), else the host's."""
    if rng is not None and hasattr(rng, "randbytes"):
        return rng.randbytes
    return os.urandom


def make_dev(rng, created_ns: int, mounted: dict[str, Inode] | None = None) -> StaticDir:
    """/dev; `mounted`: the roots of the file systems mounted on its directories
    (/dev/shm's tmpfs)."""
    numbers = InodeNumbers(first=2)
    rand = random_source(rng)
    ino = numbers()

    def zeros(n: int) -> bytes:
        return bytes(n)

    children: dict[str, Inode] = {
        "null": CharDevice(numbers(), (1, 3), 0o666, created_ns, lambda n: b""),
        "zero": CharDevice(numbers(), (1, 5), 0o666, created_ns, zeros),
        "full": CharDevice(numbers(), (1, 7), 0o666, created_ns, zeros,
                           write_errno=errnos.ENOSPC),
        "random": CharDevice(numbers(), (1, 8), 0o666, created_ns, lambda n: rand(n)),
        "urandom": CharDevice(numbers(), (1, 9), 0o666, created_ns, lambda n: rand(n)),
        # No controlling terminal in the model: opening /dev/tty fails as it does for a
        # daemon (drivers/tty/tty_io.c: tty_open_current_tty).
        "tty": CharDevice(numbers(), (5, 0), 0o666, created_ns, None, open_errno=errnos.ENXIO,
                          gid=5),
    }
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        children[name] = Symlink(DEVTMPFS_DEV, numbers(), fixed_text(f"/proc/self/fd/{i}"),
                                 created_ns=created_ns)
    children["fd"] = Symlink(DEVTMPFS_DEV, numbers(), lambda: "/proc/self/fd",
                             created_ns=created_ns)
    children.update(mounted or {})
    return FixedDevDir(DEVTMPFS_DEV, ino, lambda: children, mode=0o755, created_ns=created_ns)


class FixedDevDir(StaticDir):
    """/dev: root could add nodes to a real devtmpfs; the model's set is fixed."""

    def create(self, name: str, mode: int, uid: int, gid: int) -> Inode:
        raise FsError(errnos.EACCES, "syscall-lab's /dev holds a fixed set of devices")

    mkdir = create


def fixed_text(text: str) -> Callable[[], str]:
    """A symlink target that never changes."""
    return lambda: text

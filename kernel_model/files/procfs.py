"""/proc for the one process the model runs (fs/proc/base.c, fs/proc/array.c,
fs/proc/task_mmu.c). Each text is generated when it is opened, from the live process
state, so /proc/self/maps shows exactly the VMAs the model's mm holds at that moment.

/proc/self is a symlink to the pid's directory, as on Linux; /proc/self/exe and
/proc/self/fd/N are "magic" links: readlink shows a name, but following one reaches the
file itself, whatever its name (proc_exe_link, proc_fd_link)."""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING

from kernel_model.files.file import SnapshotFile
from kernel_model.files.inode import FsError, Inode, Stat
from kernel_model.files.synthetic import PROC_DEV, InodeNumbers, StaticDir, Symlink
from kernel_model.files.uapi import (
    O_ACCMODE,
    O_RDONLY,
    S_IFREG,
)
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.files.vfs import Vfs

CPUINFO = (
    "processor\t: 0\n"
    "model name\t: syscall-lab emulated x86 CPU (Unicorn)\n"
    "physical id\t: 0\n"
    "siblings\t: 1\n"
    "core id\t\t: 0\n"
    "cpu cores\t: 1\n"
    "\n"
)


class ProcFile(Inode):
    """A read-only /proc text: st_size 0 like every seq_file, contents made at open."""

    def __init__(self, ino: int, make, *, mode: int = 0o444, created_ns: int = 0,
                 owner=None, write_errno: int = errnos.EINVAL):
        self.dev = PROC_DEV
        self.ino = ino
        self.mode = S_IFREG | mode
        self.make = make
        self.created_ns = created_ns
        self.owner = owner  # a function giving (uid, gid): the process's, for /proc/<pid>
        self.write_errno = write_errno

    def owner_ids(self) -> tuple[int, int]:
        return self.owner() if self.owner else (0, 0)

    def open(self, flags: int, path: str, cred) -> SnapshotFile:
        return SnapshotFile(self, path, flags, self.make(), write_errno=self.write_errno)


class MagicLink(Symlink):
    """A /proc link that, when followed, reaches an inode rather than a path."""

    def __init__(self, ino: int, text, target, *, created_ns: int, owner):
        uid, gid = owner()
        super().__init__(PROC_DEV, ino, text, created_ns=created_ns, uid=uid, gid=gid,
                         sized=False)
        self.resolve = target

    def follow(self):
        return self.resolve(), self.readlink()


class ExeInode(Inode):
    """What /proc/self/exe reaches: the program file the process was started from."""

    def __init__(self, process, created_ns: int):
        self.process = process
        self.created_ns = created_ns
        self.dev, self.ino = process.exe_dev, process.exe_ino  # the model's, not the host's
        try:
            st = os.stat(process.exe_path)
            self.mode = S_IFREG | (st.st_mode & 0o7777)
            self.uid, self.gid = st.st_uid, st.st_gid
            self.created_ns = st.st_mtime_ns
        except OSError:
            self.mode = S_IFREG | 0o755

    def size(self) -> int:
        return len(self.process.exe_bytes)

    def open(self, flags: int, path: str, cred) -> SnapshotFile:
        if flags & O_ACCMODE != O_RDONLY:
            raise FsError(errnos.NUMBERS["ETXTBSY"])  # writing to a running program's file
        return SnapshotFile(self, path, flags, self.process.exe_bytes, seq=False)


class OpenFileInode(Inode):
    """What /proc/self/fd/N reaches for a stream with no inode of its own in the model
    (the borrowed host stdin/stdout/stderr): opening it opens the same host stream."""

    def __init__(self, file, guest_fd: int):
        self.file = file
        self.guest_fd = guest_fd
        st = file.stat()
        self.mode, self.ino, self.dev, self.rdev = st.mode, st.ino, st.dev, st.rdev
        self.uid, self.gid = st.uid, st.gid

    def stat(self) -> Stat:
        return self.file.stat()

    def open(self, flags: int, path: str, cred):
        from kernel_model.files.streams import HostStream

        return HostStream(self.file.host_fd, flags, self.guest_fd, self.file.host_files)


def status_text(process) -> str:
    comm = os.path.basename(process.exe_path)[:15]  # TASK_COMM_LEN 16
    vm_kb = sum(v.end - v.start for v in process.mm.vmas) // 1024
    uid, gid = process.uid, process.gid
    return (
        f"Name:\t{comm}\n"
        f"Umask:\t{process.umask:04o}\n"
        "State:\tR (running)\n"
        f"Tgid:\t{process.pid}\n"
        f"Pid:\t{process.pid}\n"
        f"PPid:\t{process.ppid}\n"
        "TracerPid:\t0\n"
        f"Uid:\t{uid}\t{uid}\t{uid}\t{uid}\n"
        f"Gid:\t{gid}\t{gid}\t{gid}\t{gid}\n"
        f"VmSize:\t{vm_kb:8d} kB\n"
        "Threads:\t1\n"
    )


def auxv_bytes(process) -> bytes:
    """The saved auxv pairs in the process's own word size, AT_NULL pair included."""
    pairs = list(process.auxv)
    if not pairs or pairs[-1][0] != 0:
        pairs.append((0, 0))
    fmt = "<QQ" if process.arch == "x86_64" else "<II"
    mask = (1 << (64 if process.arch == "x86_64" else 32)) - 1
    return b"".join(struct.pack(fmt, k & mask, v & mask) for k, v in pairs)


def nul_joined(strings) -> bytes:
    return b"".join(s.encode("utf-8", "surrogateescape") + b"\0" for s in strings)


class ProcFs:
    def __init__(self, processes, created_ns: int):
        self.processes = processes  # the kernel's table: /proc/self is who asks
        self.created_ns = created_ns
        numbers = InodeNumbers(first=2)
        t = created_ns

        def owner():
            p = self.process
            return p.uid, p.gid

        p_ = lambda: self.process  # noqa: E731
        self.cpuinfo = ProcFile(numbers(), lambda: CPUINFO.encode(), created_ns=t,
                                write_errno=errnos.EIO)
        self.self_link = Symlink(PROC_DEV, numbers(), lambda: str(p_().pid), created_ns=t,
                                 sized=False)
        pid_files: dict[str, Inode] = {
            "auxv": ProcFile(numbers(), lambda: auxv_bytes(p_()), mode=0o400, created_ns=t,
                             owner=owner),
            "cmdline": ProcFile(numbers(), lambda: nul_joined(p_().argv), created_ns=t,
                                owner=owner),
            "cwd": MagicLink(numbers(), lambda: p_().cwd, lambda: self.vfs_node(p_().cwd),
                             created_ns=t, owner=owner),
            "environ": ProcFile(numbers(), lambda: nul_joined(p_().envp), mode=0o400,
                                created_ns=t, owner=owner),
            "exe": MagicLink(numbers(), lambda: p_().guest_exe,
                             lambda: ExeInode(p_(), created_ns), created_ns=t, owner=owner),
            "maps": ProcFile(numbers(), lambda: p_().mm.maps_text().encode(), created_ns=t,
                             owner=owner),
            "root": Symlink(PROC_DEV, numbers(), lambda: "/", created_ns=t, sized=False),
            "status": ProcFile(numbers(), lambda: status_text(p_()).encode(), created_ns=t,
                               owner=owner),
        }
        self.fd_ino = numbers()
        self.fd_links_base = 1 << 20  # /proc/<pid>/fd/N gets inode base + N
        pid_files["fd"] = fd_dir = StaticDir(PROC_DEV, self.fd_ino, self._fd_children,
                                             mode=0o500, created_ns=t, strict=True)
        fd_dir.uid, fd_dir.gid = owner()
        self.pid_dir = StaticDir(PROC_DEV, numbers(), lambda: pid_files, mode=0o555,
                                 created_ns=t, nlink=9, strict=True)
        self.pid_dir.uid, self.pid_dir.gid = owner()
        self.root = StaticDir(PROC_DEV, 1, self._root_children, mode=0o555, created_ns=t,
                              strict=True)
        self.vfs: Vfs | None = None  # set by the Vfs: cwd links resolve through it

    @property
    def process(self):
        return self.processes.current_process()

    def vfs_node(self, path: str) -> Inode | None:
        assert self.vfs is not None, "the Vfs sets itself before any lookup"
        return self.vfs.resolve(path, base="/").node

    def _root_children(self) -> dict[str, Inode]:
        return {"self": self.self_link, str(self.process.pid): self.pid_dir,
                "cpuinfo": self.cpuinfo}

    def _fd_children(self) -> dict[str, Inode]:
        table = self.process.fds
        if table is None:
            return {}
        out: dict[str, Inode] = {}
        for fd in table.fds():
            f = table[fd]
            out[str(fd)] = MagicLink(self.fd_links_base + fd, f.link_text,
                                     lambda f=f, fd=fd: fd_target(f, fd),
                                     created_ns=self.created_ns,
                                     owner=lambda: (self.process.uid, self.process.gid))
        return out


def fd_target(f, fd: int) -> Inode:
    if f.inode is not None:
        return f.inode
    return OpenFileInode(f, fd)

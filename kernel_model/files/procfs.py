"""/proc (fs/proc/root.c, base.c): a directory for every process in the kernel's table, a
task/ directory in each with one directory per thread, and /proc/self and
/proc/thread-self naming whoever asks (the running task, the one making the call).

Every text is generated when it is opened, from the live state of the process it names
(proc_array.py: stat and status), so /proc/<pid>/maps shows exactly the VMAs the model's
mm holds at that moment. /proc/<pid>/exe and /proc/<pid>/fd/N are "magic" links
(proc_nodes.py): readlink shows a name, following one reaches the file itself.

A zombie keeps its directory until it is reaped: its stat and status say Z, its maps and
cmdline are empty, its environ and auxv fail with ESRCH, and exe, cwd and root lead nowhere
(ENOENT), as its memory and files are gone. /proc lists the thread-group ids; a thread's
id is found by a lookup (/proc/<tid>) without being listed, as on Linux.

Inode numbers are handed out in the order entries are first looked up (Linux's
get_next_ino does the same), so the same run gives the same numbers."""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING, Callable

from kernel_model.files.inode import FsError, Inode
from kernel_model.files.mounts import mountinfo_text, mounts_text
from kernel_model.files.proc_array import (
    comm,
    has_mm,
    stat_text,
    statm_text,
    status_text,
    visible_threads,
)
from kernel_model.files.proc_info import (
    busy_ns,
    cpuinfo_text,
    filesystems_text,
    loadavg_text,
    meminfo_text,
    uptime_text,
)
from kernel_model.files.proc_info import stat_text as system_stat_text
from kernel_model.files.proc_layout import cmdline_bytes, environ_bytes
from kernel_model.files.proc_mem import (
    MemInode,
    PagemapInode,
    rss_split,
    smaps_rollup_text,
    smaps_text,
)
from kernel_model.files.proc_nodes import (  # noqa: F401  ExeInode: the Vfs places programs
    ExeInode,
    FdDir,
    FdLink,
    MagicLink,
    ProcDir,
    ProcFile,
    ProcLink,
)
from kernel_model.files.proc_sys import make_sys
from kernel_model.files.synthetic import PROC_DEV, InodeNumbers, StaticDir
from kernel_model.memory.mm import DEFAULT_MEMORY_LIMIT
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.files.vfs import Vfs



def version_text() -> str:
    """fs/proc/version.c: "Linux version RELEASE (BUILDER@HOST) (COMPILER) VERSION"."""
    from kernel_model.syscalls.info import UTS_RELEASE, UTS_VERSION

    return (f"Linux version {UTS_RELEASE} (syscall-lab@syscall-lab) "
            f"(the syscall-lab kernel model, Python) {UTS_VERSION}\n")


def auxv_bytes(process) -> bytes:
    """The saved auxv pairs in the process's own word size, AT_NULL pair included."""
    pairs = list(process.auxv)
    if not pairs or pairs[-1][0] != 0:
        pairs.append((0, 0))
    fmt = "<QQ" if process.arch == "x86_64" else "<II"
    mask = (1 << (64 if process.arch == "x86_64" else 32)) - 1
    return b"".join(struct.pack(fmt, k & mask, v & mask) for k, v in pairs)


class ProcRoot(ProcDir):
    """/proc: its fixed entries and the listed pids, and any live task's id on lookup."""

    def __init__(self, procfs: ProcFs, created_ns: int):
        super().__init__(PROC_DEV, 1, procfs.root_children, mode=0o555,
                         created_ns=created_ns, strict=True)
        self.procfs = procfs

    def lookup(self, name: str) -> Inode | None:
        # One directory made, not one per process as a listing needs: every path under
        # /proc starts here.
        node = self.procfs.fixed().get(name)
        if node is None and name.isdigit() and name == str(int(name)):
            task = self.procfs.find_task(int(name))
            if task is not None:
                node = self.procfs.task_dir(task, top=True)
        if node is None:
            raise FsError(errnos.ENOENT)
        return node


class ProcFs:
    def __init__(self, processes, created_ns: int):
        self.processes = processes  # the kernel's table: /proc/self is who asks
        self.created_ns = created_ns
        self._numbers = InodeNumbers(first=2)
        self._inos: dict[tuple, int] = {}
        t = created_ns
        # The model schedules every task on one CPU.
        self.cpuinfo = ProcFile(self.ino("cpuinfo"), lambda: cpuinfo_text(1).encode(),
                                created_ns=t, write_errno=errnos.EIO)
        self.meminfo = ProcFile(self.ino("meminfo"), lambda: self._meminfo().encode(),
                                created_ns=t, write_errno=errnos.EIO)
        self.version = ProcFile(self.ino("version"), lambda: version_text().encode(),
                                created_ns=t, write_errno=errnos.EIO)
        self.mounts_link = ProcLink(PROC_DEV, self.ino("mounts"), lambda: "self/mounts",
                                    created_ns=t, sized=False)
        self.random_bytes = os.urandom  # the Vfs gives the run's generator
        self.clock = None  # the Vfs gives the run's clock: uptime, stat
        self._system_files = {
            name: ProcFile(self.ino(name), (lambda make=make: make().encode()),
                           created_ns=t, write_errno=errnos.EIO)
            for name, make in (("filesystems", filesystems_text), ("loadavg", self._loadavg),
                               ("stat", self._stat), ("uptime", self._uptime))}
        self._sys: ProcDir | None = None
        self.self_link = ProcLink(PROC_DEV, self.ino("self"),
                                  lambda: str(self.task.process.pid), created_ns=t, sized=False)
        self.thread_self_link = ProcLink(
            PROC_DEV, self.ino("thread-self"),
            lambda: f"{self.task.process.pid}/task/{self.task.tid}", created_ns=t, sized=False)
        self.root = ProcRoot(self, t)
        self.vfs: Vfs | None = None  # set by the Vfs: cwd links resolve through it
        # /proc/sysvipc/{msg,sem,shm}: their texts, from the kernel's IPC objects (set by
        # the Kernel; None: no such directory).
        self.sysvipc: Callable[[str], str] | None = None
        self._sysvipc_dir: StaticDir | None = None

    # -- who asks, and who is there ------------------------------------------------------
    @property
    def task(self):
        """The task making the call: /proc/self's process, /proc/thread-self's thread."""
        return self.processes.current

    def _listed(self) -> list:
        """The processes /proc lists, by pid."""
        return sorted((p for p in self.processes if self.shown(p)), key=lambda p: p.pid)

    def shown(self, process) -> bool:
        """Not reaped; or the run's own process once every task has ended: the run is
        over, and the screen and the tests read its /proc after it (while others run,
        the shell outside the model has reaped it, and it is gone)."""
        if not process.reaped:
            return True
        return process is self.processes.first and all(
            t.state in ("Z", "X") for t in self.processes.tasks())

    def find_task(self, tid: int):
        """The task /proc/<tid> names: a process's leader, or any thread by its id."""
        process = self.processes.get(tid)
        if process is not None and self.shown(process):
            return process.main_thread
        for process in self._listed():
            for t in visible_threads(process):
                if t.tid == tid:
                    return t
        return None

    def ino(self, *key) -> int:
        number = self._inos.get(key)
        if number is None:
            number = self._inos[key] = self._numbers()
        return number

    def vfs_node(self, path: str) -> Inode | None:
        assert self.vfs is not None, "the Vfs sets itself before any lookup"
        return self.vfs.resolve(path, base="/").node

    def fixed(self) -> dict[str, Inode]:
        if self._sys is None:
            self._sys = make_sys(self)
        fixed: dict[str, Inode] = {
            "self": self.self_link, "thread-self": self.thread_self_link,
            "cpuinfo": self.cpuinfo, "meminfo": self.meminfo, "mounts": self.mounts_link,
            "sys": self._sys, "version": self.version, **self._system_files}
        if self.sysvipc is not None:
            fixed["sysvipc"] = self._sysvipc()
        return fixed

    # -- what the system-wide files read -------------------------------------------------
    def memory_limit(self) -> int:
        return getattr(self.processes.first.mm, "limit", DEFAULT_MEMORY_LIMIT)

    def mmap_min_addr(self) -> int:
        return getattr(self.processes.first.mm, "mmap_min", 0x10000)

    def _meminfo(self) -> str:
        mm = self.processes.first.mm
        resident = sum(sum(rss_split(p)) for p in self._listed() if has_mm(p))
        return meminfo_text(mm, resident)

    def _boot_ns(self) -> int:
        clock = self.clock
        return clock.boottime_ns() if clock is not None and hasattr(clock, "boottime_ns") \
            else 0

    def _tasks(self) -> list:
        return [t for t in self.processes.tasks() if t.state not in ("Z", "X")]

    def _uptime(self) -> str:
        return uptime_text(self._boot_ns(), busy_ns(self._tasks()))

    def _loadavg(self) -> str:
        tasks = self._tasks()
        running = sum(1 for t in tasks if t.state == "R")
        return loadavg_text(running, len(tasks), getattr(self.processes, "_last_pid", 0))

    def _stat(self) -> str:
        clock = self.clock
        realtime = clock.realtime_ns() if clock is not None else 0
        first = getattr(self.processes.first, "pid", 0)
        forks = getattr(self.processes, "_last_pid", first) - first + 1
        return system_stat_text(self._boot_ns(), realtime, self._tasks(), forks)

    def _mounts(self, make) -> bytes:
        assert self.vfs is not None, "the Vfs sets itself before any lookup"
        return make(self.vfs.mount_table()).encode()

    def _sysvipc(self) -> StaticDir:
        if self._sysvipc_dir is None:
            text = self.sysvipc
            assert text is not None
            files: dict[str, Inode] = {
                kind: ProcFile(self.ino("sysvipc", kind), lambda kind=kind: text(kind).encode(),
                               created_ns=self.created_ns, write_errno=errnos.EIO)
                for kind in ("msg", "sem", "shm")}
            self._sysvipc_dir = StaticDir(PROC_DEV, self.ino("sysvipc"), lambda: files,
                                          created_ns=self.created_ns, strict=True)
        return self._sysvipc_dir

    def root_children(self) -> dict[str, Inode]:
        children = self.fixed()
        for process in self._listed():
            children[str(process.pid)] = self.task_dir(process.main_thread, top=True)
        return children

    # -- /proc/<pid> and /proc/<pid>/task/<tid> -----------------------------------------
    def task_dir(self, task, *, top: bool) -> StaticDir:
        """/proc/<pid> (top: the thread group's view, with task/) or task/<tid> (the one
        thread's). Entries are made when the directory is read or walked."""
        process = task.process
        t = self.created_ns
        where = ("pid" if top else "tid", task.tid)

        def owner():
            return process.uid, process.gid

        def gone() -> None:
            if not self.shown(process):
                raise FsError(errnos.ESRCH)  # the directory outlived its process

        def text(make):
            def made() -> bytes:
                gone()
                return make()
            return made

        def needs_mm(make):
            def made() -> bytes:
                gone()
                if not has_mm(process):
                    raise FsError(errnos.ESRCH)  # proc_mem_open: no mm to read
                return make()
            return made

        def link_to(value):
            def target():
                gone()
                if not has_mm(process):
                    raise FsError(errnos.ENOENT)  # exe, cwd, root: the zombie has none
                return value()
            return target

        def alive_text(make):
            return lambda: make() if has_mm(process) else b""

        def children() -> dict[str, Inode]:
            if not self.shown(process):
                return {}
            entries: dict[str, Inode] = {
                "auxv": ProcFile(self.ino(*where, "auxv"),
                                 needs_mm(lambda: auxv_bytes(process)), mode=0o400,
                                 created_ns=t, owner=owner),
                "cmdline": ProcFile(self.ino(*where, "cmdline"),
                                    text(alive_text(lambda: cmdline_bytes(process))),
                                    created_ns=t, owner=owner),
                "comm": ProcFile(self.ino(*where, "comm"),
                                 text(lambda: (comm(process) + "\n").encode()),
                                 created_ns=t, owner=owner),
                "cwd": MagicLink(self.ino(*where, "cwd"), link_to(lambda: process.cwd),
                                 lambda: self.vfs_node(process.cwd), created_ns=t,
                                 owner=owner),
                "environ": ProcFile(self.ino(*where, "environ"),
                                    needs_mm(lambda: environ_bytes(process)), mode=0o400,
                                    created_ns=t, owner=owner),
                "exe": MagicLink(self.ino(*where, "exe"),
                                 link_to(lambda: process.guest_exe),
                                 lambda: ExeInode(process, self.created_ns), created_ns=t,
                                 owner=owner),
                "fd": self._fd_dir(process, where, owner),
                "maps": ProcFile(self.ino(*where, "maps"),
                                 text(alive_text(lambda: process.mm.maps_text().encode())),
                                 created_ns=t, owner=owner),
                "mem": MemInode(self.ino(*where, "mem"), process, created_ns=t,
                                alive=lambda: has_mm(process)),
                "mountinfo": ProcFile(self.ino(*where, "mountinfo"),
                                      text(lambda: self._mounts(mountinfo_text)),
                                      created_ns=t, owner=owner),
                "mounts": ProcFile(self.ino(*where, "mounts"),
                                   text(lambda: self._mounts(mounts_text)),
                                   created_ns=t, owner=owner),
                "pagemap": PagemapInode(self.ino(*where, "pagemap"), process, created_ns=t,
                                        alive=lambda: has_mm(process)),
                "root": ProcLink(PROC_DEV, self.ino(*where, "root"), link_to(lambda: "/"),
                                 created_ns=t, sized=False),
                "smaps": ProcFile(self.ino(*where, "smaps"),
                                  text(alive_text(lambda: smaps_text(process).encode())),
                                  created_ns=t, owner=owner),
                "smaps_rollup": ProcFile(self.ino(*where, "smaps_rollup"),
                                         needs_mm(lambda: smaps_rollup_text(
                                             process).encode()),
                                         created_ns=t, owner=owner),
                "stat": ProcFile(self.ino(*where, "stat"),
                                 text(lambda: stat_text(task, self.processes,
                                                        whole=top).encode()),
                                 created_ns=t, owner=owner),
                "statm": ProcFile(self.ino(*where, "statm"),
                                  text(lambda: (statm_text(process) if has_mm(process)
                                                else "0 0 0 0 0 0 0\n").encode()),
                                  created_ns=t, owner=owner),
                "status": ProcFile(self.ino(*where, "status"),
                                   text(lambda: status_text(task, self.processes).encode()),
                                   created_ns=t, owner=owner),
            }
            if top:
                entries["task"] = self._threads_dir(process, owner)
            return dict(sorted(entries.items()))

        d = ProcDir(PROC_DEV, self.ino(*where), children, mode=0o555, created_ns=t,
                    nlink=9 if top else 7, strict=True)
        d.uid, d.gid = owner()
        return d

    def _threads_dir(self, process, owner) -> StaticDir:
        def children() -> dict[str, Inode]:
            if not self.shown(process):
                return {}
            return {str(t.tid): self.task_dir(t, top=False) for t in visible_threads(process)}

        d = ProcDir(PROC_DEV, self.ino("task", process.pid), children, mode=0o555,
                    created_ns=self.created_ns, nlink=2 + len(visible_threads(process)),
                    strict=True)
        d.uid, d.gid = owner()
        return d

    def _fd_dir(self, process, where, owner) -> StaticDir:
        def children() -> dict[str, Inode]:
            table = process.fds
            if table is None or not has_mm(process) or not self.shown(process):
                return {}  # exit_files: a zombie has no fds
            out: dict[str, Inode] = {}
            for fd in table.fds():
                out[str(fd)] = FdLink(self.ino(*where, "fd", fd), table[fd], fd,
                                      created_ns=self.created_ns, owner=owner)
            return out

        d = FdDir(PROC_DEV, self.ino(*where, "fd"), children, mode=0o500,
                  created_ns=self.created_ns, strict=True)
        d.uid, d.gid = owner()
        return d

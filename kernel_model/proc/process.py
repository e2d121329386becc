"""A process (Linux's task_struct, the shared half: mm, files, sighand, signal_struct):
identity, credentials, its address space (Mm and the Machine behind it), files, signal
dispositions, its threads (kernel_model.proc.task) and how it ended."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from emu.machine import Machine
from kernel_model.memory.mm import Mm
from kernel_model.proc.creds import Credentials
from kernel_model.proc.task import Task

if TYPE_CHECKING:
    from emu.segments import Gdt
    from kernel_model.files.fdtable import FdTable
    from kernel_model.proc.sched import WaitQueue

# A stable pid: the same run gives the same trace. Its parent is the "shell" that ran it.
GUEST_PID = 4242
GUEST_PPID = 4241


@dataclass
class SigAction:
    handler: int = 0  # SIG_DFL 0, SIG_IGN 1, else an address
    flags: int = 0
    restorer: int = 0
    mask: int = 0


@dataclass
class Process:
    arch: str
    mm: Mm
    machine: Machine  # the CPU and memory its threads run on
    exe_path: str  # the program's host path (the trace and the screen show it)
    exe_bytes: bytes
    argv: list[str]
    envp: list[str]
    pid: int = GUEST_PID
    ppid: int = GUEST_PPID
    pgid: int = GUEST_PID  # its own process group, as a shell's job, in the shell's session
    sid: int = GUEST_PPID
    # Real, effective, saved and fs ids and the groups (kernel_model/proc/creds.py).
    creds: Credentials = field(default_factory=Credentials)
    cwd: str = "/"
    umask: int = 0o022
    auxv: list[tuple[int, int]] = field(default_factory=list)
    sigactions: dict[int, SigAction] = field(default_factory=dict)
    exit_code: int | None = None  # set by exit/exit_group
    killed_by: int | None = None  # set when a signal's default action ended it
    # Set when a stop signal stopped it: alone, with no job control in the model, nothing
    # could ever continue it, so the run ends there (System.finish says so).
    stopped_by: int | None = None
    fds: FdTable | None = None  # set up by the system
    rlimits: dict[int, tuple[int, int]] = field(default_factory=dict)
    symbols: Mapping[int, str] = field(default_factory=dict)
    # Where the program appears in the guest (/proc/self/exe, AT_EXECFN, maps) and its
    # model-assigned device and inode numbers: the host's path and numbers never reach it
    # (Vfs.place_program decides).
    guest_exe: str = ""
    exe_dev: tuple[int, int] = (0, 0)
    exe_ino: int = 0
    threads: list[Task] = field(default_factory=list)
    # The family (kernel/fork.c, kernel/exit.c): children by pid, the signal the parent
    # gets when this one exits (SIGCHLD after fork; 0 for a clone that asked for none).
    children: list[Process] = field(default_factory=list, repr=False)
    exit_signal: int = 17
    # Reaped: wait4 has collected it (or init did); it is out of the table.
    reaped: bool = False
    # A stop or continue not yet reported to a WUNTRACED / WCONTINUED waiter.
    stop_report: int | None = None  # the stopping signal
    continued_report: bool = False
    gdt: Gdt | None = field(default=None, repr=False)  # its CPU's descriptor table
    # Where the parent's wait4 sleeps: woken when a child changes state (the parent's
    # signal->wait_chldexit).
    child_wait: WaitQueue | None = field(default=None, repr=False)
    # vfork: the parent sleeps here until the child execs or exits (its vfork_done).
    vfork_done: WaitQueue | None = field(default=None, repr=False)
    vfork_released: bool = False  # it has exec'd or exited: the vfork parent may go on
    leader_code: int | None = None  # the leader's exit() code, when it ended first
    exec_done: bool = False  # it has called execve since fork (setpgid's EACCES)
    exiting: bool = False  # exit_group or a fatal signal has begun to take its threads
    # Where `sysenter` returns in this process's vDSO (i386), None without one.
    sysenter_pad: int | None = None
    # Its vDSO's signal trampolines (i386: __kernel_sigreturn, __kernel_rt_sigreturn), where
    # a handler installed without SA_RESTORER returns.
    vdso_symbols: dict[str, int] = field(default_factory=dict)
    # How many processes use this address space (shared by CLONE_VM, as mm_users): the
    # memory goes when the last one exits or execs.
    mm_users: list[int] = field(default_factory=lambda: [1], repr=False)

    def __post_init__(self) -> None:
        if not self.threads:
            self.threads.append(Task(tid=self.pid, process=self))  # the thread-group leader

    @property
    def uid(self) -> int:
        """The real uid: what signals' si_uid and wait's si_uid carry."""
        return self.creds.ruid

    @property
    def gid(self) -> int:
        return self.creds.rgid

    @property
    def main_thread(self) -> Task:
        return self.threads[0]

    @property
    def alive_threads(self) -> list[Task]:
        return [t for t in self.threads if t.state not in ("Z", "X")]

    @property
    def exited(self) -> bool:
        return (self.exit_code is not None or self.killed_by is not None
                or self.stopped_by is not None)

    @property
    def wait_status(self) -> int:
        """The status word wait4 stores: the exit code in bits 8-15, or the signal."""
        if self.killed_by is not None:
            return self.killed_by & 0x7F
        return ((self.exit_code or 0) & 0xFF) << 8

    @property
    def status(self) -> int:
        """What a shell's $? shows."""
        if self.killed_by is not None:
            return 128 + self.killed_by
        if self.stopped_by is not None:
            return 128 + self.stopped_by  # what bash's $? shows for a stopped job
        return (self.exit_code or 0) & 0xFF

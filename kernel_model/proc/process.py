"""A process (Linux's task_struct, the shared half: mm, files, sighand, signal_struct):
identity, credentials, its address space (Mm and the Machine behind it), files, signal
dispositions, its threads (kernel_model.proc.task) and how it ended."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from emu.machine import Machine
from kernel_model.memory.mm import Mm
from kernel_model.proc.task import Task

if TYPE_CHECKING:
    from kernel_model.files.fdtable import FdTable

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
    pgid: int = GUEST_PID  # its own process group and session, as a shell's job
    sid: int = GUEST_PID
    uid: int = field(default_factory=os.getuid)
    gid: int = field(default_factory=os.getgid)
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
    symbols: dict[int, str] = field(default_factory=dict)
    # Where the program appears in the guest (/proc/self/exe, AT_EXECFN, maps) and its
    # model-assigned device and inode numbers: the host's path and numbers never reach it
    # (Vfs.place_program decides).
    guest_exe: str = ""
    exe_dev: tuple[int, int] = (0, 0)
    exe_ino: int = 0
    threads: list[Task] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.threads:
            self.threads.append(Task(tid=self.pid, process=self))  # the thread-group leader

    @property
    def main_thread(self) -> Task:
        return self.threads[0]

    @property
    def exited(self) -> bool:
        return (self.exit_code is not None or self.killed_by is not None
                or self.stopped_by is not None)

    @property
    def status(self) -> int:
        """What a shell's $? shows."""
        if self.killed_by is not None:
            return 128 + self.killed_by
        if self.stopped_by is not None:
            return 128 + self.stopped_by  # what bash's $? shows for a stopped job
        return (self.exit_code or 0) & 0xFF

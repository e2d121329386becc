"""The kernel's process table: every process by pid, and the task the CPU runs (Linux's
pid hash and `current`). One process today; fork adds to it."""

from __future__ import annotations

from collections.abc import Iterator

from kernel_model.proc.process import Process
from kernel_model.proc.task import Task


class ProcessTable:
    def __init__(self, first: Process):
        self._by_pid: dict[int, Process] = {first.pid: first}
        self.current: Task = first.main_thread

    def get(self, pid: int) -> Process | None:
        return self._by_pid.get(pid)

    def __getitem__(self, pid: int) -> Process:
        return self._by_pid[pid]

    def __contains__(self, pid: object) -> bool:
        return pid in self._by_pid

    def __iter__(self) -> Iterator[Process]:
        return iter(self._by_pid.values())

    def __len__(self) -> int:
        return len(self._by_pid)

    def current_process(self) -> Process:
        """The process /proc/self names: the one whose task is running."""
        return self.current.process

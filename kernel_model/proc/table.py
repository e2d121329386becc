"""The kernel's process table: every process by pid, and the task the CPU runs (Linux's
pid hash and `current`). Pids and tids come from one counter, as in Linux: the next free
number after the last one given (kernel/pid.c's alloc_pid, without wrapping)."""

from __future__ import annotations

from collections.abc import Iterator

from kernel_model.proc.process import Process
from kernel_model.proc.task import Task


class ProcessTable:
    def __init__(self, first: Process):
        self._by_pid: dict[int, Process] = {first.pid: first}
        self.current: Task = first.main_thread
        self.first = first  # the process the user ran: its status is the run's
        self._last_pid = first.pid

    def new_pid(self) -> int:
        self._last_pid += 1
        while self._last_pid in self._by_pid:
            self._last_pid += 1
        return self._last_pid

    def add(self, process: Process) -> None:
        self._by_pid[process.pid] = process

    def discard(self, process: Process) -> None:
        """Reaped: the pid is free again."""
        self._by_pid.pop(process.pid, None)

    def tasks(self) -> Iterator[Task]:
        for process in list(self._by_pid.values()):
            yield from process.threads

    def task(self, tid: int) -> Task | None:
        for task in self.tasks():
            if task.tid == tid and task.state not in ("Z", "X"):
                return task
        return None

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

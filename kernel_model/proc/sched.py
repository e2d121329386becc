"""The scheduler: which task the one modelled CPU runs, and where the others wait
(kernel/sched/core.c and kernel/sched/wait.c, reduced to what a deterministic model needs).

The rule, written once so a trace can be explained:
- One CPU. The running task keeps it until it blocks, exits, stops, or has run a time
  slice of `timeslice` instructions while another task was runnable; a task alone on the
  CPU is never preempted (so a single-task run pays nothing for preemption).
- The run queue is first in, first out: a task made runnable (woken, created by fork or
  clone, or preempted at the end of its slice) goes to its back; the next task is always
  the one at its front.
- Nothing depends on host time but a real clock's sleep deadline: given the seed, the same
  program makes the same switches at the same instructions.

A handler that must wait raises `Blocked`: the kernel puts the task on the wait queue and
rewinds it to its trap instruction, so when it is woken it enters the same syscall again
(Linux's -ERESTARTNOINTR-style restart), and a signal that interrupts the wait turns into
EINTR or a restart by the call's restart rule (kernel/signal.c, arch/x86/kernel/signal.c).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kernel_model.entry.mechanism import Mechanism
    from kernel_model.proc.task import Task

DEFAULT_TIMESLICE = 100_000  # instructions: about 50 us of a 2 GHz CPU, a few ticks' worth

# How an interrupted wait ends when a signal is delivered (include/linux/errno.h).
ERESTARTSYS = 512  # restarted if the handler has SA_RESTART, else EINTR
ERESTARTNOINTR = 513  # always restarted
ERESTARTNOHAND = 514  # restarted only if no handler runs (pause, sigsuspend, poll)
ERESTART_RESTARTBLOCK = 516  # nanosleep: restarted with the time left, EINTR with a handler

# Task states, as /proc/PID/stat letters say them.
RUNNING, SLEEPING, STOPPED, ZOMBIE, DEAD = "R", "S", "T", "Z", "X"


class WaitQueue:
    """Tasks waiting for one thing (a pipe's data, a child's exit, a futex word)."""

    __slots__ = ("name", "waiters")

    def __init__(self, name: str = ""):
        self.name = name
        self.waiters: list[Task] = []

    def __bool__(self) -> bool:
        return bool(self.waiters)

    def __iter__(self) -> Iterator[Task]:
        return iter(list(self.waiters))


# What a task sleeps on: one queue, or several at once (poll, select and epoll_wait wait
# for whichever of their files is ready first, as each file's poll_wait() adds the task to
# that file's queue in Linux). None: nothing but a signal or a deadline wakes it.
Queues = WaitQueue | tuple[WaitQueue, ...] | None


class Blocked(Exception):  # noqa: N818  (not an error: a handler's way to say "wait")
    """Raised by a handler that must wait: the task sleeps on `queue` (None: nothing but a
    signal or `deadline_ns` wakes it; a tuple: any of those queues wakes it) and enters the
    call again when woken. `what` says what it waits for, in words, for the trace, the
    Processes pane and a deadlock report."""

    def __init__(self, queue: Queues, what: str, *, restart: int = ERESTARTSYS,
                 deadline_ns: int | None = None, interruptible: bool = True):
        super().__init__(what)
        self.queue = queue
        self.what = what
        self.restart = restart
        self.deadline_ns = deadline_ns  # on the guest's monotonic clock
        # False: only SIGKILL ends the wait (TASK_KILLABLE: vfork's wait for its child).
        self.interruptible = interruptible


@dataclass
class BlockedCall:
    """A task's syscall that waits: the call itself (to run its handler again when the task
    is woken), how it entered (to write its result as that entry path returns), and its
    trace sequence number and `<unfinished ...>` text, for the `<... resumed>` line."""

    mechanism: Mechanism
    nr: int
    name: str
    restart: int
    what: str
    seq: int = 0
    deadline_ns: int | None = None
    sdef: Any = None
    args: tuple = ()
    abi: Any = None
    insn: int = 0  # the trap instruction
    rflags: int = 0
    user_sp: int = 0  # sysenter: the user stack ebp held
    entry_texts: Any = None
    unfinished: str = ""
    interruptible: bool = True


def _each(queue: Queues) -> tuple[WaitQueue, ...]:
    if queue is None:
        return ()
    return queue if isinstance(queue, tuple) else (queue,)


class Scheduler:
    def __init__(self, timeslice: int = DEFAULT_TIMESLICE):
        self.timeslice = timeslice
        self.runqueue: deque[Task] = deque()
        self.switches = 0

    # -- state changes ---------------------------------------------------------------
    def enqueue(self, task: Task) -> None:
        """Make a task runnable: to the back of the queue."""
        task.state = RUNNING
        if task not in self.runqueue:
            self.runqueue.append(task)

    def block(self, task: Task, queue: Queues) -> None:
        task.state = SLEEPING
        task.queue = queue
        for q in _each(queue):
            if task not in q.waiters:  # the same file twice in one poll: one entry
                q.waiters.append(task)
        self._dequeue(task)

    def wake(self, task: Task) -> bool:
        """End a task's wait (its condition may hold now; it will check). False if it was
        not waiting."""
        if task.state != SLEEPING:
            return False
        self._unqueue_wait(task)
        self.enqueue(task)
        return True

    def wake_all(self, queue: WaitQueue) -> int:
        n = 0
        for task in queue:
            n += self.wake(task)
        return n

    def wake_one(self, queue: WaitQueue) -> bool:
        for task in queue:
            if self.wake(task):
                return True
        return False

    def stop(self, task: Task) -> None:
        self._unqueue_wait(task)
        task.state = STOPPED
        self._dequeue(task)

    def remove(self, task: Task, state: str) -> None:
        """The task is gone (ZOMBIE or DEAD): out of every queue."""
        self._unqueue_wait(task)
        task.state = state
        self._dequeue(task)

    def _dequeue(self, task: Task) -> None:
        # A membership test first: deque.remove's ValueError formats the task (slow).
        if task in self.runqueue:
            self.runqueue.remove(task)

    @staticmethod
    def _unqueue_wait(task: Task) -> None:
        for q in _each(task.queue):
            if task in q.waiters:  # a membership test: remove's ValueError is slow
                q.waiters.remove(task)
        task.queue = None

    # -- choosing ---------------------------------------------------------------------
    def others_runnable(self, current: Task) -> bool:
        return any(t is not current for t in self.runqueue)

    def pick_next(self, current: Task) -> Task | None:
        """The task at the front of the run queue; the current one, if still runnable,
        goes to the back first (its slice ended, or it yielded)."""
        if current.state == RUNNING and not current.process.exited:
            self._dequeue(current)
            self.runqueue.append(current)
        while self.runqueue:
            task = self.runqueue.popleft()
            if not task.process.exited:  # a process already ended (exec failure, a stop)
                return task
        return None

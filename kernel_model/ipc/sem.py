"""Semaphore sets (ipc/sem.c): arrays of counters changed by atomic groups of operations
(semop), which either all happen or wait together.

A group that cannot happen yet waits in its set's queue, in order of arrival. After every
change to a set the waiting groups are tried again in that order, and one that can happen
now is performed on its sleeper's behalf (its pid becomes sempid, its SEM_UNDO adjustments
are recorded), which is how Linux's update_queue hands semaphores on. Adjustments recorded
with SEM_UNDO are applied when the process exits (exit_sem).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kernel_model.ipc.ids import IPC_NOWAIT, Perm
from kernel_model.proc.sched import WaitQueue
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.proc.task import Task

SEMMSL, SEMMNI, SEMOPM, SEMVMX = 32000, 32000, 500, 32767
SEMMNS = SEMMNI * SEMMSL
MODEL_SEMMNS = 1 << 20  # the model's own bound: a guest cannot make the host hold 10^9
SEMAEM = SEMVMX
SEMMAP, SEMMNU, SEMUME, SEMUSZ = SEMMNS, SEMMNS, SEMOPM, 20
SEM_UNDO = 0x1000
GETPID, GETVAL, GETALL, GETNCNT, GETZCNT, SETVAL, SETALL = 11, 12, 13, 14, 15, 16, 17
SEM_STAT, SEM_INFO, SEM_STAT_ANY = 18, 19, 20


@dataclass
class Sem:
    val: int = 0
    pid: int = 0


@dataclass(eq=False)
class Pending:
    """A sleeping semop (struct sem_queue): its operations, whose undo list they charge,
    which operation blocked it (for GETNCNT/GETZCNT), and its outcome once decided."""

    task: Task
    pid: int
    sops: list[tuple[int, int, int]]
    undo: dict[int, int] | None
    blocking: int = 0
    status: int | None = None  # 0 done, -EIDRM, -ERANGE...


@dataclass(eq=False)
class SemArray:
    perm: Perm
    ctime: int
    sems: list[Sem]
    otime: int = 0
    pending: list[Pending] = field(default_factory=list)
    wait: WaitQueue = field(default_factory=lambda: WaitQueue("a semaphore"))

    @property
    def nsems(self) -> int:
        return len(self.sems)


def attempt(sma: SemArray, sops: list[tuple[int, int, int]], undo: dict[int, int] | None
            ) -> tuple[int, int]:
    """perform_atomic_semop, without changing anything: (0, _) when every operation can
    happen now, (1, i) when operation i must wait, (-EAGAIN, i) when it would wait but
    has IPC_NOWAIT, (-ERANGE, i) when a value or an undo total would leave its range."""
    vals = [s.val for s in sma.sems]
    adj = dict(undo or {})
    for i, (num, op, flg) in enumerate(sops):
        cur = vals[num]
        if op == 0 and cur:
            return (-errnos.EAGAIN if flg & IPC_NOWAIT else 1), i
        cur += op
        if cur < 0:
            return (-errnos.EAGAIN if flg & IPC_NOWAIT else 1), i
        if cur > SEMVMX:
            return -errnos.ERANGE, i
        if flg & SEM_UNDO:
            total = adj.get(num, 0) - op
            if total < -SEMAEM - 1 or total > SEMAEM:
                return -errnos.ERANGE, i
            adj[num] = total
        vals[num] = cur
    return 0, 0


def apply(sma: SemArray, sops: list[tuple[int, int, int]], undo: dict[int, int] | None,
          pid: int, now: int) -> None:
    """The operations happen: values, the undo totals, sempid, sem_otime."""
    for num, op, flg in sops:
        sma.sems[num].val += op
        sma.sems[num].pid = pid
        if flg & SEM_UNDO and undo is not None:
            undo[num] = undo.get(num, 0) - op
    sma.otime = now


def update_queue(sma: SemArray, sched, now: int) -> None:
    """After a change: the waiting groups that can happen now do, in order of arrival;
    one that changed a value starts the scan again (it may have let an earlier one go)."""
    again = True
    while again:
        again = False
        for p in list(sma.pending):
            if p.task not in sma.wait.waiters:  # a signal or its timeout ended its wait
                sma.pending.remove(p)
                continue
            result, _at = attempt(sma, p.sops, p.undo)
            if result == 1:
                continue
            sma.pending.remove(p)
            if result == 0:
                apply(sma, p.sops, p.undo, p.pid, now)
            p.status = result
            sched.wake(p.task)
            if result == 0 and any(op for _n, op, _f in p.sops):
                again = True
                break


def count_waiting(sma: SemArray, num: int, zero: bool) -> int:
    """GETNCNT / GETZCNT: sleepers whose blocking operation waits on this semaphore for
    an increase (a negative op) or for zero."""
    n = 0
    for p in sma.pending:
        if p.task not in sma.wait.waiters:
            continue
        snum, op, _flg = p.sops[p.blocking]
        if snum == num and ((zero and op == 0) or (not zero and op < 0)):
            n += 1
    return n

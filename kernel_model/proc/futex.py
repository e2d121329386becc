"""Futexes (kernel/futex/): wait queues keyed by a user address, the kernel half of every
mutex, condition variable, semaphore and pthread_join.

A waiter sleeps on the queue of its (address space, address) key, with the bitset it waits
for; a wake marks it woken and makes it runnable, so its call returns 0 when it runs again
(rather than looking at the word again, which may have changed back). A word in shared
memory (MAP_SHARED, a SysV segment: one host allocation every process maps) is keyed by
its host address instead, as Linux keys a shared futex by the page it lies in, so a
process-shared mutex or semaphore meets its waiters in every process.

The priority-inheritance operations keep their one-CPU meaning: the lock word holds the
owner's tid (and FUTEX_WAITERS when someone waits), an unlock hands the lock to the first
waiter; with one CPU and no priorities in the model, there is nothing to boost.
"""

from __future__ import annotations

from emu.hostmem import block_at
from kernel_model.proc.sched import WaitQueue

FUTEX_BITSET_MATCH_ANY = 0xFFFFFFFF
FUTEX_WAITERS = 0x80000000
FUTEX_OWNER_DIED = 0x40000000
FUTEX_TID_MASK = 0x3FFFFFFF


class FutexTable:
    def __init__(self):
        self.queues: dict[tuple[int, int], WaitQueue] = {}

    @staticmethod
    def key(mm, addr: int) -> tuple[int, int]:
        """(0, host address) for a word in shared memory, else (address space, address)."""
        host = mm.machine.backing.find(addr, addr + 4)
        if host is not None and block_at(host) is not None:
            return (0, host)
        return (id(mm), addr)

    def queue(self, mm, addr: int) -> WaitQueue:
        key = self.key(mm, addr)
        q = self.queues.get(key)
        if q is None:
            q = self.queues[key] = WaitQueue(f"futex {addr:#x}")
        return q

    def existing(self, mm, addr: int) -> WaitQueue | None:
        return self.queues.get(self.key(mm, addr))

    def tidy(self, mm, addr: int) -> None:
        key = self.key(mm, addr)
        q = self.queues.get(key)
        if q is not None and not q.waiters:
            del self.queues[key]


def futex_wake(k, process, addr: int, n: int, bitset: int = FUTEX_BITSET_MATCH_ANY) -> int:
    """Wake up to n waiters on the word whose bitset meets `bitset`; returns how many."""
    table: FutexTable = k.futexes
    q = table.existing(process.mm, addr)
    woken = 0
    if q is None:
        return 0
    for task in q:
        if woken >= n:
            break
        if task.futex_bitset & bitset:
            task.futex_woken = True
            k.sched.wake(task)
            woken += 1
    table.tidy(process.mm, addr)
    return woken


def futex_requeue(k, process, addr: int, addr2: int, wake: int, move: int) -> int:
    """Wake `wake` waiters on addr and move up to `move` others to addr2's queue; returns
    both counts together (as FUTEX_CMP_REQUEUE does)."""
    table: FutexTable = k.futexes
    q = table.existing(process.mm, addr)
    if q is None:
        return 0
    done = futex_wake(k, process, addr, wake)
    moved = 0
    q = table.existing(process.mm, addr)
    if q is not None:
        target = table.queue(process.mm, addr2)
        for task in q:
            if moved >= move:
                break
            q.waiters.remove(task)
            target.waiters.append(task)
            task.queue = target
            moved += 1
        table.tidy(process.mm, addr)
    return done + moved

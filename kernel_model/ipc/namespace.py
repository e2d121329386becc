"""The run's System V IPC objects (struct ipc_namespace), and what a process leaves
behind: its SEM_UNDO adjustments are applied when it exits (exit_sem), and a removed
segment goes once no address space maps it any more."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.hostmem import resident_bytes
from kernel_model.clock import NSEC
from kernel_model.ipc.ids import Ids
from kernel_model.ipc.shm import (
    SHM_DEST,
    SHMMNI,
    SegmentBlocks,
    ShmSegment,
    is_attachment,
)

if TYPE_CHECKING:
    from kernel_model.ipc.msg import MsgQueue
    from kernel_model.ipc.sem import SemArray


class IpcNamespace:
    def __init__(self):
        self.shm: Ids[ShmSegment] = Ids(SHMMNI)
        self.segment_blocks = SegmentBlocks()
        # Per process (pid): per semaphore set, the SEM_UNDO totals by semaphore number.
        self.undo: dict[int, dict[int, tuple[SemArray, dict[int, int]]]] = {}
        # Per waiting task (tid): the object its call waits on, and its record there, so
        # the call run again after a wake finds them even once the id is gone (EIDRM).
        self.waiting: dict[int, tuple[object, object]] = {}

    # The message queue and semaphore tables are made at their first use, and their
    # modules imported then: a run that uses neither (most) does not pay for them at its
    # start (issue 16).
    @property
    def msg(self) -> Ids[MsgQueue]:
        ids = self.__dict__.get("_msg")
        if ids is None:
            from kernel_model.ipc.msg import MSGMNI

            ids = self.__dict__["_msg"] = Ids(MSGMNI)
        return ids

    @property
    def sem(self) -> Ids[SemArray]:
        ids = self.__dict__.get("_sem")
        if ids is None:
            from kernel_model.ipc.sem import SEMMNI

            ids = self.__dict__["_sem"] = Ids(SEMMNI)
        return ids

    def undo_for(self, pid: int, sma: SemArray) -> dict[int, int]:
        """find_alloc_undo: this process's adjustments for the set."""
        per = self.undo.setdefault(pid, {})
        entry = per.get(id(sma))
        if entry is None or entry[0] is not sma:
            entry = per[id(sma)] = (sma, {})
        return entry[1]

    def forget_undo(self, sma: SemArray, num: int | None = None) -> None:
        """SETVAL/SETALL clear the adjustments for the semaphores they set; IPC_RMID all."""
        for per in self.undo.values():
            entry = per.get(id(sma))
            if entry is None or entry[0] is not sma:
                continue
            if num is None:
                entry[1].clear()
            else:
                entry[1].pop(num, None)

    def exit_process(self, pid: int, sched, clock, mm, detach: bool = True) -> None:
        """exit_sem: each live set gets the process's adjustments back, clamped to
        [0, SEMVMX], its sempid becomes the process's, and waiting groups are retried.
        Then its attachments go (exit_mmap), and removed segments they kept alive may
        go with them."""
        per = self.undo.pop(pid, None)
        if not per and not self.shm.slots:
            return  # fork's exit path: nothing to do
        realtime_ns = clock.realtime_ns()
        if per:  # undo totals exist only once a semaphore call ran: its module is loaded
            from kernel_model.ipc.sem import SEMVMX, update_queue
        for sma, adj in (per or {}).values():
            if sma.perm.deleted:
                continue
            for num, delta in adj.items():
                if delta:
                    sem = sma.sems[num]
                    sem.val = min(max(sem.val + delta, 0), SEMVMX)
                    sem.pid = pid
            update_queue(sma, sched, realtime_ns // NSEC)
        if self.shm.slots:  # (nothing to look at on fork's exit path otherwise)
            if detach:
                self.detach_all(mm, pid, realtime_ns)
            self.prune_shm(mm.pool)

    def detach_all(self, mm, pid: int, realtime_ns: int) -> None:
        """shm_close for each attachment an address space drops at exit or exec: the
        segment's shm_dtime and shm_lpid say so (its nattch follows from the VMAs)."""
        for v in mm.vmas:
            if is_attachment(v):
                seg = self.shm.get(v.inode)
                if seg is not None:
                    seg.dtime = realtime_ns // NSEC
                    seg.lpid = pid

    def prune_shm(self, pool) -> None:
        """Removed segments nobody maps any more go (shm_destroy): their host memory goes
        back once no CPU maps it."""
        for seg in self.shm.objects():
            if seg.perm.mode & SHM_DEST and seg.nattch(pool) == 0:
                self.shm.remove(seg)
                self.segment_blocks.give_back(seg.block)

    def proc_text(self, kind: str, pool) -> str:
        """/proc/sysvipc/msg, sem and shm, in ipc/msg.c's, sem.c's and shm.c's columns (a
        64-bit kernel's, whoever reads them)."""
        if kind == "msg":
            lines = ["       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid"
                     "  cuid  cgid      stime      rtime      ctime"]
            for q in self.msg.objects():
                p = q.perm
                lines.append(f"{p.key:10d} {p.id:10d}  {p.mode:4o}  {q.cbytes:10d} "
                             f"{len(q.messages):10d} {q.lspid:5d} {q.lrpid:5d} {p.uid:5d} "
                             f"{p.gid:5d} {p.cuid:5d} {p.cgid:5d} {q.stime:10d} {q.rtime:10d} "
                             f"{q.ctime:10d}")
        elif kind == "sem":
            lines = ["       key      semid perms      nsems   uid   gid  cuid  cgid      otime"
                     "      ctime"]
            for a in self.sem.objects():
                p = a.perm
                lines.append(f"{p.key:10d} {p.id:10d}  {p.mode:4o} {a.nsems:10d} {p.uid:5d} "
                             f"{p.gid:5d} {p.cuid:5d} {p.cgid:5d} {a.otime:10d} {a.ctime:10d}")
        else:
            self.prune_shm(pool)
            lines = ["       key      shmid perms                  size  cpid  lpid nattch   uid"
                     "   gid  cuid  cgid      atime      dtime      ctime                   rss"
                     "                  swap"]
            for s in self.shm.objects():
                p = s.perm
                rss = resident_bytes(s.block.host, s.block.size)
                lines.append(f"{p.key:10d} {p.id:10d}  {p.mode:4o} {s.size:21d} {s.cpid:5d} "
                             f"{s.lpid:5d}  {s.nattch(pool):5d} {p.uid:5d} {p.gid:5d} "
                             f"{p.cuid:5d} {p.cgid:5d} {s.atime:10d} {s.dtime:10d} "
                             f"{s.ctime:10d} {rss:21d} {0:21d}")
        return "".join(line + "\n" for line in lines)

"""Message queues (ipc/msg.c): typed messages in order of arrival, a byte budget per queue
(msg_qbytes), senders that wait for room and receivers that wait for a message.

As in Linux, a sender first offers its message to the receivers already waiting, in the
order they began to wait (pipelined_send): the first whose type test accepts it gets it
(or E2BIG, if its buffer is too small and it did not pass MSG_NOERROR, and the offer goes
on to the next). Only a message nobody waited for is queued.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kernel_model.ipc.ids import Perm
from kernel_model.proc.sched import WaitQueue
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.proc.task import Task

MSGMAX, MSGMNB, MSGMNI = 8192, 16384, 32000
MSGSSZ, MSGPOOL = 16, 32000 * 16384 // 1024
MSGTQL = MSGMNB
MSGSEG = min(MSGPOOL * 1024 // MSGSSZ, 0xFFFF)
MSG_NOERROR, MSG_EXCEPT, MSG_COPY = 0o10000, 0o20000, 0o40000
MSG_STAT, MSG_INFO, MSG_STAT_ANY = 11, 12, 13

# find_msg's modes (convert_mode)
SEARCH_ANY, SEARCH_EQUAL, SEARCH_NOTEQUAL, SEARCH_LESSEQUAL, SEARCH_NUMBER = range(1, 6)
LONG_MAX = (1 << 63) - 1


@dataclass
class Message:
    mtype: int
    text: bytes


@dataclass(eq=False)
class Receiver:
    """A task waiting in msgrcv (struct msg_receiver): what it accepts, and what a sender
    handed it (a Message, or -errno: E2BIG, EIDRM)."""

    task: Task
    msgtyp: int
    mode: int
    maxsize: int
    got: Message | int | None = None


@dataclass(eq=False)
class MsgQueue:
    perm: Perm
    ctime: int
    qbytes: int = MSGMNB
    messages: list[Message] = field(default_factory=list)
    cbytes: int = 0
    stime: int = 0
    rtime: int = 0
    lspid: int = 0
    lrpid: int = 0
    receivers: list[Receiver] = field(default_factory=list)
    rwait: WaitQueue = field(default_factory=lambda: WaitQueue("a message"))
    swait: WaitQueue = field(default_factory=lambda: WaitQueue("room in a message queue"))

    def fits(self, size: int) -> bool:
        """msg_fits_inqueue: the bytes and the count (one per byte of msg_qbytes)."""
        return size + self.cbytes <= self.qbytes and 1 + len(self.messages) <= self.qbytes


def convert_mode(msgtyp: int, msgflg: int) -> tuple[int, int]:
    if msgflg & MSG_COPY:
        return SEARCH_NUMBER, msgtyp
    if msgtyp == 0:
        return SEARCH_ANY, msgtyp
    if msgtyp < 0:
        return SEARCH_LESSEQUAL, LONG_MAX if msgtyp == -(1 << 63) else -msgtyp
    return (SEARCH_NOTEQUAL if msgflg & MSG_EXCEPT else SEARCH_EQUAL), msgtyp


def accepts(mtype: int, msgtyp: int, mode: int) -> bool:
    """testmsg."""
    if mode in (SEARCH_ANY, SEARCH_NUMBER):
        return True
    if mode == SEARCH_LESSEQUAL:
        return mtype <= msgtyp
    if mode == SEARCH_EQUAL:
        return mtype == msgtyp
    return mtype != msgtyp


def find(q: MsgQueue, msgtyp: int, mode: int) -> Message | None:
    """find_msg: the first accepted message; for a negative msgtyp, the first of the
    lowest type; for MSG_COPY, the msgtyp'th."""
    if mode == SEARCH_NUMBER:
        return q.messages[msgtyp] if 0 <= msgtyp < len(q.messages) else None
    if mode == SEARCH_LESSEQUAL:
        best = None
        for m in q.messages:
            if m.mtype <= msgtyp and (best is None or m.mtype < best.mtype):
                best = m
        return best
    return next((m for m in q.messages if accepts(m.mtype, msgtyp, mode)), None)


def offer(q: MsgQueue, msg: Message, sched, receiver_pid) -> bool:
    """pipelined_send: hand msg to the first waiting receiver that accepts it. True if one
    took it (its pid becomes msg_lrpid)."""
    for r in list(q.receivers):
        if r.task not in q.rwait.waiters:  # a signal ended its wait: it takes nothing
            q.receivers.remove(r)
            continue
        if not accepts(msg.mtype, r.msgtyp, r.mode):
            continue
        q.receivers.remove(r)
        if r.maxsize < len(msg.text):
            r.got = -errnos.E2BIG
            sched.wake(r.task)
            continue
        r.got = msg
        q.lrpid = receiver_pid(r.task)
        sched.wake(r.task)
        return True
    return False

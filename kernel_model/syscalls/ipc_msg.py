"""Message queue syscalls (ipc/msg.c): msgget, msgsnd, msgrcv, msgctl. The queues are
kernel_model.ipc.msg's; i386's ipc() multiplexer (ipc_mux.py) calls the same do_* functions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_model.ipc import layouts as L
from kernel_model.ipc import msg as M
from kernel_model.ipc.ids import (
    IPC_64,
    IPC_INFO,
    IPC_NOWAIT,
    IPC_RMID,
    IPC_SET,
    IPC_STAT,
    S_IRUGO,
    S_IWUGO,
    Perm,
    lookup_or_create,
    may,
    may_change,
)
from kernel_model.proc.sched import ERESTARTNOHAND, Blocked
from kernel_model.syscalls.argkinds import Hex, Int, Ptr, UInt
from kernel_model.syscalls.ipc_common import (
    LAYOUT_OLD,
    direct_cmd,
    fresh_or_retry,
    layout_bits,
    now,
    s32,
    set_owner_and_mode,
    word_size,
)
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


def do_msgget(k: SyscallContext, key: int, flg: int) -> int:
    key = s32(key)
    p = k.process

    def create() -> int:
        c = p.creds  # owner and creator: the effective ids (ipcperms)
        perm = Perm(key=key, uid=c.euid, gid=c.egid, cuid=c.euid, cgid=c.egid, mode=flg & 0o777)
        return k.ipc.msg.add(M.MsgQueue(perm, ctime=now(k)), key)

    return lookup_or_create(k.ipc.msg, key, flg, p.creds.euid, p.creds.egid, create)


def _slong(k: SyscallContext, v: int) -> int:
    bits = k.abi.bits
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def do_msgsnd(k: SyscallContext, msqid: int, msgp: int, msgsz: int, msgflg: int) -> int:
    """ksys_msgsnd and do_msgsnd, in their order of checks."""
    msqid, msgsz = s32(msqid), _slong(k, msgsz)
    retry = fresh_or_retry(k)
    ws = word_size(k)
    if retry is None:
        mtype = _slong(k, int.from_bytes(k.read(msgp, ws), "little"))
        if msgsz > M.MSGMAX or msgsz < 0 or msqid < 0:
            return -errnos.EINVAL
        if mtype < 1:
            return -errnos.EINVAL
        text = k.read(msgp + ws, msgsz)
        q = k.ipc.msg.get(msqid)
        if q is None:
            return -errnos.EINVAL
        msg = M.Message(mtype, text)
    else:
        q, msg = retry  # type: ignore[assignment]
    p = k.process
    if not may(q.perm, p.creds.euid, p.creds.egid, S_IWUGO):
        return -errnos.EACCES
    if q.perm.deleted:
        return -errnos.EIDRM
    if not q.fits(len(msg.text)):
        if msgflg & IPC_NOWAIT:
            return -errnos.EAGAIN
        k.ipc.waiting[k.current.tid] = (q, msg)
        raise Blocked(q.swait, f"room in message queue {q.perm.id}", restart=ERESTARTNOHAND)
    k.ipc.waiting.pop(k.current.tid, None)
    q.lspid = p.pid
    q.stime = now(k)
    if M.offer(q, msg, k.sched, lambda task: task.process.pid):
        q.rtime = q.stime
    else:
        q.messages.append(msg)
        q.cbytes += len(msg.text)
    return 0


def do_msgrcv(k: SyscallContext, msqid: int, msgp: int, msgsz: int, msgtyp: int,
              msgflg: int) -> int:
    """ksys_msgrcv and do_msgrcv: find a message (or wait for one), then copy it out."""
    msqid, msgsz, msgtyp = s32(msqid), _slong(k, msgsz), _slong(k, msgtyp)
    retry = fresh_or_retry(k)
    p = k.process
    got: M.Message | int | None = None
    if retry is None:
        if msqid < 0 or msgsz < 0:
            return -errnos.EINVAL
        if msgflg & M.MSG_COPY and (msgflg & M.MSG_EXCEPT or not msgflg & IPC_NOWAIT):
            return -errnos.EINVAL
        mode, typ = M.convert_mode(msgtyp, msgflg)
        q = k.ipc.msg.get(msqid)
        if q is None:
            return -errnos.EINVAL
        rec = None
    else:
        q, rec = retry  # type: ignore[assignment]
        mode, typ = rec.mode, rec.msgtyp
        got = rec.got  # a sender's message, E2BIG or EIDRM; None: a signal woke it
        if got is not None:
            k.ipc.waiting.pop(k.current.tid, None)
    if got is None:
        if not may(q.perm, p.creds.euid, p.creds.egid, S_IRUGO):
            return -errnos.EACCES
        if q.perm.deleted:
            return -errnos.EIDRM
        found = M.find(q, typ, mode)
        if found is None:
            if msgflg & IPC_NOWAIT:
                return -errnos.ENOMSG
            if rec is None or rec not in q.receivers:  # a retry keeps its place in line
                maxsize = 0x7FFFFFFF if msgflg & M.MSG_NOERROR else msgsz
                rec = M.Receiver(k.current, typ, mode, maxsize)
                q.receivers.append(rec)
            k.ipc.waiting[k.current.tid] = (q, rec)
            raise Blocked(q.rwait, f"a message on queue {q.perm.id}", restart=ERESTARTNOHAND)
        if rec is not None and rec in q.receivers:
            q.receivers.remove(rec)
        k.ipc.waiting.pop(k.current.tid, None)
        if msgsz < len(found.text) and not msgflg & M.MSG_NOERROR:
            return -errnos.E2BIG
        if not msgflg & M.MSG_COPY:
            q.messages.remove(found)
            q.cbytes -= len(found.text)
            q.rtime = now(k)
            q.lrpid = p.pid
            k.sched.wake_all(q.swait)
        got = found
    if isinstance(got, int):
        return got
    ws = word_size(k)
    size = min(msgsz, len(got.text))
    k.write(msgp, (got.mtype & ((1 << (8 * ws)) - 1)).to_bytes(ws, "little"))
    k.write(msgp + ws, got.text[:size])
    return size


def do_msgctl(k: SyscallContext, msqid: int, cmd: int, buf: int, layout: str) -> int:
    """ksys_msgctl (and its compat twin for i386)."""
    msqid, cmd = s32(msqid), s32(cmd)
    if msqid < 0 or cmd < 0:
        return -errnos.EINVAL
    bits = layout_bits(layout)
    ids = k.ipc.msg
    p = k.process
    if cmd in (IPC_INFO, M.MSG_INFO):
        queues = ids.objects()
        info = [M.MSGPOOL, M.MSGMNB, M.MSGMAX, M.MSGMNB, M.MSGMNI, M.MSGSSZ, M.MSGTQL,
                M.MSGSEG]
        if cmd == M.MSG_INFO:
            info[0] = len(queues)  # msgpool: queues in use
            info[1] = sum(len(q.messages) for q in queues)  # msgmap: messages
            info[6] = sum(q.cbytes for q in queues)  # msgtql: bytes
        k.write(buf, L.msginfo(info))
        return max(ids.max_idx(), 0)
    if cmd in (IPC_STAT, M.MSG_STAT, M.MSG_STAT_ANY):
        q = ids.at_index(msqid) if cmd != IPC_STAT else ids.get(msqid)
        if q is None:
            return -errnos.EINVAL
        if cmd != M.MSG_STAT_ANY and not may(q.perm, p.creds.euid, p.creds.egid, S_IRUGO):
            return -errnos.EACCES
        fields = (q.perm, q.stime, q.rtime, q.ctime, q.cbytes, len(q.messages), q.qbytes,
                  q.lspid, q.lrpid)
        k.write(buf, L.old_msqid_ds(*fields) if layout == LAYOUT_OLD
                else L.msqid_ds(*fields, bits))
        return 0 if cmd == IPC_STAT else q.perm.id
    if cmd in (IPC_SET, IPC_RMID):
        size = L.OLD_MSQID_DS if layout == LAYOUT_OLD else L.msqid_ds_size(bits)
        raw = k.read(buf, size) if cmd == IPC_SET else b""
        q = ids.get(msqid)
        if q is None:
            return -errnos.EINVAL
        if not may_change(q.perm, p.creds.euid):
            return -errnos.EPERM
        if cmd == IPC_RMID:
            ids.remove(q)
            for r in q.receivers:
                r.got = -errnos.EIDRM
                k.sched.wake(r.task)
            q.receivers.clear()
            k.sched.wake_all(q.swait)
            return 0
        qbytes = (L.old_msg_qbytes_in(raw) if layout == LAYOUT_OLD
                  else L.msg_qbytes_in(raw, bits))
        if qbytes > M.MSGMNB and p.creds.euid != 0:
            return -errnos.EPERM  # raising it needs CAP_SYS_RESOURCE
        q.qbytes = qbytes
        set_owner_and_mode(k, q, raw, layout, bits)
        k.sched.wake_all(q.swait)  # more room, maybe
        return 0
    return -errnos.EINVAL


@syscall("msgget", Hex(), Hex())
def sys_msgget(k: SyscallContext, key, msgflg):
    return do_msgget(k, key, msgflg)


@syscall("msgsnd", Int(), Ptr(), UInt(), Hex())
def sys_msgsnd(k: SyscallContext, msqid, msgp, msgsz, msgflg):
    return do_msgsnd(k, msqid, msgp, msgsz, msgflg)


@syscall("msgrcv", Int(), Ptr(), UInt(), Int(), Hex())
def sys_msgrcv(k: SyscallContext, msqid, msgp, msgsz, msgtyp, msgflg):
    return do_msgrcv(k, msqid, msgp, msgsz, msgtyp, msgflg)


@syscall("msgctl", Int(), Int(), Ptr())
def sys_msgctl(k: SyscallContext, msqid, cmd, buf):
    cmd, layout = direct_cmd(k, cmd)
    if k.abi.bits == 32 and cmd & IPC_64:
        cmd = _compat_ipc64_cmd(cmd & 0xFFFFFFFF)
    return do_msgctl(k, msqid, cmd, buf, layout)


def _compat_ipc64_cmd(cmd: int) -> int:
    """i386's direct msgctl with IPC_64 in the command: compat_ksys_msgctl picks the case
    without the bit but hands the command on with it, so a STAT takes an index as the
    *_STAT commands do, an INFO is an IPC_INFO, and anything else is unknown (EINVAL)."""
    base = cmd & ~IPC_64
    if base in (IPC_STAT, M.MSG_STAT, M.MSG_STAT_ANY):
        return M.MSG_STAT
    if base in (IPC_INFO, M.MSG_INFO):
        return IPC_INFO
    return -1


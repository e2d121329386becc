"""Semaphore syscalls (ipc/sem.c): semget, semop, semtimedop, semctl. The sets are
kernel_model.ipc.sem's; i386's ipc() multiplexer (ipc_mux.py) calls the same do_* functions.

A semop that cannot happen waits (ERESTARTNOHAND: with a handler it fails with EINTR, as
signal(7) says of the System V IPC calls); the set's update_queue may perform it on the
sleeper's behalf, and the call then returns 0 when it runs again.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from kernel_model.clock import NSEC
from kernel_model.ipc import layouts as L
from kernel_model.ipc import sem as S
from kernel_model.ipc.ids import (
    IPC_INFO,
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
)
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


def do_semget(k: SyscallContext, key: int, nsems: int, flg: int) -> int:
    key, nsems = s32(key), s32(nsems)
    if nsems < 0 or nsems > S.SEMMSL:
        return -errnos.EINVAL
    p = k.process

    def create() -> int:
        if nsems == 0:
            return -errnos.EINVAL
        used = sum(a.nsems for a in k.ipc.sem.objects())
        if used + nsems > S.SEMMNS:
            return -errnos.ENOSPC
        if used + nsems > S.MODEL_SEMMNS:
            k.note(f"syscall-lab keeps at most {S.MODEL_SEMMNS} semaphores in all (Linux's "
                   f"SEMMNS is {S.SEMMNS}): each is a Python object on the host")
            return -errnos.ENOSPC
        c = p.creds  # owner and creator: the effective ids (ipcperms)
        perm = Perm(key=key, uid=c.euid, gid=c.egid, cuid=c.euid, cgid=c.egid, mode=flg & 0o777)
        sma = S.SemArray(perm, ctime=now(k), sems=[S.Sem() for _ in range(nsems)])
        return k.ipc.sem.add(sma, key)

    def check(sma) -> int:
        return -errnos.EINVAL if nsems > sma.nsems else 0

    return lookup_or_create(k.ipc.sem, key, flg, p.creds.euid, p.creds.egid, create, check)


def _deadline(k: SyscallContext, timeout: int, time64: bool) -> int | None:
    if not timeout:
        return None
    wide = k.abi.bits == 64 or time64
    sec, nsec = struct.unpack("<qq" if wide else "<ii", k.read(timeout, 16 if wide else 8))
    if sec < 0 or not 0 <= nsec < NSEC:
        raise _Invalid
    return k.clock.monotonic_ns() + sec * NSEC + nsec


class _Invalid(Exception):
    pass


def do_semtimedop(k: SyscallContext, semid: int, sops_addr: int, nsops: int, timeout: int,
                  time64: bool = False) -> int:
    """do_semtimedop, in its order of checks; then perform, fail, or wait."""
    semid = s32(semid)
    retry = fresh_or_retry(k)
    p = k.process
    if retry is not None:
        sma, pend = retry  # type: ignore[misc]
        if pend.status is not None:
            k.ipc.waiting.pop(k.current.tid, None)
            return pend.status
        call = k.current.blocked
        deadline = call.deadline_ns if call is not None else None
        if deadline is not None and k.clock.monotonic_ns() >= deadline:
            _leave(sma, pend)
            k.ipc.waiting.pop(k.current.tid, None)
            return -errnos.EAGAIN
        if sma.perm.deleted:
            return -errnos.EIDRM
        if pend not in sma.pending:
            sma.pending.append(pend)
        k.ipc.waiting[k.current.tid] = (sma, pend)
        raise Blocked(sma.wait, f"semaphore set {sma.perm.id}", restart=ERESTARTNOHAND,
                      deadline_ns=deadline)
    nsops &= 0xFFFFFFFF
    if nsops < 1 or semid < 0:
        return -errnos.EINVAL
    if nsops > S.SEMOPM:
        return -errnos.E2BIG
    raw = k.read(sops_addr, 6 * nsops)
    sops = [struct.unpack_from("<HhH", raw, 6 * i) for i in range(nsops)]
    try:
        deadline = _deadline(k, timeout, time64)
    except _Invalid:
        return -errnos.EINVAL
    top = max(n for n, _op, _f in sops)
    undos = any(f & S.SEM_UNDO for _n, _op, f in sops)
    alter = any(op for _n, op, _f in sops)
    sma = k.ipc.sem.get(semid)
    if sma is None:
        return -errnos.EINVAL
    if top >= sma.nsems:
        return -errnos.EFBIG
    if not may(sma.perm, p.creds.euid, p.creds.egid, S_IWUGO if alter else S_IRUGO):
        return -errnos.EACCES
    undo = k.ipc.undo_for(p.pid, sma) if undos else None
    result, at = S.attempt(sma, sops, undo)
    if result == 0:
        S.apply(sma, sops, undo, p.pid, now(k))
        if alter:
            S.update_queue(sma, k.sched, now(k))
        return 0
    if result < 0:
        return result
    pend = S.Pending(k.current, p.pid, sops, undo, blocking=at)
    sma.pending.append(pend)
    k.ipc.waiting[k.current.tid] = (sma, pend)
    raise Blocked(sma.wait, f"semaphore set {semid}", restart=ERESTARTNOHAND,
                  deadline_ns=deadline)


def _leave(sma: S.SemArray, pend: S.Pending) -> None:
    if pend in sma.pending:
        sma.pending.remove(pend)


def do_semctl(k: SyscallContext, semid: int, semnum: int, cmd: int, arg: int,
              layout: str) -> int:
    """ksys_semctl: `arg` is the union semun as passed (a value or a pointer)."""
    semid, semnum, cmd = s32(semid), s32(semnum), s32(cmd)
    if semid < 0:
        return -errnos.EINVAL
    bits = layout_bits(layout)
    ids = k.ipc.sem
    p = k.process
    if cmd in (IPC_INFO, S.SEM_INFO):
        sets = ids.objects()
        info = [S.SEMMAP, S.SEMMNI, S.SEMMNS, S.SEMMNU, S.SEMMSL, S.SEMOPM, S.SEMUME,
                S.SEMUSZ, S.SEMVMX, S.SEMAEM]
        if cmd == S.SEM_INFO:
            info[7] = len(sets)  # semusz: sets in use
            info[9] = sum(a.nsems for a in sets)  # semaem: semaphores in use
        k.write(arg, L.seminfo(info))
        return max(ids.max_idx(), 0)
    if cmd in (IPC_STAT, S.SEM_STAT, S.SEM_STAT_ANY):
        sma = ids.at_index(semid) if cmd != IPC_STAT else ids.get(semid)
        if sma is None:
            return -errnos.EINVAL
        if cmd != S.SEM_STAT_ANY and not may(sma.perm, p.creds.euid, p.creds.egid, S_IRUGO):
            return -errnos.EACCES
        fields = (sma.perm, sma.otime, sma.ctime, sma.nsems)
        k.write(arg, L.old_semid_ds(*fields) if layout == LAYOUT_OLD
                else L.semid_ds(*fields, bits))
        return 0 if cmd == IPC_STAT else sma.perm.id
    if cmd == S.SETVAL:
        val = s32(arg)
        if val > S.SEMVMX or val < 0:
            return -errnos.ERANGE
        sma = ids.get(semid)
        if sma is None:
            return -errnos.EINVAL
        if semnum < 0 or semnum >= sma.nsems:
            return -errnos.EINVAL
        if not may(sma.perm, p.creds.euid, p.creds.egid, S_IWUGO):
            return -errnos.EACCES
        k.ipc.forget_undo(sma, semnum)
        sma.sems[semnum] = S.Sem(val, p.pid)
        sma.ctime = now(k)
        S.update_queue(sma, k.sched, now(k))
        return 0
    if cmd in (S.GETALL, S.GETVAL, S.GETPID, S.GETNCNT, S.GETZCNT, S.SETALL):
        sma = ids.get(semid)
        if sma is None:
            return -errnos.EINVAL
        if not may(sma.perm, p.creds.euid, p.creds.egid, S_IWUGO if cmd == S.SETALL else S_IRUGO):
            return -errnos.EACCES
        if cmd == S.GETALL:
            k.write(arg, struct.pack(f"<{sma.nsems}H", *(s.val for s in sma.sems)))
            return 0
        if cmd == S.SETALL:
            vals = struct.unpack(f"<{sma.nsems}H", k.read(arg, 2 * sma.nsems))
            if any(v > S.SEMVMX for v in vals):
                return -errnos.ERANGE
            k.ipc.forget_undo(sma)
            sma.sems = [S.Sem(v, p.pid) for v in vals]
            sma.ctime = now(k)
            S.update_queue(sma, k.sched, now(k))
            return 0
        if semnum < 0 or semnum >= sma.nsems:
            return -errnos.EINVAL
        if cmd == S.GETVAL:
            return sma.sems[semnum].val
        if cmd == S.GETPID:
            return sma.sems[semnum].pid
        return S.count_waiting(sma, semnum, zero=cmd == S.GETZCNT)
    if cmd in (IPC_SET, IPC_RMID):
        size = L.OLD_SEMID_DS if layout == LAYOUT_OLD else L.semid_ds_size(bits)
        raw = k.read(arg, size) if cmd == IPC_SET else b""
        sma = ids.get(semid)
        if sma is None:
            return -errnos.EINVAL
        if not may_change(sma.perm, p.creds.euid):
            return -errnos.EPERM
        if cmd == IPC_RMID:
            ids.remove(sma)
            k.ipc.forget_undo(sma)
            for pend in sma.pending:
                pend.status = -errnos.EIDRM
                k.sched.wake(pend.task)
            sma.pending.clear()
            return 0
        set_owner_and_mode(k, sma, raw, layout, bits)
        return 0
    return -errnos.EINVAL


@syscall("semget", Hex(), Int(), Hex())
def sys_semget(k: SyscallContext, key, nsems, semflg):
    return do_semget(k, key, nsems, semflg)


@syscall("semop", Int(), Ptr(), UInt())
def sys_semop(k: SyscallContext, semid, sops, nsops):
    return do_semtimedop(k, semid, sops, nsops, 0)


@syscall("semtimedop", Int(), Ptr(), UInt(), Ptr())
def sys_semtimedop(k: SyscallContext, semid, sops, nsops, timeout):
    return do_semtimedop(k, semid, sops, nsops, timeout)


@syscall("semtimedop_time64", Int(), Ptr(), UInt(), Ptr())
def sys_semtimedop_time64(k: SyscallContext, semid, sops, nsops, timeout):
    return do_semtimedop(k, semid, sops, nsops, timeout, time64=True)


@syscall("semctl", Int(), Int(), Int(), Hex())
def sys_semctl(k: SyscallContext, semid, semnum, cmd, arg):
    cmd, layout = direct_cmd(k, cmd)
    return do_semctl(k, semid, semnum, cmd, arg, layout)

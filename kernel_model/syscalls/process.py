"""Process lifetime and identity (kernel/exit.c, kernel/sys.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_model.signals.delivery import SI_TKILL, SI_USER
from kernel_model.syscalls.argkinds import Hex, Int, Ptr, Signal, UInt
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


@syscall("exit", Int(), ret="none")
def sys_exit(k: SyscallContext, code):
    """This thread only (the process ends with its last thread)."""
    from kernel_model.proc.exit import exit_thread

    exit_thread(k, k.current, code & 0xFF)
    return None


@syscall("exit_group", Int(), ret="none")
def sys_exit_group(k: SyscallContext, code):
    from kernel_model.proc.exit import exit_group

    exit_group(k, k.process, code=code & 0xFF)
    return None


@syscall("getpid")
def sys_getpid(k: SyscallContext):
    return k.process.pid


@syscall("gettid")
def sys_gettid(k: SyscallContext):
    return k.current.tid


@syscall("getppid")
def sys_getppid(k: SyscallContext):
    return k.process.ppid


@syscall("set_tid_address", Ptr())
def sys_set_tid_address(k: SyscallContext, tidptr):
    k.current.clear_child_tid = tidptr
    return k.current.tid


@syscall("set_robust_list", Ptr(), UInt())
def sys_set_robust_list(k: SyscallContext, head, length):
    expected = 24 if k.abi.bits == 64 else 12  # sizeof(struct robust_list_head)
    if length != expected:
        return -errnos.EINVAL
    k.current.robust_list = (head, length)
    return 0


@syscall("get_robust_list", Int(), Ptr(), Ptr())
def sys_get_robust_list(k: SyscallContext, pid, head_ptr, len_ptr):
    task = k.current if pid == 0 else k.processes.task(_s32(pid))
    if task is None:
        return -errnos.ESRCH
    head, length = task.robust_list
    k.write_word(head_ptr, head)
    k.write_word(len_ptr, length)
    return 0


@syscall("rseq", Ptr(), UInt(), Hex(), Hex())
def sys_rseq(k: SyscallContext, rseq, length, flags, sig):
    # Registering restartable sequences is accepted but never acted on: the model runs one
    # thread on one CPU and never preempts it, so no critical section is ever aborted.
    if flags & ~1 or length < 32:
        return -errnos.EINVAL
    if flags & 1:  # RSEQ_FLAG_UNREGISTER
        k.current.rseq = (0, 0, 0)
        return 0
    if k.current.rseq[0]:
        return -errnos.EBUSY
    if rseq % 32:
        return -errnos.EINVAL
    k.current.rseq = (rseq, length, sig)
    # cpu_id_start and cpu_id (offsets 0 and 4) tell the program it runs on CPU 0.
    k.write(rseq, bytes(8))
    k.note("rseq registered; syscall-lab never preempts, so it never restarts a sequence")
    return 0


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _live(p) -> bool:
    return not p.exited and not p.reaped


@syscall("kill", Int(), Signal())
def sys_kill(k: SyscallContext, pid, sig):
    """kill_something_info: a pid, a process group (0: the caller's, -N: group N), or every
    process but init and the caller (-1)."""
    pid = _s32(pid)
    sig &= 0xFFFFFFFF
    me = k.process
    if pid > 0:
        targets = [p for p in k.processes if p.pid == pid and _live(p)]
    elif pid == -1:
        targets = [p for p in k.processes if _live(p) and p is not me]
        if not targets and sig == 0:
            return -errnos.ESRCH
    else:
        group = me.pgid if pid == 0 else -pid
        targets = [p for p in k.processes if p.pgid == group and _live(p)]
    if not targets:
        return -errnos.ESRCH
    if sig >= 65:
        return -errnos.EINVAL  # checked once a target is found (check_kill_permission)
    allowed = [p for p in targets if may_signal(me, p, sig)]
    if not allowed:
        return -errnos.EPERM
    if sig:
        for p in allowed:
            k.signals.send_process(p, sig, SI_USER, pid=me.pid, uid=me.uid)
    return 0


SIGCONT = 18


def may_signal(sender, target, sig: int) -> bool:
    """kernel/signal.c kill_ok_by_cred: the sender's real or effective uid is the target's
    real or saved uid, or it has CAP_KILL (euid 0); SIGCONT also within the session."""
    a, b = sender.creds, target.creds
    if a.capable or {a.euid, a.ruid} & {b.suid, b.ruid}:
        return True
    return sig == SIGCONT and sender.sid == target.sid


@syscall("tkill", Int(), Signal())
def sys_tkill(k: SyscallContext, tid, sig):
    return _signal_thread(k, None, _s32(tid), sig)


@syscall("tgkill", Int(), Int(), Signal())
def sys_tgkill(k: SyscallContext, tgid, tid, sig):
    return _signal_thread(k, _s32(tgid), _s32(tid), sig)


def _signal_thread(k: SyscallContext, tgid, tid, sig):
    sig &= 0xFFFFFFFF
    if tid <= 0 or (tgid is not None and tgid <= 0):
        return -errnos.EINVAL
    task = k.processes.task(tid)
    if task is None or (tgid is not None and task.process.pid != tgid):
        return -errnos.ESRCH
    if sig >= 65:
        return -errnos.EINVAL
    if not may_signal(k.process, task.process, sig):
        return -errnos.EPERM
    if sig == 0:
        return 0
    k.signals.send_task(task, sig, SI_TKILL, pid=k.process.pid, uid=k.process.uid)
    return 0


@syscall("sched_yield")
def sys_sched_yield(k: SyscallContext):
    """To the back of the run queue: the next runnable task runs (none: this one goes on)."""
    k.yield_cpu()
    return 0


@syscall("getpgid", Int())
def sys_getpgid(k: SyscallContext, pid):
    p = k.process if pid == 0 else k.processes.get(_s32(pid))
    if p is None or not _live(p):
        return -errnos.ESRCH
    return p.pgid


@syscall("getpgrp")
def sys_getpgrp(k: SyscallContext):
    return k.process.pgid


@syscall("setpgid", Int(), Int())
def sys_setpgid(k: SyscallContext, pid, pgid):
    me = k.process
    pid, pgid = _s32(pid), _s32(pgid)
    if pgid < 0:
        return -errnos.EINVAL
    p = me if pid == 0 else k.processes.get(pid)
    if p is None or not _live(p) or (p is not me and p.ppid != me.pid):
        return -errnos.ESRCH
    if p.sid != me.sid:
        return -errnos.EPERM
    if p is not me and p.exec_done:
        return -errnos.EACCES  # a child that has exec'd keeps its group
    if p.pid == p.sid:
        return -errnos.EPERM  # a session leader
    pgid = pgid or p.pid
    if pgid != p.pid and not any(q.pgid == pgid and q.sid == me.sid and _live(q)
                                 for q in k.processes):
        return -errnos.EPERM
    p.pgid = pgid
    return 0


@syscall("getsid", Int())
def sys_getsid(k: SyscallContext, pid):
    p = k.process if pid == 0 else k.processes.get(_s32(pid))
    if p is None or not _live(p):
        return -errnos.ESRCH
    return p.sid


@syscall("setsid")
def sys_setsid(k: SyscallContext):
    me = k.process
    if me.pgid == me.pid or any(q.pgid == me.pid and _live(q) for q in k.processes):
        return -errnos.EPERM
    me.sid = me.pgid = me.pid
    return me.pid


@syscall("sched_getaffinity", Int(), UInt(), Ptr())
def sys_sched_getaffinity(k: SyscallContext, pid, size, mask):
    word = k.abi.word
    if size < word or size % word:
        return -errnos.EINVAL
    k.write(mask, (1).to_bytes(word, "little"))  # one CPU: CPU 0
    return word


@syscall("sched_setaffinity", Int(), UInt(), Ptr())
def sys_sched_setaffinity(k: SyscallContext, pid, size, mask):
    """The model has one CPU, CPU 0: a mask without it is EINVAL, as for a CPU offline."""
    if pid and k.processes.task(_s32(pid)) is None:
        return -errnos.ESRCH
    data = k.read(mask, min(size, 128))
    if not data or not data[0] & 1:
        return -errnos.EINVAL
    return 0


@syscall("getcpu", Ptr(), Ptr(), Ptr())
def sys_getcpu(k: SyscallContext, cpu, node, cache):
    if cpu:
        k.write(cpu, (0).to_bytes(4, "little"))
    if node:
        k.write(node, (0).to_bytes(4, "little"))
    return 0

"""How tasks and processes end (kernel/exit.c) and how their parent hears of it
(kernel/signal.c do_notify_parent, do_notify_parent_cldstop).

- A thread's `exit` ends that thread; the last one ends the process. `exit_group` and a
  fatal signal end every thread at once.
- A process that ends becomes a zombie until its parent reaps it with wait4/waitid; its
  children go to init (pid 1, the model's reaper: it reaps at once, as a real init does).
- The parent gets its exit signal (SIGCHLD) with si_code CLD_EXITED or CLD_KILLED, unless
  it ignores SIGCHLD or set SA_NOCLDWAIT, which also reap the child at once (no zombie).
- The process the user ran has its parent outside the model (the shell that ran
  syscall-lab): it is reaped when it ends, and its status is the run's.
"""

from __future__ import annotations

import struct

from kernel_model.proc.process import Process
from kernel_model.proc.sched import DEAD, RUNNING, STOPPED, ZOMBIE
from kernel_model.proc.task import Task
from kernel_model.trace.events import ProcessExited

INIT_PID = 1
CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_TRAPPED, CLD_STOPPED, CLD_CONTINUED = range(1, 7)
SIGCHLD = 17
SA_NOCLDSTOP, SA_NOCLDWAIT = 1, 2


def exit_thread(k, task: Task, code: int) -> None:
    """exit(2): this thread only; the process ends with it if it was the last."""
    process = task.process
    if task is process.main_thread:
        # The status the parent will see is the leader's (wait_task_zombie reads the
        # leader's exit_code), even when other threads outlive it.
        process.leader_code = code
    if len(process.alive_threads) <= 1:
        exit_group(k, process, code=process.leader_code if process.leader_code is not None
                   else code)
        return
    _release_thread(k, task)
    k.sched.remove(task, DEAD)
    if task is k.current:
        k.machine.stop()


def exit_group(k, process: Process, *, code: int | None = None,
               signo: int | None = None) -> None:
    """exit_group(2) or a fatal signal: every thread ends, the process becomes a zombie
    (or is reaped), its parent is told."""
    if process.exited:
        return
    process.exiting = True
    if signo is None:
        process.exit_code = (code or 0) & 0xFF
    else:
        process.killed_by = signo
    for t in process.threads:
        if t.state in (ZOMBIE, DEAD):
            continue
        _release_thread(k, t)
        k.sched.remove(t, ZOMBIE if t is process.main_thread else DEAD)
    fds = process.fds
    if fds is not None:
        fds.users -= 1
        if fds.users <= 0:
            fds.close_all()
    _vfork_release(k, process)
    _release_memory(k, process)
    # exit_sem, and its SysV attachments if the address space went (ipc/sem.c, ipc/shm.c)
    k.ipc.exit_process(process.pid, k.sched, k.clock, process.mm,
                       detach=process.mm_users[0] <= 0)
    _reparent_children(k, process)
    if k.listeners:
        if process.killed_by is not None:
            text = f"+++ killed by {_signame(process.killed_by)} +++"
            k.emit_after_trap(ProcessExited(process.status, None, process.killed_by, text,
                                            process.pid))
        else:
            text = f"+++ exited with {process.exit_code} +++"
            k.emit_after_trap(ProcessExited(process.status, process.exit_code, None, text,
                                            process.pid))
    _notify_parent(k, process)
    if process.main_thread is k.current or k.current.process is process:
        k.machine.stop()


def _signame(signo: int) -> str:
    from kernel_model.signals.delivery import name

    return name(signo)


def _release_thread(k, task: Task) -> None:
    """mm_release: the robust futexes it holds are marked FUTEX_OWNER_DIED (and a waiter
    woken), then CLONE_CHILD_CLEARTID's word is zeroed and its futex woken (how
    pthread_join learns the thread is gone)."""
    _exit_robust_list(k, task)
    addr = task.clear_child_tid
    process = task.process
    if addr and (len(process.alive_threads) > 1 or process.mm_users[0] > 1):
        try:
            process.machine.write(addr, struct.pack("<I", 0))
        except Exception:  # noqa: BLE001  a bad pointer: Linux ignores it too
            return
        from kernel_model.proc.futex import futex_wake

        futex_wake(k, process, addr, 1)


ROBUST_LIST_LIMIT = 2048  # kernel/futex/core.c: a list longer than this is a loop


def _exit_robust_list(k, task: Task) -> None:
    """exit_robust_list: walk the thread's robust_list_head (next, futex_offset,
    list_op_pending) and hand each lock it still holds to a waiter, marked OWNER_DIED."""
    head, _length = task.robust_list
    if not head:
        return
    m = task.process.machine
    bits = 64 if task.process.arch == "x86_64" else 32
    word = bits // 8
    fmt = "<Q" if word == 8 else "<I"

    def read_word(addr: int) -> int:
        return struct.unpack(fmt, m.read(addr, word))[0]

    try:
        entry = read_word(head)
        offset = read_word(head + word)
        pending = read_word(head + 2 * word)
    except Exception:  # noqa: BLE001  a bad list: Linux stops walking it too
        return
    if offset >> (bits - 1):
        offset -= 1 << bits
    seen = 0
    entries = []
    while entry != head and entry and seen < ROBUST_LIST_LIMIT:
        entries.append(entry)
        try:
            entry = read_word(entry)
        except Exception:  # noqa: BLE001
            break
        seen += 1
    if pending:
        entries.append(pending)
    from kernel_model.proc.futex import FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS, futex_wake

    for entry in entries:
        addr = (entry + offset) & ((1 << bits) - 1)
        try:
            value = struct.unpack("<I", m.read(addr, 4))[0]
        except Exception:  # noqa: BLE001
            continue
        if value & FUTEX_TID_MASK != task.tid:
            continue
        m.write(addr, struct.pack("<I", (value & FUTEX_WAITERS) | FUTEX_OWNER_DIED))
        if value & FUTEX_WAITERS:
            futex_wake(k, task.process, addr, 1)


def _vfork_release(k, process: Process) -> None:
    """The vfork parent waits until its child execs or exits (complete_vfork_done)."""
    if process.vfork_done is not None:
        k.sched.wake_all(process.vfork_done)
        process.vfork_released = True


def _release_memory(k, process: Process) -> None:
    """The address space goes with its last user; its CPU is dropped once it is off it."""
    process.mm_users[0] -= 1
    if process.mm_users[0] <= 0:
        process.mm.release()
        if process.machine is not k.machine:
            k.forget_machine(process.machine)


def _reparent_children(k, process: Process) -> None:
    """forget_original_parent: children go to init, which reaps those already dead."""
    for child in list(process.children):
        child.ppid = INIT_PID
        if child.exited and not child.reaped:
            reap(k, child)
    process.children = []


def _notify_parent(k, process: Process) -> None:
    parent = k.processes.get(process.ppid)
    if parent is None or process is k.processes.first or process.ppid == INIT_PID:
        reap(k, process)  # the shell outside the model, or init, reaps it at once
        return
    action = parent.sigactions.get(SIGCHLD)
    auto_reap = action is not None and (action.handler == 1 or action.flags & SA_NOCLDWAIT)
    if process.exit_signal:
        if process.killed_by is not None:
            code, status = CLD_KILLED, process.killed_by
        else:
            code, status = CLD_EXITED, process.exit_code or 0
        if not (auto_reap and process.exit_signal == SIGCHLD):
            k.signals.send_process(parent, process.exit_signal, code, pid=process.pid,
                                   uid=process.uid, status=status)
    if auto_reap:
        reap(k, process)
    if parent.child_wait is not None:
        k.sched.wake_all(parent.child_wait)


def reap(k, process: Process) -> None:
    """release_task: the zombie is gone, its pid free."""
    process.reaped = True
    for t in process.threads:
        t.state = DEAD
    parent = k.processes.get(process.ppid)
    if parent is not None and process in parent.children:
        parent.children.remove(process)
    if process is not k.processes.first:
        k.processes.discard(process)


def stop_process(k, process: Process, signo: int) -> None:
    """A stop signal's default action (do_signal_stop): every thread stops; the parent
    hears CLD_STOPPED (unless SA_NOCLDSTOP) and a WUNTRACED waiter wakes."""
    for t in process.threads:
        if t.state not in (ZOMBIE, DEAD):
            k.sched.stop(t)
    process.stop_report = signo
    process.continued_report = False
    parent = k.processes.get(process.ppid)
    if k.current.process is process:
        k.machine.stop()
    if parent is None:
        return
    action = parent.sigactions.get(SIGCHLD)
    if not (action is not None and action.flags & SA_NOCLDSTOP):
        k.signals.send_process(parent, SIGCHLD, CLD_STOPPED, pid=process.pid, uid=process.uid,
                               status=signo)
    if parent.child_wait is not None:
        k.sched.wake_all(parent.child_wait)


def continue_process(k, process: Process, report: bool) -> None:
    """SIGCONT (or SIGKILL) for a stopped process: its threads run again; the parent hears
    CLD_CONTINUED."""
    stopped = [t for t in process.threads if t.state == STOPPED]
    if not stopped:
        return
    for t in stopped:
        k.sched.enqueue(t)
    process.stop_report = None
    if not report:
        return
    process.continued_report = True
    parent = k.processes.get(process.ppid)
    if parent is None:
        return
    action = parent.sigactions.get(SIGCHLD)
    if not (action is not None and action.flags & SA_NOCLDSTOP):
        k.signals.send_process(parent, SIGCHLD, CLD_CONTINUED, pid=process.pid,
                               uid=process.uid, status=18)
    if parent.child_wait is not None:
        k.sched.wake_all(parent.child_wait)


__all__ = ["RUNNING", "continue_process", "exit_group", "exit_thread", "reap",
           "stop_process"]

"""wait4 and waitid (kernel/exit.c do_wait): collect a child's state change, or sleep until
there is one."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from kernel_model.proc.exit import CLD_CONTINUED, CLD_EXITED, CLD_KILLED, CLD_STOPPED, reap
from kernel_model.proc.sched import Blocked, WaitQueue
from kernel_model.syscalls.argkinds import Hex, Int, Ptr
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.proc.process import Process
    from kernel_model.syscalls.context import SyscallContext

WNOHANG, WUNTRACED, WSTOPPED, WEXITED, WCONTINUED = 1, 2, 2, 4, 8
WNOWAIT = 0x01000000
__WNOTHREAD, __WALL, __WCLONE = 0x20000000, 0x40000000, 0x80000000
P_ALL, P_PID, P_PGID, P_PIDFD = 0, 1, 2, 3
SIGCHLD = 17


def _candidates(k, which: str, value: int, options: int) -> list[Process]:
    me = k.process
    out = []
    for child in me.children:
        if child.reaped:
            continue
        if which == "pid" and child.pid != value:
            continue
        if which == "pgid" and child.pgid != value:
            continue
        # A child whose exit signal is not SIGCHLD is a "clone" child: waited for only
        # with __WCLONE or __WALL (eligible_child).
        clone_child = child.exit_signal != SIGCHLD
        if not options & __WALL and bool(options & __WCLONE) != clone_child:
            continue
        out.append(child)
    return out


def _what(which: str, value: int) -> str:
    if which == "pid":
        return f"wait for child {value}"
    if which == "pgid":
        return f"wait for a child in process group {value}"
    return "wait for any child"


def _change(child: Process, options: int, exited_flag: bool = True):
    """(kind, status) of a change `options` asks for: exited, stopped or continued."""
    if child.exited and exited_flag:
        return "exited"
    if child.stop_report is not None and options & WUNTRACED:
        return "stopped"
    if child.continued_report and options & WCONTINUED:
        return "continued"
    return None


def _block(k, which: str, value: int) -> Blocked:
    me = k.process
    if me.child_wait is None:
        me.child_wait = WaitQueue(f"children of {me.pid}")
    return Blocked(me.child_wait, _what(which, value))


def _select(k, pid: int) -> tuple[str, int]:
    pid &= 0xFFFFFFFF  # a pid_t: the upper half of a 64-bit register does not count
    pid = pid - (1 << 32) if pid >> 31 else pid
    if pid < -1:
        return "pgid", -pid
    if pid == -1:
        return "any", 0
    if pid == 0:
        return "pgid", k.process.pgid
    return "pid", pid


def _rusage(k, addr: int) -> None:
    if addr:
        k.write(addr, bytes(144 if k.abi.bits == 64 else 72))


@syscall("wait4", Int(), Ptr(), Hex(), Ptr())
def sys_wait4(k: SyscallContext, pid, wstatus, options, rusage):
    if options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL | __WCLONE):
        return -errnos.EINVAL
    which, value = _select(k, pid)
    children = _candidates(k, which, value, options)
    if not children:
        return -errnos.ECHILD
    for child in children:
        kind = _change(child, options)
        if kind is None:
            continue
        if kind == "exited":
            status = child.wait_status
            reap(k, child)
        elif kind == "stopped":
            status = ((child.stop_report or 0) << 8) | 0x7F
            child.stop_report = None
        else:
            status = 0xFFFF
            child.continued_report = False
        if wstatus:
            k.write(wstatus, struct.pack("<i", status))
        _rusage(k, rusage)
        return child.pid
    if options & WNOHANG:
        return 0
    raise _block(k, which, value)


@syscall("waitpid", Int(), Ptr(), Hex())
def sys_waitpid(k: SyscallContext, pid, wstatus, options):
    return sys_wait4(k, pid, wstatus, options, 0)


def _siginfo(k, infop: int, child: Process | None, code: int, status: int) -> None:
    if not infop:
        return
    if k.abi.bits == 64:
        head = struct.pack("<iiii", SIGCHLD if child else 0, 0, code if child else 0, 0)
        body = struct.pack("<iiiqq", child.pid if child else 0, child.uid if child else 0,
                           status, 0, 0)
        data = head + body
    else:
        data = struct.pack("<iiiiiiii", SIGCHLD if child else 0, 0, code if child else 0,
                           child.pid if child else 0, child.uid if child else 0, status, 0, 0)
    k.write(infop, data + bytes(128 - len(data)))


@syscall("waitid", Int(), Int(), Ptr(), Hex(), Ptr())
def sys_waitid(k: SyscallContext, idtype, ident, infop, options, rusage):
    if options & ~(WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | __WNOTHREAD | __WALL
                   | __WCLONE) or not options & (WEXITED | WSTOPPED | WCONTINUED):
        return -errnos.EINVAL
    if idtype == P_ALL:
        which, value = "any", 0
    elif idtype == P_PID:
        which, value = "pid", ident
    elif idtype == P_PGID:
        which, value = "pgid", ident or k.process.pgid
    elif idtype == P_PIDFD:
        k.note("waitid: pidfds are not modelled")
        return -errnos.EINVAL
    else:
        return -errnos.EINVAL
    children = _candidates(k, which, value, options)
    if not children:
        return -errnos.ECHILD
    wants = (WUNTRACED if options & WSTOPPED else 0) | (options & WCONTINUED)
    for child in children:
        kind = _change(child, wants, exited_flag=bool(options & WEXITED))
        if kind is None:
            continue
        if kind == "exited":
            if child.killed_by is not None:
                code, status = CLD_KILLED, child.killed_by
            else:
                code, status = CLD_EXITED, child.exit_code or 0
            if not options & WNOWAIT:
                reap(k, child)
        elif kind == "stopped":
            code, status = CLD_STOPPED, child.stop_report or 0
            if not options & WNOWAIT:
                child.stop_report = None
        else:
            code, status = CLD_CONTINUED, 18
            if not options & WNOWAIT:
                child.continued_report = False
        _siginfo(k, infop, child, code, status)
        _rusage(k, rusage)
        return 0
    if options & WNOHANG:
        _siginfo(k, infop, None, 0, 0)
        return 0
    raise _block(k, which, value)

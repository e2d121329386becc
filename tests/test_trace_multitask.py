"""The trace of a run with many tasks reads like `strace -f`.

The expected lines were printed by strace 6.1 (`strace -f`, in a fresh pid namespace so the
pids are small) on this project's Linux 6.18 host, tracing small static C programs (glibc
and musl, x86_64 and gcc -m32): fork + wait4, pthreads and their futexes, exit_group with a
thread waiting, kill, stop and continue, waitid, and raw futex calls. The first part feeds
the printer and the decoder synthetic events and guest memory (fast, pure); the last part
runs small assembly guests end to end and checks their exact lines.
"""

from __future__ import annotations

import json
import struct

import pytest
from conftest import cli, run_guest
from test_strace_format import FakeMem

import kernel_model.syscalls  # noqa: F401  (registers the handlers and their argument kinds)
from kernel_model.entry.mechanism import Mechanism
from kernel_model.syscalls.registry import SyscallDef, lookup
from kernel_model.trace import strace
from kernel_model.trace.events import (
    ProcessExited,
    ProcessForked,
    ProcessStarted,
    RunStopped,
    SignalDelivered,
    SyscallBlocked,
    SyscallEntered,
    SyscallReturned,
    TaskSwitched,
)
from kernel_model.trace.lines import TaskLines
from kernel_model.trace.tracers import JsonTracer, Summary
from kernel_model.uapi import constants as C

X64, I386 = "x86_64", "i386"


# -- a synthetic run: events as the kernel emits them -----------------------------------------
class Run:
    """Builds the event stream of a run, decoding each call the way the kernel does
    (decode_entry, the handler, decode_exit, format_line; format_unfinished when it waits,
    format_resumed when it ends)."""

    def __init__(self, pid: int, abi: str = X64):
        self.abi, self.mem, self.seq = abi, FakeMem(), 0
        self.events: list = [ProcessStarted(abi, "/prog", ("/prog",), (), (), 0, 0, pid)]
        self.current = (pid, pid)
        self.waiting: dict[int, tuple] = {}

    def _texts(self, name, args):
        # A call the model does not implement (pause) still has strace's decoding.
        sdef = lookup(self.abi, name) or SyscallDef(name, lambda *a: 0, (), "int", 0)
        return sdef, strace.decode_entry(sdef, self.abi, args, self.mem)

    def _returned(self, name, args, ret, text, resumed_from=0):
        self.seq += 1
        return SyscallReturned(self.seq, Mechanism.SYSCALL, self.abi, 0, name, tuple(args), ret,
                               0, 0, text, resumed_from=resumed_from)

    def call(self, name, *args, ret=0):
        sdef, entry = self._texts(name, args)
        self.seq += 1
        self.events.append(SyscallEntered(self.seq, Mechanism.SYSCALL, self.abi, "", "", 0, name,
                                          True, tuple(args), 0, {}, ()))
        texts = strace.decode_exit(sdef, self.abi, args, ret, self.mem, entry)
        text = strace.format_line(strace.format_call(name, texts), ret, sdef.ret, self.abi)
        self.events.append(SyscallReturned(self.seq, Mechanism.SYSCALL, self.abi, 0, name,
                                           tuple(args), ret, 0, 0, text))

    def block(self, name, *args):
        sdef, entry = self._texts(name, args)
        self.seq += 1
        self.events.append(SyscallEntered(self.seq, Mechanism.SYSCALL, self.abi, "", "", 0, name,
                                          True, tuple(args), 0, {}, ()))
        unfinished = strace.format_unfinished(name, entry)
        pid, tid = self.current
        self.events.append(SyscallBlocked(self.seq, name, "waits", unfinished, pid, tid))
        self.waiting[tid] = (sdef, args, entry, unfinished, self.seq)

    def resume(self, ret):
        sdef, args, entry, unfinished, seq = self.waiting.pop(self.current[1])
        texts = strace.decode_exit(sdef, self.abi, args, ret, self.mem, entry)
        full = strace.format_line(strace.format_call(sdef.name, texts), ret, sdef.ret, self.abi)
        text = strace.format_resumed(sdef.name, unfinished, full)
        self.events.append(self._returned(sdef.name, args, ret, text, resumed_from=seq))

    def interrupted(self, errno):
        """A signal ends the wait (end_interrupted): the arguments still to show are
        addresses."""
        sdef, args, entry, unfinished, seq = self.waiting.pop(self.current[1])
        texts = [t if t is not None else strace.addr_text(a)
                 for t, a in zip(entry, args, strict=False)]
        full = strace.format_line(strace.format_call(sdef.name, texts), -errno, sdef.ret,
                                  self.abi)
        text = strace.format_resumed(sdef.name, unfinished, full)
        self.events.append(self._returned(sdef.name, args, -errno, text, resumed_from=seq))

    def fork(self, child, thread=False):
        pid = self.current[0] if thread else child
        self.events.append(ProcessForked(self.current[0], self.current[1], pid, child, thread, 0,
                                         ""))

    def switch(self, tid, pid=None):
        pid = tid if pid is None else pid
        prev = self.current
        self.current = (pid, tid)
        self.events.append(TaskSwitched(prev[0], prev[1], pid, tid, "", "S"))

    def signal(self, signo, code=0, **info):
        text = strace.format_signal(signo, code, 0, **info)
        action = "stopped" if signo == 19 else "killed" if signo == 9 else "handler"
        self.events.append(SignalDelivered(signo, C.signal_name(signo), code, "", 0, 0, 0,
                                           action, text))

    def exited(self, code, pid=None):
        pid = self.current[0] if pid is None else pid
        self.events.append(ProcessExited(code, code, None, f"+++ exited with {code} +++", pid))

    def killed(self, signo, pid):
        self.events.append(ProcessExited(128 + signo, None, signo, strace.format_killed(signo),
                                         pid))

    def lines(self, **options) -> list[str]:
        printer = TaskLines(**options)
        out = []
        for event in self.events:
            out += printer.feed(event)
        return out + printer.finish()


def status_word(mem: FakeMem, addr: int, status: int) -> int:
    return mem.put(addr, struct.pack("<i", status))


# -- the [pid N] prefix, <unfinished ...> and <... resumed> -----------------------------------
def test_fork_and_wait4_read_as_strace_f_prints_them():
    """gcc -m32 -static fork.c: the child sets its robust list, exits 7; the parent waits."""
    r = Run(4, I386)
    status_word(r.mem, 0xff82be0c, 7 << 8)
    r.fork(5)
    r.call("clone", 0x1200011, 0, 0, 0, 0x90893e8, ret=5)
    r.block("wait4", 5, 0xff82be0c, 0, 0)
    r.switch(5)
    r.call("set_robust_list", 0x90893ec, 12)
    r.call("exit_group", 7, ret=None)
    r.exited(7)
    r.switch(4)
    r.resume(5)
    r.signal(17, 1, pid=5, uid=0, status=7)
    r.call("exit_group", 7, ret=None)
    r.exited(7)
    assert r.lines() == [
        "clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, "
        "child_tidptr=0x90893e8) = 5",
        "[pid     4] wait4(5,  <unfinished ...>",
        "[pid     5] set_robust_list(0x90893ec, 12) = 0",
        "[pid     5] exit_group(7)               = ?",
        "[pid     5] +++ exited with 7 +++",
        "<... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 7}], 0, NULL) = 5",
        "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=5, si_uid=0, si_status=7, "
        "si_utime=0, si_stime=0} ---",
        "exit_group(7)                           = ?",
        "+++ exited with 7 +++",
    ]


def test_a_wait_with_nothing_printed_meanwhile_is_one_line():
    """strace cuts a line only when another task has something to say."""
    r = Run(4)
    r.mem.put(0x7000, struct.pack("<qq", 0, 10000000))
    r.block("clock_nanosleep", 0, 0, 0x7000, 0)
    r.resume(0)
    assert r.lines() == [
        "clock_nanosleep(CLOCK_REALTIME, 0, {tv_sec=0, tv_nsec=10000000}, NULL) = 0"]


def test_threads_and_their_futexes():
    """musl pthread_create and pthread_join (thrm.c), the lines as strace -f printed them:
    a futex wait has every argument at entry (no ", " before `<unfinished ...>`), and the
    thread's exit has its own `+++ exited` line while the process lives on."""
    r = Run(4)
    r.mem.put(0x409810, struct.pack("<i", 5))
    r.fork(5, thread=True)
    r.call("clone", 0x7d0f00, 0x7f2c82708ef8, 0x409810, 0x409810, 0x7f2c82708f38, ret=5)
    r.call("rt_sigprocmask", 2, r.mem.put(0x3000, bytes(8)), 0, 8)
    r.block("futex", 0x7f2c82708f70, 0x80, 2, 0, 0, 0)
    r.switch(5, 4)
    r.call("futex", 0x7f2c82708f70, 0x81, 1, 0, 0, 0, ret=1)
    r.call("exit", 0, ret=None)
    r.switch(4)
    r.resume(0)
    r.call("munmap", 0x7f2c826c3000, 143360)
    assert r.lines() == [
        "clone(child_stack=0x7f2c82708ef8, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|"
        "CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID|"
        "0x400000, parent_tid=[5], tls=0x7f2c82708f38, child_tidptr=0x409810) = 5",
        "[pid     4] rt_sigprocmask(SIG_SETMASK, [], NULL, 8) = 0",
        "[pid     4] futex(0x7f2c82708f70, FUTEX_WAIT_PRIVATE, 2, NULL <unfinished ...>",
        "[pid     5] futex(0x7f2c82708f70, FUTEX_WAKE_PRIVATE, 1) = 1",
        "[pid     5] exit(0)                     = ?",
        "[pid     5] +++ exited with 0 +++",
        "<... futex resumed>)                    = 0",
        "munmap(0x7f2c826c3000, 143360)          = 0",
    ]


def test_both_tasks_cut_each_others_lines():
    """Two tasks alternating, as strace prints them: each line waiting for the other is cut
    (`<unfinished ...>`) and ends in a `<... NAME resumed>` line of its own."""
    r = Run(4)
    r.fork(5)
    r.call("fork", ret=5)
    r.block("read", 3, 0x7ffd0000, 1)
    r.switch(5)
    r.block("close", 4)
    r.switch(4)
    r.mem.put(0x7ffd0000, b"x")
    r.resume(1)
    r.switch(5)
    r.resume(0)
    assert r.lines() == [
        "fork()                                  = 5",
        "[pid     4] read(3,  <unfinished ...>",
        "[pid     5] close(4 <unfinished ...>",
        '[pid     4] <... read resumed>"x", 1)   = 1',
        "[pid     5] <... close resumed>)        = 0",
    ]


def test_exit_group_ends_the_other_threads_waiting_calls():
    """eg.c / eg2.c: one thread calls exit_group while another waits in pause or read;
    strace never sees those calls return: `= ?`, with ` <unfinished ...>` where arguments
    were left for the exit. The leader's `+++` line comes last, when it is alone."""
    r = Run(4)
    r.fork(5, thread=True)
    r.call("clone", 0x7d0f00, 0x7f00, 0x409810, 0x409810, 0x7f38, ret=5)
    r.switch(5, 4)
    r.block("read", 3, 0x7f4d3b5b924c, 4)
    r.switch(4)
    r.call("exit_group", 4, ret=None)
    r.exited(4)
    lines = r.lines()
    assert lines[1:] == [
        "[pid     5] read(3,  <unfinished ...>",
        "[pid     4] exit_group(4)               = ?",
        "[pid     5] <... read resumed> <unfinished ...>) = ?",
        "[pid     5] +++ exited with 4 +++",
        "+++ exited with 4 +++",
    ]


def test_a_call_whose_arguments_were_all_shown_ends_without_unfinished():
    r = Run(4)
    r.fork(5, thread=True)
    r.call("clone", 0x7d0f00, 0x7f00, 0x409810, 0x409810, 0x7f38, ret=5)
    r.switch(5, 4)
    r.block("futex", 0x409164, 0x80, 2, 0, 0, 0)
    r.switch(4)
    r.call("exit_group", 4, ret=None)
    r.exited(4)
    assert r.lines()[3:5] == ["[pid     5] <... futex resumed>)        = ?",
                              "[pid     5] +++ exited with 4 +++"]


def test_sigkill_in_a_wait_ends_it_unseen():
    """eg2.c: kill(child, SIGKILL) while the child waits in read. The kernel ends the wait
    (-ERESTARTSYS) before the signal kills it; strace sees neither: `= ?`, no --- SIGKILL."""
    r = Run(4)
    r.fork(6)
    r.call("fork", ret=6)
    r.switch(6)
    r.block("read", 3, 0x7ffc0000, 4)
    r.switch(4)
    r.call("kill", 6, 9)
    r.block("wait4", 6, 0, 0, 0)
    r.switch(6)
    r.interrupted(512)
    r.signal(9)
    r.killed(9, 6)
    r.switch(4)
    r.resume(6)
    assert r.lines()[1:] == [
        "[pid     6] read(3,  <unfinished ...>",
        "[pid     4] kill(6, SIGKILL)            = 0",
        "[pid     4] wait4(6,  <unfinished ...>",
        "[pid     6] <... read resumed> <unfinished ...>) = ?",
        "[pid     6] +++ killed by SIGKILL +++",
        "<... wait4 resumed>NULL, 0, NULL)       = 6",
    ]


def test_a_wait_ended_by_another_signal_shows_the_restart():
    """par.c: SIGTERM ends the child's pause (its default action kills it after)."""
    r = Run(4)
    r.fork(6)
    r.call("fork", ret=6)
    r.switch(6)
    r.block("pause")
    r.switch(4)
    r.call("kill", 6, 15)
    r.switch(6)
    r.interrupted(514)
    r.signal(15, 0, pid=4, uid=0)
    r.killed(15, 6)
    assert r.lines()[1:] == [
        "[pid     6] pause( <unfinished ...>",
        "[pid     4] kill(6, SIGTERM)            = 0",
        "[pid     6] <... pause resumed>)        = ? ERESTARTNOHAND (To be restarted if no "
        "handler)",
        "[pid     6] --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=4, si_uid=0} ---",
        "[pid     6] +++ killed by SIGTERM +++",
    ]


def test_a_leader_that_exits_first_is_reported_last():
    """The leader's exit(0) while a thread runs: Linux reports the leader's death only once
    its last thread is gone, so its `+++` line comes last, when it is alone."""
    r = Run(4)
    r.fork(5, thread=True)
    r.call("clone", 0x7d0f00, 0x7f00, 0x409810, 0x409810, 0x7f38, ret=5)
    r.call("exit", 0, ret=None)
    r.switch(5, 4)
    r.call("getpid", ret=4)
    r.call("exit", 0, ret=None)
    r.exited(0)
    assert r.lines()[1:] == [
        "[pid     4] exit(0)                     = ?",
        "[pid     5] getpid()                    = 4",
        "[pid     5] exit(0)                     = ?",
        "[pid     5] +++ exited with 0 +++",
        "+++ exited with 0 +++",
    ]


def test_a_limit_of_the_model_is_nobodys_line():
    r = Run(4)
    r.fork(5)
    r.call("fork", ret=5)
    r.block("wait4", 5, 0, 0, 0)
    r.events.append(RunStopped("deadlock", 0, "deadlock: every task is blocked"))
    assert r.lines()[1:] == ["[pid     4] wait4(5,  <unfinished ...>",
                             "deadlock: every task is blocked"]


def test_a_stop_signal_says_stopped():
    r = Run(4)
    r.fork(5)
    r.call("fork", ret=5)
    r.call("kill", 5, 19)
    r.switch(5)
    r.signal(19, 0, pid=4, uid=0)
    assert r.lines()[2:] == [
        "[pid     5] --- SIGSTOP {si_signo=SIGSTOP, si_code=SI_USER, si_pid=4, si_uid=0} ---",
        "[pid     5] --- stopped by SIGSTOP ---",
    ]


def test_the_first_process_stopping_says_it_once():
    r = Run(4)
    r.signal(19, 0, pid=4, uid=0)
    r.events.append(RunStopped("stopped", 0, "--- stopped by SIGSTOP ---"))
    assert r.lines()[1:] == ["--- stopped by SIGSTOP ---"]


def test_vfork_waits_until_the_child_exits():
    r = Run(4)
    r.fork(5)
    r.block("vfork")
    r.switch(5)
    r.call("exit_group", 2, ret=None)
    r.exited(2)
    r.switch(4)
    r.resume(5)
    assert r.lines() == [
        "vfork( <unfinished ...>",
        "[pid     5] exit_group(2)               = ?",
        "[pid     5] +++ exited with 2 +++",
        "<... vfork resumed>)                    = 5",
    ]


def test_clone3_resumed_shows_what_the_kernel_wrote_back():
    """thr32.c's second pthread_create, cut by the new thread's first line."""
    r = Run(4, I386)
    args = (0x3d0f00, 0, 0xf7796ba8, 0xf7796ba8, 0, 0xf6f96000, 0x8007c0, 0xf7796b40)
    r.mem.put(0x1000, struct.pack("<11Q", *args, 0, 0, 0))
    r.mem.put(0xf7796b40, struct.pack("<IIII", 12, 0xf7796b40, 0xfffff, 0x51))
    r.mem.put(0xf7796ba8, struct.pack("<i", 6))
    r.fork(6, thread=True)
    r.block("clone3", 0x1000, 88)
    r.switch(6, 4)
    r.call("rseq", 0xf7796fe0, 0x20, 0, 0x53053053)
    r.switch(4)
    r.resume(6)
    lines = r.lines()
    assert lines[0] == (
        "clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|"
        "CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0xf7796ba8, "
        "parent_tid=0xf7796ba8, exit_signal=0, stack=0xf6f96000, stack_size=0x8007c0, "
        "tls={entry_number=12, base_addr=0xf7796b40, limit=0x0fffff, seg_32bit=1, contents=0, "
        "read_exec_only=0, limit_in_pages=1, seg_not_present=0, useable=1}} <unfinished ...>")
    assert lines[1:] == [
        "[pid     6] rseq(0xf7796fe0, 0x20, 0, 0x53053053) = 0",
        "[pid     4] <... clone3 resumed> => {parent_tid=[6]}, 88) = 6",
    ]


def test_to_a_file_the_prefix_is_the_pid_column():
    """strace -o FILE (-f): `5     write(...)`, the column counted from the line's start."""
    r = Run(4)
    r.fork(5)
    r.call("fork", ret=5)
    r.switch(5)
    r.call("getpid", ret=5)
    assert r.lines(to_file=True) == ["fork()                                  = 5",
                                     "5     getpid()                          = 5"]
    assert r.lines(to_file=True, always=True)[0] == "4     fork()                            = 5"


def test_the_events_trace_puts_the_mechanism_after_the_prefix():
    r = Run(4)
    r.fork(5)
    r.call("fork", ret=5)
    r.switch(5)
    r.call("getpid", ret=5)
    assert r.lines(mechanisms=True) == [
        "[syscall] fork()                                  = 5",
        "[pid     5] [syscall] getpid()                    = 5"]


def test_one_task_alone_has_no_prefix_and_the_old_lines():
    r = Run(4)
    r.call("getpid", ret=4)
    r.call("exit_group", 0, ret=None)
    r.exited(0)
    assert r.lines() == ["getpid()                                = 4",
                         "exit_group(0)                           = ?", "+++ exited with 0 +++"]


def test_the_line_halves_survive_a_plain_string():
    """A line read back from text (a recording) still splits where the result starts."""
    line = strace.format_line('write(1, "a = b", 5)', 5)
    assert strace.split_line(str(line)) == ('write(1, "a = b", 5)', "5")
    unfinished = strace.format_unfinished("wait4", ["-1", None, "0", "NULL"])
    assert unfinished == "wait4(-1,  <unfinished ...>"
    assert strace.format_resumed("wait4", str(unfinished), strace.format_line(
        "wait4(-1, NULL, 0, NULL)", 5)) == "<... wait4 resumed>NULL, 0, NULL)       = 5"


# -- the decoders, against strace 6.1's lines ------------------------------------------------
def line(abi, name, args, ret, mem=None):
    mem = mem or FakeMem()
    sdef = lookup(abi, name)
    mask = (1 << (64 if abi == X64 else 32)) - 1
    args = tuple(a & mask for a in args)
    entry = strace.decode_entry(sdef, abi, args, mem)
    texts = strace.decode_exit(sdef, abi, args, ret, mem, entry)
    return strace.format_line(strace.format_call(name, texts), ret, sdef.ret, abi)


@pytest.mark.parametrize("abi, args, ret, expected", [
    (X64, (0x1200011, 0, 0, 0x11f9d650, 0), 14698,
     "clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, "
     "child_tidptr=0x11f9d650) = 14698"),
    # i386 passes tls before child_tidptr: the same line
    (I386, (0x1200011, 0, 0, 0, 0x90893e8), 5,
     "clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, "
     "child_tidptr=0x90893e8) = 5"),
    (X64, (0x11, 0, 0, 0, 0), 24281, "clone(child_stack=NULL, flags=SIGCHLD)  = 24281"),
    (X64, (0, 0x1000, 0, 0, 0), 24282, "clone(child_stack=0x1000, flags=0)      = 24282"),
    (X64, (0x80000000 | 0x400000 | 0x100000, 0x1000, 0x2000, 0x3000, 0x4000), 24283,
     "clone(child_stack=0x1000, flags=CLONE_PARENT_SETTID|CLONE_IO|0x400000, "
     "parent_tid=0x2000) = 24283"),
    (X64, (0x1000 | 0x100000, 0x1000, 0x2000, 0x3000, 0x4000), -22,
     "clone(child_stack=0x1000, flags=CLONE_PIDFD|CLONE_PARENT_SETTID, parent_tid=0x2000) = "
     "-1 EINVAL (Invalid argument)"),
])
def test_clone(abi, args, ret, expected):
    assert line(abi, "clone", args, ret) == expected


def test_clone3():
    mem = FakeMem()
    mem.put(0x5000, struct.pack("<11Q", 0x4100, 0, 0, 0, 17, 0x7fdef6fdf000, 0x9000, 0, 0, 0,
                                0))
    assert line(X64, "clone3", (0x5000, 88), 6, mem) == (
        "clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD, stack=0x7fdef6fdf000, "
        "stack_size=0x9000}, 88) = 6")
    mem.put(0x6000, struct.pack("<11Q", 0x3d0f00, 0, 0x7fa818aa9990, 0x7fa818aa9990, 0,
                                0x7fa8182a9000, 0x800300, 0x7fa818aa96c0, 0, 0, 0))
    mem.put(0x7fa818aa9990, struct.pack("<i", 5))
    assert line(X64, "clone3", (0x6000, 88), 5, mem) == (
        "clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|"
        "CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7fa818aa9990, "
        "parent_tid=0x7fa818aa9990, exit_signal=0, stack=0x7fa8182a9000, stack_size=0x800300, "
        "tls=0x7fa818aa96c0} => {parent_tid=[5]}, 88) = 5")
    assert line(X64, "clone3", (0, 88), -14, mem) == (
        "clone3(NULL, 88)                        = -1 EFAULT (Bad address)")
    assert line(X64, "clone3", (0x1000, 10), -22, mem) == (
        "clone3(0x1000, 10)                      = -1 EINVAL (Invalid argument)")
    mem.put(0x8000, struct.pack("<11Q", 0x80000000 | 0x100000000, 0, 0, 0, 77, 0, 0, 0, 0, 0,
                                0))
    assert line(X64, "clone3", (0x8000, 88), -22, mem) == (
        "clone3({flags=CLONE_IO|CLONE_CLEAR_SIGHAND, exit_signal=77, stack=NULL, "
        "stack_size=0}, 88) = -1 EINVAL (Invalid argument)")
    mem.put(0x9000, struct.pack("<11Q", 0x1000 | 0x100000 | 0x80000 | 0x200000000, 0x5000,
                                0x6000, 0x7000, 17, 0x8000, 0x100, 0x9000, 0xa000, 2, 7))
    assert line(X64, "clone3", (0x9000, 80), -22, mem) == (
        "clone3({flags=CLONE_PIDFD|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_INTO_CGROUP, "
        "pidfd=0x5000, parent_tid=0x7000, exit_signal=SIGCHLD, stack=0x8000, stack_size=0x100, "
        "tls=0x9000, set_tid=0xa000, set_tid_size=2}, 80) = -1 EINVAL (Invalid argument)")


@pytest.mark.parametrize("status, shown", [
    (7 << 8, "[{WIFEXITED(s) && WEXITSTATUS(s) == 7}]"),
    (15, "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGTERM}]"),
    (0x8b, "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}]"),
    (0x137f, "[{WIFSTOPPED(s) && WSTOPSIG(s) == SIGSTOP}]"),
    (0xffff, "[{WIFCONTINUED(s)}]"),
])
def test_wait_status(status, shown):
    mem = FakeMem()
    status_word(mem, 0x7000, status)
    assert line(X64, "wait4", (5, 0x7000, 0, 0), 5, mem) == (
        strace.format_line(f"wait4(5, {shown}, 0, NULL)", 5))


def test_wait4_options_rusage_and_failures():
    mem = FakeMem()
    status_word(mem, 0x7100, 0x137f)
    mem.put(0x7200, bytes(144))
    assert line(X64, "wait4", (5, 0x7100, 0xa, 0x7200), 5, mem) == (
        "wait4(5, [{WIFSTOPPED(s) && WSTOPSIG(s) == SIGSTOP}], WSTOPPED|WCONTINUED, "
        "{ru_utime={tv_sec=0, tv_usec=0}, ru_stime={tv_sec=0, tv_usec=0}, ...}) = 5")
    assert line(X64, "wait4", (5, 0x7ffcb651fb5c, 1, 0x7ffcb651fac0), 0, mem) == (
        "wait4(5, 0x7ffcb651fb5c, WNOHANG, 0x7ffcb651fac0) = 0")
    assert line(X64, "wait4", (-1, 0, 0xE100000F, 0), -22, mem) == (
        "wait4(-1, NULL, WNOHANG|WEXITED|WSTOPPED|WCONTINUED|WNOWAIT|__WCLONE|__WALL|"
        "__WNOTHREAD, NULL) = -1 EINVAL (Invalid argument)")
    assert line(X64, "wait4", (-5, 1, 0x12345678, 0), -22, mem) == (
        "wait4(-5, 0x1, WCONTINUED|0x12345670, NULL) = -1 EINVAL (Invalid argument)")
    assert line(X64, "wait4", (0x00000000FFFFFFFF, 0, 0x80000000, 0), -10, mem) == (
        "wait4(-1, NULL, __WCLONE, NULL)         = -1 ECHILD (No child processes)")
    mem.put(0x7300, bytes(72))
    assert line(I386, "wait4", (5, 0x7100, 2, 0x7300), 5, mem) == (
        "wait4(5, [{WIFSTOPPED(s) && WSTOPSIG(s) == SIGSTOP}], WSTOPPED, "
        "{ru_utime={tv_sec=0, tv_usec=0}, ru_stime={tv_sec=0, tv_usec=0}, ...}) = 5")


def test_waitid():
    mem = FakeMem()
    mem.put(0x8000, struct.pack("<iiiiiIiiqq", 17, 0, 2, 0, 7, 0, 9, 0, 0, 0) + bytes(88))
    assert line(X64, "waitid", (1, 7, 0x8000, 4, 0), 0, mem) == (
        "waitid(P_PID, 7, {si_signo=SIGCHLD, si_code=CLD_KILLED, si_pid=7, si_uid=0, "
        "si_status=SIGKILL, si_utime=0, si_stime=0}, WEXITED, NULL) = 0")
    mem.put(0x9000, bytes(128))
    assert line(X64, "waitid", (1, 5, 0x9000, 5, 0), 0, mem) == (
        "waitid(P_PID, 5, {}, WNOHANG|WEXITED, NULL) = 0")
    assert line(X64, "waitid", (7, 0, 0x7ffcb651fa40, 4, 0), -22, mem) == (
        "waitid(0x7 /* P_??? */, 0, 0x7ffcb651fa40, WEXITED, NULL) = -1 EINVAL (Invalid "
        "argument)")
    mem.put(0xa000, struct.pack("<iiiiiIiiqq", 17, 0, 1, 0, 6, 0, 200, 0, 69624696, 4859648)
            + bytes(88))
    assert line(X64, "waitid", (1, 6, 0xa000, 4, 0), 0, mem) == (
        "waitid(P_PID, 6, {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=6, si_uid=0, "
        "si_status=200, si_utime=69624696 /* 696246.96 s */, si_stime=4859648 /* 48596.48 s */}"
        ", WEXITED, NULL) = 0")
    mem.put(0xb000, struct.pack("<iiiiiiii", 17, 0, 5, 5, 0, 19, 0, 0) + bytes(96))
    assert line(I386, "waitid", (0, 0, 0xb000, 0x01000002, 0), 0, mem) == (
        "waitid(P_ALL, 0, {si_signo=SIGCHLD, si_code=CLD_STOPPED, si_pid=5, si_uid=0, "
        "si_status=SIGSTOP, si_utime=0, si_stime=0}, WSTOPPED|WNOWAIT, NULL) = 0")


W, W2 = 0x4a72d0, 0x4a50d0


@pytest.mark.parametrize("args, ret, expected", [
    ((W, 0, 1, 0, 0, 0), -11, "futex(0x4a72d0, FUTEX_WAIT, 1, NULL)    = -1 EAGAIN"),
    ((W, 0x80, 0, 0x1000, 0, 0), -110,
     "futex(0x4a72d0, FUTEX_WAIT_PRIVATE, 0, {tv_sec=0, tv_nsec=1000}) = -1 ETIMEDOUT"),
    ((W, 0x189, 1, 0, 0, 0xffffffff), -11,
     "futex(0x4a72d0, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME, 1, NULL, "
     "FUTEX_BITSET_MATCH_ANY) = -1 EAGAIN"),
    ((W, 9, 1, 0x1000, 0, 5), -11,
     "futex(0x4a72d0, FUTEX_WAIT_BITSET, 1, {tv_sec=0, tv_nsec=1000}, 0x5) = -1 EAGAIN"),
    ((W, 0x81, 1, 0, 0, 0), 0, "futex(0x4a72d0, FUTEX_WAKE_PRIVATE, 1)  = 0"),
    ((W, 1, 2147483647, 0, 0, 0), 0, "futex(0x4a72d0, FUTEX_WAKE, 2147483647) = 0"),
    ((W, 10, 1, 0, 0, 0xffffffff), 0,
     "futex(0x4a72d0, FUTEX_WAKE_BITSET, 1, FUTEX_BITSET_MATCH_ANY) = 0"),
    ((W, 0x8a, 1, 0, 0, 3), 0, "futex(0x4a72d0, FUTEX_WAKE_BITSET_PRIVATE, 1, 0x3) = 0"),
    ((W, 0x83, 1, 2, W2, 0), 0, "futex(0x4a72d0, FUTEX_REQUEUE_PRIVATE, 1, 2, 0x4a50d0) = 0"),
    ((W, 0x84, 1, 2147483647, W2, 0), 0,
     "futex(0x4a72d0, FUTEX_CMP_REQUEUE_PRIVATE, 1, 2147483647, 0x4a50d0, 0) = 0"),
    ((W, 4, 1, 3, W2, 7), -11, "futex(0x4a72d0, FUTEX_CMP_REQUEUE, 1, 3, 0x4a50d0, 7) = -1 "
     "EAGAIN"),
    ((W, 0x85, 1, 1, W2, 0x04000001), 0,
     "futex(0x4a72d0, FUTEX_WAKE_OP_PRIVATE, 1, 1, 0x4a50d0, "
     "FUTEX_OP_SET<<28|0<<12|FUTEX_OP_CMP_GT<<24|0x1) = 0"),
    ((W, 5, 1, 0, W2, 0x90005fff), 0,
     "futex(0x4a72d0, FUTEX_WAKE_OP, 1, 0, 0x4a50d0, "
     "FUTEX_OP_OPARG_SHIFT<<28|FUTEX_OP_ADD<<28|0x5<<12|FUTEX_OP_CMP_EQ<<24|0xfff) = 0"),
    ((W, 5, 1, 0, W2, 0x7f000000), -38,
     "futex(0x4a72d0, FUTEX_WAKE_OP, 1, 0, 0x4a50d0, "
     "0x7<<28 /* FUTEX_OP_??? */|0<<12|0xf<<24 /* FUTEX_OP_CMP_??? */|0) = -1 ENOSYS"),
    ((W, 0x86, 0, 0, 0, 0), 0, "futex(0x4a72d0, FUTEX_LOCK_PI_PRIVATE, NULL) = 0"),
    ((W, 6, 0, 0x1000, 0, 0), -35,
     "futex(0x4a72d0, FUTEX_LOCK_PI, {tv_sec=0, tv_nsec=1000}) = -1 EDEADLK"),
    ((W, 0x88, 0, 0, 0, 0), -35, "futex(0x4a72d0, FUTEX_TRYLOCK_PI_PRIVATE) = -1 EDEADLK"),
    ((W, 0x87, 0, 0, 0, 0), 0, "futex(0x4a72d0, FUTEX_UNLOCK_PI_PRIVATE) = 0"),
    ((W, 0x10d, 0, 0x1000, 0, 0), 0,
     "futex(0x4a72d0, 0x10d /* FUTEX_??? */, {tv_sec=0, tv_nsec=1000}) = 0"),
    ((W, 0x8b, 0, 0x1000, W2, 0), -11,
     "futex(0x4a72d0, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, {tv_sec=0, tv_nsec=1000}, 0x4a50d0) "
     "= -1 EAGAIN"),
    ((W, 0x8c, 1, 1, W2, 0), -11,
     "futex(0x4a72d0, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, 1, 0x4a50d0, 0) = -1 EAGAIN"),
    ((W, 2, 3, 0, 0, 0), -38, "futex(0x4a72d0, FUTEX_FD, 3)            = -1 ENOSYS"),
    ((W, 77, 3, 0, 0, 0), -38,
     "futex(0x4a72d0, 0x4d /* FUTEX_??? */, 3, NULL, NULL, 0) = -1 ENOSYS"),
    ((W, 0x100, 1, 0, 0, 0), -38,
     "futex(0x4a72d0, FUTEX_WAIT|FUTEX_CLOCK_REALTIME, 1, NULL) = -1 ENOSYS"),
    ((W, 0x181, 1, 0, 0, 0), -38, "futex(0x4a72d0, 0x181 /* FUTEX_??? */, 1) = -1 ENOSYS"),
    ((0, 0, 0, 1, 0, 0), -14, "futex(NULL, FUTEX_WAIT, 0, 0x1)         = -1 EFAULT"),
    ((W, 0x300, 1, 0, 0, 0), -38,
     "futex(0x4a72d0, 0x300 /* FUTEX_??? */, 1, NULL) = -1 ENOSYS"),
])
@pytest.mark.parametrize("abi", [X64, I386])
def test_futex(abi, args, ret, expected):
    """fx.c's raw futex calls; the same lines from its -m32 build (other addresses)."""
    mem = FakeMem()
    mem.put(0x1000, struct.pack("<qq" if abi == X64 else "<ii", 0, 1000))
    got = line(abi, "futex", args, ret, mem)
    assert got.split(" (")[0] == expected if ret < 0 else got == expected


@pytest.mark.parametrize("name, args, ret, expected", [
    ("kill", (99999, 64), -3, "kill(99999, SIGRT_32)                   = -1 ESRCH (No such "
     "process)"),
    ("kill", (-7, 10), -3, "kill(-7, SIGUSR1)                       = -1 ESRCH (No such "
     "process)"),
    ("kill", (0, 0), 0, "kill(0, 0)                              = 0"),
    ("tkill", (99999, 70), -3, "tkill(99999, 70)                        = -1 ESRCH (No such "
     "process)"),
    ("tgkill", (1, 99999, 1), -3, "tgkill(1, 99999, SIGHUP)                = -1 ESRCH (No "
     "such process)"),
    ("setpgid", (-1, -2), -22, "setpgid(-1, -2)                         = -1 EINVAL (Invalid "
     "argument)"),
    ("getpgid", (-3,), -3, "getpgid(-3)                             = -1 ESRCH (No such "
     "process)"),
    ("getsid", (1,), 0, "getsid(1)                               = 0"),
    ("setsid", (), -1, "setsid()                                = -1 EPERM (Operation not "
     "permitted)"),
    ("set_robust_list", (0, 24), 0, "set_robust_list(NULL, 24)               = 0"),
    ("set_robust_list", (0x1234, 12), -22, "set_robust_list(0x1234, 12)             = -1 "
     "EINVAL (Invalid argument)"),
    ("exit", (3,), None, "exit(3)                                 = ?"),
    ("exit_group", (3,), None, "exit_group(3)                           = ?"),
    ("fork", (), 5, "fork()                                  = 5"),
    ("vfork", (), 5, "vfork()                                 = 5"),
])
def test_process_calls(name, args, ret, expected):
    assert line(X64, name, args, ret) == expected


def test_sigchld_lines():
    assert strace.format_signal(17, 6, 0, pid=5, uid=0, status=18) == (
        "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_CONTINUED, si_pid=5, si_uid=0, "
        "si_status=SIGCONT, si_utime=0, si_stime=0} ---")
    assert strace.format_signal(17, 2, 0, pid=6, uid=0, status=15) == (
        "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_KILLED, si_pid=6, si_uid=0, "
        "si_status=SIGTERM, si_utime=0, si_stime=0} ---")


# -- JSON and -c --------------------------------------------------------------------------------
def _fork_run() -> Run:
    r = Run(4)
    r.fork(5)
    r.call("fork", ret=5)
    r.block("wait4", 5, 0, 0, 0)
    r.switch(5)
    r.call("getpid", ret=5)
    r.call("exit_group", 0, ret=None)
    r.exited(0)
    r.switch(4)
    r.resume(5)
    r.call("exit_group", 0, ret=None)
    r.exited(0)
    return r


def test_json_events_say_which_task_they_belong_to(tmp_path):
    import io

    out = io.StringIO()
    tracer = JsonTracer(out)
    for event in _fork_run().events:
        tracer(event)
    rows = [json.loads(text) for text in out.getvalue().splitlines()]
    assert all("pid" in row and "tid" in row for row in rows)
    calls = [(row["name"], row["pid"], row["tid"]) for row in rows if row["kind"] == "syscall"]
    assert calls == [("fork", 4, 4), ("getpid", 5, 5), ("exit_group", 5, 5), ("wait4", 4, 4),
                     ("exit_group", 4, 4)]
    fork = next(row for row in rows if row["kind"] == "fork")
    assert (fork["parent_pid"], fork["pid"], fork["tid"]) == (4, 5, 5)
    exits = [(row["pid"], row["tid"]) for row in rows if row["kind"] == "exit"]
    assert exits == [(5, 5), (4, 4)]


def test_summary_counts_every_task_and_each_call_once():
    """strace -f -c: one table; a call that waited counts once; exit_group never returns,
    so strace never counts it."""
    summary = Summary("x86_64")
    for event in _fork_run().events:
        summary(event)
    assert dict(summary.calls) == {"fork": 1, "getpid": 1, "wait4": 1}
    table = summary.table()
    assert "exit_group" not in table.split("modelled")[0]
    assert "      3           total" in table


# -- end to end: assembly guests -----------------------------------------------------------------
FORK_WAIT = """
bits 64
section .bss
status: resd 1
section .text
global _start
_start:
    mov eax, 57          ; fork
    syscall
    test eax, eax
    jnz parent
    mov eax, 1
    mov edi, 1
    lea rsi, [rel msg]
    mov edx, 6
    syscall
    mov eax, 60
    mov edi, 7
    syscall
parent:
    mov edi, eax
    mov eax, 61          ; wait4(pid, &status, 0, 0)
    lea rsi, [rel status]
    xor edx, edx
    xor r10d, r10d
    syscall
    mov eax, [rel status]
    shr eax, 8
    mov edi, eax
    mov eax, 60
    syscall
section .data
msg: db "child", 10
"""

THREAD = """
bits 64
section .bss
stack:  resb 4096
stack_top:
section .text
global _start
_start:
    mov eax, 56             ; clone(VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|PARENT_SETTID|CHILD_CLEARTID)
    mov edi, 0x350f00
    lea rsi, [rel stack_top]
    lea rdx, [rel tid]
    lea r10, [rel tid]
    xor r8d, r8d
    syscall
    test eax, eax
    jz thread
wait:
    mov edx, [rel tid]      ; futex(&tid, FUTEX_WAIT, tid, NULL) until the thread's exit clears it
    test edx, edx
    jz done
    mov eax, 202
    lea rdi, [rel tid]
    xor esi, esi
    xor r10d, r10d
    syscall
    jmp wait
done:
    mov eax, 231
    xor edi, edi
    syscall
thread:
    mov eax, 1
    mov edi, 1
    lea rsi, [rel msg]
    mov edx, 7
    syscall
    mov eax, 60
    xor edi, edi
    syscall
section .data
tid: dd 0
msg: db "thread", 10
"""

KILL_WAIT = """
bits 64
section .text
global _start
_start:
    mov eax, 57             ; fork: a child that waits on a futex nobody wakes
    syscall
    test eax, eax
    jz sleeper
    mov ebx, eax
    mov eax, 57             ; fork: a child that exits at once
    syscall
    test eax, eax
    jz quitter
    mov edi, eax            ; wait4(quitter, NULL, 0, NULL): meanwhile the sleeper waits
    mov eax, 61
    xor esi, esi
    xor edx, edx
    xor r10d, r10d
    syscall
    mov eax, 62             ; kill(sleeper, SIGKILL)
    mov edi, ebx
    mov esi, 9
    syscall
    mov eax, 61             ; wait4(sleeper, &status, 0, NULL)
    mov edi, ebx
    lea rsi, [rel status]
    xor edx, edx
    xor r10d, r10d
    syscall
    mov eax, 231
    xor edi, edi
    syscall
sleeper:
    mov eax, 202            ; futex(&word, FUTEX_WAIT, 0, NULL)
    lea rdi, [rel word]
    xor esi, esi
    xor edx, edx
    xor r10d, r10d
    syscall
    jmp sleeper
quitter:
    mov eax, 60
    mov edi, 3
    syscall
section .data
word: dd 0
status: dd 0
"""


def _traced(source: str, **options) -> tuple[int, list[str]]:
    r = run_guest("guest.s", source=source, bits=64, max_insns=1_000_000)
    printer = TaskLines(**options)
    lines = []
    for event in r.events:
        lines += printer.feed(event)
    return r.status, lines + printer.finish()


SIGCHLD_EXITED = ("--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=4243, si_uid=0, "
                  "si_status=7, si_utime=0, si_stime=0} ---")


def test_fork_and_wait_end_to_end():
    status, lines = _traced(FORK_WAIT)
    assert status == 7
    assert lines == [
        "fork()                                  = 4243",
        "[pid  4242] wait4(4243,  <unfinished ...>",
        '[pid  4243] write(1, "child\\n", 6)      = 6',
        "[pid  4243] exit(7)                     = ?",
        "[pid  4243] +++ exited with 7 +++",
        "<... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 7}], 0, NULL) = 4243",
        SIGCHLD_EXITED,
        "exit(7)                                 = ?",
        "+++ exited with 7 +++",
    ]


def test_a_thread_and_its_join_end_to_end():
    status, lines = _traced(THREAD)
    assert status == 0
    assert lines == [
        "clone(child_stack=0x40300b, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|"
        "CLONE_THREAD|CLONE_SYSVSEM|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, "
        "parent_tid=[4243], child_tidptr=0x402000) = 4243",
        "[pid  4242] futex(0x402000, FUTEX_WAIT, 4243, NULL <unfinished ...>",
        '[pid  4243] write(1, "thread\\n", 7)     = 7',
        "[pid  4243] exit(0)                     = ?",
        "[pid  4243] +++ exited with 0 +++",
        "<... futex resumed>)                    = 0",
        "exit_group(0)                           = ?",
        "+++ exited with 0 +++",
    ]


def test_sigkill_in_a_futex_wait_end_to_end():
    status, lines = _traced(KILL_WAIT)
    assert status == 0
    assert lines == [
        "fork()                                  = 4243",
        "[pid  4242] fork()                      = 4244",
        "[pid  4242] wait4(4244,  <unfinished ...>",
        "[pid  4243] futex(0x402000, FUTEX_WAIT, 0, NULL <unfinished ...>",
        "[pid  4244] exit(3)                     = ?",
        "[pid  4244] +++ exited with 3 +++",
        "[pid  4242] <... wait4 resumed>NULL, 0, NULL) = 4244",
        "[pid  4242] --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=4244, si_uid=0, "
        "si_status=3, si_utime=0, si_stime=0} ---",
        "[pid  4242] kill(4243, SIGKILL)         = 0",
        "[pid  4242] wait4(4243,  <unfinished ...>",
        "[pid  4243] <... futex resumed>)        = ?",
        "[pid  4243] +++ killed by SIGKILL +++",
        "<... wait4 resumed>[{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}], 0, NULL) = 4243",
        "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_KILLED, si_pid=4243, si_uid=0, "
        "si_status=SIGKILL, si_utime=0, si_stime=0} ---",
        "exit_group(0)                           = ?",
        "+++ exited with 0 +++",
    ]


def test_the_command_line_f_o_json_and_c(tmp_path):
    guest = tmp_path / "fork.s"
    guest.write_text(FORK_WAIT)
    plain = cli("run", "-s", str(guest))
    follow = cli("run", "-f", str(guest))
    assert plain.returncode == follow.returncode == 7
    assert follow.stderr == plain.stderr  # -f: what syscall-lab always does
    assert "[pid  4243] exit(7)" in plain.stderr.decode()
    to_file = tmp_path / "trace.txt"
    assert cli("run", "-f", "-o", str(to_file), str(guest)).returncode == 7
    assert to_file.read_text().splitlines()[:2] == [
        "4242  fork()                            = 4243",
        "4242  wait4(4243,  <unfinished ...>"]
    trace = tmp_path / "trace.jsonl"
    counted = cli("run", "-c", "--trace-json", str(trace), str(guest))
    rows = [json.loads(text) for text in trace.read_text().splitlines()]
    assert {(row["kind"], row["pid"]) for row in rows if row["name"] == "write"} == {
        ("syscall", 4243)}
    rows = [row for row in counted.stderr.decode().split("modelled")[0].splitlines()[2:]
            if row and not row.startswith("-") and not row.endswith(" total")]
    assert {row.split()[-1]: int(row.split()[3]) for row in rows} == {
        "fork": 1, "wait4": 1, "write": 1}  # exit never returns: strace never counts it
    alone = tmp_path / "table.txt"
    assert cli("run", "-c", "-o", str(alone), str(guest)).returncode == 7
    assert alone.read_text().startswith("% time")  # strace -c -o: the table, no trace
    helped = cli("run", "--help").stdout.decode()
    assert "-f, --follow-forks" in helped and "always" in helped


FORK_WAIT_I386 = """
bits 32
section .bss
status: resd 1
section .text
global _start
_start:
    mov eax, 2              ; fork
    int 0x80
    test eax, eax
    jnz parent
    mov eax, 1              ; exit(5)
    mov ebx, 5
    int 0x80
parent:
    mov ebx, eax            ; waitpid(pid, &status, WUNTRACED)
    mov eax, 7
    mov ecx, status
    mov edx, 2
    int 0x80
    mov eax, 252            ; exit_group(0)
    xor ebx, ebx
    int 0x80
"""


def test_i386_fork_and_waitpid_end_to_end():
    r = run_guest("guest.s", source=FORK_WAIT_I386, bits=32, max_insns=1_000_000)
    printer = TaskLines()
    lines = [line for event in r.events for line in printer.feed(event)]
    assert r.status == 0
    assert lines == [
        "fork()                                  = 4243",
        "[pid  4242] waitpid(4243,  <unfinished ...>",
        "[pid  4243] exit(5)                     = ?",
        "[pid  4243] +++ exited with 5 +++",
        "<... waitpid resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 5}], WSTOPPED) = 4243",
        "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=4243, si_uid=0, si_status=5, "
        "si_utime=0, si_stime=0} ---",
        "exit_group(0)                           = ?",
        "+++ exited with 0 +++",
    ]


# -- against strace -f itself, modulo pids and interleaving ------------------------------------
def _calls(lines: list[str], pids: dict[str, str]) -> list[str]:
    """strace -f lines as whole calls: the prefix gone, each cut call joined again, the
    padding before "= " collapsed, and pids renamed (`pids`: native -> ours)."""
    import re

    heads: dict[str, str] = {}
    out = []
    for text in lines:
        if text.startswith(("strace: ", "[ Process", "execve(")) or not text:
            continue
        text = re.sub(r"^\[pid +\d+\] ", "", text)
        if text.endswith(" <unfinished ...>"):
            heads[text.split("(")[0]] = text.removesuffix(" <unfinished ...>")
            continue
        resumed = re.match(r"<\.\.\. (\w+) resumed>(.*)", text)
        if resumed:
            text = heads.pop(resumed.group(1)) + resumed.group(2)
        text = re.sub(r"\b(\d+)\b", lambda m: pids.get(m.group(1), m.group(1)), text)
        out.append(re.sub(r" +(= \S)", r" \1", text))
    return sorted(out)


@pytest.mark.parametrize("source, bits", [(FORK_WAIT, 64), (FORK_WAIT_I386, 32)])
def test_the_trace_is_strace_f_s_modulo_pids_and_interleaving(tmp_path, source, bits):
    import os
    import re
    import shutil
    import subprocess

    if not all(shutil.which(tool) for tool in ("nasm", "ld", "strace")) or \
            os.uname().machine != "x86_64":
        pytest.skip("needs nasm, ld and strace on x86-64 Linux")
    (tmp_path / "t.s").write_text(source)
    fmt, emul = ("elf64", "elf_x86_64") if bits == 64 else ("elf32", "elf_i386")
    subprocess.run(["nasm", "-f", fmt, "-o", tmp_path / "t.o", tmp_path / "t.s"], check=True)
    subprocess.run(["ld", "-m", emul, "-o", tmp_path / "t", tmp_path / "t.o"], check=True)
    native = subprocess.run(["strace", "-f", "-q", tmp_path / "t"], capture_output=True,
                            timeout=30)
    if b"Operation not permitted" in native.stderr:
        pytest.skip("strace cannot trace here (ptrace is not permitted)")
    native_lines = native.stderr.decode().splitlines()
    child = re.search(r"^(?:fork|clone)\(.*= (\d+)$", "\n".join(
        re.sub(r"^\[pid +\d+\] ", "", t) for t in _joined(native_lines)), re.M)
    assert child is not None, native_lines
    r = run_guest("t.s", source=source, bits=bits, max_insns=1_000_000)
    printer = TaskLines()
    ours = [line for event in r.events for line in printer.feed(event)]
    assert _calls(ours, {}) == _calls(native_lines, {child.group(1): "4243"})


def _joined(lines: list[str]) -> list[str]:
    """strace's lines with each cut call joined (for finding the fork's result)."""
    import re

    heads: dict[str, str] = {}
    out = []
    for text in lines:
        bare = re.sub(r"^\[pid +\d+\] ", "", text)
        if bare.endswith(" <unfinished ...>"):
            heads[bare.split("(")[0]] = bare.removesuffix(" <unfinished ...>")
            continue
        resumed = re.match(r"<\.\.\. (\w+) resumed>(.*)", bare)
        out.append(heads.pop(resumed.group(1)) + resumed.group(2) if resumed else bare)
    return out

"""The one line a user sees for each event: in `strace --events`, in the TUI's events pane
and in a saved recording. Every consumer asks here, so the three cannot drift apart.

With several tasks, `TaskLines` turns the stream into `strace -f`'s lines: whose line each
is (`[pid N] `), and a call cut by other tasks' lines (`<unfinished ...>`, `<... resumed>`).
A run with one task reads the same through either."""

from __future__ import annotations

from kernel_model.entry.mechanism import Mechanism
from kernel_model.trace.events import (
    KernelNote,
    ProcessExited,
    ProcessForked,
    ProcessStarted,
    RunStopped,
    SignalDelivered,
    SyscallBlocked,
    SyscallEntered,
    SyscallReturned,
    TaskSwitched,
    VdsoCalled,
    VsyscallCalled,
)

ENOSYS = 38


def syscall_line(event: SyscallReturned) -> str:
    """`[int 0x80] write(1, "hi\\n", 3) = 3`, and the kernel's note after it."""
    line = f"[{event.mechanism}] {event.text}"
    return line + f"  /* {event.note} */" if event.note else line


def plain_syscall_line(event: SyscallReturned) -> str:
    """strace's own line, without the mechanism; a note only on a missing syscall's ENOSYS
    (strace would print nothing there, but a silent ENOSYS is worse)."""
    if event.name is not None and event.ret == -ENOSYS and event.note:
        return f"{event.text}  /* {event.note} */"
    return event.text


def vdso_text(name: str, call_text: str, ret: int, fallback: str = "") -> str:
    """`[vdso] __vdso_clock_gettime(CLOCK_MONOTONIC, {tv_sec=1, tv_nsec=2}) = 0`: the
    function returns its result itself, so it is shown as is (no -1 and errno)."""
    text = f"[{Mechanism.VDSO}] {call_text} = {ret}"
    if fallback:
        text += f"  /* the vDSO fell back to the {fallback} syscall */"
    return text


def vsyscall_text(call_text: str, ret: int, how: str) -> str:
    """`[vsyscall] time([1795771623]) = 1795771623 (emulated)`."""
    return f"[{Mechanism.VSYSCALL}] {call_text} = {ret} ({how})"


def event_line(event) -> str | None:
    """The event's line; None for events that have none of their own (a syscall's entry:
    its return carries the whole call)."""
    if isinstance(event, SyscallReturned):
        return syscall_line(event)
    if isinstance(event, (VdsoCalled, VsyscallCalled, SignalDelivered, ProcessExited,
                          RunStopped, KernelNote)):
        return event.text
    return None


def pane_line(event) -> tuple[str, str, str] | None:
    """The events pane's row: (line, kind the pane colours by, mechanism)."""
    text = event_line(event)
    if text is None:
        return None
    if isinstance(event, SyscallReturned):
        return text, "syscall", event.mechanism
    if isinstance(event, VdsoCalled):
        return text, "vdso", Mechanism.VDSO
    if isinstance(event, VsyscallCalled):
        return text, "vsyscall", Mechanism.VSYSCALL
    if isinstance(event, SignalDelivered):
        return text, "signal", ""
    if isinstance(event, ProcessExited):
        return text, "exit", ""
    return text, "note", ""


# -- many tasks: strace -f's lines -------------------------------------------------------
class _Task:
    __slots__ = ("tid", "pid", "alive")

    def __init__(self, tid: int, pid: int):
        self.tid, self.pid, self.alive = tid, pid, True


class _Held:
    """A call that blocked, whose `<unfinished ...>` line is not out yet: strace printed
    its head at entry and ends the line only when another task has something to say."""

    __slots__ = ("tid", "prefix", "name", "unfinished", "mech")

    def __init__(self, tid: int, prefix: str, name: str, unfinished: str, mech: str):
        self.tid, self.prefix, self.name, self.unfinished = tid, prefix, name, unfinished
        self.mech = mech  # the --events trace's `[syscall] `, or ""


class TaskLines:
    """strace -f's view of the event stream: which task each line belongs to, the `[pid N] `
    prefix, and a call that waits while others run split in an `<unfinished ...>` line and
    a `<... NAME resumed>` one. Feed it every event (`feed`); it returns the lines to print.

    The prefix rule is strace's (strace.c printleader): a line starts with `[pid N] ` (N the
    task's tid, width 5) while more than one task is traced, counted when the line begins. A
    new task counts from the end of the call that made it (strace attaches it after the
    clone line); a task stops counting at its `+++ exited` line. With `to_file` (strace's
    -o FILE) the prefix is `N     ` instead, and with `always` (-f -o FILE) every line has
    it, even while there is one task.

    `mechanisms` puts each call's entry mechanism (`[syscall] `) after the prefix, and shows
    vDSO, vsyscall and kernel-note lines (the `--events` trace).

    What the printer infers from other events, because strace shows it and the kernel has no
    event of its own for it: a thread's `+++ exited with N +++` after its `exit(N)` (the
    process lives on), the other threads' last lines when one thread ends the process (their
    waiting calls `<... NAME resumed>) = ?`, their `+++` lines), and `--- stopped by SIGSTOP
    ---` after a stop signal's delivery. SIGKILL has no `--- SIGKILL` line: a tracer never
    sees it delivered."""

    def __init__(self, *, to_file: bool = False, always: bool = False,
                 mechanisms: bool = False):
        self.to_file, self.always, self.mechanisms = to_file, always, mechanisms
        self.tasks: dict[int, _Task] = {}
        self.current: tuple[int, int] = (0, 0)  # (pid, tid) of the running task
        self.joining: list[_Task] = []  # made by the call now running: count after its line
        self.held: _Held | None = None
        self.waiting: dict[int, tuple[str, str]] = {}  # tid -> (name, unfinished) unresolved
        self.stop_said: str | None = None
        self.entry_mech = ""  # the mechanism of the call now entered (SyscallEntered)
        # A resumed call that ended with a restart code: if SIGKILL comes next, the task
        # dies in the call and strace never sees it return (`= ?` instead).
        self.deferred: tuple[SyscallReturned, tuple[str, str] | None] | None = None
        from kernel_model.trace.strace import line  # the decoder, only for traced runs

        self._line = line

    # -- who -----------------------------------------------------------------------------
    @property
    def traced(self) -> int:
        return len(self.tasks)

    def prefix(self, tid: int) -> str:
        if self.to_file:
            return f"{tid:<5d} " if self.always or self.traced > 1 else ""
        return f"[pid {tid:5d}] " if self.traced > 1 else ""

    def _join(self) -> None:
        for task in self.joining:
            self.tasks.setdefault(task.tid, task)
        self.joining = []

    def _leave(self, tid: int) -> None:
        self.tasks.pop(tid, None)
        self.waiting.pop(tid, None)

    # -- lines ---------------------------------------------------------------------------
    def _flush(self, out: list[str], unless_tid: int | None = None) -> None:
        held = self.held
        if held is not None and held.tid != unless_tid:
            out.append(held.prefix + held.mech + held.unfinished)
            self.held = None

    def _say(self, out: list[str], tid: int, text: str) -> None:
        self._flush(out)
        out.append(self.prefix(tid) + text)

    def _mech(self, event) -> str:
        return f"[{event.mechanism}] " if self.mechanisms else ""

    def _call_line(self, prefix: str, mech: str, call: str, result: str, note: str) -> str:
        # The column counts the prefix (strace's curcol), not the mechanism tag (the
        # --events trace has always padded the strace text alone).
        line = prefix + mech + self._line.pad_line(prefix + call, result)[len(prefix):]
        return f"{line}  /* {note} */" if note else line

    def _vanished(self, prefix: str, name: str, unfinished: str, resumed: bool = True) -> str:
        """The last line of a call its task died in: strace never saw it return."""
        line = self._line.format_vanished(name, unfinished, resumed)
        return self._call_line(prefix, "", line.call, line.result, "")

    def feed(self, event) -> list[str]:
        out: list[str] = []
        if self.deferred is not None:
            returned, waiting = self.deferred
            self.deferred = None
            if isinstance(event, SignalDelivered) and event.signo == 9 and waiting:
                self._flush(out)
                name, unfinished = waiting
                out.append(self._vanished(self.prefix(self.current[1]), name, unfinished))
            else:
                self._returned(returned, out, waiting)
        if isinstance(event, SyscallEntered):
            self.entry_mech = f"[{event.mechanism}] " if self.mechanisms else ""
        elif isinstance(event, ProcessStarted):
            self.tasks = {event.pid: _Task(event.pid, event.pid)}
            self.current = (event.pid, event.pid)
        elif isinstance(event, TaskSwitched):
            self.current = (event.pid, event.tid)
            self.tasks.setdefault(event.tid, _Task(event.tid, event.pid))
        elif isinstance(event, ProcessForked):
            self.joining.append(_Task(event.tid, event.pid))
        elif isinstance(event, SyscallBlocked):
            self._blocked(event, out)
        elif isinstance(event, SyscallReturned):
            waiting = self.waiting.pop(self.current[1], None) if event.resumed_from else None
            if event.resumed_from and event.ret is not None and -516 <= event.ret <= -512:
                self.deferred = (event, waiting)
            else:
                self._returned(event, out, waiting)
        elif isinstance(event, SignalDelivered):
            self._signal(event, out)
        elif isinstance(event, ProcessExited):
            self._exited(event, out)
        elif isinstance(event, RunStopped):
            if event.reason == "stopped" and event.text == self.stop_said:
                return out  # said at the delivery of the stop signal
            if event.reason == "stopped":
                self._say(out, self.current[1], event.text)
            else:  # a limit of syscall-lab's (time, instructions, a deadlock): no task's line
                self._flush(out)
                out.append(event.text)
        elif self.mechanisms and isinstance(event, (VdsoCalled, VsyscallCalled)):
            self._say(out, self.current[1], event.text)
        elif self.mechanisms and isinstance(event, KernelNote):
            self._flush(out)
            out.append(f"[kernel] {event.text}")
        return out

    def finish(self) -> list[str]:
        """The lines still held when the stream ends."""
        out: list[str] = []
        if self.deferred is not None:
            returned, waiting = self.deferred
            self.deferred = None
            self._returned(returned, out, waiting)
        self._flush(out)
        return out

    def _blocked(self, event: SyscallBlocked, out: list[str]) -> None:
        tid = event.tid or self.current[1]
        self._flush(out)
        prefix = self.prefix(tid)
        self._join()
        self.held = _Held(tid, prefix, event.name, event.text, self.entry_mech)
        self.waiting[tid] = (event.name, event.text)

    def _returned(self, event: SyscallReturned, out: list[str],
                  waiting: tuple[str, str] | None) -> None:
        tid = self.current[1]
        split_line, unfinished_parts = self._line.split_line, self._line.unfinished_parts
        note = event.note if (self.mechanisms or (event.name is not None
                                                   and event.ret == -ENOSYS)) else ""
        mech = self._mech(event)
        held = self.held
        if event.resumed_from:
            parts = split_line(event.text)
            if held is not None and held.tid == tid and parts is not None:
                # Nothing came between: strace's line was never cut. Join its two halves.
                self.held = None
                call, result = parts
                # (the name strace shows: i386's ipc() is shown as the call it makes)
                rest = call[call.index("resumed>") + len("resumed>"):] \
                    if call.startswith("<... ") else call
                head, _pending = unfinished_parts(held.unfinished)
                out.append(self._call_line(held.prefix, mech, head + rest, result, note))
                return
            self._flush(out)
            prefix = self.prefix(tid)
        else:
            self._flush(out)
            prefix = self.prefix(tid)
            self._join()
        parts = split_line(event.text)
        if parts is None:
            out.append(prefix + mech + event.text)
        else:
            out.append(self._call_line(prefix, mech, parts[0], parts[1], note))
        if event.name == "exit" and event.ret is None:
            self._thread_exit(tid, event.args[0] & 0xFF if event.args else 0, out)

    def _thread_exit(self, tid: int, code: int, out: list[str]) -> None:
        """exit(2) of one thread: strace's `+++ exited with N +++` for it, unless it was the
        process's last (then the kernel's ProcessExited says it)."""
        me = self.tasks.get(tid)
        if me is None:
            return
        others = [t for t in self.tasks.values() if t.pid == me.pid and t.alive and t is not me]
        if not others:
            return
        if tid == me.pid:
            me.alive = False  # a leader waits, unreported, for its last thread (strace too)
            return
        out.append(self.prefix(tid) + f"+++ exited with {code} +++")
        self._leave(tid)

    def _signal(self, event: SignalDelivered, out: list[str]) -> None:
        if event.signo == 9:
            return  # SIGKILL is never seen delivered: only the death that follows
        tid = self.current[1]
        self._say(out, tid, event.text)
        if event.action == "stopped":
            self.stop_said = f"--- stopped by {event.name} ---"
            out.append(self.prefix(tid) + self.stop_said)

    def _exited(self, event: ProcessExited, out: list[str]) -> None:
        pid = event.pid or self.current[0]
        members = [t for t in self.tasks.values() if t.pid == pid]
        # Other threads first, the leader last (Linux reports a group leader's death only
        # once its threads are gone).
        members.sort(key=lambda t: t.tid == pid)
        held = self.held
        if held is not None and all(held.tid != t.tid for t in members):
            self._flush(out)
        for task in members:
            waiting = self.waiting.get(task.tid)
            if waiting is not None:
                name, unfinished = waiting
                if held is not None and held.tid == task.tid:
                    self.held = None
                    out.append(self._vanished(held.prefix, name, unfinished, resumed=False))
                else:
                    out.append(self._vanished(self.prefix(task.tid), name, unfinished))
            out.append(self.prefix(task.tid) + event.text)
            self._leave(task.tid)
        if not members:
            self._flush(out)
            out.append(self.prefix(pid) + event.text)

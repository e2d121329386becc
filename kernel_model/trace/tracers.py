"""Consumers of the event stream that write traces: strace's text, JSON Lines, and the -c
summary table. Each is a callable attached with `Kernel.attach`."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import TextIO

from kernel_model.entry.mechanism import Mechanism
from kernel_model.trace import strace
from kernel_model.trace.events import (
    ProcessExited,
    ProcessStarted,
    SyscallBlocked,
    SyscallEntered,
    SyscallReturned,
    TaskSwitched,
    VdsoCalled,
    VsyscallCalled,
    event_to_dict,
)
from kernel_model.trace.lines import TaskLines
from kernel_model.trace.strace.ipc import shown_name as ipc_shown_name


class StracePrinter:
    """strace's output: one line per finished call, signals, and the exit lines, as
    `strace -f` prints them once there are several tasks (kernel_model.trace.lines.TaskLines:
    the `[pid N] ` prefix, `<unfinished ...>` and `<... NAME resumed>`). With `events`, each
    syscall line carries its entry mechanism, e.g. `[int 0x80]`. `to_file`: the trace goes
    to a file (strace -o), where the prefix is strace's `N     ` column; `follow` is -f,
    which with -o puts it on every line."""

    def __init__(self, out: TextIO, events: bool = False, *, to_file: bool = False,
                 follow: bool = False):
        self.out = out
        self.events = events
        self.lines = TaskLines(to_file=to_file, always=follow, mechanisms=events)

    def __call__(self, event) -> None:
        lines = self.lines.feed(event)
        if lines:
            self.out.write("".join(line + "\n" for line in lines))
            self.out.flush()

    def close(self) -> None:
        """The stream ended: print what is still held (a call cut by the end of the run)."""
        lines = self.lines.finish()
        if lines:
            self.out.write("".join(line + "\n" for line in lines))
            self.out.flush()


class JsonTracer:
    """JSON Lines: one object per event with at least kind, name, nr, mechanism, args (raw
    integers), ret, pc, text, and pid and tid: the task the event belongs to (for a fork,
    the new task, beside parent_pid and parent_tid; for a switch, the task switched to,
    beside prev_pid and prev_tid; for a process's exit, the process and its leader)."""

    def __init__(self, out: TextIO):
        self.out = out
        self.current = (0, 0)

    def __call__(self, event) -> None:
        if isinstance(event, ProcessStarted):
            self.current = (event.pid, event.pid)
        elif isinstance(event, TaskSwitched):
            self.current = (event.pid, event.tid)
        if isinstance(event, SyscallEntered):
            return  # its SyscallReturned carries the whole call
        d = event_to_dict(event)
        for key in ("name", "nr", "mechanism", "args", "ret", "pc", "text"):
            d.setdefault(key, None)
        if isinstance(event, ProcessExited):
            pid = event.pid or self.current[0]
            d["pid"], d["tid"] = pid, pid
        else:
            d.setdefault("pid", self.current[0])
            d.setdefault("tid", self.current[1])
        self.out.write(json.dumps(d, default=_jsonable) + "\n")

    def close(self) -> None:
        self.out.flush()


def _jsonable(value):
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


class Summary:
    """strace -c (and -f -c: one table for every task together): calls, errors and time
    per syscall. A call counts when it returns, as strace counts it at the call's exit: a
    call that waited counts once (at its `<... resumed>`), and exit, exit_group or a call
    its task died in never count. The time is the kernel model's own (host) time in the
    handler, not a real kernel's; a waiting call's time is its handler's runs, not the wait."""

    def __init__(self, abi: str | None = None):
        self.abi = abi
        self.calls: dict[str, int] = defaultdict(int)
        self.errors: dict[str, int] = defaultdict(int)
        self.seconds: dict[str, float] = defaultdict(float)
        self.modelled: dict[str, tuple[int, float]] = {}
        self._started = 0.0
        self._waited: dict[int, float] = {}  # seq of a call that blocked -> time so far

    def __call__(self, event) -> None:
        if isinstance(event, SyscallEntered):
            self._started = time.perf_counter()
        elif isinstance(event, SyscallBlocked):
            self._waited[event.seq] = time.perf_counter() - self._started
        elif isinstance(event, SyscallReturned):
            self._model(f"[{event.mechanism}]", event.cost_ns)
            if event.resumed_from:
                spent = self._waited.pop(event.resumed_from, 0.0)
            else:
                spent = time.perf_counter() - self._started
            if event.ret is None:
                return  # never returned: strace never counts it
            name = ipc_shown_name(event.name, event.args) if event.name else \
                f"syscall_{event.nr:#x}"
            self.calls[name] += 1
            self.seconds[name] += spent
            if -4095 <= event.ret < 0:
                self.errors[name] += 1
        elif isinstance(event, VdsoCalled):
            self._model(f"[{Mechanism.VDSO}]", event.cost_ns)
        elif isinstance(event, VsyscallCalled):
            self._model(f"[{Mechanism.VSYSCALL} {event.mode}]", event.cost_ns)

    def _model(self, mechanism: str, ns: float) -> None:
        calls, total = self.modelled.get(mechanism, (0, 0.0))
        self.modelled[mechanism] = (calls + 1, total + ns)

    def table(self) -> str:
        rows = [(n, self.calls[n], self.errors[n], self.seconds[n]) for n in self.calls]
        return strace.summary_table(rows, self.abi) + self.modelled_table()

    def modelled_table(self) -> str:
        """What the same run would have cost on real hardware, by way of entering the
        kernel (or not): kernel_model.entry.costs, from measurements on Linux 6.18."""
        if not self.modelled:
            return ""
        lines = ["", "modelled time on real hardware, by mechanism (kernel_model/entry/costs.py):",
                 f"{'mechanism':<22} {'calls':>9} {'ns/call':>9} {'total us':>11}"]
        total_calls, total_ns = 0, 0.0
        for mech, (calls, ns) in sorted(self.modelled.items(), key=lambda kv: -kv[1][1]):
            lines.append(f"{mech:<22} {calls:>9} {ns / calls:>9.0f} {ns / 1000:>11.2f}")
            total_calls += calls
            total_ns += ns
        lines.append(f"{'total':<22} {total_calls:>9} {'':>9} {total_ns / 1000:>11.2f}")
        return "\n".join(lines) + "\n"

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
    KernelNote,
    ProcessExited,
    RunStopped,
    SignalDelivered,
    SyscallEntered,
    SyscallReturned,
    VdsoCalled,
    VsyscallCalled,
    event_to_dict,
)
from kernel_model.trace.lines import event_line, plain_syscall_line, syscall_line


class StracePrinter:
    """strace's output: one line per finished call, signals, and the exit line. With
    `events`, each syscall line starts with its entry mechanism, e.g. `[int 0x80]`."""

    def __init__(self, out: TextIO, events: bool = False):
        self.out = out
        self.events = events

    def __call__(self, event) -> None:
        line: str | None
        if isinstance(event, SyscallReturned):
            line = syscall_line(event) if self.events else plain_syscall_line(event)
        elif isinstance(event, (SignalDelivered, ProcessExited, RunStopped)):
            line = event.text
        elif self.events and isinstance(event, (VdsoCalled, VsyscallCalled)):
            line = event_line(event)  # never seen by strace: no crossing, or an emulated one
        elif self.events and isinstance(event, KernelNote):
            line = f"[kernel] {event_line(event)}"
        else:
            line = None
        if line is not None:
            self.out.write(line + "\n")
            self.out.flush()


class JsonTracer:
    """JSON Lines: one object per event with at least kind, name, nr, mechanism, args (raw
    integers), ret, pc and text."""

    def __init__(self, out: TextIO):
        self.out = out

    def __call__(self, event) -> None:
        if isinstance(event, SyscallEntered):
            return  # its SyscallReturned carries the whole call
        d = event_to_dict(event)
        for key in ("name", "nr", "mechanism", "args", "ret", "pc", "text"):
            d.setdefault(key, None)
        self.out.write(json.dumps(d, default=_jsonable) + "\n")

    def close(self) -> None:
        self.out.flush()


def _jsonable(value):
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


class Summary:
    """strace -c: calls, errors and time per syscall. The time is the kernel model's own
    (host) time in the handler, not a real kernel's; the closing line of the table says so."""

    def __init__(self, abi: str | None = None):
        self.abi = abi
        self.calls: dict[str, int] = defaultdict(int)
        self.errors: dict[str, int] = defaultdict(int)
        self.seconds: dict[str, float] = defaultdict(float)
        self.modelled: dict[str, tuple[int, float]] = {}
        self._started = 0.0

    def __call__(self, event) -> None:
        if isinstance(event, SyscallEntered):
            self._started = time.perf_counter()
        elif isinstance(event, SyscallReturned):
            name = event.name or f"syscall_{event.nr:#x}"
            self.calls[name] += 1
            self.seconds[name] += time.perf_counter() - self._started
            if event.ret is not None and -4095 <= event.ret < 0:
                self.errors[name] += 1
            self._model(f"[{event.mechanism}]", event.cost_ns)
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

"""Consumers of the event stream that write traces: strace's text, JSON Lines, and the -c
summary table. Each is a callable attached with `Kernel.attach`."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import TextIO

from kernel_model import strace
from kernel_model.events import (
    ProcessExited,
    RunStopped,
    SignalDelivered,
    SyscallEntered,
    SyscallReturned,
    event_to_dict,
)


class StracePrinter:
    """strace's output: one line per finished call, signals, and the exit line. With
    `events`, each syscall line starts with its entry mechanism, e.g. `[int 0x80]`."""

    def __init__(self, out: TextIO, events: bool = False):
        self.out = out
        self.events = events

    def __call__(self, event) -> None:
        if isinstance(event, SyscallReturned):
            line = event.text
            if self.events:
                line = f"[{event.mechanism}] {line}"
                if event.note:
                    line += f"  /* {event.note} */"
            elif event.name is not None and event.ret is not None and event.note and \
                    event.ret == -38:
                line += f"  /* {event.note} */"
        elif isinstance(event, (SignalDelivered, ProcessExited, RunStopped)):
            line = event.text
        else:
            return
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

    def table(self) -> str:
        rows = [(n, self.calls[n], self.errors[n], self.seconds[n]) for n in self.calls]
        return strace.summary_table(rows, self.abi)

"""The events pane's rows and the output so far, for a history of any length: built once per
mark as marks are added and kept by the session, so a view after a step costs what changed,
not a pass over every mark (a run of 100k syscalls has 100k marks). A view gets a lazy
sequence over the rows kept (EventLines): only the rows a screen shows become EventLines.

Rows are kept in history order. A drop of the oldest marks (the budget) trims them from the
front; any other change to history that moves events (Timeline.edits) rebuilds them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from kernel_model.debugger.view_records import EventLine, OutputChunk
from kernel_model.trace.events import (
    ProcessExited,
    ProcessForked,
    SyscallBlocked,
    SyscallEntered,
    TaskSwitched,
)
from kernel_model.trace.lines import pane_line


class EventLines(Sequence):
    """The rows of one view: rows[:n] of the kept list (which only grows past n while this
    view lives), the first `past` of them at or before the current point."""

    def __init__(self, rows: list, n: int, past: int):
        self._rows = rows
        self._n = n
        self._past = past

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return tuple(self[j] for j in range(*i.indices(self._n)))
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(i)
        text, kind, mech, mark, before = self._rows[i]
        return EventLine(i, text, kind, mech, i < self._past, i == self._past - 1, mark,
                         before=before)

    def __eq__(self, other) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == self._n and all(a == b for a, b in zip(self, other,
                                                                         strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    @property
    def current(self) -> int | None:
        """The index of the current row (the last one past), if any."""
        return self._past - 1 if self._past else None

    def __repr__(self) -> str:
        return f"EventLines({self._n} rows, {self._past} past)"


class _Kept:
    """What the session keeps between views."""

    def __init__(self, edits: int):
        self.edits = edits
        self.rows: list = []  # (text, kind, mechanism, mark, before)
        self.last = None  # the last mark taken in, and how many events it had then
        self.last_events = 0
        self.many = False
        self.outputs: list = []  # (mark, ((stream, a, b), ...)) where a stream grew
        self.sizes = None  # the io sizes at the last mark taken in


def _rows_of(mark, many: bool) -> tuple[list, bool]:
    out = []
    for e in mark.events:
        line = _task_line(e) or pane_line(e)
        if line is None:
            continue
        text, kind, mech = line
        if isinstance(e, SyscallBlocked):  # how it entered: its SyscallEntered's
            mech = next((x.mechanism for x in mark.events
                         if isinstance(x, SyscallEntered)), "")
            text = f"[{mech}] {text}" if mech else text
        many = many or isinstance(e, ProcessForked)
        tid = mark.extra.get("tid")
        if many and tid is not None and not isinstance(e, TaskSwitched) and \
                not text.startswith("[pid "):
            pid = getattr(e, "pid", 0) if isinstance(e, ProcessExited) else tid
            text = f"[pid {pid or tid}] {text}"
        out.append((text, kind, mech, mark, mark.applied))
    return out, many


def _task_line(e) -> tuple[str, str, str] | None:
    """The events pane's rows for what only a run of many tasks has: a call that waits
    (strace's `<unfinished ...>`), a context switch, a new task."""
    if isinstance(e, SyscallBlocked):
        return e.text, "syscall", ""
    if isinstance(e, TaskSwitched):
        prev = f"{e.prev_pid}" + (f"/{e.prev_tid}" if e.prev_tid != e.prev_pid else "")
        nxt = f"{e.pid}" + (f"/{e.tid}" if e.tid != e.pid else "")
        return f"--- switch: pid {prev} -> pid {nxt} ({e.why}) ---", "note", ""
    if isinstance(e, ProcessForked):
        return f"--- {e.text} ---", "note", ""
    return None


def _kept(session) -> _Kept:
    """The rows and output steps, brought up to the timeline as it is now."""
    t = session.timeline
    k = getattr(session, "_view_kept", None)
    if k is not None and k.edits == t.edits:
        gone = 0
        while gone < len(k.rows) and k.rows[gone][3].ordinal < 0:
            gone += 1
        if gone and k.many:
            k = None  # a fork among the dropped rows would change the [pid] prefixes
        elif gone:
            k.rows = k.rows[gone:]  # a new list: earlier views keep theirs
        if k is not None and k.outputs:
            # the first mark is where the output starts from: nothing is counted at it
            drop = 0
            while drop < len(k.outputs) and k.outputs[drop][0].ordinal < 1:
                drop += 1
            if drop:
                k.outputs = k.outputs[drop:]
        if k is not None and k.last is not None and not t.holds(k.last):
            k = None
    else:
        k = None
    if k is None:
        k = _Kept(t.edits)
    start = 0
    if k.last is not None:
        start = k.last.ordinal + 1
        if len(k.last.events) != k.last_events:  # events added to it since: take it again
            keep = len(k.rows)
            while keep and k.rows[keep - 1][3] is k.last:
                keep -= 1
            k.rows = k.rows[:keep]
            rows, k.many = _rows_of(k.last, k.many)
            k.rows.extend(rows)
            k.last_events = len(k.last.events)
    marks = t.marks
    for i in range(start, len(marks)):
        mark = marks[i]
        rows, k.many = _rows_of(mark, k.many)
        k.rows.extend(rows)
        sizes = {fd: (off, size) for fd, off, size in mark.io.files}
        if i > 0 and k.sizes is not None:
            grew = []
            for stream, fd, use_off in (("stdin", session.io.stdin_fd, True),
                                        ("stdout", session.io.stdout_fd, False),
                                        ("stderr", session.io.stderr_fd, False)):
                a = k.sizes[fd][0 if use_off else 1]
                b = sizes[fd][0 if use_off else 1]
                if b > a:
                    grew.append((stream, a, b))
            if grew:
                k.outputs.append((mark, tuple(grew)))
        k.sizes = sizes
    if len(marks):
        k.last = marks[-1]
        k.last_events = len(k.last.events)
    session._view_kept = k
    return k


def event_lines(session) -> EventLines:
    k = _kept(session)
    cur = session.pos[0].ordinal
    past = bisect_right(k.rows, cur, key=lambda r: r[3].ordinal)
    return EventLines(k.rows, len(k.rows), past)


def output_chunks(session) -> tuple[OutputChunk, ...]:
    """What the guest wrote (and read from stdin) up to the current point, in order."""
    k = _kept(session)
    io = session.io
    data = {"stdin": io.input_text(), "stdout": io.stdout(), "stderr": io.stderr()}
    cur = session.pos[0].ordinal
    upto = bisect_right(k.outputs, cur, key=lambda o: o[0].ordinal)
    # Byte ranges first, joined while one stream grows on where it stopped, then one decode
    # each: joining decoded text write by write made 100k writes quadratic.
    runs: list[list] = []  # [stream, start, end]
    for _mark, grew in k.outputs[:upto]:
        for stream, a, b in grew:
            if runs and runs[-1][0] == stream and runs[-1][2] == a:
                runs[-1][2] = b
            else:
                runs.append([stream, a, b])
    chunks: list[OutputChunk] = []
    for stream, a, b in runs:
        text = data[stream][a:b].decode("utf-8", "replace")
        if chunks and chunks[-1].stream == stream:
            chunks[-1] = OutputChunk(stream, chunks[-1].text + text)
        else:
            chunks.append(OutputChunk(stream, text))
    return tuple(chunks)

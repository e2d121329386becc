"""Recordings of a stepping session, for class: `--record FILE` saves one, `syscall-lab replay
FILE` steps through it later without the guest (no Unicorn machine, no program file).

A recording is one JSON document (gzip-compressed when the file name ends in .gz):

    {"format": "syscall-lab-recording", "version": 1,
     "program": "hello-syscall", "argv": [...], "arch": "x86_64", "created": "2025-...Z",
     "source": "run" | "tui",
     "trace": [event, ...],          # the JSON event trace (as --trace-json writes it)
     "insns": [[address, raw hex, intel, att, label, where, source, kind, region, ref], ...],
     "maps": [[[start, end, perms, name, kind, maps line], ...], ...],
     "stacks": [[[address, value, note, is_sp, is_fp], ...], ...],
     "outputs": [[[stream, text], ...], ...],
     "event_lines": [[text, kind, mechanism], ...],
     "transitions": [{kind, title, phases: [...], total_ns, ...}, ...],
     "views": [view, ...],
     "stops": [{"view": i, "kind": ..., "reason": ..., "message": ..., "visited": bool}, ...]}

Each table holds every distinct value once and the views refer to it by index: a code window
is a list of "insns" indexes, a memory map an index into "maps", so the stops of one
program share their code and maps. A view is

    {"program", "arch", "bits", "pc", "sp", "regs": {name: int}, "previous": {..} | null,
     "code": [insn index, ...], "bp": [address, ...], "stack": i, "maps": i, "output": i,
     "events": [event_line index, ...], "past": n (the first n events have happened),
     "upcoming": [kind, target] | null, "upcoming_name", "walk": {"transition": i,
     "phase": n, "before": view index} | null, "exited", "exit_text", "waiting_input",
     "pending_fault", "symbol", "breakpoints": [spec, ...]}

The stops are in the order of the program's time: "start", then for every transition the
stop before it ("transition"), each of its phases ("phase") and the stop after it ("after"),
and the end ("end"); a `tui` recording adds every stop the user visited ("visited": true).

Version rules: a reader accepts its own version and older ones; a newer version is refused
with a clear message. Adding a key is not a new version; changing the meaning of one is.

This module does not import Unicorn or the screen: replaying needs neither.
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from dataclasses import dataclass

from kernel_model.debugger.recording_schema import SchemaError, validate
from kernel_model.debugger.view_records import (
    Change,
    CodeLine,
    EventLine,
    HistoryInfo,
    MapLine,
    OutputChunk,
    Phase,
    ProcessLine,
    StackWord,
    StopView,
    TableRow,
    Transition,
    WalkView,
)
from kernel_model.entry.abi import preview_trap
from kernel_model.entry.mechanism import TRAPS

FORMAT = "syscall-lab-recording"
VERSION = 1
MAX_STOPS = 4000  # a recording of a long program keeps its first transitions
# The largest recording a replay reads (uncompressed): a MAX_STOPS recording of a long
# program stays far below it (about 2.5 KB a stop); beyond, a file is refused before it
# fills the host's memory or takes long to check.
MAX_BYTES = 64 << 20
REFUSED = "not a recording syscall-lab can replay"


class RecordingError(Exception):
    """A file that is not a recording this version can read (one line, for the user)."""


# -- writing ---------------------------------------------------------------------------------

class Recorder:
    """Collects the stops of a session (live StopViews) and writes them as a recording."""

    def __init__(self, *, program: str = "", argv=(), source: str = "run"):
        self.program = program
        self.argv = list(argv)
        self.source = source
        self.tables: dict[str, list] = {k: [] for k in (
            "insns", "maps", "stacks", "outputs", "event_lines", "transitions", "views")}
        self._index: dict[str, dict[str, int]] = {k: {} for k in self.tables}
        self.stops: list[dict] = []  # each with a "key" (its place in time) until saved
        self._stops: dict[tuple, dict] = {}
        self.trace: list[dict] = []
        self.arch = ""

    def _intern(self, table: str, value) -> int:
        key = json.dumps(value, sort_keys=True, separators=(",", ":"))
        index = self._index[table]
        i = index.get(key)
        if i is None:
            i = index[key] = len(self.tables[table])
            self.tables[table].append(value)
        return i

    def _view(self, v) -> int:
        self.arch = self.arch or v.arch
        code = [self._intern("insns", [c.address, c.raw.hex(), c.intel, c.att, c.label,
                                        c.where, c.source, c.kind, c.region, c.ref])
                for c in v.code]
        walk = None
        if v.walk is not None:
            walk = {"transition": self._intern("transitions", _transition(v.walk.transition)),
                    "phase": v.walk.phase, "before": self._view(v.walk.before)}
        past = sum(1 for e in v.events if e.past)
        d = {
            "program": v.program, "arch": v.arch, "bits": v.bits, "pc": v.pc, "sp": v.sp,
            "regs": dict(v.regs), "previous": dict(v.previous) if v.previous else None,
            "code": code, "bp": [c.address for c in v.code if c.breakpoint],
            "stack": self._intern("stacks", [[w.address, w.value, w.note, w.is_sp, w.is_fp]
                                             for w in v.stack]),
            "maps": self._intern("maps", [[m.start, m.end, m.perms, m.name, m.kind, m.text]
                                          for m in v.maps]),
            "output": self._intern("outputs", [[c.stream, c.text] for c in v.output]),
            "events": [self._intern("event_lines", [e.text, e.kind, e.mechanism])
                       for e in v.events],
            "past": past,
            "upcoming": list(v.upcoming) if v.upcoming is not None else None,
            "upcoming_name": v.upcoming_name, "walk": walk, "exited": v.exited,
            "exit_text": v.exit_text, "waiting_input": v.waiting_input,
            "pending_fault": v.pending_fault, "symbol": v.symbol,
            "breakpoints": list(v.breakpoints), "clock": v.clock,
        }
        if v.pending_switch:
            d["pending_switch"] = v.pending_switch
        if len(v.processes) > 1:  # one task alone: nothing the Processes pane must replay
            d["processes"] = [[r.pid, r.tid, r.ppid, r.state, r.waits, r.insns, r.current,
                               r.name] for r in v.processes]
        return self._intern("views", d)

    def add(self, view, *, kind: str, reason: str = "", message: str = "", key=None,
            visited: bool = False) -> None:
        """One stop. `key` orders the stops in time (stops with the same key are one)."""
        key = key if key is not None else (len(self.stops),)
        have = self._stops.get(key)
        if have is not None:  # the same moment: keep the view the user saw
            if visited:
                have["view"], have["visited"] = self._view(view), True
                have["reason"], have["message"] = reason, message
            return
        if len(self.stops) >= MAX_STOPS and not visited:
            return
        stop = {"view": self._view(view), "kind": kind, "reason": reason, "message": message,
                "visited": visited, "key": key}
        self._stops[key] = stop
        self.stops.append(stop)

    def merge_visited(self, visited) -> None:
        """Add the stops a user visited in a live session of the same program (same seed):
        `visited` is [(key, view, reason, message)], key the live session's position. A
        visited stop that is one of the walked ones marks it visited (with the view the user
        saw); another goes into its stretch between two transitions, before the next one."""
        walked = list(self.stops)
        views = self.tables["views"]
        by_ident: dict = {}
        for st in walked:
            by_ident.setdefault(_ident_raw(views[st["view"]]), st)
        inserts: dict[int, list] = {}  # walked index -> visited stops going before it
        for _key, view, reason, message in sorted(visited, key=lambda x: x[0]):
            vid = self._view(view)
            known = by_ident.get(_ident_raw(views[vid]))
            if known is not None:
                known.update(view=vid, visited=True, reason=reason or known["reason"],
                             message=message or known["message"])
                continue
            past = views[vid]["past"]
            at = next((i for i, w in enumerate(walked) if w["kind"] in ("transition", "end")
                       and views[w["view"]]["past"] >= past), len(walked))
            stop = {"view": vid, "kind": "visited", "reason": reason, "message": message,
                    "visited": True, "key": None}
            if all(x["view"] != vid for x in inserts.get(at, [])):
                inserts.setdefault(at, []).append(stop)
        merged = []
        for i, w in enumerate(walked):
            merged += inserts.get(i, [])
            merged.append(w)
        merged += inserts.get(len(walked), [])
        self.stops = merged

    def set_trace(self, events) -> None:
        from kernel_model.trace.events import SyscallEntered, event_to_dict
        from kernel_model.trace.tracers import _jsonable

        out = []
        for e in events:
            if isinstance(e, SyscallEntered):
                continue  # its SyscallReturned carries the whole call (as JsonTracer does)
            d = event_to_dict(e)
            for k in ("name", "nr", "mechanism", "args", "ret", "pc", "text"):
                d.setdefault(k, None)
            out.append(json.loads(json.dumps(d, default=_jsonable)))
        self.trace = out

    def document(self) -> dict:
        stops = self.stops  # in the order of the program's time
        return {"format": FORMAT, "version": VERSION, "program": self.program,
                "argv": self.argv, "arch": self.arch, "source": self.source,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "trace": self.trace, **self.tables,
                "stops": [{k: v for k, v in s.items() if k != "key"} for s in stops]}

    def save(self, path: str) -> None:
        text = json.dumps(self.document(), separators=(",", ":"))
        if str(path).endswith(".gz"):
            with gzip.open(path, "wt", encoding="utf-8") as f:
                f.write(text)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)


def _transition(t) -> dict:
    return {"kind": t.kind, "title": t.title, "total_ns": t.total_ns,
            "cost_source": t.cost_source, "banner": t.banner, "crossed": t.crossed,
            "comparison": [list(c) for c in t.comparison],
            "phases": [{"key": p.key, "title": p.title, "text": list(p.text),
                        "changes": [[c.what, c.before, c.after] for c in p.changes],
                        "cost_ns": p.cost_ns, "details": list(p.details),
                        "table": [[r.nr, r.name, r.handler, r.implemented, r.current]
                                  for r in p.table],
                        "table_name": p.table_name, "warning": p.warning,
                        "kernel": p.kernel, "regs": [list(r) for r in p.regs]}
                       for p in t.phases]}


def _ident_raw(v: dict) -> tuple:
    """A stop's identity across two sessions of one program: where the CPU is, its
    registers, and the phase of the transition being walked."""
    w = v.get("walk")
    return (v["pc"], tuple(sorted(v["regs"].items())), v["exited"],
            w["phase"] if w else None)


def position(session) -> tuple:
    """Where a session is in the program's time, as a sortable key: the history point, the
    instructions after it, and the phase of a transition being walked (phases come before
    the plain stop at the same point)."""
    mark, n = session.pos
    if session.walk is not None:
        return (mark.ordinal, n, 0, session.walk.phase)
    return (mark.ordinal, n, 1, 0)


def walk_transitions(session, recorder: Recorder, *, max_stops: int = MAX_STOPS,
                     deadline: float | None = None, limits=None) -> str:
    """From where the session is, forward to the end: the stop before each transition, each
    of its phases and the stop after it. Returns why it stopped ("exited", "input",
    "limit"...; with `limits`, a debugger.limits.SessionLimits, the limit that interrupted
    it: "timeout", "max-insns" or "interrupt", after a last stop where it was)."""
    def add(kind, stop):
        recorder.add(session.view(), kind=kind, reason=stop.reason if stop else kind,
                     message=stop.message if stop else "", key=position(session))

    add("start" if session.pos[0].ordinal == 0 and session.pos[1] == 0 else "after", None)
    while len(recorder.stops) < max_stops:
        if deadline is not None and time.monotonic() > deadline:
            return "time"
        stop = session.run_to_transition()
        if limits is not None and limits.stopped:
            add("end", stop)
            return limits.reason
        v = session.view()
        if v.exited or stop.reason == "exited":
            add("end", stop)
            return "exited"
        if stop.reason == "input":
            add("end", stop)
            return "input"
        if v.upcoming is None and not v.pending_fault:
            add("end", stop)
            return stop.reason
        add("transition", stop)
        stop = session.step()
        guard = 0
        while session.walk is not None and guard < 64:
            add("phase", stop)
            stop = session.step()
            guard += 1
        if limits is not None and limits.stopped:
            add("end", stop)
            return limits.reason
        if session.view().exited:
            add("end", stop)
            return "exited"
        add("after", stop)
    return "limit"


def record_session(session, recorder: Recorder, **kw) -> str:
    """Every transition of the session's program from the start, and the event trace."""
    if session.pos[0].ordinal != 0 or session.pos[1] != 0 or session.walk is not None:
        session.goto_start()
    why = walk_transitions(session, recorder, **kw)
    recorder.set_trace(e for mark in session.timeline.marks for e in mark.events)
    return why


# -- reading ---------------------------------------------------------------------------------

@dataclass
class RecordedStop:
    """Why a replay command stopped (the live session's Stop has the same fields)."""

    reason: str
    message: str = ""
    pc: int = 0


class Recording:
    """A loaded recording: its stops as StopViews."""

    def __init__(self, doc: dict, path: str = ""):
        self.doc = doc
        self.path = path
        self.program = doc.get("program", "")
        self.trace = doc.get("trace", [])
        self._views: dict[int, StopView] = {}
        try:
            validate(doc)
        except SchemaError as e:
            raise RecordingError(f"{path}: {REFUSED}: {e}") from None
        self.stops = list(doc["stops"])
        self.views = [self.view(s["view"]) for s in self.stops]
        if not self.views:
            raise RecordingError(f"{path}: the recording has no stops")
        self._add_first_phases()

    def _add_first_phases(self) -> None:
        """Recordings made before the first step showed phase 1 of a trap go from the stop
        before it straight to phase 2: phase 1 (the user registers and the ABI) is made
        again from phase 2's stop, so a replay shows every phase from the first."""
        from dataclasses import replace

        i = 1
        while i < len(self.views):
            v, prev = self.views[i], self.views[i - 1]
            w = v.walk
            if w is not None and w.phase == 1 and prev.walk is None and \
                    w.transition.phases and w.transition.phases[0].key == "user":
                first = w.transition.phases[0]
                self.views.insert(i, replace(v, walk=replace(w, phase=0)))
                self.stops.insert(i, {"view": self.stops[i]["view"], "kind": "phase",
                                      "reason": "phase", "message": first.title,
                                      "visited": False})
                i += 1
            i += 1

    def view(self, i: int, index: int | None = None) -> StopView:
        v = self._views.get(i)
        if v is not None:
            return v
        # A walk's view refers to the view at its trap (walk.before), which may itself be
        # walked: make the chain from its far end, so no chain is too long for Python's stack
        # (validate() has made sure that every chain ends).
        chain, j = [], i
        while j not in self._views:
            chain.append(j)
            w = self.doc["views"][j].get("walk")
            if not w:
                break
            j = w["before"]
        for j in reversed(chain):
            self._views[j] = self._make(j)
        return self._views[i]

    def _make(self, i: int) -> StopView:
        d = self.doc
        raw = d["views"][i]
        pc, sp = raw["pc"], raw["sp"]
        bps = set(raw.get("bp", ()))
        code = []
        for ci in raw["code"]:
            a, hexraw, intel, att, label, where, source, kind, region, ref = d["insns"][ci]
            code.append(CodeLine(a, bytes.fromhex(hexraw), intel, att, label, where, source,
                                 a == pc, a in bps, kind, region, ref))
        stack = tuple(StackWord(*w) for w in d["stacks"][raw["stack"]])
        maps = tuple(MapLine(s, e, p, n, k, t, s <= pc < e, s <= sp < e)
                     for s, e, p, n, k, t in d["maps"][raw["maps"]])
        past = raw["past"]
        rows = [d["event_lines"][ei] for ei in raw["events"]]
        events = tuple(EventLine(j, text, kind, mechanism, j < past, j == past - 1, j)
                       for j, (text, kind, mechanism) in enumerate(rows))
        output = tuple(OutputChunk(s, t) for s, t in d["outputs"][raw["output"]])
        walk = None
        if raw.get("walk"):
            w = raw["walk"]
            walk = WalkView(_load_transition(d["transitions"][w["transition"]]), w["phase"],
                            self._views[w["before"]])
        v = StopView(
            program=raw["program"], arch=raw["arch"], bits=raw["bits"], pc=pc, sp=sp,
            regs=dict(raw["regs"]), previous=raw.get("previous"), code=tuple(code),
            stack=stack, maps=maps, events=events, output=output,
            upcoming=tuple(raw["upcoming"]) if raw.get("upcoming") else None, walk=walk,
            exited=raw["exited"], exit_text=raw.get("exit_text", ""),
            history=HistoryInfo(0, 0, 0, 0, 0, True, True, "the start of the recording", ""),
            breakpoints=tuple(raw.get("breakpoints", ())),
            waiting_input=raw.get("waiting_input", False),
            pending_fault=raw.get("pending_fault", ""), symbol=raw.get("symbol", ""),
            upcoming_name=raw.get("upcoming_name", ""), clock=raw.get("clock", ""),
            upcoming_trap=_trap_preview(raw),
            processes=tuple(ProcessLine(*row) for row in raw.get("processes", ())),
            pending_switch=raw.get("pending_switch", ""))
        return v


def _load_transition(t: dict) -> Transition:
    phases = tuple(Phase(p["key"], p["title"], tuple(p["text"]),
                         tuple(Change(*c) for c in p["changes"]), p["cost_ns"],
                         tuple(p["details"]), tuple(TableRow(*r) for r in p["table"]),
                         p["table_name"], p["warning"], p["kernel"],
                         tuple(tuple(r) for r in p.get("regs", ()))) for p in t["phases"])
    return Transition(t["kind"], t["title"], phases, t["total_ns"], t["cost_source"],
                      t.get("banner", ""), t.get("crossed", True),
                      tuple(tuple(c) for c in t.get("comparison", ())))


def _read(path: str) -> bytes:
    """The file's bytes, uncompressed when it is gzip; at most MAX_BYTES + 1 of them, so a
    huge file or a gzip bomb never fills the host's memory."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
            if data[:2] != b"\x1f\x8b":
                return data
            f.seek(0)
            try:
                with gzip.GzipFile(fileobj=f) as z:
                    return z.read(MAX_BYTES + 1)
            except (EOFError, gzip.BadGzipFile, zlib.error) as e:
                raise RecordingError(f"{path}: a damaged gzip file ({e})") from None
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RecordingError(f"{path}: is a directory, not a recording") from None
    except OSError as e:
        raise RecordingError(f"{path}: cannot read it ({e.strerror})") from None


def load(path: str) -> Recording:
    """Read a recording; RecordingError (one line) for anything that is not one."""
    data = _read(path)
    if len(data) > MAX_BYTES:
        raise RecordingError(f"{path}: {REFUSED}: larger than {MAX_BYTES >> 20} MB")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # ValueError: not JSON, or an integer of more digits than Python converts;
        # RecursionError: nested deeper than the JSON reader goes
        raise RecordingError(f"{path}: not a syscall-lab recording (not JSON; make one "
                             "with --record FILE)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise RecordingError(f"{path}: not a syscall-lab recording (no \"format\": "
                             f"\"{FORMAT}\"; make one with --record FILE)")
    version = doc.get("version")
    if type(version) is not int or version < 1:
        raise RecordingError(f"{path}: a recording with a bad version ({_short(version)})")
    if version > VERSION:
        raise RecordingError(f"{path}: a version {version} recording; this syscall-lab "
                             f"reads up to version {VERSION} (upgrade syscall-lab)")
    return Recording(doc, path)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + "..."


class RecordedSession:
    """A recording played like a DebugSession: the stepping TUI drives it with the same
    commands, and each lands on a recorded stop. Commands that need the guest (finish, a
    breakpoint, typing input) say that this is a replay."""

    NEEDS_GUEST = "this is a replay: {what} needs the running program (syscall-lab tui)"

    def __init__(self, recording: Recording):
        self.rec = recording
        self.index = 0
        self.breakpoints: list = []
        self.program = None
        self.previous_regs = None

    # -- where we are ------------------------------------------------------------------------
    @property
    def walk(self):
        return self.rec.views[self.index].walk

    def view(self) -> StopView:
        from dataclasses import replace

        v = self.rec.views[self.index]
        n = len(self.rec.views)
        s = self.rec.stops[self.index]
        where = f"recorded stop {self.index + 1} of {n}" + ("  (visited)" if s.get("visited")
                                                            else "")
        history = HistoryInfo(n, 0, 0, 0, 0, self.index == n - 1, self.index > 0,
                              "the start of the recording", where)
        return replace(v, history=history)

    def _go(self, i: int, reason: str = "") -> RecordedStop:
        n = len(self.rec.views)
        if i < 0 or i >= n:
            edge = "start" if i < 0 else "end"
            return RecordedStop("replay", f"the {edge} of the recording",
                                self.rec.views[self.index].pc)
        self.index = i
        s = self.rec.stops[i]
        return RecordedStop(reason or s.get("reason") or "replay",
                    s.get("message") or f"replay: stop {i + 1}/{n}", self.rec.views[i].pc)

    def _find(self, step: int, pred) -> RecordedStop:
        i = self.index + step
        while 0 <= i < len(self.rec.views):
            if pred(self.rec.views[i], self.rec.stops[i]):
                return self._go(i)
            i += step
        return self._go(len(self.rec.views) - 1 if step > 0 else 0)

    # -- the commands --------------------------------------------------------------------------
    def quick(self, method: str) -> bool:
        return True

    def step(self) -> RecordedStop:
        return self._go(self.index + 1)

    def reverse_step(self) -> RecordedStop:
        return self._go(self.index - 1)

    def next(self) -> RecordedStop:
        """Over a whole transition: the next stop that is not one of its phases."""
        return self._find(1, lambda v, s: v.walk is None)

    def run_to_transition(self) -> RecordedStop:
        return self._find(1, _before_transition)

    def reverse_to_transition(self) -> RecordedStop:
        return self._find(-1, _before_transition)

    def cont(self) -> RecordedStop:
        return self._find(1, lambda v, s: s.get("visited") or v.exited)

    def reverse_continue(self) -> RecordedStop:
        return self._find(-1, lambda v, s: s.get("visited"))

    def goto_start(self) -> RecordedStop:
        return self._go(0)

    def goto_end(self) -> RecordedStop:
        return self._go(len(self.rec.views) - 1)

    def run_to_syscall(self, name: str) -> RecordedStop:
        """To the next stop before a transition whose walk names `name` (write(...))."""
        views = self.rec.views
        for i in range(self.index + 1, len(views) - 1):
            w = views[i + 1].walk
            if _before_transition(views[i], None) and w is not None and \
                    w.transition.title.split("(")[0].strip() == name:
                return self._go(i)
        return RecordedStop("replay", f"no {name} ahead in the recording")

    def goto_mark(self, mark, before: bool = True) -> RecordedStop:
        """To the first stop where the event `mark` (its index) has happened."""
        for i, v in enumerate(self.rec.views):
            if any(e.index == mark and e.past for e in v.events) and v.walk is None:
                return self._go(i)
        return RecordedStop("replay", "that event is not among the recorded stops")

    def finish(self) -> RecordedStop:
        return RecordedStop("replay", self.NEEDS_GUEST.format(what="finish"))

    def add_breakpoint(self, spec: str):
        raise ValueError(self.NEEDS_GUEST.format(what="a breakpoint"))

    def remove_breakpoint(self, b) -> None:
        pass

    def feed_input(self, text) -> None:
        pass

    def close_input(self) -> None:
        pass

    def interrupt(self) -> None:
        pass

    def close(self) -> None:
        pass


def _before_transition(v, s) -> bool:
    return v.walk is None and v.upcoming is not None and not v.exited


def _trap_preview(raw: dict):
    """A trap's table row, derived from the view's registers: recordings keep the registers,
    not what follows from them, so one saved before this existed shows it too."""
    up = raw.get("upcoming")
    if not up or up[0] not in TRAPS:
        return None
    return preview_trap(up[0], raw["regs"], raw["bits"])

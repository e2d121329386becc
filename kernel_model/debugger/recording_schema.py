"""The shape of a recording (debugger.recording), checked in one pass when it is loaded.

A recording is a file from anywhere (a class's shared folder, an e-mail): before a replay
draws anything from it, every value must have the type the panels expect, every index
between the tables must be in range, and the chain of views a walk goes back through
(`walk.before`) must end. A file that breaks any of these is refused with the place it breaks
("views[12].walk.before refers to itself"), never with a Python traceback in the middle of
a class.

The schema is declarative: a spec is a Python type, a tuple of allowed types, or one of the
small combinators below (a list of specs, a fixed row, a dict with required and optional
keys). Free-form parts (the event trace, which a replay only keeps) are checked for depth
only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kernel_model.entry.mechanism import TRAPS

MAX_DEPTH = 32  # the deepest a valid recording nests is 6 (a trace event's auxv pair)
ADDRESS_LIMIT = 1 << 64


class SchemaError(Exception):
    """Where the document breaks the schema and how ("views[3].pc: not an integer")."""


@dataclass(frozen=True)
class Int:
    lo: int = -(1 << 64)
    hi: int = 1 << 64  # exclusive


ADDR = Int(0, ADDRESS_LIMIT)
COUNT = Int(0, 1 << 32)
NUMBER = "number"  # an int or a finite float (a cost in ns)


@dataclass(frozen=True)
class Opt:
    """The spec, or null."""
    spec: object


@dataclass(frozen=True)
class ListOf:
    item: object


@dataclass(frozen=True)
class Row:
    """A fixed-length list, one spec per position (the tables' rows)."""
    items: tuple


@dataclass(frozen=True)
class Obj:
    required: dict
    optional: dict | None = None


@dataclass(frozen=True)
class MapOf:
    """A dict of string keys, each value of one spec (registers by name)."""
    value: object


@dataclass(frozen=True)
class Ref:
    """An index into one of the document's tables."""
    table: str


@dataclass(frozen=True)
class Hex:
    """A string of hex digits (an instruction's bytes)."""


@dataclass(frozen=True)
class Also:
    """The spec, and a rule about the whole value: `rule(value)` is "" or what is wrong."""
    spec: object
    rule: object


ANY = "any"  # free-form JSON: its depth is checked, nothing else

# Registers the panels do arithmetic on: a number even where a kernel phase shows other
# registers by name (a kernel address).
NUMERIC_REGS = ("eflags", "cs", "ss", "ds", "es", "fs", "gs")


def _numeric(rows) -> str:
    bad = [n for n, v in rows if n in NUMERIC_REGS and type(v) is not int]
    return f"{_short(bad[0])} must be a number" if bad else ""


def _call_target(upcoming) -> str:
    """A call into the vDSO or the vsyscall page has a target address; a trap or a context
    switch has none."""
    kind, target = upcoming
    if kind not in TRAPS and kind != "switch" and target is None:
        return f"a {kind if kind.isidentifier() else _short(kind)} call without its target address"
    return ""


CHANGE = Row((str, str, str))
TABLE_ROW = Row((Int(), str, str, bool, bool))
PHASE = Obj({"key": str, "title": str, "text": ListOf(str), "changes": ListOf(CHANGE),
             "cost_ns": Opt(NUMBER), "details": ListOf(str), "table": ListOf(TABLE_ROW),
             "table_name": str, "warning": str, "kernel": bool},
            {"regs": Also(ListOf(Row((str, (Int(), str)))), _numeric)})
TRANSITION = Obj({"kind": str, "title": str, "phases": ListOf(PHASE),
                  "total_ns": Opt(NUMBER), "cost_source": str},
                 {"banner": str, "crossed": bool, "comparison": ListOf(Row((str, NUMBER)))})
WALK = Obj({"transition": Ref("transitions"), "phase": COUNT, "before": Ref("views")})
REGS = MapOf(Int())
VIEW = Obj({"program": str, "arch": str, "bits": (32, 64), "pc": ADDR, "sp": ADDR,
            "regs": REGS, "code": ListOf(Ref("insns")), "stack": Ref("stacks"),
            "maps": Ref("maps"), "output": Ref("outputs"), "events": ListOf(Ref("event_lines")),
            "past": COUNT, "exited": bool},
           {"previous": Opt(REGS), "bp": ListOf(ADDR),
            "upcoming": Opt(Also(Row((str, Opt(ADDR))), _call_target)), "upcoming_name": str,
            "walk": Opt(WALK),
            "exit_text": str, "waiting_input": bool, "pending_fault": str, "symbol": str,
            "breakpoints": ListOf(str), "clock": str,
            "processes": ListOf(Row((Int(), Int(), Int(), str, str, Opt(Int()), bool, str))),
            "pending_switch": str})
STOP = Obj({"view": Ref("views")},
           {"kind": str, "reason": str, "message": str, "visited": bool})
# The tables come before what refers to them (a dict keeps this order): an index is checked
# against a table already known to be a list.
DOCUMENT = Obj({"format": str, "version": int,
                "insns": ListOf(Row((ADDR, Hex(), str, str, str, str, str, str, str, str))),
                "maps": ListOf(ListOf(Row((ADDR, ADDR, str, str, str, str)))),
                "stacks": ListOf(ListOf(Row((ADDR, Int(), str, bool, bool)))),
                "outputs": ListOf(ListOf(Row((str, str)))),
                "event_lines": ListOf(Row((str, str, str))),
                "transitions": ListOf(TRANSITION), "views": ListOf(VIEW),
                "stops": ListOf(STOP)},
               {"program": str, "argv": ListOf(str), "arch": str, "created": str,
                "source": str, "trace": ListOf(ANY)})

_HEX = frozenset("0123456789abcdefABCDEF")


def validate(doc) -> None:
    """Raise SchemaError naming the first place `doc` is not a recording a replay can draw."""
    try:
        if type(doc) is not dict:
            raise _Bad(f"{_kind(doc)} where an object belongs")
        if type(doc.get("views")) is not list:  # views refer to views (walk.before)
            raise _Bad(f"{_kind(doc.get('views'))} where a list belongs", "views")
        _DOCUMENT(doc, doc)
    except _Bad as e:
        raise SchemaError(e.text()) from None
    _check_walks(doc["views"], doc["transitions"])


class _Bad(Exception):
    """A check failed: the message, and the path to it, gathered on the way out (so a path
    is only ever made for the one place that fails)."""

    def __init__(self, message: str, *where):
        self.message = message
        self.where = list(reversed(where))

    def text(self) -> str:
        path = ""
        for key in reversed(self.where):
            path = _where(path, key)
        return f"{path}: {self.message}" if path else self.message


def _where(path: str, key) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if not key.isidentifier():  # a key from the file: quoted, so the message stays one line
        return f"{path}[{_short(key)}]"
    return f"{path}.{key}" if path else key


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false",
            int: "an integer", float: "a number", type(None): "null"}.get(type(value), "?")


def _compile(spec):
    """A function (value, doc) that raises _Bad where `value` breaks `spec`."""
    if spec is ANY:
        return _any
    if isinstance(spec, Also):
        inner, rule = _compile(spec.spec), spec.rule

        def also(value, doc):
            inner(value, doc)
            wrong = rule(value)
            if wrong:
                raise _Bad(wrong)
        return also
    if isinstance(spec, Opt):
        inner = _compile(spec.spec)

        def opt(value, doc):
            if value is not None:
                inner(value, doc)
        return opt
    if spec is str or spec is bool or spec is int:
        # bool is an int to Python, and an int is no bool: each is only itself here
        want = _kind(spec())

        def plain(value, doc):
            if type(value) is not spec:
                raise _Bad(f"{_kind(value)} where {want} belongs")
        return plain
    if isinstance(spec, Int):
        lo, hi = spec.lo, spec.hi

        def integer(value, doc):
            if type(value) is not int:
                raise _Bad(f"{_kind(value)} where an integer belongs")
            if not lo <= value < hi:
                raise _Bad(f"{_short(value)} is out of range")
        return integer
    if isinstance(spec, Ref):
        table = spec.table

        def ref(value, doc):
            if type(value) is not int:
                raise _Bad(f"{_kind(value)} where an integer belongs")
            n = len(doc[table])
            if not 0 <= value < n:
                raise _Bad(f"index {_short(value)} is outside {table} (0..{n - 1})" if n
                           else f"{table} is empty")
        return ref
    if spec is NUMBER:
        def number(value, doc):
            if type(value) is float and not math.isfinite(value) or \
                    type(value) not in (int, float):
                raise _Bad(f"{_kind(value)} where a number belongs")
            if abs(value) >= 1 << 64:
                raise _Bad(f"{_short(value)} is out of range")
        return number
    if isinstance(spec, Hex):
        def hexdigits(value, doc):
            if type(value) is not str or len(value) % 2 or not _HEX.issuperset(value):
                raise _Bad("not an instruction's bytes in hex")
        return hexdigits
    if isinstance(spec, tuple):  # allowed values (32, 64) or alternatives (an int or a str)
        if all(not isinstance(s, type) for s in spec):
            def one_of(value, doc):
                if not any(type(value) is type(s) and value == s for s in spec):
                    raise _Bad(f"{_short(value)} is not one of {', '.join(map(str, spec))}")
            return one_of
        options = [_compile(s) for s in spec]

        def either(value, doc):
            for check in options:
                try:
                    return check(value, doc)
                except _Bad:
                    pass
            raise _Bad(f"{_kind(value)} does not belong here")
        return either
    if isinstance(spec, ListOf):
        item = _compile(spec.item)

        def list_of(value, doc):
            if type(value) is not list:
                raise _Bad(f"{_kind(value)} where a list belongs")
            i = 0
            try:
                for v in value:
                    item(v, doc)
                    i += 1
            except _Bad as e:
                e.where.append(i)
                raise
        return list_of
    if isinstance(spec, Row):
        items = [_compile(s) for s in spec.items]
        n = len(items)

        def row(value, doc):
            if type(value) is not list:
                raise _Bad(f"{_kind(value)} where a list belongs")
            if len(value) != n:
                raise _Bad(f"{len(value)} items where {n} belong")
            i = 0
            try:
                for i, check in enumerate(items):
                    check(value[i], doc)
            except _Bad as e:
                e.where.append(i)
                raise
        return row
    if isinstance(spec, MapOf):
        inner = _compile(spec.value)

        def map_of(value, doc):
            if type(value) is not dict:
                raise _Bad(f"{_kind(value)} where an object belongs")
            for k, v in value.items():
                try:
                    inner(v, doc)
                except _Bad as e:
                    e.where.append(k)
                    raise
        return map_of
    if isinstance(spec, Obj):
        required = [(k, _compile(s)) for k, s in spec.required.items()]
        optional = [(k, _compile(s)) for k, s in (spec.optional or {}).items()]

        def obj(value, doc):
            if type(value) is not dict:
                raise _Bad(f"{_kind(value)} where an object belongs")
            k = ""
            try:
                for k, check in required:
                    if k not in value:
                        raise _Bad("missing")
                    check(value[k], doc)
                for k, check in optional:
                    if k in value:
                        check(value[k], doc)
            except _Bad as e:
                e.where.append(k)
                raise
        return obj
    raise AssertionError(f"unknown spec {spec!r}")  # a mistake in the schema above


def _any(value, doc, depth: int = 0) -> None:
    """Free-form JSON: only its depth is limited."""
    if depth > MAX_DEPTH:
        raise _Bad(f"nested deeper than {MAX_DEPTH} levels")
    items = value.items() if type(value) is dict else \
        enumerate(value) if type(value) is list else ()
    for k, v in items:
        if type(v) in (list, dict):
            try:
                _any(v, doc, depth + 1)
            except _Bad as e:
                e.where.append(k)
                raise


_DOCUMENT = _compile(DOCUMENT)


def _check_walks(views: list, transitions: list) -> None:
    """Every walk is at one of its transition's phases, and every chain of `walk.before`
    ends (a view shown during a walk goes back to the view at the trap, which is not itself
    inside a walk of the same trap, and so on)."""
    for i, v in enumerate(views):
        w = v.get("walk")
        if w:
            n = len(transitions[w["transition"]]["phases"])
            if w["phase"] >= n:
                raise SchemaError(f"views[{i}].walk.phase: {w['phase']} is past the "
                                  f"transition's {n} phases")
    done: set[int] = set()
    for start in range(len(views)):
        seen: list[int] = []
        i = start
        while i not in done:
            w = views[i].get("walk")
            if not w:
                break
            if i in seen:
                what = "refers to itself" if w["before"] == i else \
                    f"goes round in a cycle (views {', '.join(map(str, seen[seen.index(i):]))})"
                raise SchemaError(f"views[{i}].walk.before {what}")
            seen.append(i)
            i = w["before"]
        done.update(seen)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + "..."

"""Matching a syscall trace against an strace-form transcript with named gaps.

A transcript is strace's lines, one a line, as a student would read them in `syscall-lab
run -s`:

    write(1, <msg>, <len>) = <len>
    ...
    <_:exit|exit_group>(0) = ?

- `<name>` matches one strace value (a quoted string, a `{...}` struct, a `[...]` array, or
  a bare word such as `14`, `O_RDONLY|O_CLOEXEC`, `0x7ffd1000`) and binds it; a later
  `<name>` must be the same text. `<name:REGEX>` matches REGEX instead; `<_>` and `<_:REGEX>`
  match without binding.
- `...` on a line of its own matches any number of lines (none included).
- `{expr}` is a template over the run's variables, expanded before matching (a literal
  brace is `{{`).
- Both ends are anchored: start with `...` to allow lines before, end with it to allow
  lines after.

The observed lines are each syscall's strace line with strace's column padding removed
(`call(args) = result`, one space each side of `=`) and signal lines (`--- SIGSEGV {...} ---`).
In a run with several tasks each line starts with `[pid N] `, and a call that waited is one
line (`rejoin`), where it returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from programs.grading.templates import TemplateError, expand

GAP = "..."
HOLE = re.compile(r"<([A-Za-z_]\w*)(?::([^>]*))?>")
_STR = r'"(?:[^"\\]|\\.)*"(?:\.\.\.)?'
_INNER = r'(?:[^{}\[\]"]|' + _STR + r')*'
_NEST = r'(?:\{' + _INNER + r'\}|\[' + _INNER + r'\])'
_BODY = r'(?:[^{}\[\]"]|' + _STR + r'|' + _NEST + r')*'
# One strace value: a string, a struct or array (nested one level), or a bare word.
VALUE = _STR + r'|\{' + _BODY + r'\}|\[' + _BODY + r'\]|[^\s,(){}\[\]"]+'
MAX_STEPS = 200_000  # backtracking budget across `...` gaps


class TranscriptError(ValueError):
    """A transcript that cannot be used; str() names the line."""


@dataclass
class Hole:
    name: str  # "_" binds nothing
    regex: str | None


@dataclass
class PatternLine:
    number: int  # line number inside the transcript, for messages
    source: str  # as written
    pieces: list = field(default_factory=list)  # str (literal) or Hole
    gap: bool = False

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.pieces if isinstance(p, Hole) and p.name != "_"]

    def _call_start(self) -> tuple[int, str | None]:
        """Where the call begins, after a leading `[pid N] `: (k, rest) with rest the call's
        start when it lies inside text piece k, or (k, None) when the call begins at piece k
        (a `<_:exit|exit_group>` hole; k is 0 without a prefix)."""
        pieces = self.pieces
        if not (pieces and isinstance(pieces[0], str) and pieces[0].startswith("[pid ")):
            return 0, None
        for k, p in enumerate(pieces):
            if isinstance(p, str) and "] " in p[5 if k == 0 else 0:]:
                rest = p.split("] ", 1)[1]
                return (k, rest) if rest else (k + 1, None)
        return 0, None

    def call_names(self) -> set[str]:
        """The syscall names this line can match: its literal name, or the alternatives of a
        leading `<_:exit|exit_group>` (after the `[pid N] ` prefix, if any)."""
        k, text = self._call_start()
        if text is not None:
            name = call_name(text)
            return {name} if name else set()
        if k >= len(self.pieces):
            return set()
        first = self.pieces[k]
        if isinstance(first, str):
            name = call_name(first)
            return {name} if name else set()
        rest = self.pieces[k + 1] if len(self.pieces) > k + 1 else ""
        if first.regex and isinstance(rest, str) and rest.startswith("(") and \
                re.fullmatch(r"\w+(\|\w+)*", first.regex):
            return set(first.regex.split("|"))
        return set()

    def render(self, bindings: dict[str, str], call: str | None = None) -> str:
        """The line as expected so far: bound names replaced by their values (and a leading
        `<_:exit|exit_group>` by `call`, when comparing with a line that made that call)."""
        out = []
        start = self._call_start()
        for i, p in enumerate(self.pieces):
            if (i, None) == start and call is not None and isinstance(p, Hole):
                out.append(call)
            elif isinstance(p, str):
                out.append(p)
            elif p.name != "_" and p.name in bindings:
                out.append(bindings[p.name])
            else:
                out.append(f"<{p.name}{':' + p.regex if p.regex is not None else ''}>")
        return "".join(out)

    def human(self, bindings: dict[str, str], call: str | None = None) -> str:
        """The line as a person would write it, for students: bound names replaced by their
        values, `<_:exit|exit_group>(0)` as `exit(0) = ?  (or exit_group)`, other unbound
        names by their name, and `<_>` by `...`."""
        out, others = [], []
        start = self._call_start()
        for i, p in enumerate(self.pieces):
            if isinstance(p, str):
                out.append(p)
            elif p.name != "_" and p.name in bindings:
                out.append(bindings[p.name])
            elif (i, None) == start and p.regex and re.fullmatch(r"\w+(\|\w+)*", p.regex):
                names = p.regex.split("|")
                out.append(call if call in names else names[0])
                if call not in names:
                    others = names[1:]
            elif p.name == "_" and p.regex is not None and re.fullmatch(p.regex, ""):
                out.append("")  # optional text (`<_:(AT_FDCWD, )?>`, `<_:.*>`): left out
            else:
                out.append(human_value(f"<{p.name}>"))
        text = "".join(out)
        return text + (f"  (or {' or '.join(others)})" if others else "")

    def regex(self, bindings: dict[str, str]) -> re.Pattern:
        out, seen = [], set()
        for p in self.pieces:
            if isinstance(p, str):
                out.append(re.escape(p))
                continue
            inner = p.regex if p.regex is not None else VALUE
            if p.name == "_":
                out.append(f"(?:{inner})")
            elif p.name in bindings:
                out.append(re.escape(bindings[p.name]))
            elif p.name in seen:
                out.append(f"(?P={p.name})")
            else:
                seen.add(p.name)
                out.append(f"(?P<{p.name}>{inner})")
        return re.compile("".join(out))


def human_value(text: str) -> str:
    """A transcript value for a person: `<_>` and `<_:REGEX>` are `...`, `<name>` its name."""
    return HOLE.sub(lambda m: "..." if m.group(1) == "_" else m.group(1), text)


def parse(text: str, names: dict) -> list[PatternLine]:
    """The transcript's lines, templates expanded. Blank lines and `#` comments are skipped."""
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line == GAP:
            lines.append(PatternLine(number, line, gap=True))
            continue
        line = re.sub(r"\s{2,}= ", " = ", line)  # strace's column padding, if copied
        prefix, rest = split_pid(line)  # `[pid  4243]` as strace pads it, if copied
        line = prefix + rest
        pieces: list = []
        pos = 0
        try:
            for m in HOLE.finditer(line):
                if m.start() > pos:
                    pieces.append(expand(line[pos:m.start()], names))
                rx = m.group(2)
                if rx is not None:
                    try:
                        re.compile(rx)
                    except re.error as e:
                        raise TranscriptError(f"line {number}: <{m.group(1)}:{rx}>: bad "
                                              f"regex ({e})") from None
                pieces.append(Hole(m.group(1), rx))
                pos = m.end()
            if pos < len(line):
                pieces.append(expand(line[pos:], names))
        except TemplateError as e:
            raise TranscriptError(f"line {number}: {e}") from None
        lines.append(PatternLine(number, line, pieces))
    return lines


# -- the observed side ------------------------------------------------------------------
# strace -f's `[pid N] ` before a line of a run with several tasks (strace pads N to five
# columns; transcripts and observed lines have one space). N may be a `<name>` hole.
PID_PREFIX = re.compile(r"\[pid\s+([^\]\s]+)\]\s*")


def split_pid(text: str) -> tuple[str, str]:
    """(`[pid N] `, the rest) for a line naming its task; ("", text) otherwise."""
    m = PID_PREFIX.match(text)
    if m is None:
        return "", text
    return f"[pid {m.group(1)}] ", text[m.end():]


def split_call(text: str) -> tuple[str, list[str], str] | None:
    """`name(a, b, c) = result` -> (name, [a, b, c], result), quotes and nesting respected;
    None for lines that are not calls (signals). A `[pid N] ` prefix is skipped."""
    text = split_pid(text)[1]
    m = re.match(r"[A-Za-z_]\w*\(", text)
    if not m:
        return None
    name = text[:m.end() - 1]
    args, depth, start, i, n = [], 0, m.end(), m.end(), len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c in "{[(":
            depth += 1
        elif c in "}]" or (c == ")" and depth > 0):
            depth -= 1
        elif c == "," and depth == 0:
            args.append(text[start:i].strip())
            start = i + 1
        elif c == ")":
            last = text[start:i].strip()
            if last or args:
                args.append(last)
            rest = text[i + 1:].strip()
            if not rest.startswith("="):
                return None
            return name, args, rest[1:].strip()
        i += 1
    return None


def rejoin(unfinished: str, resumed: str) -> str:
    """One line for a call that waited while other tasks ran, from its two halves:
    `wait4(-1, <unfinished ...>` and `<... wait4 resumed>[...], 0, NULL) = 5` give
    `wait4(-1, [...], 0, NULL) = 5`. The resumed half either goes on where the unfinished
    one stopped or, when the arguments read differently at the end, repeats them all."""
    m = re.match(r"<\.\.\. ([A-Za-z_]\w*) resumed>", resumed.strip())
    if m is None:
        return resumed
    name, rest = m.group(1), resumed.strip()[m.end():]
    head = unfinished.strip().removesuffix("<unfinished ...>").rstrip()
    again = split_call(f"{name}({rest}")
    shown = split_call(head.rstrip(", ") + ") = ?") if head.startswith(f"{name}(") else None
    if again is not None and shown is not None and shown[1] and \
            again[1][:len(shown[1])] == shown[1]:
        return f"{name}({rest}"  # every argument again
    if head.endswith("("):
        return head + rest
    return head.rstrip(", ") + ", " + rest if head.startswith(f"{name}(") else resumed


def normalize(text: str) -> str:
    """strace's line without its column-40 padding: `call(args) = result`, after the
    `[pid N] ` prefix if there is one."""
    prefix, rest = split_pid(text.strip())
    parts = split_call(rest)
    if parts is None:
        return prefix + rest.strip()
    name, args, result = parts
    return f"{prefix}{name}({', '.join(args)}) = {result}"


# -- matching -----------------------------------------------------------------------------
@dataclass
class Mismatch:
    """Where matching got furthest and failed. kind: "differs" (this observed line is not the
    expected one), "missing" (no line after a `...` gap matched), "ended" (the trace ended
    before the expected line), "extra" (observed lines after the expected end)."""

    kind: str
    pattern: PatternLine | None
    expected: str  # the expected line, bound names filled in
    index: int  # the observed line's index (len(observed) when the trace ended)
    bindings: dict[str, str]
    shown: str = ""  # the expected line as a person writes it (PatternLine.human)


@dataclass
class MatchResult:
    ok: bool
    bindings: dict[str, str]
    mismatch: Mismatch | None = None
    matched: list[int] = field(default_factory=list)  # observed index of each pattern line


def match(pattern: list[PatternLine], observed: list[str],
          bound: dict[str, str] | None = None) -> MatchResult:
    state = _Matcher(pattern, observed)
    result = state.run(0, 0, dict(bound or {}), [])
    if result is not None:
        bindings, matched = result
        return MatchResult(True, bindings, None, matched)
    return MatchResult(False, state.best_bindings, state.mismatch())


class _Matcher:
    def __init__(self, pattern: list[PatternLine], observed: list[str]):
        self.pattern = pattern
        self.observed = observed
        self.steps = 0
        self.best: tuple[int, int, str, dict, bool] | None = None  # (pi, ai, kind, b, gap)
        self.best_bindings: dict[str, str] = {}

    def _fail(self, pi: int, ai: int, kind: str, bindings: dict, after_gap: bool) -> None:
        if self.best is None or pi > self.best[0]:
            self.best = (pi, ai, kind, dict(bindings), after_gap)
            self.best_bindings = dict(bindings)

    def run(self, pi: int, ai: int, bindings: dict, matched: list):
        self.steps += 1
        if self.steps > MAX_STEPS:
            return None
        if pi == len(self.pattern):
            if ai == len(self.observed):
                return bindings, matched
            self._fail(pi, ai, "extra", bindings, False)
            return None
        p = self.pattern[pi]
        if p.gap:
            for k in range(ai, len(self.observed) + 1):
                r = self.run(pi + 1, k, bindings, matched)
                if r is not None:
                    return r
            return None
        after_gap = pi > 0 and self.pattern[pi - 1].gap
        if ai == len(self.observed):
            self._fail(pi, ai, "ended", bindings, after_gap)
            return None
        m = p.regex(bindings).fullmatch(self.observed[ai])
        if m is None:
            self._fail(pi, ai, "missing" if after_gap else "differs", bindings, after_gap)
            return None
        new = dict(bindings)
        new.update({k: v for k, v in m.groupdict().items() if v is not None})
        return self.run(pi + 1, ai + 1, new, [*matched, ai])

    def mismatch(self) -> Mismatch:
        if self.best is None:  # only gaps, and the step budget ran out
            return Mismatch("missing", None, "", 0, {})
        pi, ai, kind, bindings, after_gap = self.best
        if kind == "extra":
            return Mismatch("extra", None, "", ai, bindings)
        p = self.pattern[pi]
        if kind == "ended" and after_gap:
            kind = "missing"
        return Mismatch(kind, p, p.render(bindings), ai, bindings, p.human(bindings))


def call_name(line: str) -> str | None:
    m = re.match(r"([A-Za-z_]\w*)\(", split_pid(line)[1])
    return m.group(1) if m else None

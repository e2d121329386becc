"""Expected output with placeholders for what changes from run to run.

A catalog entry's expected stdout is plain text that a reader can take in at a glance; the
parts that vary (times, addresses under ASLR, a file's inode) are written as placeholders:

    {int}    a decimal integer, maybe negative        {hex}   0x and hex digits
    {addr}   bare hex digits (as /proc/self/maps)     {time}  seconds, maybe with a fraction
    {...}    anything up to the end of the line       {lines} any number of whole lines
    {{ }}    literal braces

The text and the regular expression come from one source, so the page `syscall-lab show`
prints and the test that checks the program cannot drift apart.
"""

from __future__ import annotations

import re

PLACEHOLDERS = {
    "int": r"-?[0-9]+",
    "hex": r"0x[0-9a-f]+",
    "addr": r"[0-9a-f]+",
    "time": r"[0-9]+(?:\.[0-9]+)?",
    "...": r"[^\n]*",
    "lines": r"(?:[^\n]*\n)*?",
}
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def to_regex(expected: str) -> re.Pattern:
    """The pattern a run's whole stdout must match. ValueError on an unknown placeholder."""
    out, pos = [], 0
    for m in _TOKEN.finditer(expected):
        out.append(re.escape(expected[pos:m.start()]))
        token = m.group(0)
        if token in ("{{", "}}"):
            out.append(re.escape(token[0]))
        elif m.group(1) in PLACEHOLDERS:
            out.append(PLACEHOLDERS[m.group(1)])
        else:
            known = ", ".join("{" + k + "}" for k in PLACEHOLDERS)
            raise ValueError(f"unknown placeholder {token} (known: {known})")
        pos = m.end()
    out.append(re.escape(expected[pos:]))
    return re.compile("".join(out), re.DOTALL)


def placeholders_in(expected: str) -> list[str]:
    """The placeholders used, each once, as written ({int}, {hex}...)."""
    found = [m.group(0) for m in _TOKEN.finditer(expected) if m.group(1) is not None]
    return list(dict.fromkeys(found))


def matches(expected: str, actual: str) -> bool:
    return to_regex(expected).fullmatch(actual) is not None


def first_difference(expected: str, actual: str) -> str:
    """The first expected line the output does not match, for a readable failure."""
    exp_lines = expected.split("\n")
    act_lines = actual.split("\n")
    for i, line in enumerate(exp_lines):
        if "{lines}" in line:
            return "(the difference is after a {lines} placeholder)"
        got = act_lines[i] if i < len(act_lines) else "<no more output>"
        if to_regex(line).fullmatch(got) is None:
            return f"line {i + 1}: expected {line!r}, got {got!r}"
    if len(act_lines) > len(exp_lines):
        return f"unexpected extra output: {act_lines[len(exp_lines)]!r}"
    return "(no line differs)"

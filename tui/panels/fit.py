"""Fitting text to a panel: a line cut at the edge ends with "…" (never silently), and
strace's padding is squeezed out without touching the traced strings' own spaces."""

from __future__ import annotations

import re

ELLIPSIS = "…"

# A double-quoted string as strace writes it (backslash escapes inside), or a run of
# whitespace outside one.
_QUOTED_OR_SPACE = re.compile(r'"(?:[^"\\]|\\.)*"?|\s+')


def clip(text: str, width: int) -> str:
    """`text` in at most `width` columns; a cut one ends with "…"."""
    if len(text) <= width:
        return text
    return text[:max(0, width - 1)] + ELLIPSIS if width > 0 else ""


def squeeze(text: str) -> str:
    """Runs of spaces (strace's padding to column 40) made one, outside quoted strings:
    'write(1, "a  b", 4)      = 4' -> 'write(1, "a  b", 4) = 4'."""
    def one(m: re.Match) -> str:
        s = m.group(0)
        return s if s.startswith('"') else " "

    return _QUOTED_OR_SPACE.sub(one, text).strip()

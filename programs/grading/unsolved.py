"""A solution not written yet: the starter as given, which assembles to no instruction at
all. The grader and exercise mode say so ("not solved yet: write your code below line N")
instead of reporting an assembler failure on line 1."""

from __future__ import annotations

import re
from pathlib import Path

NO_CODE = "no instructions in .text"  # emu.asm's error for a file without an instruction


def code_line(source: str) -> int:
    """The line to write below: the starter's `; your code here` (or the last comment after
    `_start:`), else `_start:` itself, else the last line that is not blank."""
    lines = source.splitlines()
    start = next((i for i, text in enumerate(lines) if re.match(r"\s*_start\s*:", text)), None)
    if start is not None:
        after = start + 1
        while after < len(lines) and lines[after].strip().startswith(";"):
            after += 1
        return after  # 1-based: the last line of _start's comments (or _start: itself)
    filled = [i for i, text in enumerate(lines, 1) if text.strip()]
    return filled[-1] if filled else 1


def unsolved_line(path: str, error: str) -> int | None:
    """N when `path` failed to load only because it has no instructions yet, else None."""
    if NO_CODE not in error:
        return None
    try:
        return code_line(Path(path).read_text())
    except (OSError, UnicodeDecodeError):
        return None


def message(line: int) -> str:
    return f"not solved yet: write your code below line {line}"

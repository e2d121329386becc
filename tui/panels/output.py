"""The output panel: what the guest wrote to stdout and stderr up to the current point in
history, and what it read from the standard input (as the user typed it)."""

from __future__ import annotations

ROLES = {"stdout": "stdout", "stderr": "stderr", "stdin": "stdin"}


def output_lines(view) -> list[list[tuple[str, str]]]:
    lines: list[list[tuple[str, str]]] = [[]]
    for chunk in view.output:
        role = ROLES[chunk.stream]
        parts = chunk.text.split("\n")
        for i, part in enumerate(parts):
            if i:
                lines.append([])
            if part:
                lines[-1].append((part, role))
    if lines and not lines[-1]:
        lines.pop()
    if view.waiting_input:
        lines.append([("⌨ the program reads its standard input: type a line below", "note")])
    if not lines:
        lines.append([("(no output yet)", "muted")])
    return lines

"""A panel widget: shows the lines a pure panel function made (tui/panels), mapping each
segment's role to a style built from the theme's variables, so dark and light themes both
read well."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

ROLE_STYLES = {
    "": "",
    "text": "$foreground",
    "muted": "$text-muted",
    "note": "bold $text-secondary",
    "heading": "bold $text-primary",
    "title": "bold $foreground",
    "addr": "$text-muted",
    "pc": "bold $text-accent",
    "pc-addr": "bold $text-accent",
    "pc-insn": "bold $foreground on $accent-muted",
    "insn": "$foreground",
    "trap": "bold $text-error",
    "tsc": "bold $text-warning",
    "call": "$text-secondary",
    "label": "bold $text-success",
    "source": "italic $text-muted",
    "ref": "$text-success",
    "bp": "bold $text-error",
    "reg-name": "$text-primary",
    "value": "$foreground",
    "changed": "bold $text-warning",
    "old": "$text-muted",
    "flags": "$text-secondary",
    "ret": "$text-success",
    "pointer": "$text-secondary",
    "kind-code": "$text-success",
    "kind-data": "$text-primary",
    "kind-heap": "$text-warning",
    "kind-stack": "$text-accent",
    "kind-vdso": "bold $text-secondary",
    "kind-vvar": "italic $text-secondary",
    "kind-vsyscall": "bold $text-error",
    "kind-anon": "$foreground",
    "event": "$foreground",
    "event-vdso": "$text-success",
    "event-vsyscall": "$text-warning",
    "event-signal": "bold $text-error",
    "event-exit": "bold $text-primary",
    "future": "$text-disabled",
    "stdout": "$foreground",
    "stderr": "$text-error",
    "stdin": "italic $text-secondary",
    "banner": "bold $text-success",
    "phase-now": "bold $foreground on $accent-muted",
    "phase-done": "$text-success",
    "phase-next": "$text-muted",
    "phase-title": "bold $text-accent",
    "kernel": "bold $text-error",
    "user": "bold $text-success",
    "warning": "bold $text-warning",
    "error": "bold $text-error",
    "detail": "$foreground",
    "table": "$foreground",
    "table-now": "bold $foreground on $accent-muted",
    "cost": "bold $text-warning",
    "bar": "$text-muted",
    "bar-now": "bold $text-warning",
    "past": "bold $text-warning",
}


def to_content(lines) -> Content:
    """Panel lines to one Content, styles taken from the roles."""
    out = []
    for i, line in enumerate(lines):
        if i:
            out.append("\n")
        for text, role in line:
            if text:
                out.append((text, ROLE_STYLES.get(role, "")))
    return Content.assemble(*out) if out else Content("")


class Panel(Static):
    """A bordered panel whose content is replaced at each stop."""

    DEFAULT_CSS = """
    Panel { width: 1fr; height: auto; }
    """

    def __init__(self, title: str, **kwargs):
        super().__init__("", markup=False, **kwargs)
        self.border_title = title
        self._lines = None

    def show(self, lines) -> None:
        if lines == self._lines:
            return  # unchanged: spare the layout and the redraw
        # Only a change in the number of lines needs a new layout; otherwise just this
        # panel is repainted (a layout repaints the whole screen).
        relayout = self._lines is None or len(lines) != len(self._lines)
        self._lines = lines
        self.update(to_content(lines), layout=relayout)

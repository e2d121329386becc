"""The events panel: the strace lines so far (with [vdso] and [vsyscall] lines), and the
recorded ones still ahead of the current point in history, dimmed."""

from __future__ import annotations

from tui.panels.fit import clip, squeeze

KIND_ROLES = {"syscall": "event", "vdso": "event-vdso", "vsyscall": "event-vsyscall",
              "signal": "event-signal", "exit": "event-exit", "note": "muted"}


def event_lines(view, *, width: int = 100, rows=None) -> list[list[tuple[str, str]]]:
    """The lines of `rows` (a stretch of view.events; all of them by default)."""
    lines = []
    for e in view.events if rows is None else rows:
        role = KIND_ROLES.get(e.kind, "event") if e.past else "future"
        marker = "▶ " if e.current else "  "
        text = squeeze(e.text) if width < 70 else e.text  # strace's padding, not strings'
        lines.append([(marker, "pc" if e.current else "muted"),
                      (clip(text, max(10, width - 2)), role)])
    if not lines:
        lines.append([("No system calls yet. t runs to the next transition.", "muted")])
    return lines


def current_index(events) -> int | None:
    """The index of the current event (the last one past), if any: kept by a long history's
    rows (kernel_model.debugger.view_events.EventLines), else found."""
    known = getattr(events, "current", None)
    if known is not None or hasattr(events, "current"):
        return known
    return next((e.index for e in events if e.current), None)

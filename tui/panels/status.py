"""The status line (why the program stopped, where, where in history) and the history
summary (how far back stepping can go, within what budget)."""

from __future__ import annotations

import textwrap


def status_line(view, reason: str = "", message: str = "", busy: str = "") -> list[tuple[str,
                                                                                          str]]:
    if busy:
        return [("● running: ", "warning"), (busy, "text"), ("   Esc stops it", "muted")]
    where = view.symbol or f"{view.pc:#x}"
    parts: list[tuple[str, str]] = []
    if view.exited:
        parts.append((f"{view.exit_text}", "warning"))
    elif view.pending_fault:
        parts.append((view.pending_fault, "error"))
    elif view.walk is not None:
        t = view.walk.transition
        parts.append((f"{t.kind}: phase {view.walk.phase + 1}/{len(t.phases)}", "heading"))
    else:
        parts.append((f"at {where}", "heading"))
    if message and not view.walk and all(message not in text for text, _ in parts):
        parts.append(("  " + message, "text"))
    h = view.history
    if not h.at_live_end:
        parts.append(("   ◀ in the past: ", "past"))
        parts.append((h.position, "past"))
    if view.waiting_input:
        parts.append(("   waiting for input", "note"))
    if view.clock:  # which time the guest reads: virtual under the stepping engine
        parts.append(("   " + view.clock, "muted"))
    return parts


def history_lines(view, *, width: int = 80) -> list[list[tuple[str, str]]]:
    h = view.history
    mb = h.used / (1 << 20)
    budget = h.budget / (1 << 20)
    lines = [[("history: ", "heading"), (f"{h.marks} saved points, {mb:.1f} of {budget:.0f} "
                                         "MiB", "text")]]
    back = f"stepping back reaches {h.horizon}"
    if h.dropped or h.thinned:
        back += f" ({h.thinned} points merged, {h.dropped} dropped)"
    lines.append([(back, "muted" if not h.dropped else "warning")])
    if not h.at_live_end and h.position:
        lines.append([("now: ", "heading"), (h.position, "past")])
    if h.budget:  # a live session (a replay has its recorded stops, nothing saved)
        lines += [[(part, "muted")] for part in textwrap.wrap(
            "A saved point is the whole machine, kept at the start and after each crossing "
            "into the kernel; any other moment is replayed from the one before it, "
            "instruction by instruction.", max(20, width))]
    return lines

"""The Processes panel: every task, as `ps -eLo pid,tid,ppid,stat` would list them, with
what each waits for and how many instructions it has run, the one the CPU runs marked."""

from __future__ import annotations

from tui.panels.fit import clip

STATES = {"R": "running or runnable", "S": "waiting", "T": "stopped",
          "Z": "a zombie: exited, not yet reaped"}
STATE_ROLES = {"R": "ret", "S": "muted", "T": "changed", "Z": "event-signal"}


def process_lines(view, *, width: int = 78) -> list[list[tuple[str, str]]]:
    rows = view.processes
    if not rows:
        return [[("one process, one thread (no table recorded)", "muted")]]
    lines = [[(clip("  PID    TID   PPID S    INSNS  CMD       WAITS FOR", width), "heading")]]
    for r in rows:
        marker = "▶" if r.current else " "
        insns = "?" if r.insns is None else f"{r.insns:,}"
        tid = "" if r.tid == r.pid else str(r.tid)  # a thread: its own id
        head = f"{marker}{r.pid:>5} {tid:>6} {r.ppid:>6} "
        tail = f" {insns:>8}  {clip(r.name, 8):<8}  "
        room = max(0, width - len(head) - 1 - len(tail))
        waits = r.waits or ("on the CPU" if r.current else "")
        role = "pc" if r.current else ""
        lines.append([(head, role), (r.state, STATE_ROLES.get(r.state, "")), (tail, role),
                      (clip(waits, room), "muted" if not r.current else role)])
    running = next((r for r in rows if r.current), None)
    lines.append([])
    if running is not None:
        who = f"pid {running.pid}" + (f", thread {running.tid}" if running.tid != running.pid
                                      else "")
        lines.append([(clip(f"▶ the CPU runs {who}", width), "muted")])
    lines.append([(clip("R runnable, S waiting, T stopped, Z zombie", width), "muted")])
    if any(r.insns is None for r in rows):
        lines.append([(clip("INSNS ?: run freely, not counted yet (stepping back counts "
                            "it)", width), "muted")])
    return lines

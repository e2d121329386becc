"""gdb's `monitor CMD` (qRcmd): what the TUI shows, as text. The reply is the output itself
(hex), which gdb prints."""

from __future__ import annotations

HELP = """\
monitor help           this list
monitor transitions    the crossings into the kernel so far (strace's lines; > marks now)
monitor maps           the memory map (/proc/PID/maps)
monitor where          the position in history and what the next instruction starts
"""


def run(session, command: str) -> str:
    words = command.split()
    if not words or words[0] == "help":
        return HELP
    view = session.view()
    if words[0] == "transitions":
        lines = []
        for e in view.events:
            mark = ">" if e.current else " " if e.past else "~"
            lines.append(f"{mark} {e.text}")
        return "\n".join(lines) + "\n" if lines else "no transitions yet\n"
    if words[0] == "maps":
        return "".join(m.text + "\n" for m in view.maps)
    if words[0] == "where":
        up = view.upcoming
        nxt = f"; next: {up[0]}" if up else ""
        h = view.history
        return f"pc {view.pc:#x} ({view.symbol or '?'}){nxt}; {_history(h)}\n"
    return f"unknown monitor command {words[0]!r}: `monitor help` lists them\n"


def _history(h) -> str:
    where = "at the live end" if h.at_live_end else "in the past (replayed, not re-run)"
    return f"{where}, {h.marks} points kept"

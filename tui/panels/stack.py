"""The stack panel: the words from sp up, each annotated: a return address into a symbol, a
pointer into [stack], [heap], [vdso]..., a string preview."""

from __future__ import annotations

from tui.panels.fit import clip


def stack_lines(view, *, width: int = 60) -> list[list[tuple[str, str]]]:
    hexw = 16 if view.bits == 64 else 8
    sp_name = "rsp" if view.bits == 64 else "esp"
    fp_name = "rbp" if view.bits == 64 else "ebp"
    lines = []
    for w in view.stack:
        tag = sp_name if w.is_sp else fp_name if w.is_fp else ""
        note_role = "ret" if w.note.startswith("return") else "pointer" if w.note else ""
        room = max(0, width - (4 + hexw + 2 + hexw + 2))
        line = [(f"{tag:>3} ", "reg-name" if tag else "muted"),
                (f"{w.address:0{hexw}x}", "addr"), ("  ", ""),
                (f"{w.value:0{hexw}x}", "value")]
        if w.note and room > 4:
            line += [("  ", ""), (clip(w.note, room), note_role)]
        lines.append(line)
    if not lines:
        lines.append([("(the stack is not readable here)", "muted")])
    return lines

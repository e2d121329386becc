"""The registers panel: general registers, the pc, flags by name, segment selectors and
fs/gs bases. What changed since the previous stop is highlighted, with its old value (as
gdb-dashboard's Registers module does)."""

from __future__ import annotations

# eflags bits worth naming (Intel SDM vol. 1, 3.4.3)
FLAGS = ((0, "CF"), (2, "PF"), (4, "AF"), (6, "ZF"), (7, "SF"), (8, "TF"), (9, "IF"),
         (10, "DF"), (11, "OF"))


def flags_text(value: int) -> str:
    names = [name for bit, name in FLAGS if value >> bit & 1]
    return "[ " + " ".join(names) + " ]"


def register_lines(view, previous: dict | None = None, *, columns: int = 2,
                   width: int = 60) -> list[list[tuple[str, str]]]:
    prev = previous if previous is not None else view.previous
    regs = view.regs
    bits = view.bits
    hexw = 16 if bits == 64 else 8
    gprs = [n for n in regs if n not in ("eflags", "fs_base", "gs_base", "cs", "ss", "ds",
                                         "es", "fs", "gs")]
    cells = []
    was = []
    for name in gprs:
        value = regs[name]
        changed = prev is not None and name in prev and prev[name] != value
        cells.append([(f"{name:>3} ", "reg-name"), (f"{value:0{hexw}x}", "changed" if changed
                                                      else "value")])
        if changed:
            was.append((name, prev[name]))
    lines: list[list[tuple[str, str]]] = []
    cell_width = 4 + hexw
    per_line = max(1, min(columns, (width + 2) // (cell_width + 2)))
    for i in range(0, len(cells), per_line):
        line: list[tuple[str, str]] = []
        for cell in cells[i:i + per_line]:
            if line:
                line.append(("  ", ""))
            line.extend(cell)
        lines.append(line)
    fl = regs.get("eflags", 0)
    fl_changed = prev is not None and prev.get("eflags") != fl
    line = [("flags ", "reg-name"), (f"{fl:#x} ", "changed" if fl_changed else "value"),
            (flags_text(fl), "flags")]
    if fl_changed:
        line.append((f" (was {flags_text(prev['eflags'])})", "old"))
    lines.append(line)
    seg_line: list[tuple[str, str]] = [("CPL ", "reg-name"), (str(regs.get("cs", 3) & 3),
                                                              "value")]
    for name in ("cs", "ss", "ds", "es", "fs", "gs"):
        seg_line += [(f"  {name} ", "reg-name"), (f"{regs.get(name, 0):x}", "value")]
    lines.append(seg_line)
    if bits == 64:
        base_line: list[tuple[str, str]] = []
        for name in ("fs_base", "gs_base"):
            value = regs.get(name, 0)
            changed = prev is not None and prev.get(name) != value
            base_line += [(f"{name} ", "reg-name"), (f"{value:#x}  ", "changed" if changed
                                                     else "value")]
        lines.append(base_line)
    if was:  # the previous values of what changed, in one place (gdb-dashboard's habit)
        line = [("was: ", "muted")]
        for name, old in was:
            line += [(f"{name} ", "reg-name"), (f"{old:#x}  ", "old")]
        lines.append(line)
    return lines

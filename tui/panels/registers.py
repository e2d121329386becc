"""The registers panel: general registers, the pc, flags by name, segment selectors and
fs/gs bases. What changed since the previous stop is highlighted, with its old value (as
gdb-dashboard's Registers module does)."""

from __future__ import annotations

from dataclasses import replace

MODELLED = "Registers  kernel entry, modelled"

# eflags bits worth naming (Intel SDM vol. 1, 3.4.3)
FLAGS = ((0, "CF"), (2, "PF"), (4, "AF"), (6, "ZF"), (7, "SF"), (8, "TF"), (9, "IF"),
         (10, "DF"), (11, "OF"))


def flags_text(value: int) -> str:
    names = [name for bit, name in FLAGS if value >> bit & 1]
    return "[ " + " ".join(names) + " ]" if names else "[ ]"


def registers_at(view):
    """What the Registers pane shows at a stop: (a view holding those registers, the
    registers to compare them with, the pane's title). While a transition's kernel phases
    run, the CPU's registers at that phase, as modelled (compared with the phase before);
    at the return, the state after it (compared with the user's at the trap); in the other
    phases the user's at the trap."""
    w = view.walk
    if w is None:
        return view, None, "Registers"
    phases = w.transition.phases
    phase = phases[w.phase]
    last = w.phase == len(phases) - 1
    if last and not phase.kernel:
        return view, w.before.regs, "Registers  after the return"
    earlier = next((p.regs for p in reversed(phases[:w.phase]) if p.regs), None)
    regs = phase.regs or (earlier if last else None)  # a task that ends in the kernel
    if not regs:
        return (view if last else w.before), None, "Registers"
    previous = dict(earlier) if earlier else w.before.regs
    return replace(w.before, regs=dict(regs)), previous, MODELLED


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
    named = []  # registers holding a kernel address, shown by its name on their own line
    for name in gprs:
        value = regs[name]
        changed = prev is not None and name in prev and prev[name] != value
        if changed and isinstance(prev[name], int):
            was.append((name, prev[name]))
        if isinstance(value, str):
            named.append([(f"{name:>3} ", "reg-name"), (value, "changed" if changed
                                                         else "value")])
            continue
        cells.append([(f"{name:>3} ", "reg-name"), (f"{value:0{hexw}x}", "changed" if changed
                                                      else "value")])
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
    lines += named
    fl = regs.get("eflags", 0)
    fl_changed = prev is not None and prev.get("eflags") != fl
    line = [("flags ", "reg-name"), (f"{fl:#x} ", "changed" if fl_changed else "value"),
            (flags_text(fl), "flags")]
    if fl_changed:
        line.append((f" (was {flags_text(prev.get('eflags', 0))})", "old"))
    lines.append(line)
    def role(name: str) -> str:
        return "changed" if prev is not None and name in prev and \
            prev[name] != regs.get(name) else "value"

    cpl = regs.get("cs", 3) & 3
    pairs = [("CPL", str(cpl), "changed" if prev is not None and "cs" in prev and
              prev["cs"] & 3 != cpl else "value")]
    for name in ("cs", "ss", "ds", "es", "fs", "gs"):
        value = regs.get(name, 0)
        pairs.append((name, f"{value:#x}" if value else "0", role(name)))  # 0: null
    lines += _pairs_lines(pairs, width)
    if bits == 64:
        base_line: list[tuple[str, str]] = []
        named = []
        for name in ("fs_base", "gs_base"):
            value = regs.get(name, 0)
            if isinstance(value, str):  # a kernel address, by name: a line of its own
                named.append([(f"{name} ", "reg-name"), (value, role(name))])
                continue
            base_line += [(f"{name} ", "reg-name"), (f"{value:#x}  ", role(name))]
        lines += [base_line, *named]
    if was:  # the previous values of what changed, in one place (gdb-dashboard's habit)
        line = [("was: ", "muted")]
        for name, old in was:
            line += [(f"{name} ", "reg-name"), (f"{old:#x}  ", "old")]
        lines.append(line)
    return lines


def _pairs_lines(pairs, width: int) -> list[list[tuple[str, str]]]:
    """`name value` pairs on one line, two spaces apart, or one if that is what fits; wrapped
    if even that is too wide."""
    full = sum(len(n) + 1 + len(v) for n, v, _r in pairs)
    sep = "  " if full + 2 * (len(pairs) - 1) <= width else " "
    lines: list[list[tuple[str, str]]] = [[]]
    used = 0
    for name, value, role in pairs:
        size = len(name) + 1 + len(value)
        if lines[-1] and used + len(sep) + size > width:
            lines.append([])
            used = 0
        gap = sep if lines[-1] else ""
        lines[-1] += [(f"{gap}{name} ", "reg-name"), (value, role)]
        used += len(gap) + size
    return lines

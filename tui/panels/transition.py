"""The transition panel, the heart of the screen: at a `syscall`, `int 0x80`, `sysenter`, a call
into the vDSO or the vsyscall page, what is about to happen; while walking one, the current
phase: what it changes (registers, privilege level, stack), one or two plain sentences, the
syscall table with its row picked out, and the modelled cost beside the other paths'."""

from __future__ import annotations

import textwrap

from kernel_model.entry.mechanism import TRAPS, Mechanism
from tui.panels.events import current_index
from tui.panels.fit import clip, squeeze

SHORT = {"user": "user", "cpu": "CPU", "gate": "IDT", "frame": "frame", "pushes": "stub",
         "pt_regs": "pt_regs", "table": "table", "handler": "handler", "return": "return",
         "call": "call", "vvar": "vvar", "tsc": "rdtsc", "math": "math", "ret": "ret",
         "fault": "fault", "emulate": "emulate", "native": "native", "none": "none"}

Line = list[tuple[str, str]]


def wrap(text: str, width: int, role: str = "", indent: str = "") -> list[Line]:
    return [[(indent + part, role)] for part in textwrap.wrap(
        text, max(20, width - len(indent))) or [""]]


def transition_lines(view, *, width: int = 60, compare: bool = True) -> list[Line]:
    if view.walk is not None:
        return _walking(view, width, compare)
    return _idle(view, width)


def _walking(view, width: int, compare: bool) -> list[Line]:
    w = view.walk
    t = w.transition
    phase = t.phases[w.phase]
    lines: list[Line] = []
    kind = {"vdso": "vDSO call", "vsyscall": "vsyscall call"}.get(t.kind, t.kind)
    room = max(20, width - len(kind) - 2)
    title = textwrap.wrap(squeeze(t.title), room) or [""]
    if len(title) > 3:  # three lines at most, the cut one ending with "…"
        title = title[:2] + [clip(" ".join(title[2:]), room)]
    lines.append([(f"{kind}  ", "heading"), (title[0], "title")])
    for more in title[1:3]:
        lines.append([(" " * (len(kind) + 2) + more, "title")])
    if t.banner:
        lines += wrap(t.banner, width, "banner")
    # progress: each phase's short name, the current one highlighted
    prog: Line = []
    used = 0
    for i, p in enumerate(t.phases):
        name = SHORT.get(p.key, p.key)
        sep = " › " if i else ""
        if used + len(sep) + len(name) > width and prog:
            lines.append(prog)
            prog, used, sep = [], 0, ""
        role = "phase-now" if i == w.phase else "phase-done" if i < w.phase else "phase-next"
        prog += [(sep, "muted"), (name, role)]
        used += len(sep) + len(name)
    lines.append(prog)
    ring = "ring 0 (kernel)" if phase.kernel else "ring 3 (user)"
    lines.append([(f"{w.phase + 1}/{len(t.phases)}  ", "muted"), (phase.title, "phase-title"),
                  ("   " + ring, "kernel" if phase.kernel else "user")])
    for sentence in phase.text:
        if sentence:
            lines += wrap(sentence, width, "text")
    if phase.warning:
        lines += wrap("⚠ " + phase.warning, width, "warning")
    if phase.changes:
        lines.append([])
        name_w = max(len(c.what) for c in phase.changes)
        for c in phase.changes:
            before = c.before if c.before else ""
            line: Line = [("  " + c.what.ljust(name_w) + "  ", "reg-name")]
            if before:
                line += [(before, "old"), ("  → ", "muted")]
            else:
                line += [("→ ", "muted")]
            line.append((c.after, "changed"))
            lines.append(line)
    if phase.table:
        lines.append([])
        lines.append([(f"  {phase.table_name}", "heading")])
        for row in phase.table:
            mark = "▶" if row.current else " "
            status = "" if row.implemented else "  (ENOSYS here)"
            lines.append([(f"  {mark} {row.nr:4d}  ", "pc" if row.current else "muted"),
                          (f"{row.name:<20}", "table-now" if row.current else "table"),
                          (f" {row.handler}", "muted"), (status, "warning" if status else "")])
    if phase.details:
        lines.append([])
        for d in phase.details:
            lines.append([("  " + clip(d, width - 2), "detail")])
    lines.append([])
    lines += _cost(t, phase, width, compare)
    return lines


def _cost(t, phase, width: int, compare: bool) -> list[Line]:
    lines: list[Line] = []
    if t.total_ns:
        share = "" if phase.cost_ns is None else (
            f"this phase ~{phase.cost_ns:.0f} ns of " if phase.cost_ns else "this phase: free; ")
        lines.append([("modelled cost: ", "muted"), (f"{share}~{t.total_ns:.0f} ns in all",
                                                     "cost")])
    elif t.kind == "vsyscall":
        lines.append([("modelled cost: the call ends in SIGSEGV", "muted")])
    last = phase is t.phases[-1] or phase is t.phases[0]
    top = max((ns for _n, ns in t.comparison), default=0)
    if compare and last and top > 0:  # (a recording could hold any numbers here)
        bar_w = max(5, min(30, width - 36))
        for name, ns in t.comparison:
            n = max(1, round(max(ns, 0) / top * bar_w))
            word = name.split()[:1]
            mine = bool(word) and word[0].lower() == t.kind.split(" ")[0].lower() or (
                name == "vDSO" and t.kind == "vdso")
            lines.append([(f"  {name:<20}", "cost" if mine else "muted"),
                          (f"{ns:5.0f} ns ", "cost" if mine else "muted"),
                          ("█" * n, "bar-now" if mine else "bar")])
        lines.append([("  (measured per call on Linux 6.18, KERNEL_FACTS §6)", "muted")])
    return lines


def _idle(view, width: int) -> list[Line]:
    lines: list[Line] = []
    if view.exited:
        lines.append([("The program has ended: ", "heading"), (view.exit_text, "title")])
        return lines + _last(view, width)
    if view.pending_fault:
        lines.append([("Fault  ", "heading"), (view.pending_fault, "warning")])
        lines += wrap("The CPU raised an exception. The next step lets the kernel handle it "
                      "(a signal, or the vsyscall emulation).", width, "text")
        return lines
    up = view.upcoming
    if up is None:
        lines += wrap("No transition at the pc. t runs to the next one: a syscall, int 0x80, "
                      "sysenter, or a call into the vDSO or the vsyscall page.", width, "muted")
        return lines + _last(view, width)
    kind, target = up
    if kind in TRAPS:
        lines += _preview_trap(view, kind, width)
    elif kind == "switch":
        why = getattr(view, "pending_switch", "") or "the task gives up the CPU"
        lines.append([("Next: a context switch  ", "heading"), (why, "title")])
        lines += wrap("The kernel saves this task's registers, schedule() picks the next "
                      "runnable task, and the CPU goes on in that one: its address space "
                      "(CR3), its TLS, its registers. s steps into it, one phase a key; n "
                      "steps over it. The Processes pane lists every task.", width, "text")
        return lines
    elif kind == "vdso":
        name = view.upcoming_name or f"{target:#x}"
        lines.append([("Next: a call into the vDSO  ", "heading"), (name, "title")])
        lines += wrap(f"The target, {target:#x}, is inside [vdso]: code the kernel mapped into "
                      "the process. No crossing: the CPU stays in ring 3, and strace will not "
                      "see the call. s steps into it, n over it.", width, "text")
    elif target is not None:
        lines.append([("Next: a call to the vsyscall page  ", "heading"),
                      (f"{target:#x}", "title")])
        lines += wrap("A fixed address in every x86-64 process. Today the page may not be "
                      "executed: the CPU faults and the kernel emulates the call. s steps into "
                      "it, n over it.", width, "text")
    return lines


def _preview_trap(view, kind: str, width: int) -> list[Line]:
    p = view.upcoming_trap
    name = p.name or "(no such syscall)"
    lines: list[Line] = [[(f"Next: {kind}  ", "heading"), (f"{p.table_name}[{p.nr}] = {name}",
                                                          "title")]]
    shown = [f"{reg}={value:#x}" for reg, value in p.args]
    lines.append([("  " + f"{p.nr_reg}={p.nr}  " + "  ".join(shown[:3]), "detail")])
    lines.append([("  " + "  ".join(shown[3:]), "detail")])
    how = {Mechanism.SYSCALL: "the x86-64 entry: sys_call_table, rcx and r11 clobbered",
           Mechanism.INT80: "the i386 entry through the IDT: ia32_sys_call_table",
           Mechanism.SYSENTER: "the i386 fast entry via __kernel_vsyscall"}[kind]
    if kind == Mechanism.INT80 and view.bits == 64:
        how += "; from 64-bit code only the low 32 bits of each register count"
    lines += wrap(f"{how}. s steps into it, one phase a key; n steps over the whole crossing.",
                  width, "text")
    return lines


def _last(view, width: int) -> list[Line]:
    # Back from the current event (the last one past): a long history's rows are many.
    events = view.events
    cur = current_index(events)
    e = next((x for x in (events[i] for i in range(cur, -1, -1)) if x.past and x.kind in (
        "syscall", "vdso", "vsyscall")), None) if cur is not None else None
    if e is None:
        return []
    return [[], [("last transition: ", "muted"), (clip(squeeze(e.text), width - 17),
                                                  "detail")]]

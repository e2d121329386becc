"""The code panel: disassembly around the pc, with symbols and labels where they start, the
current instruction marked, breakpoints, the instructions that cross into the kernel picked
out, and the assembly source line beside each instruction of an assembly program."""

from __future__ import annotations

from kernel_model.entry.mechanism import TRAPS
from tui.panels.fit import clip


def code_lines(view, *, att: bool = False, width: int = 80,
               height: int = 40) -> list[list[tuple[str, str]]]:
    """Disassembly around the pc, fitted to `height` lines (a third of them before it)."""
    lines: list[list[tuple[str, str]]] = []
    if view.exited:
        lines.append([(f"The program has ended: {view.exit_text}.", "note")])
        lines.append([("S steps back, T goes back to the last transition, r restarts.",
                       "muted")])
        return lines
    addr_width = 16 if view.bits == 64 else 8
    rows: list[tuple[object, list[tuple[str, str]]]] = []
    for c in view.code:
        if c.label:
            region = f"  {c.region}" if c.region.startswith("[") else ""
            label = clip(f"{c.label}:", max(8, width - len(region) - 1))
            rows.append((c, [(label, "label"), (region, "muted")]))
        marker = "▶" if c.current else " "
        bp = "●" if c.breakpoint else " "
        text = c.att if att else c.intel
        role = "trap" if c.kind in TRAPS else "tsc" if c.kind in ("rdtsc", "rdtscp") else \
            "call" if c.kind in ("call", "ret") else "insn"
        line = [(bp, "bp" if c.breakpoint else "muted"),
                (marker, "pc" if c.current else "muted"), (" ", ""),
                (f"{c.address:0{addr_width}x}", "pc-addr" if c.current else "addr"),
                ("  ", ""), (text, "pc-insn" if c.current else role)]
        used = 5 + addr_width + len(text)
        if c.ref:
            # a library's names are long (`<_IO_file_xsputn@libc.so.6+0x3c>`): cut at the edge
            ref = clip(c.ref, max(12, width - used - 1))
            line.append((" " + ref, "ref"))
            used += 1 + len(ref)
        note = _source_note(c, text)
        room = width - used - 3
        if note and room > 8:
            line.append(("  ; " + clip(note, room), "source"))
        rows.append((c, line))
    current = next((i for i, (c, _l) in enumerate(rows) if c.current), 0)
    start = max(0, min(current - height // 3, len(rows) - height))
    return [line for _c, line in rows[start:start + height]]


def _source_note(c, text: str) -> str:
    """The assembly source line, when it says more than the disassembly (its labels and
    its comment)."""
    if not c.source:
        return ""
    code, _, comment = c.source.partition(";")
    code, comment = " ".join(code.split()), comment.strip()
    if code.lower() == " ".join(text.split()).lower():
        return comment
    return c.source if not comment else f"{code}  ; {comment}"


def where_text(view, width: int = 56) -> str:
    """Where the pc is and in which object: 'main+0x14  hello', 'puts+0x1a  libc.so.6',
    '__vdso_gettimeofday+0x12  [vdso]' (a library's name once, not `puts@libc.so.6`)."""
    region = next((c.region for c in view.code if c.current), "")
    name = view.symbol or f"{view.pc:#x}"
    short = region.rsplit("/", 1)[-1] if region else ""
    if short:
        name = name.replace("@" + short, "", 1)
        if name == short or name.startswith(short + "+"):  # no symbol: `libc.so.6+0x26110`
            short = ""
    return f"{clip(name, max(12, width - len(short) - 2))}  {short}".strip()

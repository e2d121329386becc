"""Modal dialogs: the help screen (every key), and a one-line prompt (a breakpoint, a syscall
to catch, a gdb-style command)."""

from __future__ import annotations

import textwrap

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from tui.commands import CONTROLS, key_label
from tui.widgets.panel import to_content

INTRO = (
    "syscall-lab shows each crossing from user mode into the kernel and back. Stop at one "
    "(t runs to the next), then press s again and again to walk its phases: the user "
    "registers and the ABI, what the CPU does, pt_regs, the syscall table, the handler, the "
    "way back. Everything is recorded: S steps back, exactly, and the events list takes you "
    "to any earlier call."
)


CLOSE = "Esc, ? or q closes this help"


def help_lines(mode_keys, width: int) -> list:
    """The help as panel lines fitted to `width`: the introduction, then one row per key
    (the mode's own keys first) in three columns, each description wrapped under its own
    column."""
    width = max(40, width)
    rows = [(key_label(b.key), b.description, b.tooltip or "") for b in mode_keys]
    rows += [None] if rows else []
    rows += [(key_label(c.key), c.name.split()[0], c.help + (
        " (with a dialog open, Esc closes it instead)" if c.key == "escape" else ""))
        for c in CONTROLS]
    rows.append(("1-9", "panes", "Show the pane whose tab has that number (at 80x24 every "
                 "panel is a tab; in a wide terminal, the tabs below)"))
    keys = max(len(r[0]) for r in rows if r)
    names = max(len(r[1]) for r in rows if r)
    column = keys + 2 + names + 2
    lines = [[(part, "text")] for part in textwrap.wrap(INTRO, width)] + [[]]
    for row in rows:
        if row is None:
            lines.append([])
            continue
        key, name, text = row
        parts = textwrap.wrap(text, max(20, width - column)) or [""]
        lines.append([(f"{key:>{keys}}  ", "heading"), (f"{name:<{names}}  ", "reg-name"),
                      (parts[0], "text")])
        lines += [[(" " * column, ""), (part, "text")] for part in parts[1:]]
    lines.append([])
    note = ("Events list: Enter on a line goes to that point in history. Output tab: type "
            f"the program's input. {CLOSE}.")
    lines += [[(part, "muted")] for part in textwrap.wrap(note, width)]
    return lines


class HelpScreen(ModalScreen):
    BINDINGS = [("escape", "dismiss", "close"), ("question_mark", "dismiss", "close"),
                ("q", "dismiss", "close")]

    def __init__(self, mode_keys=()):
        super().__init__()
        self.mode_keys = list(mode_keys)  # textual Bindings of a lesson or exercise mode

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help") as box:
            box.border_title = f"Keys  ({CLOSE})"
            yield Static(to_content(help_lines(self.mode_keys, 60)), markup=False)

    def on_resize(self, event) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """Wrap to the dialog's width, known only once it is laid out."""
        box = self.query_one("#help")
        width = box.scrollable_content_region.width - 1  # room for the scrollbar
        if width > 0:
            self.query_one(Static).update(to_content(help_lines(self.mode_keys, width)))


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line; dismissed with the text, or None on Esc."""

    BINDINGS = [("escape", "cancel", "cancel")]

    def __init__(self, question: str, placeholder: str = ""):
        super().__init__()
        self.question = question
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt") as box:
            box.border_title = "Enter: go   Esc: cancel"
            yield Static(self.question, markup=False)
            yield Input(placeholder=self.placeholder)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)

"""Modal dialogs: the help screen (every key), and a one-line prompt (a breakpoint, a syscall
to catch, a gdb-style command)."""

from __future__ import annotations

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


class HelpScreen(ModalScreen):
    BINDINGS = [("escape", "dismiss", "close"), ("question_mark", "dismiss", "close"),
                ("q", "dismiss", "close")]

    def __init__(self, mode_keys=()):
        super().__init__()
        self.mode_keys = list(mode_keys)  # textual Bindings of a lesson or exercise mode

    def compose(self) -> ComposeResult:
        lines = [[(INTRO, "text")], []]
        for b in self.mode_keys:
            lines.append([(f"{key_label(b.key):>7}  ", "heading"),
                          (f"{b.description:<20}", "reg-name"), (b.tooltip or "", "text")])
        if self.mode_keys:
            lines.append([])
        for c in CONTROLS:
            lines.append([(f"{key_label(c.key):>7}  ", "heading"),
                          (f"{c.name.split()[0]:<20}", "reg-name"), (c.help, "text")])
        lines += [[], [("Events list: Enter on a line goes to that point in history. "
                        "Output tab: type the program's input. Esc closes this help.",
                        "muted")]]
        with VerticalScroll(id="help"):
            yield Static(to_content(lines), markup=False)


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line; dismissed with the text, or None on Esc."""

    BINDINGS = [("escape", "cancel", "cancel")]

    def __init__(self, question: str, placeholder: str = ""):
        super().__init__()
        self.question = question
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt"):
            yield Static(self.question, markup=False)
            yield Input(placeholder=self.placeholder)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)

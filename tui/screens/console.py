"""The `:` command line as a gdb console: a transcript of commands and their output over a
line to type the next one. Questions (x, print, info, break, delete...) are answered in
place and the console stays open, as in gdb; a stepping command closes it and runs, so the
panels show where it stopped. It takes the lower part of the screen, as gdb's command
window does in its TUI, so the code stays in sight. Esc closes it; Up/Down recall earlier
commands."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, RichLog, Static

# The examples in the title use the program's own registers and word size.
TITLES = {64: "gdb commands: x/4gx $rsp, p $rax, info registers, help    Esc closes",
          32: "gdb commands: x/4wx $esp, p $eax, info registers, help    Esc closes"}
KEEP = 2000  # transcript lines kept between openings


class ConsoleScreen(ModalScreen[str | None]):
    """Dismissed with a stepping command to run, or None (Esc)."""

    BINDINGS = [("escape", "close", "close"),
                ("up", "recall(-1)", "earlier"),
                ("down", "recall(1)", "later")]
    DEFAULT_CSS = """
    ConsoleScreen { align: center bottom; }
    ConsoleScreen #console {
        width: 100%; height: 60%; min-height: 12;
        border: round $primary; background: $surface; padding: 0 0 0 1;
    }
    ConsoleScreen #console-title { color: $text-muted; height: 1; }
    ConsoleScreen #console-log {
        height: 1fr; background: $surface; overflow-x: hidden; scrollbar-gutter: stable;
    }
    ConsoleScreen #console-input { height: 3; }
    """

    def __init__(self, answer, transcript: list[str], commands: list[str], bits: int = 64):
        """answer(line) -> output lines, or None for a command the app runs after closing;
        transcript and commands are the app's, kept between openings."""
        super().__init__()
        self.answer = answer
        self.transcript = transcript
        self.commands = commands
        self.recalled = len(commands)
        self.title_text = TITLES.get(bits, TITLES[64])

    def compose(self) -> ComposeResult:
        with Vertical(id="console"):
            yield Static(self.title_text, id="console-title", markup=False)
            # Long lines wrap, as gdb's do in a terminal of this width.
            yield RichLog(id="console-log", wrap=True, markup=False, highlight=False,
                          min_width=20)
            yield Input(placeholder="a gdb command (help lists them)", id="console-input")

    def on_mount(self) -> None:
        self._write(self.transcript)
        self.query_one(Input).focus()

    def _write(self, lines: list[str]) -> None:
        log = self.query_one(RichLog)
        for line in lines:
            log.write(Text(line))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        line = event.value.strip()
        event.input.value = ""
        if line and (not self.commands or self.commands[-1] != line):
            self.commands.append(line)
        self.recalled = len(self.commands)
        out = self.answer(line)
        if out is None:
            self.transcript.append(f"(gdb) {line}")
            self.dismiss(line)
            return
        shown = [f"(gdb) {line}"] + [text.expandtabs(8) for text in out]
        self.transcript.extend(shown)
        del self.transcript[:-KEEP]
        self._write(shown)

    def action_recall(self, step: int) -> None:
        if not self.commands:
            return
        self.recalled = max(0, min(len(self.commands), self.recalled + step))
        field = self.query_one(Input)
        field.value = self.commands[self.recalled] if self.recalled < len(self.commands) else ""
        field.cursor_position = len(field.value)

    def action_close(self) -> None:
        self.dismiss(None)

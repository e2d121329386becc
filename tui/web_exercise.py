"""Exercise mode as a browser tab of `syscall-lab serve` shows it: the terminal's exercise app
with two keys to take the solution out of the browser and back in.

F8 downloads the solution file (textual-serve turns App.deliver_text into the browser's own
download); F9 opens a box to paste a solution into (textual-serve has no file upload; a
paste reaches the app as text), F9 again puts it in the editor and saves it, Esc cancels.
Both are priority keys, so they work while the editor has the keys too.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from tui.exercise import ExerciseApp

WEB_KEYS = [
    Binding("f8", "download", "download", show=False, priority=True, id="download",
            tooltip="Download the solution file (it is saved first) to this computer"),
    Binding("f9", "upload", "paste in", show=False, priority=True, id="upload",
            tooltip="Open a box to paste a solution into; F9 again puts it in the editor "
                    "and saves it, Esc cancels"),
]

# first in the statement pane, short: the exercise's own text follows
KEPT = ("*In the browser: your file is kept for this browser, a reload reopens your edits. "
        "**F8** downloads it, **F9** pastes one in.*")
NOT_KEPT = ("*In the browser: not kept across a reload or a closed tab. **F8** downloads "
            "your file, **F9** pastes one back in.*")


class PasteScreen(ModalScreen[str | None]):
    """A box to paste a solution into; dismissed with its text (F9) or None (Esc)."""

    DEFAULT_CSS = """
    PasteScreen { align: center middle; }
    PasteScreen #paste { width: 90%; height: 80%; border: round $accent; background: $panel; }
    PasteScreen #paste-hint { color: $text-muted; padding: 0 1; }
    PasteScreen TextArea { height: 1fr; }
    """
    BINDINGS = [Binding("escape", "cancel", "cancel", priority=True)]

    def __init__(self, name: str):
        super().__init__()
        self.file_name = name

    def compose(self) -> ComposeResult:
        with Vertical(id="paste") as box:
            box.border_title = "F9: into the editor   Esc: cancel"
            yield Static(f"Paste a solution here (ctrl+v): it replaces the text of "
                         f"{self.file_name}.", id="paste-hint", markup=False)
            yield TextArea(id="paste-text", soft_wrap=False, tab_behavior="indent")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def text(self) -> str:
        return self.query_one(TextArea).text

    def action_cancel(self) -> None:
        self.dismiss(None)


class WebExerciseApp(ExerciseApp):
    MODE_KEYS = ExerciseApp.MODE_KEYS + WEB_KEYS
    BINDINGS = WEB_KEYS

    def __init__(self, exercise, solution: str, *, kept: bool, **kw):
        super().__init__(exercise, solution, **kw)
        self.statement_note = KEPT if kept else NOT_KEPT

    def action_download(self) -> None:
        if self.save() is None:  # said on the status line
            return
        editor = self.editor()
        text = editor.text if editor is not None else None
        if text is None:
            try:
                with open(self.solution) as f:
                    text = f.read()
            except OSError as e:
                self.bell()
                self.state.message = f"cannot read {self.solution}: {e.strerror or e}"
                self.redraw()
                return
        import io
        from pathlib import Path

        self.deliver_text(io.StringIO(text), save_filename=Path(self.solution).name,
                          mime_type="text/plain")
        self.state.message = f"downloading {Path(self.solution).name}"
        self.redraw()

    def action_upload(self) -> None:
        screen = self.screen
        if isinstance(screen, PasteScreen):  # F9 again: the pasted text goes in
            screen.dismiss(screen.text())
            return
        if self.editor() is None:
            self.bell()
            self.state.message = "no editor in the presentation mode: p leaves it"
            self.redraw()
            return
        from pathlib import Path

        self.push_screen(PasteScreen(Path(self.solution).name), self._pasted)

    def _pasted(self, text: str | None) -> None:
        editor = self.editor()
        if text is None or editor is None:
            return
        if not text.strip():
            self.state.message = "nothing pasted: the editor is unchanged"
            self.redraw()
            return
        if not text.endswith("\n"):
            text += "\n"
        editor.replace(text, (0, 0), editor.document.end)  # one edit: ctrl+z undoes it
        self.action_save()

"""The editor pane: Textual's TextArea on one assembly file, coloured by asm_highlight, that
knows whether its buffer is saved and follows the file when another editor changes it.

Colours come from component classes (themed CSS), through TextArea.get_line, the hook
Textual documents for styling lines: no tree-sitter needed. The file is written only when
asked (save), and only when the buffer differs from what was last read or written, so a
file changed on disk is never overwritten by a stale, untouched buffer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from tui.widgets.asm_highlight import KINDS, spans


def disk_stamp(path: Path) -> tuple[int, int] | None:
    """What tells a changed file cheaply: its mtime and size (None: no file)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


@dataclass(frozen=True)
class Snapshot:
    """An editor's buffer and what it knows of its file, handed to the editor of another
    layout (each layout has its own widgets; the student has one buffer)."""

    text: str
    saved_text: str
    stamp: tuple[int, int] | None
    cursor: tuple[int, int]

    @property
    def dirty(self) -> bool:
        return self.text != self.saved_text

    def save_to(self, path: Path) -> Snapshot:
        """Write the text to the file (OSError says why not): the snapshot, saved."""
        path.write_text(self.text)
        return replace(self, saved_text=self.text, stamp=disk_stamp(path))


class AsmEditor(TextArea):
    """An assembly file in a TextArea. Esc posts Leave (the app decides where focus
    goes); every change of the saved state posts SavedStateChanged."""

    BINDINGS = [Binding("escape", "leave", "back to stepping", id="editor_leave"),
                # as in most editors (TextArea has no binding of its own for them)
                Binding("ctrl+home", "document_start", show=False),
                Binding("ctrl+end", "document_end", show=False)]
    COMPONENT_CLASSES = TextArea.COMPONENT_CLASSES | {f"asm--{k}" for k in KINDS}
    DEFAULT_CSS = """
    AsmEditor > .asm--comment { color: $text-muted; text-style: italic; }
    AsmEditor > .asm--label { color: $text-success; text-style: bold; }
    AsmEditor > .asm--mnemonic { color: $text-primary; text-style: bold; }
    AsmEditor > .asm--register { color: $text-secondary; }
    AsmEditor > .asm--number { color: $text-warning; }
    AsmEditor > .asm--string { color: $text-warning; text-style: italic; }
    AsmEditor > .asm--directive { color: $text-accent; }
    AsmEditor > .asm--size { color: $text-accent; text-style: italic; }
    AsmEditor > .asm--symbol { color: $text-success; }
    """

    class Leave(Message):
        """Esc in the editor: give the keys back to the stepping view."""

    class SavedStateChanged(Message):
        """The buffer became unsaved, or saved, or the file changed on disk."""

    def __init__(self, path: str, **kwargs):
        kwargs.setdefault("show_line_numbers", True)
        kwargs.setdefault("tab_behavior", "indent")
        kwargs.setdefault("soft_wrap", False)
        self.path = Path(path)
        self._stamp = disk_stamp(self.path)
        self.saved_text, self.read_error = self._read()  # the file when last read or written
        self._was_dirty = False
        self._conflict = False  # edits here, and the file changed by another editor
        super().__init__(self.saved_text, **kwargs)

    # -- the file ----------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        """Edits not yet in the file."""
        return self.text != self.saved_text

    def _read(self) -> tuple[str, str]:
        """The file's text, and why it could not be read ("" if it could)."""
        try:
            return self.path.read_text(), ""
        except (OSError, UnicodeDecodeError) as e:
            return "", f"cannot read {self.path}: {getattr(e, 'strerror', None) or e}"

    def load(self) -> None:
        """Read the file into the buffer (its undo history starts again), keeping the
        cursor where it was as far as the new text allows."""
        cursor = self.cursor_location
        self._stamp = disk_stamp(self.path)
        self.saved_text, self.read_error = self._read()
        self.load_text(self.saved_text)
        row = min(cursor[0], self.document.line_count - 1)
        self.cursor_location = (row, min(cursor[1], len(self.document[row])))
        self._changed()

    def save(self) -> bool:
        """Write the buffer to the file if it has edits; True if it wrote. OSError says why
        it could not."""
        if not self.dirty:
            return False
        text = self.text
        self.path.write_text(text)
        self.saved_text = text
        self._stamp = disk_stamp(self.path)
        self._changed()
        return True

    def snapshot(self) -> Snapshot:
        return Snapshot(self.text, self.saved_text, self._stamp, self.cursor_location)

    def restore(self, snap: Snapshot) -> None:
        """Take over another editor's buffer (a no-op when it is this one's already)."""
        if (snap.text, snap.saved_text, snap.stamp) == (self.text, self.saved_text,
                                                         self._stamp):
            return
        self.saved_text, self._stamp = snap.saved_text, snap.stamp
        if snap.text != self.text:
            self.load_text(snap.text)
            self.cursor_location = snap.cursor
        self._changed()

    def changed_on_disk(self) -> bool:
        """The file differs from what was last read or written here."""
        stamp = disk_stamp(self.path)
        if stamp is None or stamp == self._stamp:
            return False
        try:
            return self.path.read_text() != self.saved_text
        except (OSError, UnicodeDecodeError):
            return False

    def sync_from_disk(self) -> bool:
        """Reload the file when another editor changed it and the buffer has no edits of its
        own; True if it reloaded. With edits, the title says the file changed too."""
        if not self.changed_on_disk():
            return False
        if self.dirty:
            if not self._conflict:  # said once, in the title
                self._conflict = True
                self._changed()
            return False
        self.load()
        return True

    # -- what the pane says about itself ------------------------------------------------------
    def state_text(self) -> str:
        """For the pane's title: the file, and whether the buffer is saved."""
        if self.read_error:
            return self.read_error
        if self.dirty and self.changed_on_disk():
            return f"{self.path.name}  unsaved; the file changed on disk too"
        return f"{self.path.name}  {'unsaved' if self.dirty else 'saved'}"

    def _changed(self) -> None:
        self._was_dirty = self.dirty
        if not self._was_dirty:
            self._conflict = False
        self.post_message(self.SavedStateChanged())

    def _on_text_area_changed(self, event: TextArea.Changed) -> None:
        if self.dirty != self._was_dirty:
            self._changed()

    # -- keys and colours ---------------------------------------------------------------------
    def on_key(self, event) -> None:
        # TextArea's own handler would move the focus to the next widget: skipped, so that
        # Esc reaches the binding (shown in the footer while the editor has the keys).
        if event.key == "escape":
            event.prevent_default()

    def action_leave(self) -> None:
        self.post_message(self.Leave())

    def action_document_start(self) -> None:
        self.move_cursor((0, 0))

    def action_document_end(self) -> None:
        self.move_cursor(self.document.end)

    def get_line(self, line_index: int) -> Text:
        line = super().get_line(line_index)
        for start, end, kind in spans(line.plain):
            line.stylize(self.get_component_rich_style(f"asm--{kind}", partial=True),
                         start, end)
        return line

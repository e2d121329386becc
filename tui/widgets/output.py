"""The output pane: the guest's stdout and stderr up to the current point, and a line to type
its standard input into."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static

from tui.panels import output_lines
from tui.widgets.panel import to_content


class OutputPane(Vertical):
    DEFAULT_CSS = """
    OutputPane { height: 1fr; }
    OutputPane VerticalScroll { height: 1fr; }
    OutputPane Input { height: 3; }
    """

    class Typed(Message):
        """A line for the guest's fd 0 (None: end of input, Ctrl-D)."""

        def __init__(self, text: str | None) -> None:
            super().__init__()
            self.text = text

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.border_title = "Output"

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("", classes="text", markup=False)
        yield Input(placeholder="stdin: type a line, Enter sends it (Ctrl-D: end of input)",
                    id="stdin")

    def show(self, view) -> None:
        lines = output_lines(view)
        if lines != getattr(self, "_lines", None):
            self._lines = lines
            self.query_one(".text", Static).update(to_content(lines))
            self.query_one(VerticalScroll).scroll_end(animate=False)
        box = self.query_one(Input)
        box.set_class(view.waiting_input, "waiting")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Typed(event.value + "\n"))
        event.input.value = ""

    def key_ctrl_d(self) -> None:
        self.post_message(self.Typed(None))

"""The events list: one strace line per row; choosing one (Enter or a click) moves the whole
view to that point in history."""

from __future__ import annotations

from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.panels import event_lines
from tui.widgets.panel import to_content


class EventList(OptionList):
    class Chosen(Message):
        """The user picked an event: go to that point in history."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.border_title = "Events (strace)  Enter: go there"
        self._texts: list[str] = []

    def show(self, view, width: int = 100) -> None:
        lines = event_lines(view, width=width)
        texts = ["".join(t for t, _ in line) for line in lines]
        current = next((e.index for e in view.events if e.current), None)
        if texts != self._texts:
            self._texts = texts
            self.set_options([Option(to_content([line])) for line in lines])
        if current is not None and self.option_count:
            self.highlighted = current
            self.scroll_to_highlight()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Chosen(event.option_index))

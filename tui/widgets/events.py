"""The events list: one strace line per row; choosing one (Enter or a click) moves the whole
view to that point in history.

A long run has a row per syscall (100k and more): the list holds a window of WINDOW rows
around the current one, and moves the window when the highlight nears its edge, so a
redraw costs the window, not the whole history."""

from __future__ import annotations

from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.panels import event_lines
from tui.panels.events import current_index
from tui.widgets.panel import to_content

# Rows held at once: a few screens' worth. Any change makes OptionList measure every row
# again (each redraw moves the ▶ marker), so a redraw costs about the window: 400 rows took
# ~25 ms a key at 120x40.
WINDOW = 120
EDGE = 20  # rows from the window's edge at which it moves


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
        self._view = None
        self._width = 100
        self._offset = 0  # the event index of the window's first row

    def show(self, view, width: int = 100) -> None:
        self._view, self._width = view, width
        current = current_index(view.events)
        self._fill(current if current is not None else len(view.events) - 1)
        if current is not None and self.option_count:
            self.highlighted = current - self._offset
            self.scroll_to_highlight()

    def _fill(self, around: int) -> None:
        """Hold the window of rows around event `around`."""
        view = self._view
        n = len(view.events)
        start = 0 if n <= WINDOW else max(0, min(around - WINDOW // 2, n - WINDOW))
        lines = event_lines(view, width=self._width, rows=view.events[start:start + WINDOW])
        texts = ["".join(t for t, _ in line) for line in lines]
        if texts != self._texts or start != self._offset:
            self._texts = texts
            self._offset = start
            self.set_options([Option(to_content([line])) for line in lines])

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        view = self._view
        if view is None or len(view.events) <= WINDOW:
            return
        i = event.option_index
        at = self._offset + i
        if (i < EDGE and self._offset > 0) or \
                (i >= self.option_count - EDGE and self._offset + WINDOW < len(view.events)):
            self._fill(at)
            self.highlighted = at - self._offset

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Chosen(self._offset + event.option_index))

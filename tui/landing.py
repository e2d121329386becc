"""The first screen a browser tab of `syscall-lab serve` shows: the demo, the lessons, the
bundled programs and the exercises, one list driven by the keyboard (fits 80x24).

Choosing one sends the browser to that thing's own address (`/?lesson=NAME`...), the same
address an instructor puts on a slide: the tab then gets a fresh session running it, and the
browser's Back key comes back here.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

HEADINGS = {"demo": "Start here", "lesson": "Lessons: narrated walks through a program",
            "program": "Programs: step through one, forward and back",
            "exercise": "Exercises: write the assembly, g grades it"}
NAME_WIDTH = 22
# whether an exercise's file outlives the tab (serve --workdir): one line at 80 columns
KEPT = "Exercise solutions are kept on the server for this browser, across reloads."
NOT_KEPT = "Solutions are not kept across reloads: F8 in an exercise downloads yours."


def prompt(item) -> Text:
    name = item.name or "demo"
    text = Text.assemble((f"  {name:{NAME_WIDTH}} ", "bold"), item.title)
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


class LandingScreen(Screen):
    DEFAULT_CSS = """
    LandingScreen #notice { color: $warning; padding: 0 1; }
    LandingScreen #hint, LandingScreen #storage { color: $text-muted; padding: 0 1; }
    LandingScreen OptionList { height: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    LandingScreen OptionList, LandingScreen OptionList:focus { border: none; }
    """
    BINDINGS = [Binding("enter", "open", "open", show=True, priority=True),
                Binding("q", "app.quit", "quit")]

    def __init__(self, items, notice: str = "", kept: bool = False):
        super().__init__()
        self.items = list(items)
        self.notice = notice
        self.kept = kept

    def compose(self) -> ComposeResult:
        yield Header()
        if self.notice:
            # Not markup: the notice may quote part of a URL.
            yield Static(Text(self.notice, no_wrap=True, overflow="ellipsis"), id="notice")
        yield Static("↑/↓ Enter opens one · each has its address: /?lesson=NAME, "
                     "/?exercise=NAME...", id="hint")
        yield Static(KEPT if self.kept else NOT_KEPT, id="storage", markup=False)
        options: list[Option | None] = []
        kind = ""
        for i, item in enumerate(self.items):
            if item.kind != kind:
                kind = item.kind
                if options:
                    options.append(None)  # a separator line
                options.append(Option(Text(HEADINGS.get(kind, kind), style="bold underline"),
                                      id=f"heading-{kind}", disabled=True))
            options.append(Option(prompt(item), id=str(i)))
        yield OptionList(*options, id="choices")
        yield Footer()

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        choices.focus()
        choices.action_first()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._open(event.option.id)

    def action_open(self) -> None:
        choices = self.query_one(OptionList)
        if choices.highlighted is not None:
            self._open(choices.get_option_at_index(choices.highlighted).id)

    def _open(self, option_id: str | None) -> None:
        if option_id is None or not option_id.isdigit():
            return
        item = self.items[int(option_id)]
        self.app.sub_title = f"opening {item.url} ..."
        # Same tab: the page reloads with a new session running the choice.
        self.app.open_url(item.url, new_tab=False)


class LandingApp(App):
    TITLE = "syscall-lab"
    SUB_TITLE = "pick what to open"

    def __init__(self, items, notice: str = "", kept: bool = False):
        super().__init__()
        self._items = items
        self._notice = notice
        self._kept = kept

    def on_mount(self) -> None:
        self.push_screen(LandingScreen(self._items, self._notice, self._kept))

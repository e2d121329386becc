"""The three layouts: wide (120x40 and up: code and transition side by side, registers and a
tabbed corner below), compact (80x24: every panel a tab), and presentation (for a projector:
only the code and the transition, large)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Static, TabbedContent, TabPane

from tui.screens.base import SessionScreen
from tui.screens.panes import events_tab, maps_tab, output_tab, processes_tab, stack_tab
from tui.widgets.panel import Panel


class WideScreen(SessionScreen):
    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        with Horizontal(id="top"):
            with VerticalScroll(id="code-box", classes="box"):
                yield Panel("Code", id="code")
            with VerticalScroll(id="transition-box", classes="box"):
                yield Panel("Transition", id="transition")
        with Horizontal(id="bottom"):
            with VerticalScroll(id="registers-box", classes="box"):
                yield Panel("Registers", id="registers")
            with TabbedContent(id="corner"):
                yield from events_tab()
                yield from output_tab()
                yield from stack_tab()
                yield from maps_tab()
                yield from processes_tab()
                with TabPane("History", id="tab-history"):
                    yield Panel("History", id="history")
        yield Footer()

    def follow(self, state, moved: bool) -> None:
        if moved and state.view is not None and state.view.waiting_input:
            self.select_tab("tab-output")


class CompactScreen(SessionScreen):
    # Eight tabs fit 80 columns with one space between labels (Textual pads each with two).
    DEFAULT_CSS = """
    CompactScreen #tabs Tab {
        padding: 0 0 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        with TabbedContent(id="tabs"):
            with TabPane("Code", id="tab-code"):
                with Vertical():
                    with VerticalScroll(classes="box grow"):
                        yield Panel("Code", id="code")
                    yield Panel("", id="changed")
            with TabPane("Transition", id="tab-transition"):
                with VerticalScroll(classes="box"):
                    yield Panel("Transition", id="transition")
            with TabPane("Registers", id="tab-registers"):
                with VerticalScroll(classes="box"):
                    yield Panel("Registers", id="registers")
            with TabPane("Stack", id="tab-stack"):
                with VerticalScroll(classes="box"):
                    yield Panel("Stack", id="stack")
            yield from events_tab()
            yield from output_tab()
            with TabPane("Memory map", id="tab-maps"):
                with VerticalScroll(classes="box"):
                    yield Panel("Memory map", id="maps")
                    yield Panel("History", id="history")
            yield from processes_tab("Procs")  # "Processes" would not fit 80 columns
        yield Footer()

    def follow(self, state, moved: bool) -> None:
        if moved and state.view is not None:
            self.select_tab(stepped_tab(state))


def stepped_tab(state) -> str:
    """The tab to show after a command moved the view: the output when the program waits
    for input, the transition while walking one or when stopped before one, else the code
    (never a Transition tab with nothing in it, as after `n` over a transition)."""
    v = state.view
    if v.waiting_input:
        return "tab-output"
    if v.walk is not None or (v.upcoming is not None and state.reason in ("transition",
                                                                          "syscall")):
        return "tab-transition"
    return "tab-code"


class PresentationScreen(SessionScreen):
    """For a projector: the code and the transition, nothing else."""

    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        with Horizontal(id="present") if self.app.size.width >= 110 else Vertical(
                id="present"):
            with VerticalScroll(classes="box"):
                yield Panel("Code", id="code")
            with VerticalScroll(classes="box"):
                yield Panel("Transition", id="transition")
        yield Footer()

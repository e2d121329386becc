"""The tab panes every layout shares (the wide layouts' corner, the compact layouts' tabs),
composed in one place so the live, lesson and exercise screens stay alike."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import TabPane

from tui.widgets.events import EventList
from tui.widgets.output import OutputPane
from tui.widgets.panel import Panel


def events_tab() -> ComposeResult:
    with TabPane("Events", id="tab-events"):
        yield EventList(id="events")


def output_tab() -> ComposeResult:
    with TabPane("Output", id="tab-output"):
        yield OutputPane(id="output")


def stack_tab() -> ComposeResult:
    with TabPane("Stack", id="tab-stack"):
        with VerticalScroll():
            yield Panel("Stack", id="stack")


def maps_tab() -> ComposeResult:
    with TabPane("Memory map", id="tab-maps"):
        with VerticalScroll():
            yield Panel("Memory map", id="maps")


def processes_tab(label: str = "Processes") -> ComposeResult:
    with TabPane(label, id="tab-processes"):
        with VerticalScroll(classes="box"):
            yield Panel("Processes", id="processes")

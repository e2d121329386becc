"""Lesson mode: the stepping TUI with a lesson's narration beside the code, → to the next
stop and ← back (programs.lesson_play drives the session; every other key still works, so a
student may wander off and → brings them back onto the lesson).

A subclass of the stepping app with its own layouts, so the app itself needs no change.
`syscall-lab lesson NAME|FILE` opens it (imported only by that subcommand).
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Static, TabbedContent, TabPane

from programs.lesson import Lesson, LessonError
from programs.lesson_play import LessonPlayer, make_session
from tui.app import SyscallLabApp
from tui.screens.base import SessionScreen
from tui.screens.layouts import stepped_tab
from tui.screens.panes import events_tab, maps_tab, output_tab, stack_tab
from tui.widgets.panel import Panel

LESSON_KEYS = [
    Binding("right", "lesson_next", "next stop", priority=True, id="lesson_next",
            tooltip="Run to the lesson's next stop"),
    Binding("left", "lesson_back", "back a stop", priority=True, id="lesson_back",
            tooltip="Back to the lesson's previous stop"),
]


def narration_lines(lesson: Lesson, player: LessonPlayer | None, error: str, width: int,
                    busy: str = "") -> list:
    """The narration panel: the stop's text wrapped to the width, what it points at, and
    any error in the lesson file. (The stop's title is in the panel's border.)"""
    width = max(20, width)
    lines: list = []
    if error:
        for part in textwrap.wrap(error, width, break_on_hyphens=False):
            lines.append([(part, "error")])
        lines.append([])
    index = player.index if player is not None else -1
    stop = lesson.stops[index] if index >= 0 else None
    if stop is None:
        if not error:
            lines.append([(busy or "Starting the lesson...", "muted")])
        return lines
    for n, para in enumerate(stop.narration.split("\n\n")):
        if n:
            lines.append([])
        for part in textwrap.wrap(para, width):
            lines.append([(part, "text")])
    points = player.point_lines() if player is not None else []
    if points:
        lines.append([])
        for p in points:
            for i, part in enumerate(textwrap.wrap(p, width - 2) or [""]):
                lines.append([("▶ " if i == 0 else "  ", "pc"), (part, "changed")])
    if player is not None and not player.at_stop():
        lines.append([])
        lines.append([("You have stepped away from this stop: → or ← brings you back.",
                       "muted")])
    if index == len(lesson.stops) - 1:
        lines.append([])
        lines.append([("The end of the lesson. ← goes back, q quits.", "note")])
    return lines


def lesson_title(lesson: Lesson, player: LessonPlayer | None) -> str:
    """The narration panel's border: where we are in the lesson, and the stop's title."""
    index = player.index if player is not None else -1
    if index < 0:
        return f"Lesson: {lesson.title}"
    stop = lesson.stops[index]
    where = f"Stop {index + 1}/{len(lesson.stops)}"
    return f"{where}: {stop.title}" if stop.title else f"{where}  ({lesson.title})"


class LessonScreen(SessionScreen):
    """What every lesson layout shares: the narration panel refilled at each stop."""

    def show(self, state) -> None:
        super().show(state)
        app = self.app
        for panel in self.query("#narration").results(Panel):
            self._title(panel, lesson_title(app.lesson, app.player))
            panel.show(narration_lines(app.lesson, app.player, app.lesson_error,
                                       self._width(panel), state.busy if state else ""))


class LessonWideScreen(LessonScreen):
    """120x40 and up: the code on the left; the narration, then the transition, on the
    right; registers and a tabbed corner below."""

    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        with Horizontal(id="lesson-top"):
            with VerticalScroll(id="code-box", classes="box"):
                yield Panel("Code", id="code")
            with Vertical(id="lesson-side"):
                with VerticalScroll(id="narration-box", classes="box"):
                    yield Panel("Lesson", id="narration")
                with VerticalScroll(id="transition-box", classes="box"):
                    yield Panel("Transition", id="transition")
        with Horizontal(id="lesson-bottom"):
            with VerticalScroll(id="registers-box", classes="box"):
                yield Panel("Registers", id="registers")
            with TabbedContent(id="corner"):
                yield from output_tab()
                yield from events_tab()
                yield from maps_tab()
                yield from stack_tab()
        yield Footer()


class LessonCompactScreen(LessonScreen):
    """80x24: the narration on top, the panels as tabs below it."""

    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        with VerticalScroll(id="narration-box", classes="box"):
            yield Panel("Lesson", id="narration")
        with TabbedContent(id="tabs"):
            with TabPane("Code", id="tab-code"):
                with VerticalScroll(classes="box grow"):
                    yield Panel("Code", id="code")
            with TabPane("Transition", id="tab-transition"):
                with VerticalScroll(classes="box grow"):
                    yield Panel("Transition", id="transition")
            with TabPane("Registers", id="tab-registers"):
                with VerticalScroll(classes="box grow"):
                    yield Panel("Registers", id="registers")
            # the same panes, in the same order (the same number keys), as the live layout
            with TabPane("Stack", id="tab-stack"):
                with VerticalScroll(classes="box grow"):
                    yield Panel("Stack", id="stack")
            yield from events_tab()
            yield from output_tab()
            with TabPane("Memory map", id="tab-maps"):
                with VerticalScroll(classes="box grow"):
                    yield Panel("Memory map", id="maps")
        yield Footer()

    def follow(self, state, moved: bool) -> None:
        if moved and state.view is not None:
            self.select_tab(stepped_tab(state))


class LessonPresentScreen(LessonScreen):
    """For a projector: the code, the narration and the transition."""

    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        with Horizontal(id="lesson-present"):
            with VerticalScroll(classes="box"):
                yield Panel("Code", id="code")
            with Vertical(id="lesson-side"):
                with VerticalScroll(id="narration-box", classes="box"):
                    yield Panel("Lesson", id="narration")
                with VerticalScroll(id="transition-box", classes="box"):
                    yield Panel("Transition", id="transition")
        yield Footer()


@dataclass(frozen=True)
class _LessonMove:
    """A move between the lesson's stops: what the player does, what the status line says."""

    call: Callable[[LessonPlayer], object]
    label: str


_NEXT_STOP = _LessonMove(lambda p: p.forward(), "to the next stop")
_STOP_BACK = _LessonMove(lambda p: p.back(), "back a stop")
_FIRST_STOP = _LessonMove(lambda p: p.goto(0), "to the lesson's first stop")


class LessonApp(SyscallLabApp):
    CSS_PATH = ["app.tcss", "lesson.tcss"]
    MODES = {"wide": LessonWideScreen, "compact": LessonCompactScreen,
             "present": LessonPresentScreen}
    BINDINGS = LESSON_KEYS + SyscallLabApp.BINDINGS
    MODE_KEYS = LESSON_KEYS

    def __init__(self, factory, lesson: Lesson):
        super().__init__(factory, program=lesson.program)
        self.lesson = lesson
        self.player: LessonPlayer | None = None
        self.lesson_error = ""

    def on_mount(self) -> None:
        # Textual calls the app's own on_mount too (handlers run up the class hierarchy),
        # after this one: the session exists only then.
        self.call_later(self._start_lesson)

    def _start_lesson(self) -> None:
        self.sub_title = f"lesson: {self.lesson.title}  ({self.lesson.program})"
        self.player = LessonPlayer(self.lesson, self.session)
        self._lesson_move(_FIRST_STOP)

    def action_lesson_next(self) -> None:
        self._lesson_move(_NEXT_STOP)

    def action_lesson_back(self) -> None:
        self._lesson_move(_STOP_BACK)

    def action_restart(self) -> None:
        super().action_restart()
        if self.session is not None and (self.player is None or
                                         self.player.session is not self.session):
            self.player = LessonPlayer(self.lesson, self.session)
            self._lesson_move(_FIRST_STOP)

    def _lesson_move(self, move: _LessonMove) -> None:
        if self.state.busy or self.player is None:
            self.bell()
            return
        self.state.busy = move.label
        self.redraw()
        self._lesson_work(move)

    @work(thread=True, exclusive=True, exit_on_error=False, group="session")
    def _lesson_work(self, move: _LessonMove) -> None:
        from kernel_model.debugger.session import SessionStop

        session = self.session
        walking = session.walk is not None
        error = ""
        stop = None
        try:
            stop = move.call(self.player)
        except LessonError as e:
            error = str(e)
        except Exception as e:  # keep the screen alive: say what went wrong
            error = f"{type(e).__name__}: {e}"
        if stop is None:
            k = self.player.index
            stop = SessionStop("lesson", f"lesson stop {k + 1}" if k >= 0 else "",
                               session.machine.pc)
        self.lesson_error = error
        try:
            view = session.view()
        except Exception as e:
            view, error = self.state.view, error or f"{type(e).__name__}: {e}"
        self.call_from_thread(self._finished, stop, view, error, walking)


def make_lesson_app(lesson: Lesson, *, budget: int | None = None) -> LessonApp:
    """The app for a lesson (the command line and the tests)."""
    return LessonApp(lambda: make_session(lesson, budget=budget), lesson)


def cmd_lesson(args) -> int:
    from programs import lesson as lessons

    try:
        lesson = lessons.find(args.lesson)
    except LessonError as e:
        print(f"syscall-lab: {e}", file=sys.stderr)
        return 2
    if args.check:
        from programs.lesson_play import check

        return check(lesson)
    from tui.cli import require_terminal

    require_terminal("lesson", f", `syscall-lab lesson --check {args.lesson}` to play it")
    app = make_lesson_app(lesson, budget=args.history_budget)
    app.screenshots = args.screenshots
    app.run()
    if app.session is not None:
        app.session.close()
    return app.return_code or 0


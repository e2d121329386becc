"""The stepping TUI: a Textual app over a DebugSession (kernel_model.debugger).

Every command runs in a thread worker, so the screen stays live and Esc can stop a long run;
the worker hands back a StopView, an immutable snapshot the panels draw from. The layout
follows the terminal's size (tabs at 80x24, side by side at 120x40), or the presentation
mode when asked.
"""

from __future__ import annotations

import gc
import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.binding import Binding

from tui import commands as cmd
from tui.commands import CONTROLS, SessionCommand, SessionCommands
from tui.console_host import ConsoleHost
from tui.screens.base import SessionScreen
from tui.screens.console import ConsoleScreen
from tui.screens.dialogs import HelpScreen, PromptScreen
from tui.screens.layouts import CompactScreen, PresentationScreen, WideScreen
from tui.widgets.events import EventList
from tui.widgets.output import OutputPane

if TYPE_CHECKING:
    from kernel_model.debugger.stepping import SteppingSession

WIDE_MIN = (110, 32)  # below this, panels become tabs
SCREENSHOTS_ENV = "SYSCALL_LAB_SCREENSHOTS"  # where F12 saves, unless --screenshots says
_MOVES = itertools.count(1)  # numbers each stop that moved the view (see UiState.moves)

@dataclass
class UiState:
    view: object = None  # the StopView of the last stop
    reason: str = ""
    message: str = ""
    busy: str = ""
    att: bool = False
    compare: bool = True
    walk_ended: bool = False
    gdb: str = ""  # with `tui --gdb`: where gdb is (tui/gdb_shared.py), first on the status line
    # Changes whenever a command moved the stepped position (0: not since this state began):
    # layouts with tabs bring the code or the transition forward only then, never on a mere
    # redraw, so a tab the user picked stays picked.
    moves: int = 0


def where(view) -> tuple:
    """What identifies the stepped position of a view (a stop, or a phase of a walk)."""
    if view is None:
        return ()
    walk = view.walk
    return (view.pc, view.exited, getattr(view.history, "position", None),
            None if walk is None else (walk.phase, walk.transition.title))


# Number keys pick the screen's tabs (1 is the first tab of its tab bar): Tab and Shift+Tab
# already move the focus, Textual's convention, and the arrows belong to lessons and lists.
PANE_KEYS = [Binding(str(n), f"pane({n})", "panes", show=False, id=f"pane_{n}",
                     tooltip="Show the pane whose tab has this number")
             for n in range(1, 10)]


BUSY_SHOWN_AFTER = 0.1  # seconds a command runs before the screen says so


class SyscallLabApp(ConsoleHost, App):
    CSS_PATH = "app.tcss"
    TITLE = "syscall-lab"
    COMMANDS = App.COMMANDS | {SessionCommands}
    MODES = {"wide": WideScreen, "compact": CompactScreen, "present": PresentationScreen}
    # Esc is not a priority binding: an open dialog (help, a prompt, the palette) takes it
    # first and closes, and only then does Esc reach the app and stop a run.
    # The help key comes first, so the footer shows it even at 80 columns.
    BINDINGS = [Binding(c.key, c.action, c.footer or c.name.split()[0], show=bool(c.footer),
                        tooltip=c.help, id=c.action)
                for c in sorted(CONTROLS, key=lambda c: c.action != "help")] + PANE_KEYS

    def __init__(self, factory: Callable[[], SteppingSession], *, program: str = "",
                 screenshots: str | None = None):
        """factory() makes a fresh SteppingSession, a DebugSession or, for a replay, a
        RecordedSession (called again by restart); screenshots is the folder F12 saves into
        (default: $SYSCALL_LAB_SCREENSHOTS, else ./screenshots)."""
        super().__init__()
        self.factory = factory
        self.program = program
        self.screenshots = screenshots
        self.session: SteppingSession | None = None
        self.state = UiState()
        self.presenting = False
        self._gdb = None  # the `:` console's value history and `x` state, made when used
        self.console_lines: list[str] = []  # its transcript, kept between openings
        self.console_history: list[str] = []  # the commands typed, for Up/Down

    # -- start and layout -----------------------------------------------------------------
    def on_mount(self) -> None:
        self.session = self.factory()
        self.state.view = self.session.view()
        self.sub_title = self.program
        self.switch_mode(self._layout())
        # The first layout may already be mounted (empty) before the session existed.
        self.call_after_refresh(self.redraw)
        self.call_after_refresh(_freeze_heap)

    def _layout(self, size=None) -> str:
        if self.presenting:
            return "present"
        w, h = size or self.size
        return "wide" if w >= WIDE_MIN[0] and h >= WIDE_MIN[1] else "compact"

    def on_resize(self, event) -> None:
        # the event's size: this handler runs before App's, which records the new size
        mode = self._layout(event.size)
        if self.current_mode and mode != self.current_mode:
            self.switch_mode(mode)

    def redraw(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, SessionScreen):
                screen.show(self.state)

    # -- running session commands --------------------------------------------------------
    def run_session(self, command: SessionCommand, *args, label: str = "") -> None:
        if self.state.busy:
            self.bell()
            return
        if not args and self.session.quick(command.name):
            # One instruction or phase: done right here, a thread would only add latency.
            self._finished(*self._call(command, args))
            return
        self.state.busy = label or command.label
        # The "● running" line only for a command that takes a while: most (a `t`, a `T`)
        # end well within BUSY_SHOWN_AFTER, and drawing every panel twice per key doubled
        # what a key cost.
        self.set_timer(BUSY_SHOWN_AFTER, self._show_busy)
        self._work(command, args)

    def _show_busy(self) -> None:
        if self.state.busy:
            self.redraw()

    def _call(self, command: SessionCommand, args: tuple):
        """Run one session command; (stop, view, error, was walking)."""
        session = self.session
        error = ""
        stop = None
        walking = session.walk is not None
        try:
            stop = command.call(session, *args)
        except Exception as e:  # keep the app alive: say what went wrong
            error = f"{type(e).__name__}: {e}"
        try:
            view = session.view()
        except Exception as e:
            view = self.state.view
            error = error or f"{type(e).__name__}: {e}"
        return stop, view, error, walking

    @work(thread=True, exclusive=True, exit_on_error=False, group="session")
    def _work(self, command: SessionCommand, args: tuple) -> None:
        self.call_from_thread(self._finished, *self._call(command, args))

    def _finished(self, stop, view, error: str, was_walking: bool) -> None:
        s = self.state
        if where(view) != where(s.view):
            s.moves = next(_MOVES)
        s.busy = ""
        s.view = view
        s.reason = stop.reason if stop else "error"
        s.message = error or (stop.message if stop else "")
        s.walk_ended = was_walking and view.walk is None
        self.redraw()
        if error:
            self.notify(error, title="syscall-lab", severity="error", timeout=8, markup=False)

    # -- actions ------------------------------------------------------------------------------
    def action_step(self) -> None:
        self.run_session(cmd.STEP)

    def action_next(self) -> None:
        self.run_session(cmd.NEXT)

    def action_finish(self) -> None:
        self.run_session(cmd.FINISH)

    def action_cont(self) -> None:
        self.run_session(cmd.CONTINUE)

    def action_transition(self) -> None:
        self.run_session(cmd.TO_TRANSITION)

    def action_reverse_step(self) -> None:
        self.run_session(cmd.REVERSE_STEP)

    def action_reverse_continue(self) -> None:
        self.run_session(cmd.REVERSE_CONTINUE)

    def action_reverse_transition(self) -> None:
        self.run_session(cmd.REVERSE_TRANSITION)

    def action_history_start(self) -> None:
        self.run_session(cmd.HISTORY_START)

    def action_history_end(self) -> None:
        self.run_session(cmd.HISTORY_END)

    def action_stop(self) -> None:
        if isinstance(self.screen, ConsoleScreen):  # Esc closes the console first
            self.screen.action_close()
        elif self.state.busy and self.session is not None:
            self.session.interrupt()
        elif isinstance(self.screen, SessionScreen):
            self.screen.focus_next()

    def action_focus_events(self) -> None:
        self._focus_tab("tab-events", EventList)

    def action_focus_output(self) -> None:
        self._focus_tab("tab-output", "#stdin")

    def action_pane(self, n: int) -> None:
        if isinstance(self.screen, SessionScreen):
            self.screen.show_pane(n)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        # A number key with no tab of that number does nothing (and is not swallowed).
        if action == "pane" and isinstance(self.screen, SessionScreen):
            return parameters[0] <= len(self.screen.pane_ids())
        return True

    def _focus_tab(self, tab: str, target) -> None:
        screen = self.screen
        if isinstance(screen, SessionScreen):
            screen.select_tab(tab)
            widgets = screen.query(target)
            if widgets:
                widgets.first().focus()

    def action_toggle_att(self) -> None:
        self.state.att = not self.state.att
        self.redraw()

    def action_toggle_present(self) -> None:
        self.presenting = not self.presenting
        self.switch_mode(self._layout())

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    # Keys a mode adds (lesson, exercise): shown first in the help screen.
    MODE_KEYS: list = []

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.MODE_KEYS))

    def screenshot_folder(self) -> Path:
        """Where F12 saves: --screenshots, else $SYSCALL_LAB_SCREENSHOTS, else ./screenshots."""
        return Path(self.screenshots or os.environ.get(SCREENSHOTS_ENV) or "screenshots")

    def action_save_svg(self) -> None:
        """The screen as an SVG in the screenshots folder (made when needed), with a
        timestamped name."""
        folder = self.screenshot_folder()
        ms = time.time_ns() // 1_000_000 % 1000
        name = f"syscall-lab-{time.strftime('%Y%m%d-%H%M%S')}-{ms:03d}.svg"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = self.save_screenshot(name, str(folder))
        except OSError as e:
            self.notify(f"cannot save the screenshot in {folder}: {e.strerror}",
                        severity="error", markup=False)
            return
        self.notify(f"screenshot saved: {path}", title="syscall-lab", markup=False)

    def action_restart(self) -> None:
        if self.state.busy:
            self.bell()
            return
        old = self.session
        breakpoints = [b.spec for b in old.breakpoints] if old is not None else []
        self.session = self.factory()
        for spec in breakpoints:
            try:
                self.session.add_breakpoint(spec)
            except ValueError:
                pass
        if old is not None:
            old.close()
        self.state = UiState(att=self.state.att, moves=next(_MOVES))
        self.state.view = self.session.view()
        self.state.message = "restarted"
        self.redraw()
        self.call_after_refresh(_freeze_heap)

    def action_prompt_break(self) -> None:
        self.push_screen(PromptScreen("Break at: an address (0x401000), a label or symbol "
                                      "(_start, main+4), or `syscall NAME`", "_start"),
                         self.action_break_at)

    def action_break_at(self, spec: str | None) -> None:
        if not spec:
            return
        try:
            b = self.session.add_breakpoint(spec)
        except ValueError as e:
            self.notify(str(e), severity="warning", markup=False)
            return
        pending = " (pending: set when a library defines it)" if b.address is None and \
            b.syscall is None else ""
        self.notify(f"breakpoint at {b.spec}{pending}", markup=False)
        self.state.view = self.session.view()
        self.redraw()

    def action_prompt_catch(self) -> None:
        self.push_screen(PromptScreen("Run to the next call of the syscall:", "write"),
                         self.action_catch)

    def action_catch(self, name: str | None) -> None:
        if name:
            self.run_session(cmd.TO_SYSCALL, name, label=f"to the next {name}")

    # -- messages from widgets --------------------------------------------------------------
    def on_event_list_chosen(self, message: EventList.Chosen) -> None:
        view = self.state.view
        if view is None or message.index >= len(view.events):
            return
        e = view.events[message.index]
        self.run_session(cmd.TO_MARK, e.mark, e.before)

    def on_output_pane_typed(self, message: OutputPane.Typed) -> None:
        if message.text is None:
            self.session.close_input()
            self.notify("end of input sent")
        else:
            self.session.feed_input(message.text)
        self.state.view = self.session.view()
        self.redraw()


def _freeze_heap() -> None:
    """Move the long-lived objects (the app's widgets, the program, the session's machine
    and kernel) out of the garbage collector's sight: otherwise each full collection walks
    them all, a 30-40 ms pause that lands on a keypress now and then."""
    gc.collect()
    gc.freeze()


def make_app(factory, *, program: str = "", screenshots: str | None = None) -> SyscallLabApp:
    """One factory for the command line and the tests (posting's make_app)."""
    return SyscallLabApp(factory, program=program, screenshots=screenshots)

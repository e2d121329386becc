"""What every layout shares: the status bar, and filling whichever panels a layout has from
the app's current state (the StopView of the last stop, why it stopped, what is running)."""

from __future__ import annotations

from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from tui.panels import (
    code_lines,
    history_lines,
    maps_lines,
    process_lines,
    register_lines,
    stack_lines,
    status_line,
    transition_lines,
)
from tui.panels.code import where_text
from tui.panels.registers import registers_at
from tui.widgets.events import EventList
from tui.widgets.output import OutputPane
from tui.widgets.panel import Panel, to_content


class SessionScreen(Screen):
    """A layout of panels; `show` refills the ones it has."""

    def on_screen_resume(self) -> None:
        self.show(self.app.state)

    _seen_moves = 0  # the UiState.moves this screen last followed

    def on_mount(self) -> None:
        self.number_tabs()
        for footer in self.query(Footer):
            footer.compact = True  # more keys fit in 80 columns
        if getattr(self.app, "state", None) is not None:
            self.show(self.app.state)

    def on_resize(self, event) -> None:
        self.call_after_refresh(self.show, self.app.state)

    def on_tabbed_content_tab_activated(self, event) -> None:
        # A tab shown for the first time has its size only now: fit its panels to it.
        self.call_after_refresh(self.show, self.app.state)

    def _width(self, widget) -> int:
        box = widget.parent if widget.parent is not None and widget.parent.has_class("box") \
            else widget
        w = box.content_size.width or (self.size.width or 80) - 4
        return max(20, w - 2)  # room for a scrollbar

    def _height(self, widget) -> int:
        box = widget.parent if widget.parent is not None and widget.parent.has_class("box") \
            else widget
        return max(5, box.content_size.height or box.size.height or 20)

    def show(self, state) -> None:
        if state is None or state.view is None:
            return
        v = state.view
        # While a transition's phases run, user mode waits at the trap: the code, registers
        # and stack panels show that moment; the last phase (the return) shows the state
        # after it, with the registers it changed highlighted.
        shown, previous, in_kernel = v, None, ""
        if v.walk is not None:
            phases = v.walk.transition.phases
            if v.walk.phase < len(phases) - 1:
                shown = v.walk.before
                if phases[v.walk.phase].kernel:
                    in_kernel = "  (kernel running)"
            else:
                previous = v.walk.before.regs
        for panel in self.query(Panel):
            pid = panel.id or ""
            width = self._width(panel)
            if pid == "code":
                self._title(panel, "Code  " + where_text(shown) + in_kernel +
                            ("  (AT&T)" if state.att else ""))
                panel.show(code_lines(shown, att=state.att, width=width,
                                      height=self._height(panel)))
            elif pid == "transition":
                self._title(panel, self._transition_title(v))
                panel.show(transition_lines(v, width=width, compare=state.compare))
            elif pid in ("registers", "stack", "maps", "processes") and \
                    panel.parent is not None:
                self._title(panel, panel.border_title or pid.title())
            if pid == "registers":
                regs, before, title = registers_at(v)  # the CPU's, phase by phase
                self._title(panel, title)
                panel.show(register_lines(regs, before, width=width,
                                          columns=2 if width >= 44 else 1))
            elif pid == "stack":
                panel.show(stack_lines(shown, width=width))
            elif pid == "maps":
                panel.show(maps_lines(v, width=width))
            elif pid == "history":
                panel.show(history_lines(v, width=width))
            elif pid == "processes":
                panel.show(process_lines(v, width=width))
            elif pid == "changed":
                panel.show(_changed(shown, previous))
        for events in self.query(EventList):
            events.show(v, width=self._width(events))
        for out in self.query(OutputPane):
            out.show(v)
        for bar in self.query("#status"):
            line = status_line(v, state.reason, state.message, state.busy)
            if state.gdb:
                line = [(state.gdb, "note"), ("  ", "text"), *line]
            if isinstance(bar, Static):
                bar.update(to_content([line]), layout=False)
        moved = state.moves != self._seen_moves and not state.busy
        if moved:
            self._seen_moves = state.moves
        self.follow(state, moved)

    @staticmethod
    def _title(panel, text: str) -> None:
        """Titles go on the bordered box around the panel, as plain text: a lesson's
        "[vdso]" or "sys_call_table[1]" is not Textual markup."""
        box = panel.parent if panel.parent is not None and panel.parent.has_class("box") \
            else panel
        box.border_title = Content(text)

    def follow(self, state, moved: bool) -> None:
        """Layouts with tabs bring the right one forward (the transition while walking),
        but only when a command moved the stepped position (`moved`): a redraw, a resize
        or a tab the user picked leaves the tabs alone."""

    # -- the panes by number (the number keys) ----------------------------------------------
    def _tab_bar(self) -> TabbedContent | None:
        bars = self.query(TabbedContent)
        return bars.first() if bars else None

    def pane_ids(self) -> list[str]:
        """The ids of the tab panes, in the order the number keys pick them."""
        bar = self._tab_bar()
        return [] if bar is None else [p.id for p in bar.query(TabPane) if p.id]

    def number_tabs(self) -> None:
        """Each tab's label starts with the number key that shows it ("1 Code")."""
        bar = self._tab_bar()
        if bar is None:
            return
        for n, pane_id in enumerate(self.pane_ids(), 1):
            tab = bar.get_tab(pane_id)
            if not hasattr(tab, "pane_title"):  # on_mount may run twice (subclasses)
                tab.pane_title = tab.label.plain
            tab.label = Content.assemble((f"{n}", "bold"), " ", tab.pane_title)

    def show_pane(self, n: int) -> None:
        """Bring tab n forward. The focus stays where it is if still on screen (on the tab
        bar, the arrows keep switching tabs), else it moves into the new pane (not into a
        text input, so that the next key is still a command)."""
        ids = self.pane_ids()
        if not 1 <= n <= len(ids):
            return
        self.select_tab(ids[n - 1])
        self.call_after_refresh(self._focus_in, ids[n - 1])

    def _focus_in(self, pane_id: str) -> None:
        pane = self.query_one(f"#{pane_id}", TabPane)
        focused = self.focused
        if focused is not None and all(w.display for w in focused.ancestors_with_self
                                       if w is not self):
            return
        for widget in pane.query("*"):
            if widget.focusable and not isinstance(widget, Input):
                widget.focus()
                return
        self.set_focus(None)

    @staticmethod
    def _transition_title(v) -> str:
        if v.walk is not None:
            return "Transition  s: next phase  S: back  n: to the end"
        if v.upcoming is not None:
            return "Transition  s: step into it  n: over it"
        return "Transition"

    def select_tab(self, tab_id: str) -> None:
        for tabs in self.query(TabbedContent):
            try:
                tabs.active = tab_id
            except Exception:
                pass


def _changed(v, previous=None) -> list:
    """One line of the registers that changed at the last stop (for narrow layouts)."""
    prev = previous if previous is not None else v.previous or {}
    cells = []
    for name, value in v.regs.items():
        if name in prev and prev[name] != value and name not in ("rip", "eip"):
            cells += [(f"{name}=", "reg-name"), (f"{value:#x} ", "changed")]
    if not cells:
        cells = [("no register changed", "muted")]
    return [[("changed: ", "muted")] + cells]

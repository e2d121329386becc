"""The app's side of the `:` gdb console (tui/screens/console.py): opening it, answering
each line through kernel_model.debugger's GdbConsole, and running a stepping command typed
there once it has closed. A part of SyscallLabApp."""

from __future__ import annotations

from tui.commands import CONTROLS, control_named
from tui.screens.console import ConsoleScreen


class ConsoleHost:
    """The console methods of SyscallLabApp (a Textual App), which sets `_gdb`,
    `console_lines` and `console_history`."""

    _gdb: object
    console_lines: list[str]
    console_history: list[str]

    def action_prompt_command(self) -> None:
        bits = self.state.view.bits if self.state.view is not None else 64
        self.push_screen(ConsoleScreen(self.console_command, self.console_lines,
                                       self.console_history, bits), self._console_closed)

    @property
    def gdb(self):
        # imported when first used: a replay must not load the machine (capstone, unicorn)
        from kernel_model.debugger.gdbcommands import GdbConsole

        if self._gdb is None:
            self._gdb = GdbConsole()
        return self._gdb

    def console_command(self, line: str) -> list[str] | None:
        """gdb's answer to one line of the `:` console; None for a stepping command, which
        runs when the console has closed (the panels then show where it stopped)."""
        from kernel_model.debugger.gdbcommands import GdbConsole
        from kernel_model.debugger.gdbtarget import target_for

        word = line.split()[0] if line.split() else ""
        if not GdbConsole.handles(line) and _control(word) is not None:
            return None
        if self.state.busy:
            return ["Cannot execute this command while the target is running."]
        others = tuple(c.name.split()[0] for c in CONTROLS
                       if c.key != "colon" and not GdbConsole.handles(c.name.split()[0]))
        target = target_for(self.session, self.state.view, att=self.state.att)
        out = self.gdb.execute(line, target, others)
        if GdbConsole.changes_breakpoints(line):
            self.state.view = self.session.view()  # the code panel marks breakpoints
            self.redraw()
        return out

    def _console_closed(self, line: str | None) -> None:
        c = _control(line.split()[0]) if line else None
        if c is not None:
            self.call_later(self.run_action, c.action)  # as if its key were pressed


def _control(word: str):
    """The control a console word names, with gdb's short forms (c, s, n, fin...)."""
    from kernel_model.debugger.gdbcommands import STEPPING_ALIASES

    return control_named(STEPPING_ALIASES.get(word, word))

"""Every control, once: its key (gdb's habits), its name for the `:` command line and the
command palette, and what it does. The footer, the palette, the help screen and the command
line are all built from this table (as posting builds its palette from its bindings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


@dataclass(frozen=True)
class Control:
    key: str
    name: str  # what the `:` line accepts (gdb's word), and aliases after a space
    action: str  # the app action
    help: str
    footer: str = ""  # the footer's short label ("" keeps it out of a narrow footer)


CONTROLS = (
    Control("s", "step si", "step", "Step one instruction; at a syscall, int 0x80, sysenter or "
            "a call into the vDSO/vsyscall page, step into it, then one phase per key", "step"),
    Control("n", "next ni", "next", "Step over calls, and over a whole transition at once",
            "next"),
    Control("f", "finish", "finish", "Run until the current function returns to its caller"),
    Control("c", "continue cont", "cont", "Continue to a breakpoint, a fault or the end", "cont"),
    Control("t", "transition", "transition", "Run to the next transition (syscall, int 0x80, "
            "sysenter, vDSO or vsyscall call) and stop before it", "to transition"),
    Control("S", "reverse-step rs", "reverse_step", "Step back one instruction (or one phase)",
            "back"),
    Control("C", "reverse-continue rc", "reverse_continue", "Run backwards to the previous "
            "breakpoint (or the start)"),
    Control("T", "reverse-transition rt", "reverse_transition", "Back to the previous transition",
            "prev transition"),
    Control("home", "start", "history_start", "Go to the start of the recorded history"),
    Control("end", "end", "history_end", "Go to the live end of the recorded history"),
    Control("e", "events", "focus_events", "The events list: pick a line (Enter) to go to that "
            "point in history", "events"),
    Control("o", "output", "focus_output", "The output, and the line to type the program's "
            "input into"),
    Control("b", "break", "prompt_break", "Set a breakpoint: an address, a label, a symbol, or "
            "`syscall NAME`", "break"),
    Control("x", "catch", "prompt_catch", "Run to the next call of a syscall (catch syscall "
            "NAME)"),
    Control("a", "att", "toggle_att", "Intel / AT&T syntax"),
    Control("p", "present", "toggle_present", "Presentation mode: code and transition only, large",
            "present"),
    Control("d", "theme", "toggle_dark", "Dark / light theme"),
    Control("r", "restart run", "restart", "Restart the program from scratch"),
    Control("colon", "command", "prompt_command", "The gdb console: x/4gx $rsp, p $rax, info "
            "registers, info proc mappings, break, delete, si, c... (Esc closes it)"),
    Control("escape", "stop", "stop", "Stop a running command", "stop"),
    Control("question_mark", "help", "help", "Help: every key", "help"),
    Control("f12", "screenshot", "save_svg", "Save an SVG screenshot of the screen (for slides) "
            "in ./screenshots (--screenshots DIR or $SYSCALL_LAB_SCREENSHOTS: elsewhere)"),
    Control("q", "quit", "quit", "Quit", "quit"),
)


@dataclass(frozen=True)
class SessionCommand:
    """A stepping command the app runs on its session (in a worker unless it is quick)."""

    name: str  # how the session's quick() knows it
    call: Callable  # call(session, *args) -> the session's Stop
    label: str  # what the status line says while it runs


STEP = SessionCommand("step", lambda s: s.step(), "step")
NEXT = SessionCommand("next", lambda s: s.next(), "next")
FINISH = SessionCommand("finish", lambda s: s.finish(), "finish")
CONTINUE = SessionCommand("cont", lambda s: s.cont(), "continue")
TO_TRANSITION = SessionCommand("run_to_transition", lambda s: s.run_to_transition(),
                               "to the next transition")
REVERSE_STEP = SessionCommand("reverse_step", lambda s: s.reverse_step(), "step back")
REVERSE_CONTINUE = SessionCommand("reverse_continue", lambda s: s.reverse_continue(),
                                  "reverse continue")
REVERSE_TRANSITION = SessionCommand("reverse_to_transition",
                                    lambda s: s.reverse_to_transition(),
                                    "back to the previous transition")
HISTORY_START = SessionCommand("goto_start", lambda s: s.goto_start(), "to the start")
HISTORY_END = SessionCommand("goto_end", lambda s: s.goto_end(), "to the end")
TO_SYSCALL = SessionCommand("run_to_syscall", lambda s, name: s.run_to_syscall(name),
                            "to the next call")
TO_MARK = SessionCommand("goto_mark", lambda s, mark, before: s.goto_mark(mark, before),
                         "to that point in history")


def control_named(word: str) -> Control | None:
    word = word.strip().lower()
    for c in CONTROLS:
        if word in c.name.split():
            return c
    return None


class SessionCommands(Provider):
    """The command palette: every control, and breakpoints on the program's labels."""

    def _entries(self):
        app = self.app
        for c in CONTROLS:
            yield (f"{c.name.split()[0]}  ({_key(c.key)})", c.help,
                   partial(app.run_action, c.action))
        session = getattr(app, "session", None)
        if session is None:
            return
        prog = session.program
        labels = sorted(prog.assembled.labels) if prog is not None and prog.assembled else []
        for label in labels[:200]:
            yield (f"break {label}", f"a breakpoint at the label {label}",
                   partial(app.action_break_at, label))
        for name in ("write", "read", "exit", "exit_group", "brk", "mmap", "clock_gettime",
                     "gettimeofday", "getpid"):
            yield (f"catch syscall {name}", f"run to the next {name}",
                   partial(app.action_catch, name))

    async def discover(self) -> Hits:
        for text, help_text, command in self._entries():
            yield DiscoveryHit(text, self._runner(command), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, command in self._entries():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), self._runner(command),
                          help=help_text)

    def _runner(self, command: Callable) -> Callable[[], None]:
        """The entry's command, run once the palette has closed."""
        app = self.app

        def run() -> None:
            app.call_later(command)

        return run


def _key(key: str) -> str:
    return {"colon": ":", "question_mark": "?", "escape": "Esc", "right": "→", "left": "←",
            "up": "↑", "down": "↓", "home": "Home", "end": "End"}.get(key, key)


def key_label(key: str) -> str:
    return _key(key)

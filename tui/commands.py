"""Every control, once: its key (gdb's habits), its name for the `:` command line and the
command palette, and what it does. The footer, the palette, the help screen and the command
line are all built from this table (as posting builds its palette from its bindings)."""

from __future__ import annotations

from dataclasses import dataclass

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
            yield f"{c.name.split()[0]}  ({_key(c.key)})", c.help, c.action, ()
        session = getattr(app, "session", None)
        if session is None:
            return
        prog = session.program
        labels = sorted(prog.assembled.labels) if prog is not None and prog.assembled else []
        for label in labels[:200]:
            yield f"break {label}", f"a breakpoint at the label {label}", "break_at", (label,)
        for name in ("write", "read", "exit", "exit_group", "brk", "mmap", "clock_gettime",
                     "gettimeofday", "getpid"):
            yield f"catch syscall {name}", f"run to the next {name}", "catch", (name,)

    async def discover(self) -> Hits:
        for text, help_text, action, args in self._entries():
            yield DiscoveryHit(text, self._runner(action, args), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, action, args in self._entries():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), self._runner(action, args),
                          help=help_text)

    def _runner(self, action: str, args: tuple):
        app = self.app

        def run() -> None:
            app.call_later(lambda: getattr(app, f"action_{action}")(*args))

        return run


def _key(key: str) -> str:
    return {"colon": ":", "question_mark": "?", "escape": "Esc", "right": "→", "left": "←",
            "up": "↑", "down": "↓", "home": "Home", "end": "End"}.get(key, key)


def key_label(key: str) -> str:
    return _key(key)

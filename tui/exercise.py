"""Exercise mode: the stepping TUI on a student's solution, with the exercise's statement
and an editor on the solution file beside the code, and a key (g, or F5) that saves the
editor's buffer, re-assembles the file and re-runs every check of the grader
(programs.grading) in a thread worker, then shows the results in a panel and reloads the new
version in the stepping view (a new session on the first graded run's inputs: its argv,
stdin, environment, files and seed).

Keys go to the editor while it has the focus (i or F6 enters it, Esc or F6 leaves it for the
stepping keys); F5, F6 and ctrl+s work from everywhere. The same app is what `syscall-lab
serve` shows in a browser.

A subclass of the stepping app with its own layouts, like lesson mode, so the app itself
needs no change. `syscall-lab exercise NAME [SOLUTION]` opens it (imported only by that
subcommand).
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Footer, Markdown, Static, TabbedContent, TabPane

from tui.app import SyscallLabApp, UiState, _freeze_heap
from tui.screens.base import SessionScreen
from tui.screens.layouts import stepped_tab
from tui.screens.panes import events_tab, maps_tab, output_tab, stack_tab
from tui.widgets.asm_editor import AsmEditor, Snapshot
from tui.widgets.panel import Panel

EXERCISE_KEYS = [
    Binding("g", "grade", "grade", id="grade",
            tooltip="Save the editor's text, re-assemble the solution, run every check, "
                    "reload it here"),
    Binding("i", "edit", "edit", id="edit",
            tooltip="Edit the solution here: keys type into the editor until Esc (or F6) "
                    "gives them back to stepping"),
    # priority: they work while the editor has the keys
    Binding("f5", "grade", "grade", show=False, priority=True, id="grade_f5"),
    Binding("f6", "toggle_editor", "editor", show=False, priority=True, id="editor_f6"),
    Binding("ctrl+s", "save", "save", show=False, priority=True, id="save"),
]
EDITING_HINT = "Esc: back  ^s: save  F5: grade"
STEPPING_HINT = "i or F6: edit"


# -- pure functions: what the panels show ------------------------------------------------------
def statement_markdown(exercise, solution: str, note: str = "") -> str:
    """The statement panel: `note` first (what a front end adds: the browser's says whether
    the file outlives a reload), the exercise's own markdown, then where the solution is."""
    runs = exercise.run_count
    return ((f"{note}\n\n" if note else "") + f"{exercise.statement.strip()}\n\n---\n\n"
            f"*{exercise.arch}* · {runs} randomized run{'s' if runs != 1 else ''} · "
            f"your file: `{solution}`  \nEdit it in the editor (**i**; **Esc** to step "
            "again) or in another editor, then press **g** or **F5** to save, grade it and "
            "reload it here.")


def _wrap(text: str, width: int, indent: str, role: str) -> list:
    out = []
    for raw in text.splitlines() or [""]:
        parts = textwrap.wrap(raw, max(10, width), initial_indent=indent,
                              subsequent_indent=indent + "  ", break_on_hyphens=False) or [""]
        for part in parts:
            pad = len(part) - len(part.lstrip(" "))
            out.append([(part[:pad], ""), (part[pad:], role)])
    return out


def _head(c) -> tuple[str, list[str]]:
    """A check's one line (without its name) and the feedback under it (report.text's way:
    a first feedback line that repeats the summary replaces it)."""
    s = c.summary
    head = s[len(c.name) + 2:] if s.startswith(c.name + ": ") else s
    feedback = list(c.feedback)
    if feedback and feedback[0].startswith(head):
        head = feedback.pop(0)
    return head, feedback


def result_lines(report, width: int, *, busy: str = "", error: str = "",
                 solution: str = "", unsolved: str = "") -> list:
    """The results panel: the verdict and score, each check passed or failed with the
    feedback of the first run it failed on, then one line per run."""
    width = max(30, width)
    lines: list = []
    if busy:
        lines.append([(busy, "warning")])
        lines.append([])
    if error:
        lines += _wrap(error, width, "", "error")
        lines.append([])
    if report is None:
        if unsolved and not busy and not error:  # the fresh starter: where to write
            lines += _wrap(unsolved[0].upper() + unsolved[1:], width, "", "heading")
            lines.append([("then press ", "muted"), ("g", "heading"),
                          (" (or F5) to grade it here", "muted")])
        elif not busy and not error:
            lines.append([("Not graded yet: press ", "muted"), ("g", "heading"),
                          (" (or F5) to run every check", "muted")])
            if solution:
                lines.append([("on ", "muted"), (solution, "text")])
        return lines
    verdicts = report.verdicts()
    good, total = sum(verdicts.values()), len(verdicts)
    nruns = len(report.runs)
    if report.passed:
        lines.append([("PASSED", "ret"), (f"  all {total} checks on all {nruns} runs, "
                                          "score 1.00", "text")])
    else:
        failed = ", ".join(n for n, ok in verdicts.items() if not ok)
        lines.append([("FAILED", "error"), (f"  {good} of {total} checks passed, score "
                                            f"{report.score:.2f}", "text")])
        lines.append([("  failed: ", "muted"), (failed, "error")])
        zero = report.zero_reason()
        if zero:  # why the checks that passed earn nothing
            lines += _wrap(f"  score 0: {zero}", width, "", "warning")
    lines.append([])
    static = {c.name: c for c in report.static}
    for name in report.check_names():
        ok = verdicts.get(name, False)
        mark = [("✓ ", "ret") if ok else ("✗ ", "error"), (f"{name}: ", "heading")]
        if name in static:
            head, feedback = _head(static[name])
            where = ""
        else:
            results = [(r.inputs.index, c) for r in report.runs for c in r.checks
                       if c.name == name]
            bad = [(i, c) for i, c in results if not c.passed]
            first = bad[0] if bad else results[0]
            head, feedback = _head(first[1])
            if bad:
                where = (f" (run {bad[0][0]}; failed on all {nruns} runs)" if len(bad) == nruns
                         and nruns > 1 else f" (run {bad[0][0]}; failed on "
                         f"{len(bad)} of {nruns} runs)" if nruns > 1 else "")
            else:
                where = ""
        body = _wrap(head + where, width - 2 - len(name) - 2, "", "text" if ok else "warning")
        lines.append(mark + body[0][1:])
        for extra in body[1:]:
            lines.append([("    ", "")] + extra[1:])
        for f in ([] if ok else feedback):
            lines += _wrap(f, width, "    ", "detail")
    if report.runs:
        lines.append([])
        lines.append([("Runs", "heading")])
        for r in report.runs:
            o = r.outcome
            bad = [c.name for c in r.checks if not c.passed]
            if o.signal:
                how = f"killed by {o.signal}"
            elif o.stopped:
                how = "stopped"
            else:
                how = f"exit {o.code}"
            mark = [(f" {r.inputs.index:2d} ", "addr"),
                    ("ok    " if not bad else "FAIL  ", "ret" if not bad else "error")]
            tail = f"{how}, {o.instructions} instructions"
            if bad:
                tail += "; failed: " + ", ".join(bad)
            body = _wrap(tail, width - 10, "", "text" if not bad else "warning")
            lines.append(mark + body[0][1:])
            lines += [[("          ", "")] + extra[1:] for extra in body[1:]]
            lines += _wrap(r.inputs.describe(), width, "      ", "muted")
    lines.append([])
    lines += _wrap(f"grader seed {report.seed}: `syscall-lab check --seed {report.seed} "
                   f"{report.exercise.name} {report.solution}` repeats these runs", width, "",
                   "muted")
    return lines


# -- the session on the solution -----------------------------------------------------------------
class Inputs:
    """Where the stepping session's runs come from: one run's inputs drawn as the grader
    draws them, its files written to a directory kept while the app lives."""

    def __init__(self, exercise, inputs):
        self.exercise = exercise
        self.inputs = inputs

    @classmethod
    def first(cls, exercise, seed: int | None = None) -> Inputs:
        from programs.grading.runner import draw_inputs

        rng = random.Random(seed if seed is not None else random.SystemRandom().random())
        return cls(exercise, draw_inputs(exercise, exercise.runs[0], 1, rng))

    def session(self, program, share: Path, budget: int | None):
        from kernel_model.debugger.session import DebugSession
        from kernel_model.system import Mount, RunOptions

        i, t = self.inputs, self.inputs.template
        shutil.rmtree(share, ignore_errors=True)
        share.mkdir(parents=True)
        for rel, content in i.files.items():
            target = share / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        options = RunOptions(seed=i.seed, clock=i.clock, env=i.env,
                             mounts=[Mount(str(share), t.mount, t.writable)],
                             vsyscall=t.vsyscall, vdso=t.vdso)
        if t.kernel is not None:
            options.kernel = t.kernel
        kw = {"budget": budget} if budget else {}
        session = DebugSession.create(program, list(i.argv), options, **kw)
        if i.stdin:
            session.feed_input(i.stdin)
        session.close_input()
        return session


def load(exercise, path: str):
    """The solution as an emu Program; raises emu.elf.BadProgram (file:line: message)."""
    from emu.program import load_program

    return load_program(path, exercise.bits)


PLACEHOLDER = """; {solution} does not assemble yet: the Results panel says where.
; Fix it in the editor, then press g (F5): it is graded and loaded here.
bits {bits}
section .text
_start:
    nop
"""


UNSOLVED = """; {unsolved}.
; Write it in the editor, then press g (F5): it is graded and loaded here.
bits {bits}
section .text
_start:
    nop
"""


# -- the screens ---------------------------------------------------------------------------------
class ExerciseScreen(SessionScreen):
    """What every exercise layout shares: the statement (once), the editor and the results
    panel."""

    def on_mount(self) -> None:
        app = self.app
        for md in self.query("#statement").results(Markdown):
            md.update(statement_markdown(app.exercise, app.solution, app.statement_note))
        for box in self.query("#statement-box"):
            box.border_title = Content(f"{app.exercise.name}: {app.exercise.title}")  # literal
        self._take_buffer()
        super().on_mount()

    def on_screen_resume(self) -> None:
        self._take_buffer()
        super().on_screen_resume()

    # -- the editor --------------------------------------------------------------------------
    def editor(self) -> AsmEditor | None:
        found = self.query(AsmEditor)
        return found.first() if found else None

    def _take_buffer(self) -> None:
        """The buffer the last layout had (a resize switches layouts, each with its own
        editor widget)."""
        editor, buffer = self.editor(), getattr(self.app, "buffer", None)
        if editor is not None and buffer is not None:
            editor.restore(buffer)
            # Taken over: a later resume (a dialog closing, not a layout switch) must not
            # bring this old text back over the edits made since.
            self.app.buffer = None
        self.title_editor()

    def title_editor(self) -> None:
        editor = self.editor()
        if editor is not None:
            editor.border_title = Content(f"Editor  {editor.state_text()}")
            editor.border_subtitle = Content(EDITING_HINT if editor.has_focus
                                             else STEPPING_HINT)

    def on_asm_editor_saved_state_changed(self, event) -> None:
        self.title_editor()

    def on_asm_editor_leave(self, event) -> None:
        self.app.leave_editor()

    def on_descendant_focus(self, event) -> None:
        self.title_editor()

    def on_descendant_blur(self, event) -> None:
        self.title_editor()

    def show(self, state) -> None:
        super().show(state)
        app = self.app
        for panel in self.query("#results").results(Panel):
            r = app.report
            if app.grading:
                title = "Results  (grading...)"
            elif r is None:
                title = "Results  g: grade"
            else:
                title = (f"Results  {'PASSED' if r.passed else 'FAILED'}  score {r.score:.2f}"
                         "  g: grade again")
            self._title(panel, title)
            panel.show(result_lines(r, self._width(panel), busy=app.grading,
                                    error=app.grade_error, solution=app.solution,
                                    unsolved=app.unsolved))


class ExerciseWideScreen(ExerciseScreen):
    """120x40 and up: the editor, the code, then the statement over the results, side by
    side; registers and a tabbed corner (the transition first) below."""

    AUTO_FOCUS = "#code-box"  # not the editor: the keys are for stepping until i or F6

    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        with Horizontal(id="exercise-top"):
            yield AsmEditor(self.app.solution, id="editor")
            with VerticalScroll(id="code-box", classes="box"):
                yield Panel("Code", id="code")
            with Vertical(id="exercise-side"):
                with VerticalScroll(id="statement-box", classes="box"):
                    yield Markdown("", id="statement")
                with VerticalScroll(id="results-box", classes="box"):
                    yield Panel("Results", id="results")
        with Horizontal(id="exercise-bottom"):
            with VerticalScroll(id="registers-box", classes="box"):
                yield Panel("Registers", id="registers")
            with TabbedContent(id="corner"):
                with TabPane("Transition", id="tab-transition"):
                    with VerticalScroll(classes="box grow"):
                        yield Panel("Transition", id="transition")
                yield from output_tab()
                yield from events_tab()
                yield from stack_tab()
                yield from maps_tab()
        yield Footer()

    def follow(self, state, moved: bool) -> None:
        # The transition is a tab here: bring it forward when a step reaches one.
        if moved and state.view is not None and stepped_tab(state) != "tab-code":
            self.select_tab(stepped_tab(state))


class ExerciseCompactScreen(ExerciseScreen):
    """80x24: every panel a tab, the statement first, the editor next; grading brings the
    results forward. Like a text input, the editor gets the keys only when asked (i, F6),
    never from a number key that shows its tab; a tab that hides it takes them back."""

    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        with TabbedContent(id="tabs"):
            with TabPane("Task", id="tab-task"):
                with VerticalScroll(id="statement-box", classes="box grow"):
                    yield Markdown("", id="statement")
            with TabPane("Edit", id="tab-edit"):
                yield AsmEditor(self.app.solution, id="editor")
            with TabPane("Results", id="tab-results"):
                with VerticalScroll(id="results-box", classes="box grow"):
                    yield Panel("Results", id="results")
            with TabPane("Code", id="tab-code"):
                with VerticalScroll(classes="box grow"):
                    yield Panel("Code", id="code")
            with TabPane("Transition", id="tab-transition"):
                with VerticalScroll(classes="box grow"):
                    yield Panel("Transition", id="transition")
            # The registers, the stack and the memory map share a tab: with the editor's,
            # ten tabs would not fit 80 columns.
            with TabPane("State", id="tab-registers"):
                with VerticalScroll(classes="grow"):
                    with Vertical(classes="box stacked"):
                        yield Panel("Registers", id="registers")
                    with Vertical(classes="box stacked"):
                        yield Panel("Stack", id="stack")
                    with Vertical(classes="box stacked"):
                        yield Panel("Memory map", id="maps")
            yield from events_tab()
            yield from output_tab()
        yield Footer()

    def follow(self, state, moved: bool) -> None:
        if moved and state.view is not None:
            self.select_tab(stepped_tab(state))

    def on_tabbed_content_tab_activated(self, event) -> None:
        super().on_tabbed_content_tab_activated(event)
        editor = self.editor()
        if editor is not None and editor.has_focus and event.pane.id != "tab-edit":
            self.set_focus(None)  # hidden, it must not take the keys

    def _focus_in(self, pane_id: str) -> None:
        if pane_id != "tab-edit":  # a number key: the next key is still a command
            super()._focus_in(pane_id)


# -- the app --------------------------------------------------------------------------------------
class ExerciseApp(SyscallLabApp, inherit_bindings=False):
    CSS_PATH = ["app.tcss", "exercise.tcss"]
    MODES = {"wide": ExerciseWideScreen, "compact": ExerciseCompactScreen,
             "present": SyscallLabApp.MODES["present"]}
    # Textual puts a subclass's bindings after its bases': the grade key would be last in
    # the footer, cut off at 80 columns. Listed here first instead (inherit_bindings=False).
    BINDINGS = App.BINDINGS + EXERCISE_KEYS + SyscallLabApp.BINDINGS
    MODE_KEYS = [Binding("g", "grade", "grade / F5", tooltip=EXERCISE_KEYS[0].tooltip),
                 Binding("i", "edit", "edit / F6", tooltip=EXERCISE_KEYS[1].tooltip),
                 Binding("escape", "", "back", tooltip="In the editor: back to stepping "
                         "(so does F6); the editor keeps its text"),
                 Binding("ctrl+s", "save", "save", tooltip="Save the editor's text to the "
                         "solution file (g and F5 save it too, then grade; so does "
                         "quitting)")]
    NOTIFICATION_TIMEOUT = 3  # a toast sits over the Results panel: not for long
    statement_note = ""  # markdown under the statement (tui.web_exercise sets one)

    def __init__(self, exercise, solution: str, *, seed: int | None = None,
                 budget: int | None = None):
        self.exercise = exercise
        self.solution = solution
        self.grade_seed = seed
        self.report = None
        self.grading = ""
        self.grade_error = ""
        self._budget = budget
        self.buffer: Snapshot | None = None  # the editor's, while switching layouts
        self.saved_on_quit = False
        self._tmp = tempfile.TemporaryDirectory(prefix="syscall-lab-exercise-")
        self._inputs = Inputs.first(exercise, seed)
        self._program = None
        self.unsolved = ""  # the fresh starter: "not solved yet: write your code below ..."
        try:
            self._program = load(exercise, solution)
            shown = solution
        except Exception as e:  # it does not assemble: step through the starter meanwhile
            from programs.grading.unsolved import message, unsolved_line

            line = unsolved_line(solution, str(e))
            if line is not None:
                self.unsolved = f"{message(line)} of {solution}"
            else:
                self.grade_error = f"{e}"
            shown = str(exercise.starter) if exercise.starter else solution
            try:
                self._program = load(exercise, shown)
            except Exception:  # the starter is only a skeleton: a placeholder until g
                shown = str(Path(self._tmp.name) / ("not-solved-yet.s" if self.unsolved
                                                     else "not-assembled-yet.s"))
                Path(shown).write_text((UNSOLVED if self.unsolved else PLACEHOLDER).format(
                    bits=exercise.bits, solution=solution, unsolved=self.unsolved))
                self._program = load(exercise, shown)
        super().__init__(self._make_session, program=shown)

    def _make_session(self):
        if self._program is None:
            raise SystemExit(f"syscall-lab: {self.grade_error}")
        return self._inputs.session(self._program, Path(self._tmp.name) / "share",
                                    self._budget)

    def on_mount(self) -> None:
        # Textual calls the app's own on_mount after this one: the session exists only then.
        self.call_later(self._started)

    def _started(self) -> None:
        self.sub_title = f"exercise {self.exercise.name}: {self.solution}"
        self.set_interval(1.0, self.check_disk)
        if self.grade_error:  # say it as the grader says it: the failed assemble check
            self.action_grade()
        elif self.unsolved:  # on the status line too: at 80x24 the Results are a tab
            self.state.message = self.unsolved[0].upper() + self.unsolved[1:]
            self.redraw()

    # -- the editor -------------------------------------------------------------------------
    def editor(self) -> AsmEditor | None:
        """The editor of the layout on screen (none in the presentation mode)."""
        screen = self.screen
        return screen.editor() if isinstance(screen, ExerciseScreen) else None

    def switch_mode(self, mode: str):
        editor = self.editor()
        # the next layout's editor takes this buffer over (none when the layout stays: the
        # snapshot would be taken by nothing, and later brought back over newer edits)
        if editor is not None and mode != self.current_mode:
            self.buffer = editor.snapshot()
        return super().switch_mode(mode)

    def action_edit(self) -> None:
        editor = self.editor()
        if editor is None:
            self.bell()
            self.state.message = "no editor in the presentation mode: p leaves it"
            self.redraw()
            return
        screen = self.screen
        if isinstance(screen, ExerciseCompactScreen):
            screen.select_tab("tab-edit")
        editor.focus()

    def action_toggle_editor(self) -> None:
        editor = self.editor()
        if editor is not None and editor.has_focus:
            self.leave_editor()
        else:
            self.action_edit()

    def leave_editor(self) -> None:
        """Keys back to stepping; at 80x24 the code comes forward in place of the editor."""
        screen = self.screen
        screen.set_focus(None)
        if isinstance(screen, ExerciseCompactScreen):
            screen.select_tab("tab-code")

    def action_stop(self) -> None:
        super().action_stop()
        # Esc with nothing to stop moves the focus on: never into the editor, whose Esc
        # just gave the keys back (a second Esc would take them again).
        editor = self.editor()
        if editor is not None and self.screen.focused is editor:  # has_focus: not yet
            self.screen.focus_next()

    def action_save(self) -> None:
        saved = self.save()
        if saved is not None:
            self.state.message = (f"saved {self.solution}" if saved
                                  else f"{self.solution}: no edits to save")
            self.redraw()

    def save(self) -> bool | None:
        """The editor's edits into the solution file: True if written, False if there were
        none (the buffer then follows the file, if another editor changed it), None if the
        file could not be written (said on the status line)."""
        editor = self.editor()
        try:
            if editor is not None:
                if editor.save():
                    return True
                editor.sync_from_disk()
                return False
            if self.buffer is not None and self.buffer.dirty:  # the presentation mode
                self.buffer = self.buffer.save_to(Path(self.solution))
                return True
            return False
        except OSError as e:
            self.bell()
            self.state.message = f"cannot save {self.solution}: {e.strerror or e}"
            self.redraw()
            return None

    def check_disk(self) -> None:
        """Another editor changed the file: the buffer follows while it has no edits."""
        editor = self.editor()
        if editor is not None and editor.sync_from_disk():
            self.state.message = f"reloaded {self.solution}: it changed on disk"
            self.redraw()

    def on_exit_app(self, event) -> None:
        # Every way out (q, ctrl+q, a browser tab closing under `serve`, SIGTERM) passes
        # here while the widgets still exist: edits are saved, never lost.
        self.saved_on_quit = self.save() is True

    # -- grading ---------------------------------------------------------------------------
    def action_grade(self) -> None:
        if self.grading or self.state.busy:
            self.bell()
            return
        if self.save() is None:  # graded, the file would not be what the editor shows
            return
        self.grading = f"Grading {self.solution}..."
        self.state.busy = "grading"
        self.redraw()
        screen = self.screen
        if isinstance(screen, ExerciseCompactScreen):
            screen.select_tab("tab-results")
        self._grade_work()

    @work(thread=True, exclusive=True, exit_on_error=False, group="grade")
    def _grade_work(self) -> None:
        from programs.grading import grade

        report, session, error = None, None, ""
        try:
            report = grade(self.exercise, self.solution, self.grade_seed)
        except Exception as e:  # a broken spec (SpecError) or a grader bug: say it
            error = f"{type(e).__name__}: {e}"
        program = None
        if report is not None and report.runs:
            try:
                program = load(self.exercise, self.solution)
                inputs = Inputs(self.exercise, report.runs[0].inputs)
                session = inputs.session(program, Path(self._tmp.name) / "share",
                                         self._budget)
            except Exception as e:
                error = f"the stepping view could not reload the program: {e}"
                session = program = None
        self.call_from_thread(self._graded, report, session, program, error)

    def _graded(self, report, session, program, error: str) -> None:
        self.grading = ""
        self.unsolved = ""  # the report says it from now on
        self.state.busy = ""
        self.grade_error = error
        if report is not None:
            self.report = report
        if session is not None:
            old = self.session
            self._program = program
            self._inputs = Inputs(self.exercise, report.runs[0].inputs)
            self.session = session
            self.program = self.solution
            if old is not None:
                old.close()
            self.state = UiState(att=self.state.att)
            self.state.view = session.view()
            self.state.message = (f"reloaded {self.solution} on run 1's inputs: "
                                  f"{report.runs[0].inputs.describe()}")
            self.call_after_refresh(_freeze_heap)
        elif report is not None and not report.runs and \
                report.static[0].summary.startswith("not solved yet"):
            self.state.message = f"{self.solution}: {report.static[0].summary}"
        elif report is not None and not report.runs:
            self.state.message = (f"{self.solution} did not load: the code is "
                                  + ("the last version that did" if self.program ==
                                     self.solution else self.program))
        # No notification of the verdict: it would sit on the Results panel, which says it
        # (its title and first line), brought forward at 80x24 by grading.
        self.redraw()

    def on_unmount(self) -> None:
        self._tmp.cleanup()


def starter_copy(exercise, cwd: str | Path = ".") -> tuple[str, bool]:
    """NAME.s in cwd, copied from the starter when it does not exist yet: (path, created)."""
    path = Path(cwd) / f"{exercise.name}.s"
    if path.exists():
        return str(path), False
    if exercise.starter is None or not Path(exercise.starter).is_file():
        path.write_text(f"; {exercise.title}\nbits {exercise.bits}\n\nsection .text\n"
                        "_start:\n    ; your code here\n")
    else:
        shutil.copyfile(exercise.starter, path)
    return str(path), True


def make_exercise_app(exercise, solution: str, *, seed: int | None = None,
                      budget: int | None = None) -> ExerciseApp:
    """The app for an exercise (the command line and the tests)."""
    return ExerciseApp(exercise, solution, seed=seed, budget=budget)


def cmd_exercise(args) -> int:
    from programs.grading import SpecError, find

    try:
        exercise = find(args.exercise)
    except SpecError as e:
        print(f"syscall-lab: {e}", file=sys.stderr)
        return 2
    from tui.cli import require_terminal

    require_terminal("exercise", f", `syscall-lab check {exercise.name} FILE` to grade it")
    solution = args.solution
    if solution is None:
        try:
            solution, created = starter_copy(exercise)
        except OSError as e:
            print(f"syscall-lab: cannot write {exercise.name}.s here: {e.strerror}",
                  file=sys.stderr)
            return 2
        print(f"{'wrote the starter to' if created else 'your solution:'} {solution}"
              f"{'' if created else ' (already there)'}", file=sys.stderr)
    elif not Path(solution).is_file():
        print(f"syscall-lab: {solution}: no such file", file=sys.stderr)
        return 2
    app = make_exercise_app(exercise, solution, seed=args.seed,
                            budget=getattr(args, "history_budget", None))
    app.screenshots = args.screenshots
    app.run()
    if app.session is not None:
        app.session.close()
    if app.saved_on_quit:
        print(f"saved your edits to {solution}", file=sys.stderr)
    if solution != args.solution:
        print(f"your solution is in {solution}: `syscall-lab check {exercise.name} "
              f"{solution}` grades it without the screen", file=sys.stderr)
    return app.return_code or 0

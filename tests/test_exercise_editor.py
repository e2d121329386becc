"""The editor pane of exercise mode, driven from the keyboard as a student drives it
(Textual's Pilot): i (or F6) gives the keys to the editor and Esc gives them back to
stepping, F5 saves the buffer and grades it, the pane's title says whether the buffer is
saved, a file another editor changed is followed, and the edits outlive the app. Then the
highlighter: which part of an assembly line is what."""

from __future__ import annotations

import asyncio
import functools
import shutil
from pathlib import Path

import pytest
from textual.content import Content

from programs.grading import find
from tui.exercise import ExerciseApp, make_exercise_app
from tui.screens.dialogs import help_lines
from tui.widgets.asm_editor import AsmEditor
from tui.widgets.asm_highlight import spans
from tui.widgets.panel import Panel

HERE = Path(__file__).parent / "exercises"
WIDE, SMALL = (120, 40), (80, 24)

# What a student adds to the no-newline mistake, just before its exit: the newline, written
# from the stack (the reference solution keeps it in .data instead).
NEWLINE_WRITE = ["    push 10", "    mov eax, 1", "    mov edi, 1", "    mov rsi, rsp",
                 "    mov edx, 1", "    syscall"]


def pilot_test(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        asyncio.run(fn(*args, **kwargs))

    return run


async def settle(pilot, app):
    for _ in range(500):
        await pilot.pause(0.02)
        if not app.grading and not app.state.busy:
            break
    await pilot.pause()


async def graded(pilot, app, key: str = "f5"):
    before = app.report
    await pilot.press(key)
    for _ in range(500):
        await pilot.pause(0.02)
        if not app.grading and not app.state.busy and app.report is not before:
            break
    await pilot.pause()


async def type_text(pilot, text: str):
    for ch in text:
        await pilot.press("enter" if ch == "\n" else ch)


def editor(app) -> AsmEditor:
    return app.screen.query_one(AsmEditor)


def title(app) -> str:
    t = editor(app).border_title
    return t.plain if isinstance(t, Content) else str(t)


def results(app) -> str:
    return " ".join(str(app.screen.query_one("#results", Panel).visual).split())


def wrong_solution(tmp_path) -> Path:
    solution = tmp_path / "echo-argv.s"
    shutil.copyfile(HERE / "echo-argv" / "wrong_no_newline.s", solution)
    return solution


@pilot_test
async def test_typing_the_fix_in_the_editor_and_f5_saves_grades_and_reloads_it(tmp_path):
    solution = wrong_solution(tmp_path)
    app = make_exercise_app(find("echo-argv"), str(solution), seed=5)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        ed = editor(app)
        code = app.screen.query_one("#code-box")
        statement = app.screen.query_one("#statement-box")
        assert ed.region.area and ed.region.x < code.region.x < statement.region.x  # beside
        assert not ed.has_focus  # the keys are for stepping until asked
        assert title(app) == "Editor  echo-argv.s  saved"
        await graded(pilot, app, "g")
        assert not app.report.passed and "✗ stdout:" in results(app)
        first = app.session

        await pilot.press("i")
        await pilot.pause()
        assert ed.has_focus
        exit_line = ed.text.splitlines().index("    mov eax, 60")
        for _ in range(exit_line - 1):  # to the end of the line before the exit
            await pilot.press("down")
        await pilot.press("end")
        await type_text(pilot, "\n" + "\n".join(NEWLINE_WRITE))
        assert title(app) == "Editor  echo-argv.s  unsaved"
        assert "push 10" not in solution.read_text()  # not saved until asked

        await graded(pilot, app, "f5")  # from the editor
        on_disk = solution.read_text().splitlines()
        assert on_disk[exit_line:exit_line + len(NEWLINE_WRITE) + 1] == \
            NEWLINE_WRITE + ["    mov eax, 60"]
        assert title(app) == "Editor  echo-argv.s  saved"
        assert app.report.passed and "PASSED all 5 checks on all 3 runs" in results(app)
        # the stepping view steps through the new build, on run 1's inputs
        assert app.session is not first and app.state.view is not None
        assert app.state.message.startswith(f"reloaded {solution}")
        assert ed.has_focus  # still editing: the results are beside it
        await pilot.press("escape", "escape")  # twice: the second does not come back in
        await pilot.pause()
        assert not ed.has_focus


@pilot_test
async def test_keys_type_into_the_editor_until_esc_gives_them_back_to_stepping(tmp_path):
    solution = wrong_solution(tmp_path)
    app = make_exercise_app(find("echo-argv"), str(solution), seed=5)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        tabs = app.screen.query_one("#tabs")
        pc = app.state.view.pc
        await pilot.press("2")  # the Edit tab, by number: shown, but not given the keys
        await pilot.pause()
        assert tabs.active == "tab-edit" and not editor(app).has_focus
        await pilot.press("i")
        await pilot.pause()
        assert editor(app).has_focus
        for key in ("t", "s", "g", "3"):
            await pilot.press(key)
        await settle(pilot, app)
        assert editor(app).text.startswith("tsg3; A typical mistake")
        assert app.state.view.pc == pc and app.report is None  # no step, no grading
        assert tabs.active == "tab-edit"
        assert title(app) == "Editor  echo-argv.s  unsaved"

        await pilot.press("escape")
        await pilot.pause()
        assert not editor(app).has_focus and tabs.active == "tab-code"
        await pilot.press("s")
        await settle(pilot, app)
        assert app.state.view.pc != pc  # a step

        await pilot.press("f6")  # F6 goes back in, and out again
        await pilot.pause()
        assert tabs.active == "tab-edit" and editor(app).has_focus
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert solution.read_text().startswith("tsg3; A typical mistake")
        assert title(app) == "Editor  echo-argv.s  saved"
        assert app.state.message == f"saved {solution}"
        await pilot.press("f6")
        await pilot.pause()
        assert not editor(app).has_focus and tabs.active == "tab-code"


@pilot_test
async def test_f5_from_the_editor_at_80x24_shows_the_results_and_takes_the_keys_back(
        tmp_path):
    solution = wrong_solution(tmp_path)
    app = make_exercise_app(find("echo-argv"), str(solution), seed=5)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        await pilot.press("i")
        await pilot.pause()
        before = solution.read_text()
        await pilot.press("ctrl+end")  # to the end of the file, as in most editors
        await type_text(pilot, "; mine\n")
        await graded(pilot, app, "f5")
        assert solution.read_text() == before + "; mine\n"
        assert app.screen.query_one("#tabs").active == "tab-results"
        assert "✗ stdout:" in results(app)
        assert not editor(app).has_focus  # hidden: s steps again
        pc = app.state.view.pc
        await pilot.press("s")
        await settle(pilot, app)
        assert app.state.view.pc != pc


@pilot_test
async def test_a_file_changed_on_disk_reloads_unless_the_buffer_has_edits(tmp_path):
    solution = wrong_solution(tmp_path)
    app = make_exercise_app(find("echo-argv"), str(solution), seed=5)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        solution.write_text("; from another editor\n" + solution.read_text())
        app.check_disk()  # what the app's timer calls every second
        await pilot.pause()
        assert editor(app).text == solution.read_text()
        assert title(app) == "Editor  echo-argv.s  saved"
        assert app.state.message == f"reloaded {solution}: it changed on disk"

        await pilot.press("i")
        await type_text(pilot, "; here\n")
        outside = "; another change\n" + solution.read_text()
        solution.write_text(outside)
        app.check_disk()
        await pilot.pause()
        assert editor(app).text.startswith("; here\n; from another editor")  # kept
        assert title(app) == "Editor  echo-argv.s  unsaved; the file changed on disk too"
        assert solution.read_text() == outside  # nothing written until asked


@pilot_test
async def test_g_on_an_unedited_buffer_grades_the_file_another_editor_just_wrote(tmp_path):
    solution = wrong_solution(tmp_path)
    app = make_exercise_app(find("echo-argv"), str(solution), seed=5)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        shutil.copyfile(HERE / "echo-argv" / "reference.s", solution)  # before any poll
        await graded(pilot, app, "g")
        assert app.report.passed  # the untouched buffer did not overwrite it
        assert solution.read_text() == (HERE / "echo-argv" / "reference.s").read_text()
        assert editor(app).text == solution.read_text()


@pilot_test
async def test_the_buffer_follows_a_resize_and_outlives_the_app(tmp_path):
    solution = wrong_solution(tmp_path)
    app = make_exercise_app(find("echo-argv"), str(solution), seed=5)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        await pilot.press("i")
        await type_text(pilot, "; kept\n")
        await pilot.resize_terminal(*SMALL)  # another layout, another editor widget
        await settle(pilot, app)
        assert app.current_mode == "compact"
        assert editor(app).text.startswith("; kept\n; A typical")
        assert title(app) == "Editor  echo-argv.s  unsaved"
        await pilot.press("ctrl+q")  # quitting saves the edits: the file is the solution
        await pilot.pause()
    assert app.saved_on_quit
    assert solution.read_text().startswith("; kept\n; A typical")
    again = make_exercise_app(find("echo-argv"), str(solution), seed=5)
    async with again.run_test(size=WIDE) as pilot:
        await settle(pilot, again)
        assert editor(again).text == solution.read_text()
        assert title(again) == "Editor  echo-argv.s  saved"
        await pilot.press("i")
        await type_text(pilot, "; and this\n")
        again.exit()  # as the browser front end's quit message does
        await pilot.pause()
    assert solution.read_text().startswith("; and this\n; kept\n")


def test_the_help_lists_the_editor_keys():
    text = "\n".join("".join(t for t, _ in line) for line in help_lines(
        ExerciseApp.MODE_KEYS, 100))
    for key, name in (("i", "edit / F6"), ("Esc", "back"), ("g", "grade / F5")):
        assert any(line.split()[:1] == [key] and name in line for line in text.splitlines()), \
            (key, name)
    assert "save" in text and "back to stepping" in text


# -- the highlighter ----------------------------------------------------------------------------

def kinds(line: str) -> list[tuple[str, str]]:
    return [(line[a:b], kind) for a, b, kind in spans(line)]


def test_an_instruction_line():
    assert kinds("count:  cmp byte [rsi + rdx], 0x0a   ; the end?") == [
        ("count:", "label"), ("cmp", "mnemonic"), ("byte", "size"), ("rsi", "register"),
        ("rdx", "register"), ("0x0a", "number"), ("; the end?", "comment")]


def test_labels_data_and_directives():
    assert kinds('msg: db "hi; not a comment", 10') == [
        ("msg:", "label"), ("db", "directive"), ('"hi; not a comment"', "string"),
        ("10", "number")]
    assert kinds("len equ $ - msg") == [("len", "label"), ("equ", "directive"),
                                        ("$", "symbol"), ("msg", "symbol")]
    assert kinds("section .text") == [("section", "directive"), (".text", "symbol")]
    assert kinds("bits 64") == [("bits", "directive"), ("64", "number")]


@pytest.mark.parametrize("line, mnemonics", [
    ("    syscall", ["syscall"]),
    ("    rep movsb", ["rep", "movsb"]),
    ("    vfmadd231ps xmm0, xmm1, xmm2", ["vfmadd231ps"]),  # by position, not by a list
])
def test_the_first_word_is_the_mnemonic(line, mnemonics):
    assert [t for t, k in kinds(line) if k == "mnemonic"] == mnemonics


def test_registers_and_symbols_in_operands():
    assert kinds("    lea rsi, [rel newline]") == [
        ("lea", "mnemonic"), ("rsi", "register"), ("rel", "size"), ("newline", "symbol")]
    assert kinds("    mov r8d, 0FFh") == [("mov", "mnemonic"), ("r8d", "register"),
                                          ("0FFh", "number")]
    assert kinds("# only a comment") == [("# only a comment", "comment")]
    assert kinds("") == []


@pilot_test
async def test_the_presentation_mode_has_no_editor_but_f5_still_saves_the_buffer(tmp_path):
    solution = wrong_solution(tmp_path)
    app = make_exercise_app(find("echo-argv"), str(solution), seed=5)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        await pilot.press("i")
        await type_text(pilot, "; shown\n")
        await pilot.press("escape", "p")
        await settle(pilot, app)
        assert app.current_mode == "present" and app.editor() is None
        await pilot.press("i")
        await pilot.pause()
        assert app.state.message == "no editor in the presentation mode: p leaves it"
        await graded(pilot, app, "f5")
        assert solution.read_text().startswith("; shown\n; A typical")
        assert not app.report.passed
        await pilot.press("p")
        await settle(pilot, app)
        assert editor(app).text == solution.read_text()
        assert title(app) == "Editor  echo-argv.s  saved"

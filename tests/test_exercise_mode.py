"""Exercise mode in the TUI, driven as a student drives it (Textual's Pilot): the statement
beside the code, g grades the file in a worker and shows every check in the results panel,
and grading again after an edit reloads the new version in the stepping view."""

from __future__ import annotations

import asyncio
import functools
import shutil
from pathlib import Path

from programs.grading import find
from tui.exercise import make_exercise_app, result_lines, starter_copy
from tui.widgets.panel import Panel

HERE = Path(__file__).parent / "exercises"


def pilot_test(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        asyncio.run(fn(*args, **kwargs))

    return run


async def graded(pilot, app, key: str = "g"):
    await pilot.press(key)
    for _ in range(500):
        await pilot.pause(0.02)
        if not app.grading and not app.state.busy and app.report is not None:
            break
    await pilot.pause()


def results(app) -> str:
    panel = app.screen.query_one("#results", Panel)
    return " ".join(str(panel.visual).split())


def plain(lines) -> str:
    return "\n".join("".join(t for t, _ in line) for line in lines)


@pilot_test
async def test_the_reference_solution_passes_every_check_in_the_results_panel():
    ex = find("echo-argv")
    app = make_exercise_app(ex, str(HERE / "echo-argv" / "reference.s"), seed=7)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "Not graded yet" in results(app)
        statement = app.screen.query_one("#statement-box")
        code = app.screen.query_one("#code-box")
        assert statement.region.x > code.region.x  # beside the code
        await graded(pilot, app)
        text = results(app)
        assert app.report.passed
        assert "PASSED all 5 checks on all 3 runs, score 1.00" in text
        for name in ("assemble", "exit", "stdout", "trace", "budget"):
            assert f"✓ {name}:" in text
        assert "✗" not in text
        assert " 1 ok exit 0" in text and " 3 ok exit 0" in text  # the per-run summary
        # the stepping view runs the solution on run 1's inputs
        run1 = app.report.runs[0].inputs
        process = app.session.system.process
        assert process.argv == run1.argv and len(run1.argv) >= 2
        assert process.envp == run1.env


@pilot_test
async def test_a_wrong_solution_shows_the_failing_checks_feedback():
    ex = find("echo-argv")
    app = make_exercise_app(ex, str(HERE / "echo-argv" / "wrong_no_newline.s"))
    async with app.run_test(size=(120, 40)) as pilot:
        await graded(pilot, app, "f5")
        text = results(app)
        assert not app.report.passed
        assert "FAILED 4 of 5 checks passed, score 0.75" in text  # assemble earns nothing
        assert "✗ stdout:" in text and "✓ exit:" in text
        assert "did you count the newline?" in text


@pilot_test
async def test_grading_again_reloads_the_edited_file_and_an_assembly_error_is_a_failed_check(
        tmp_path):
    ex = find("echo-argv")
    solution = tmp_path / "echo-argv.s"
    shutil.copyfile(HERE / "echo-argv" / "wrong_no_newline.s", solution)
    app = make_exercise_app(ex, str(solution))
    async with app.run_test(size=(80, 24)) as pilot:
        await graded(pilot, app)
        assert app.screen.query_one("#tabs").active == "tab-results"
        assert not app.report.passed
        first = app.session

        solution.write_text(solution.read_text() + "\n    movx rax, 1\n")
        await graded(pilot, app)
        assemble = next(c for c in app.report.static if c.name == "assemble")
        assert not assemble.passed
        # the assembler's message names the file and the line, however the panel wraps it
        said = " ".join([assemble.summary, *assemble.feedback])
        bad_line = len(solution.read_text().splitlines())
        assert f"{solution}:{bad_line}: invalid mnemonic" in said
        assert "✗ assemble:" in results(app)
        assert app.session is first  # the last version that assembled stays

        shutil.copyfile(HERE / "echo-argv" / "reference.s", solution)
        await graded(pilot, app)
        assert app.report.passed and "PASSED" in results(app)
        assert app.session is not first  # a new session on the new file
        assert app.state.view is not None


def test_starter_copy_writes_name_s_once(tmp_path):
    ex = find("exit-42")
    path, created = starter_copy(ex, tmp_path)
    assert created and path.endswith("exit-42.s")
    assert Path(path).read_text() == Path(ex.starter).read_text()
    Path(path).write_text("mine")
    assert starter_copy(ex, tmp_path) == (path, False)
    assert Path(path).read_text() == "mine"


def test_result_lines_wrap_to_the_width():
    from programs.grading import grade

    ex = find("echo-argv")
    report = grade(ex, str(HERE / "echo-argv" / "wrong_no_newline.s"), seed=3)
    lines = plain(result_lines(report, 40)).splitlines()
    assert all(len(line) <= 40 for line in lines), [x for x in lines if len(x) > 40]
    assert any("did you count" in line for line in lines)


@pilot_test
async def test_a_solution_that_does_not_assemble_opens_and_is_graded_at_once(tmp_path):
    ex = find("echo-argv")
    solution, _ = starter_copy(ex, tmp_path)
    Path(solution).write_text(Path(solution).read_text() + "    movx rax, 1\n")  # a typo
    app = make_exercise_app(ex, solution)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(500):
            await pilot.pause(0.02)
            if app.report is not None and not app.grading:
                break
        await pilot.pause()
        text = results(app)
        assert "✗ assemble:" in text and "echo-argv.s:" in text and "score 0.00" in text
        assert app.session is not None  # a placeholder is in the stepping view meanwhile
        assert "did not load" in app.state.message


@pilot_test
async def test_a_fresh_starter_says_where_to_write_not_an_assembler_failure(tmp_path):
    ex = find("echo-argv")
    solution, _ = starter_copy(ex, tmp_path)  # the starter as given: no instruction yet
    line = Path(solution).read_text().splitlines().index("    ; your code here") + 1
    app = make_exercise_app(ex, solution)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        text = results(app)
        assert f"Not solved yet: write your code below line {line} of" in text
        assert app.report is None and "✗" not in text  # not graded as a failure at once
        assert "no instructions" not in text and "line 1" not in text
        assert app.session is not None
        assert app.state.message.startswith("Not solved yet: write your code below line")
        await graded(pilot, app)  # g on the untouched starter: the same words, as a check
        text = results(app)
        assert f"✗ assemble: not solved yet: write your code below line {line}" in text
        assert "no instructions in .text" not in text
        assert app.state.message == (f"{solution}: not solved yet: write your code below "
                                     f"line {line}")


def test_result_lines_say_why_a_crashing_solution_scores_zero(tmp_path):
    from programs.grading import grade

    crash = tmp_path / "crash.s"
    crash.write_text("bits 64\nsection .text\n_start:\n    mov rax, [0]\n")
    report = grade(find("exit-42"), str(crash), seed=2)
    text = " ".join(plain(result_lines(report, 60)).split())
    assert "score 0.00" in text and "✓ budget:" in text
    assert ("score 0: no run reached its exit (killed by SIGSEGV every time), so no check "
            "earns points") in text

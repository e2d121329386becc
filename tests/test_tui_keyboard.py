"""Every pane reachable from the keyboard, in every mode (live, lesson, exercise, replay), as a
new student with only a keyboard would try it at 80x24 and 120x40: number keys pick a pane,
stepping brings the code back, Esc closes a dialog before it stops a run; and what the screen
says about itself (the help, the titles, the notifications, where F12 saves)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from conftest import PROGRAMS, ROOT
from test_tui import SMALL, WIDE, factory, pilot_test, press, settle
from textual.widgets import TabbedContent

from tui.app import make_app
from tui.screens.base import SessionScreen
from tui.screens.dialogs import HelpScreen, PromptScreen, help_lines
from tui.widgets.panel import Panel

HELLO = PROGRAMS / "asm" / "hello_syscall.s"
EXERCISES = Path(__file__).parent / "exercises"


def tab_bar(app) -> TabbedContent:
    return app.screen.query_one(TabbedContent)


def labels(app) -> list[str]:
    bar = tab_bar(app)
    return [str(bar.get_tab(p).label.plain) for p in bar.query("TabPane")]


def active(app) -> str:
    return tab_bar(app).active


# -- Esc: a dialog first, then a run ----------------------------------------------------------

@pilot_test
async def test_escape_closes_the_help_and_the_help_says_so():
    app = make_app(factory(HELLO))
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        help_box = app.screen.query_one("#help")
        assert "Esc" in help_box.border_title and "close" in help_box.border_title
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SessionScreen)
        await pilot.press("ctrl+p")  # the command palette too
        await pilot.pause(0.2)
        assert not isinstance(app.screen, SessionScreen)
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert isinstance(app.screen, SessionScreen)


@pytest.mark.parametrize("key", ["b", "colon", "x"])
@pilot_test
async def test_escape_closes_a_prompt_before_it_stops_a_run(key):
    # a run of minutes: only Esc ends it
    app = make_app(factory(PROGRAMS / "asm" / "bench_compute.s", "200000000000"))
    async with app.run_test(size=SMALL) as pilot:
        try:
            await settle(pilot, app)
            await pilot.press("c")
            await pilot.pause(0.2)
            assert app.state.busy
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, SessionScreen)  # a dialog is open
            if key != "colon":  # (`:` may open the gdb console rather than a prompt)
                assert isinstance(app.screen, PromptScreen)
                assert "Esc: cancel" in app.screen.query_one("#prompt").border_title
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, SessionScreen)
            assert app.state.busy  # the first Esc only closed the prompt
            await pilot.press("escape")
            await settle(pilot, app)
            assert app.state.reason == "interrupted"
        finally:
            app.session.interrupt()


# -- 80x24: number keys, and stepping brings the code back -----------------------------------

@pilot_test
async def test_number_keys_pick_each_tab_and_the_labels_show_the_numbers():
    app = make_app(factory(HELLO))
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        names = labels(app)
        assert names == ["1 Code", "2 Transition", "3 Registers", "4 Stack", "5 Events",
                         "6 Output", "7 Memory map", "8 Procs"]  # the names the lessons use
        # (the Processes pane: its full name would not fit 80 columns)
        panes = [p.id for p in tab_bar(app).query("TabPane")]
        for n in range(len(panes), 0, -1):
            await press(pilot, app, str(n))
            assert active(app) == panes[n - 1]
        # out of a pane that is hidden now, the focus follows into the new one
        await press(pilot, app, "e", "1")
        await pilot.pause(0.1)
        assert app.screen.query_one("#tab-code") in app.focused.ancestors
        # a digit typed into the program's input is input, not a pane key
        await press(pilot, app, "o")
        await pilot.press("7")
        await pilot.pause()
        assert app.screen.query_one("#stdin").value == "7"
        assert active(app) == "tab-output"


@pilot_test
async def test_stepping_brings_the_code_back_and_next_leaves_no_empty_transition():
    app = make_app(factory(HELLO))

    async def pick(pane):  # as a click on the tab does
        tab_bar(app).active = pane
        await pilot.pause(0.1)

    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        await pick("tab-events")
        await press(pilot, app, "s")
        assert active(app) == "tab-code"
        await press(pilot, app, "t")
        assert active(app) == "tab-transition"
        await pick("tab-code")  # look at the code: it stays there
        await pilot.pause(0.1)
        assert active(app) == "tab-code"
        await press(pilot, app, "t", "n")  # over the write: nothing left to show there
        assert app.state.view.upcoming is None and app.state.view.walk is None
        assert active(app) == "tab-code"
        await pick("tab-stack")
        await press(pilot, app, "a")  # a redraw that does not move keeps the tab
        assert active(app) == "tab-stack"


@pilot_test
async def test_wide_number_keys_pick_the_corner_tabs():
    app = make_app(factory(HELLO))
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        assert labels(app)[0] == "1 Events"
        await press(pilot, app, "3")
        assert active(app) == "tab-stack"
        await press(pilot, app, "9")  # no ninth pane: nothing happens
        assert active(app) == "tab-stack"


@pilot_test
async def test_replay_panes_are_reached_the_same_way(tmp_path):
    from test_recording import record_run

    from kernel_model.debugger.recording import load
    from tui.replay import ReplayApp

    path = record_run(tmp_path)
    app = ReplayApp(load(str(path)), path=str(path))
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "5")
        assert active(app) == "tab-events"
        await press(pilot, app, "t")
        assert active(app) == "tab-transition"


# -- lesson mode --------------------------------------------------------------------------------

async def lesson_settle(pilot, app):
    for _ in range(300):
        await pilot.pause(0.02)
        if not app.state.busy and app.player is not None and app.player.index >= 0:
            break
    await pilot.pause()


@pytest.mark.parametrize("size", [SMALL, WIDE])
@pilot_test
async def test_lesson_every_pane_the_narration_mentions_opens_and_the_lesson_stays(size):
    from programs import lesson
    from tui.lesson import make_lesson_app

    app = make_lesson_app(lesson.find("what-is-a-syscall"))
    async with app.run_test(size=size) as pilot:
        await lesson_settle(pilot, app)
        await pilot.press("right")
        await lesson_settle(pilot, app)
        index, pc, title = app.player.index, app.state.view.pc, \
            app.screen.query_one("#narration-box").border_title
        bar = tab_bar(app)
        # the names the narrations use ("The Memory map tab shows it"), each on a tab
        # (the registers are beside the tabs in the wide layout)
        for wanted in ("Output", "Events", "Memory map", "Stack", "Registers"):
            if wanted == "Registers" and size == WIDE:
                assert app.screen.query_one("#registers").region.area
                continue
            names = [t.split(" ", 1)[1] for t in labels(app)]
            n = names.index(wanted) + 1
            await press(pilot, app, str(n))
            await pilot.pause(0.1)
            assert bar.get_tab(bar.active).label.plain == f"{n} {wanted}"
        assert app.player.index == index and app.state.view.pc == pc
        assert app.screen.query_one("#narration-box").border_title == title
        assert app.player.at_stop()


@pilot_test
async def test_lesson_clicks_on_the_tabs_stay():
    from programs import lesson
    from tui.lesson import make_lesson_app

    app = make_lesson_app(lesson.find("what-is-a-syscall"))
    async with app.run_test(size=SMALL) as pilot:
        await lesson_settle(pilot, app)
        for pane in ("tab-events", "tab-output", "tab-registers"):
            await pilot.click(f"#--content-tab-{pane}")
            await pilot.pause(0.2)
            assert active(app) == pane


@pilot_test
async def test_markup_in_a_lesson_title_is_shown_literally(tmp_path):
    from programs import lesson
    from tui.lesson import make_lesson_app

    path = tmp_path / "brackets.toml"
    path.write_text('title = "Brackets"\nprogram = "hello-syscall"\n\n[[stop]]\n'
                    'at = "_start"\ntitle = "libc calls into [vdso] and [b]sys_call_table[1]"'
                    '\nnarration = "Start."\n')
    app = make_lesson_app(lesson.load(path))
    async with app.run_test(size=WIDE) as pilot:
        await lesson_settle(pilot, app)
        shown = app.screen.query_one("#narration-box")._border_title.plain
        assert shown == "Stop 1/1: libc calls into [vdso] and [b]sys_call_table[1]"


# -- exercise mode ------------------------------------------------------------------------------

@pilot_test
async def test_exercise_every_pane_by_number_and_no_toast_over_the_results():
    from programs.grading import find
    from tui.exercise import make_exercise_app

    app = make_exercise_app(find("echo-argv"), str(EXERCISES / "echo-argv" / "reference.s"),
                            seed=7)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        assert labels(app) == ["1 Task", "2 Edit", "3 Results", "4 Code", "5 Transition",
                               "6 State", "7 Events", "8 Output"]
        panes = [p.id for p in tab_bar(app).query("TabPane")]
        shown = set()
        for n in range(1, len(panes) + 1):
            await press(pilot, app, str(n))
            assert active(app) == panes[n - 1]
            shown |= {p.id for p in app.screen.query(Panel) if p.region.area}
        assert {"results", "code", "transition", "registers", "stack", "maps"} <= shown
        await pilot.press("g")
        for _ in range(500):
            await pilot.pause(0.02)
            if not app.grading and app.report is not None:
                break
        await pilot.pause(0.2)
        assert active(app) == "tab-results" and app.report.passed
        assert not list(app.screen.query("Toast"))  # the panel itself says PASSED
        assert "PASSED" in app.screen.query_one("#results-box").border_title


@pilot_test
async def test_exercise_wide_brings_the_transition_tab_forward_at_a_transition():
    from programs.grading import find
    from tui.exercise import make_exercise_app

    app = make_exercise_app(find("echo-argv"), str(EXERCISES / "echo-argv" / "reference.s"),
                            seed=7)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        assert labels(app) == ["1 Transition", "2 Output", "3 Events", "4 Stack",
                               "5 Memory map"]
        await press(pilot, app, "4")
        assert active(app) == "tab-stack"
        await press(pilot, app, "s")  # an ordinary instruction: the stack stays
        assert active(app) == "tab-stack"
        await press(pilot, app, "t")
        assert active(app) == "tab-transition"
        assert app.screen.query_one("#transition").region.area


# -- the help, F12 ------------------------------------------------------------------------------

def test_help_descriptions_wrap_under_their_column():
    lines = help_lines([], width=60)
    text = ["".join(t for t, _ in line) for line in lines]
    first = next(i for i, t in enumerate(text) if t.strip().startswith("s  step"))
    column = text[first].index("Step one")
    assert text[first + 1].strip() and len(text[first + 1]) <= 60
    assert text[first + 1][:column].strip() == "" and text[first + 1][column] != " "
    assert all(len(t) <= 60 for t in text)


@pilot_test
async def test_help_dialog_wraps_to_its_width():
    app = make_app(factory(HELLO))
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        body = str(app.screen.query_one("#help").query_one("Static").visual).splitlines()
        at = next(i for i, t in enumerate(body) if "Step one instruction" in t)
        column = body[at].index("Step one")
        assert body[at + 1][:column].strip() == "" and body[at + 1][column] != " "


@pilot_test
async def test_f12_saves_into_the_screenshots_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYSCALL_LAB_SCREENSHOTS", raising=False)
    app = make_app(factory(HELLO))
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        await pilot.press("f12")
        await pilot.pause()
    saved = list((tmp_path / "screenshots").glob("*.svg"))
    assert len(saved) == 1 and "<svg" in saved[0].read_text()[:400]


@pilot_test
async def test_f12_folder_from_the_environment_or_the_option(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYSCALL_LAB_SCREENSHOTS", str(tmp_path / "env" / "shots"))
    app = make_app(factory(HELLO))
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        await pilot.press("f12")
        await pilot.pause()
    assert len(list((tmp_path / "env" / "shots").glob("*.svg"))) == 1
    app = make_app(factory(HELLO), screenshots=str(tmp_path / "opt"))
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        await pilot.press("f12")
        await pilot.pause()
    assert len(list((tmp_path / "opt").glob("*.svg"))) == 1
    assert not (tmp_path / "screenshots").exists()


@pytest.mark.parametrize("argv", [["tui", "--screenshots", "S", "hello-syscall"],
                                  ["lesson", "--screenshots", "S", "entry-paths"],
                                  ["exercise", "--screenshots", "S", "echo-argv"],
                                  ["replay", "--screenshots", "S", "r.json"]])
def test_every_screen_command_takes_the_screenshots_option(argv):
    from tui import cli

    assert cli.build_parser().parse_args(argv).screenshots == "S"


# -- without a terminal ---------------------------------------------------------------------------

def _screen_commands(tmp_path):
    from test_recording import record_run

    solution = tmp_path / "mine.s"
    solution.write_text((EXERCISES / "echo-argv" / "reference.s").read_text())
    return [[], ["tui"], ["--seed", "3"], ["lesson", "what-is-a-syscall"],
            ["exercise", "echo-argv", str(solution)], ["exercise", "echo-argv"],
            ["replay", str(record_run(tmp_path))], ["tui", "--record",
                                                   str(tmp_path / "x.json"), "hello-syscall"]]


def test_a_screen_command_without_a_terminal_says_so_at_once(tmp_path):
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for argv in _screen_commands(tmp_path):
        r = subprocess.run([sys.executable, "-m", "tui.cli", *argv], capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=60, env=env, cwd=tmp_path,
                           text=True)
        assert r.returncode == 2, (argv, r.stderr)
        assert r.stderr.count("\n") == 1, (argv, r.stderr)
        assert "needs a terminal; use `syscall-lab run`" in r.stderr, (argv, r.stderr)
        assert r.stdout == ""
    assert not (tmp_path / "echo-argv.s").exists()  # nothing written for a screen not shown


def test_lesson_check_needs_no_terminal():
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "tui.cli", "lesson", "--check",
                        "what-is-a-syscall"], capture_output=True, stdin=subprocess.DEVNULL,
                       timeout=120, env=env, cwd=ROOT, text=True)
    assert r.returncode == 0, r.stderr


def test_the_lesson_help_names_the_arrow_keys_as_they_are_drawn():
    from textual.binding import Binding

    keys = [Binding("right", "next_stop", "next stop"), Binding("left", "back", "back a stop")]
    text = ["".join(t for t, _ in line) for line in help_lines(keys, width=80)]
    assert any(t.strip().startswith("→  next stop") for t in text)
    assert any(t.strip().startswith("←  back a stop") for t in text)
    assert not any(t.strip().startswith(("right ", "left ")) for t in text)

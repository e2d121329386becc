"""Lesson mode in the TUI, driven as a student drives it (Textual's Pilot): the narration
beside the code, → to the next stop, ← back."""

from __future__ import annotations

import asyncio
import functools

from programs import lesson
from tui.lesson import make_lesson_app
from tui.widgets.panel import Panel


def pilot_test(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        asyncio.run(fn(*args, **kwargs))

    return run


async def settle(pilot, app):
    for _ in range(300):
        await pilot.pause(0.02)
        if not app.state.busy and app.player is not None and app.player.index >= 0:
            break
    await pilot.pause()


def narration(app) -> str:
    panel = app.screen.query_one("#narration", Panel)
    return " ".join(str(panel.visual).split())


def title(app) -> str:
    return app.screen.query_one("#narration-box").border_title


@pilot_test
async def test_next_twice_then_back_once_shows_each_stops_narration():
    les = lesson.find("what-is-a-syscall")
    app = make_lesson_app(les)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert title(app) == "Stop 1/7: A program that wants to print"
        assert "This is a whole program" in narration(app)

        await pilot.press("right")
        await settle(pilot, app)
        await pilot.press("right")
        await settle(pilot, app)
        assert title(app) == "Stop 3/7: The CPU switches to the kernel"
        assert "the CPU saved the return address in rcx" in narration(app)
        assert "▶ rcx: 0x0 -> 0x401018" in narration(app)  # what the stop points at
        assert app.state.view.walk.transition.phases[app.state.view.walk.phase].key == "cpu"

        await pilot.press("left")
        await settle(pilot, app)
        assert title(app) == "Stop 2/7: Ready to ask"
        assert "rax = 1 is the number of write" in narration(app)
        assert "▶ rdx = 0x14 (20)" in narration(app)
        assert app.state.view.walk is None and app.state.view.upcoming == ("syscall", None)


@pilot_test
async def test_the_narration_sits_above_the_tabs_at_80x24():
    les = lesson.find("what-is-a-syscall")
    app = make_lesson_app(les)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        box = app.screen.query_one("#narration-box")
        assert box.region.width >= 78 and box.region.y == 1
        await pilot.press("right")
        await settle(pilot, app)
        await pilot.press("right")
        await settle(pilot, app)
        # walking a transition brings its tab forward, under the narration
        assert app.screen.query_one("#tabs").active == "tab-transition"
        assert "Stop 3/7" in title(app)


@pilot_test
async def test_a_lesson_error_is_shown_with_its_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('title = "Broken"\nprogram = "hello-syscall"\n\n[[stop]]\nat = "_start"\n'
                    'narration = "Start."\n\n[[stop]]\nat = "syscall getpid"\n'
                    'narration = "Never."\n')
    app = make_lesson_app(lesson.load(path))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("right")
        await settle(pilot, app)
        assert app.lesson_error.startswith(f"{path}:9: stop 2")
        assert "broken.toml:9: stop 2" in narration(app)
        assert "getpid" in narration(app)
        # still on the last stop reached
        assert title(app).startswith("Stop 1/2") and "Start." in narration(app)


@pilot_test
async def test_help_lists_the_lesson_keys_first():
    app = make_lesson_app(lesson.find("what-is-a-syscall"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause()
        from textual.widgets import Static

        text = " ".join(str(s.visual) for s in app.screen.query(Static))
        assert "next stop" in text and "back a stop" in text
        assert text.index("next stop") < text.index("Step one instruction")

"""The `:` console in the TUI, driven as a student drives it (Textual's Pilot): gdb's
commands answered in a panel at the bottom that stays open for the next one, stepping
commands closing it and moving the program, Esc closing it, at 80x24 and 120x40."""

import asyncio
import functools
from pathlib import Path

import pytest
from conftest import PROGRAMS
from textual.widgets import Input, RichLog

from emu.program import load_program
from kernel_model.debugger.session import DebugSession
from kernel_model.system import RunOptions
from tui.app import make_app
from tui.screens.base import SessionScreen
from tui.screens.console import ConsoleScreen

HELLO64 = PROGRAMS / "bin" / "hello.glibc-x86_64"
HELLO32 = PROGRAMS / "bin" / "hello.glibc-i386"


def pilot_test(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        asyncio.run(fn(*args, **kwargs))

    return run


def factory(path):
    prog = load_program(str(path))
    return lambda: DebugSession.create(prog, [Path(path).name], RunOptions(seed=1))


async def settle(pilot, app):
    for _ in range(200):
        await pilot.pause(0.02)
        if not app.state.busy:
            break
    await pilot.pause()


async def type_command(pilot, app, line: str):
    """`:` if the console is closed, the line key by key, Enter."""
    if not isinstance(app.screen, ConsoleScreen):
        await pilot.press("colon")
        await pilot.pause()
    await pilot.press(*line)  # Pilot takes a character as its key
    assert app.screen.query_one(Input).value == line
    await pilot.press("enter")
    await settle(pilot, app)


def shown(app) -> str:
    """The console's transcript as it is on the screen (wrapped lines joined)."""
    log = app.screen.query_one(RichLog)
    return "\n".join(strip.text.rstrip() for strip in log.lines)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@pilot_test
async def test_x_4gx_rsp_is_shown_in_the_console_and_esc_closes_it(size):
    app = make_app(factory(HELLO64), program="hello")
    async with app.run_test(size=size) as pilot:
        await settle(pilot, app)
        rsp = app.session.regs()["rsp"]
        argv0 = app.session.machine.read_word(rsp + 8)
        await type_command(pilot, app, "x/4gx $rsp")
        assert isinstance(app.screen, ConsoleScreen)
        text = shown(app)
        assert "(gdb) x/4gx $rsp" in text
        # gdb's line, its tabs expanded as a terminal shows them
        assert f"{rsp:#x}:\t0x0000000000000001\t0x{argv0:016x}".expandtabs(8) in text
        # the console stays open for the next question
        await type_command(pilot, app, "p $rip")
        assert "$1 = (void (*)()) 0x401550 <_start>" in shown(app)
        await type_command(pilot, app, "info registers rip")
        assert "rip            0x401550            0x401550 <_start>" in shown(app)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SessionScreen)
        assert not app.state.busy


@pilot_test
async def test_a_stepping_command_closes_the_console_and_the_transcript_stays():
    app = make_app(factory(HELLO64), program="hello")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await type_command(pilot, app, "p $pc")
        await type_command(pilot, app, "si")
        await settle(pilot, app)
        assert isinstance(app.screen, SessionScreen)
        assert app.state.view.pc == 0x401552
        await type_command(pilot, app, "p $pc")
        text = shown(app)
        assert "$1 = (void (*)()) 0x401550 <_start>" in text  # from before, kept
        assert "(gdb) si" in text
        assert "$2 = (void (*)()) 0x401552 <_start+2>" in text
        await type_command(pilot, app, "c")  # gdb's short form of continue
        await settle(pilot, app)
        assert app.state.view.exited


@pilot_test
async def test_bad_commands_answer_in_one_line_and_the_tui_goes_on():
    app = make_app(factory(HELLO64), program="hello")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await type_command(pilot, app, "frobnicate")
        assert 'Undefined command: "frobnicate".  Known commands:' in shown(app)
        assert "info proc mappings" in shown(app)
        await type_command(pilot, app, "x/4gx 0")
        assert "0x0:    Cannot access memory at address 0x0" in shown(app)
        await type_command(pilot, app, "p $rax +* (")
        assert "A syntax error in expression" in shown(app)
        await type_command(pilot, app, "b _start")
        assert "Breakpoint 1 at 0x401550" in shown(app)
        # the code panel marks the breakpoint set from the console
        assert any(line.breakpoint and line.address == 0x401550
                   for line in app.state.view.code)
        await type_command(pilot, app, "delete 1")
        assert app.session.breakpoints == []
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("s")
        await settle(pilot, app)
        assert app.state.view.pc == 0x401552


@pilot_test
async def test_an_i386_program_gets_32_bit_registers_and_words():
    app = make_app(factory(HELLO32), program="hello")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        esp = app.session.regs()["esp"]
        await type_command(pilot, app, "x/4wx $esp")
        title = str(app.screen.query_one("#console-title").content)
        assert "x/4wx $esp" in title and "$rsp" not in title
        assert f"{esp:#x}:\t0x00000001\t".expandtabs(8) in shown(app)
        await type_command(pilot, app, "p $esp")
        assert f"$1 = (void *) {esp:#x}" in shown(app)
        await type_command(pilot, app, "p $rsp")
        assert "$2 = void" in shown(app)

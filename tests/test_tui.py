"""The TUI driven as a person drives it (Textual's Pilot): each entry path walked through its
whole transition, with the panels checked at each phase; history navigation; the layouts."""

import asyncio
import functools
from pathlib import Path

import pytest
from conftest import PROGRAMS

from emu.program import load_program
from kernel_model.debugger.session import DebugSession
from kernel_model.system import RunOptions
from tui.app import make_app
from tui.panels import plain
from tui.widgets.events import EventList
from tui.widgets.panel import Panel

WIDE = (120, 40)
SMALL = (80, 24)


def pilot_test(fn):
    """Run an async pilot test without an asyncio plugin for pytest."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        asyncio.run(fn(*args, **kwargs))

    return run


def factory(path, *args, setup=None, **options):
    options.setdefault("seed", 1)
    options.setdefault("clock", "frozen:1700000000")
    prog = load_program(str(path))

    def make():
        s = DebugSession.create(prog, [Path(path).name, *args], RunOptions(**options))
        if setup is not None:
            setup(s)
        return s

    return make


def text(app, panel_id: str) -> str:
    """A panel's text, with runs of spaces kept (columns) but wrapped lines joined."""
    panel = app.screen.query_one(f"#{panel_id}", Panel)
    return str(panel.visual).replace("\n", " \n")


def words(app, panel_id: str) -> str:
    return " ".join(text(app, panel_id).split())


async def settle(pilot, app):
    """Wait until the worker has finished the command and the screen shows its result."""
    for _ in range(200):
        await pilot.pause(0.02)
        if not app.state.busy:
            break
    await pilot.pause()


async def press(pilot, app, *keys):
    for key in keys:
        await pilot.press(key)
        await settle(pilot, app)


async def walk_all(pilot, app):
    """s until the transition's last phase; returns the phase titles seen."""
    seen = []
    await press(pilot, app, "s")
    while app.state.view.walk is not None:
        w = app.state.view.walk
        seen.append(w.transition.phases[w.phase].key)
        if w.phase == len(w.transition.phases) - 1:
            break
        await press(pilot, app, "s")
    return seen


@pilot_test
async def test_syscall_transition_walked_phase_by_phase():
    app = make_app(factory(PROGRAMS / "asm" / "hello_syscall.s"))
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "t")
        assert "Next: syscall" in text(app, "transition")
        assert "sys_call_table[1] = write" in text(app, "transition")
        await press(pilot, app, "s")  # phase 1: the user registers and the ABI
        assert "1/6  User registers and the x86_64 ABI" in text(app, "transition")
        await press(pilot, app, "s")
        t = text(app, "transition")
        assert "The CPU: syscall" in t and "IA32_LSTAR" in t and "rcx" in t
        # the Registers pane shows the CPU's registers in the kernel, and says it is modelled
        assert app.screen.query_one("#registers-box").border_title == \
            "Registers  kernel entry, modelled"
        regs = text(app, "registers")
        assert "rcx 0000000000401018" in regs and "rip IA32_LSTAR = entry_SYSCALL_64" in regs
        assert "CPL 0 cs 0x10 ss 0x18" in words(app, "registers")
        # user mode waits at the trap while the kernel runs
        assert "▶ 0000000000401016  syscall" in text(app, "code")
        assert "kernel running" in app.screen.query_one("#code-box").border_title
        keys = ["cpu"] + await walk_all_rest(pilot, app)
        assert keys == ["cpu", "pt_regs", "table", "handler", "return"]
        t = text(app, "transition")
        assert "sysret" in t and "(= 20)" in t
        regs = text(app, "registers")
        assert "was:" in regs and "rax 0x1" in regs  # the result replaced the number
        await press(pilot, app, "s")  # leave the walk: the next instruction
        assert app.state.view.walk is None
        assert "Hello from syscall!" in str(
            app.screen.query_one("#output").query_one(".text").visual)


async def walk_all_rest(pilot, app):
    keys = []
    while True:
        w = app.state.view.walk
        if w.phase == len(w.transition.phases) - 1:
            return keys
        await press(pilot, app, "s")
        w = app.state.view.walk
        keys.append(w.transition.phases[w.phase].key)


@pilot_test
async def test_int80_32_bit_transition_shows_the_gate_and_the_frame():
    app = make_app(factory(PROGRAMS / "asm" / "hello_int80.s"))
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "t")
        assert "Next: int 0x80" in text(app, "transition")
        await press(pilot, app, "s")  # phase 1: the user registers and the ABI
        assert "1/7  User registers and the i386 ABI" in text(app, "transition")
        await press(pilot, app, "s")
        assert "IDT" in text(app, "transition") and "asm_int80_emulation" in text(
            app, "transition")
        await press(pilot, app, "s")
        t = text(app, "transition")
        assert "The frame the CPU pushes" in t
        for reg in ("ss", "esp", "eflags", "cs", "eip"):
            assert f"push {reg}" in t
        await press(pilot, app, "s", "s")
        assert "ia32_sys_call_table" in text(app, "transition")
        await press(pilot, app, "n")  # to the end of the walk at once
        assert "iret" in text(app, "transition")


@pilot_test
async def test_int80_from_64_bit_code_warns_and_fails_with_efault():
    app = make_app(factory(PROGRAMS / "asm" / "int80_from_64.s"))
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "t", "n", "t")
        assert "low 32 bits" in text(app, "transition")
        await press(pilot, app, "s", "s")
        await press(pilot, app, "S")  # back to phase 1: the user registers and the warning
        assert "1/7  User registers" in text(app, "transition")
        assert "only the low 32 bits" in words(app, "transition")
        await press(pilot, app, "n")
        assert "-14" in text(app, "transition")
        events = app.screen.query_one(EventList)
        assert any("EFAULT" in str(o.prompt) for o in events.options)


@pilot_test
async def test_sysenter_through_the_stub_returns_to_the_landing_pad(tmp_path):
    from test_session import SYSENTER

    src = tmp_path / "sysenter.s"
    src.write_text(SYSENTER)

    def setup(s):
        s.kernel.sysenter_landing_pad = s.program.assembled.labels["landing_pad"]

    app = make_app(factory(src, setup=setup))
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "t")
        assert "Next: sysenter" in text(app, "transition")
        await press(pilot, app, "S", "s")  # back then forward again: same place
        keys = await walk_all(pilot, app)
        assert keys == ["user", "pushes", "cpu", "pt_regs", "table", "handler", "return"]
        t = text(app, "transition")
        assert "landing pad" in t
        assert "landing_pad" in text(app, "code")  # the view is after the return


@pilot_test
async def test_reverse_step_restores_what_the_panels_showed():
    app = make_app(factory(PROGRAMS / "asm" / "hello_syscall.s"))
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "s", "s", "s")
        before = (text(app, "registers"), text(app, "code"), text(app, "stack"))
        await press(pilot, app, "s", "n", "s")  # over the write, one more
        assert "Hello" in str(app.screen.query_one("#output").query_one(".text").visual)
        await press(pilot, app, "S", "S", "S")
        assert "in the past" in str(app.screen.query_one("#status").visual)
        after = (text(app, "registers"), text(app, "code"), text(app, "stack"))
        assert [a.split("was:")[0] for a in after] == [b.split("was:")[0] for b in before]
        assert "Hello" not in str(app.screen.query_one("#output").query_one(".text").visual)


@pilot_test
async def test_choosing_an_event_moves_the_whole_view_there():
    app = make_app(factory(PROGRAMS / "asm" / "hello_syscall.s"))
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "c")
        assert app.state.view.exited
        events = app.screen.query_one(EventList)
        events.focus()
        events.highlighted = 0
        await press(pilot, app, "enter")
        v = app.state.view
        assert not v.exited and v.upcoming == ("syscall", None)
        assert "Next: syscall" in text(app, "transition")


@pilot_test
async def test_small_terminal_uses_tabs_and_follows_the_transition():
    app = make_app(factory(PROGRAMS / "asm" / "hello_syscall.s"))
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, app)
        assert app.current_mode == "compact"
        await press(pilot, app, "t")
        tabs = app.screen.query_one("#tabs")
        assert tabs.active == "tab-transition"
        await press(pilot, app, "p")
        assert app.current_mode == "present"
        assert "Next: syscall" in text(app, "transition")
        await press(pilot, app, "p")
        assert app.current_mode == "compact"


@pilot_test
async def test_stdin_typed_in_the_output_pane_reaches_the_guest(tmp_path):
    from test_session import ECHO

    src = tmp_path / "echo.s"
    src.write_text(ECHO)
    app = make_app(factory(src))
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "c")
        assert app.state.view.waiting_input
        box = app.screen.query_one("#stdin")
        box.focus()
        await pilot.press(*"hi there", "enter")
        await settle(pilot, app)
        app.screen.query_one("#code-box").focus()
        await press(pilot, app, "c")
        assert app.state.view.exited
        out = str(app.screen.query_one("#output").query_one(".text").visual)
        assert out.count("hi there") == 2  # what was typed, and the echo


@pilot_test
async def test_a_guest_crash_is_shown_and_the_app_stays():
    app = make_app(factory(PROGRAMS / "asm" / "int80_from_64.s"))
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "c")
        assert app.state.view.exited
        assert "exited with status 14" in text(app, "code")
        await press(pilot, app, "q")
    assert app.return_code in (0, None)


@pytest.mark.parametrize("size", [WIDE, SMALL])
@pilot_test
async def test_help_lists_every_key(size):
    app = make_app(factory(PROGRAMS / "asm" / "hello_syscall.s"))
    async with app.run_test(size=size) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause()
        help_text = str(app.screen.query_one("#help").query_one("Static").visual)
        for word in ("reverse-step", "transition", "present", "break", "catch"):
            assert word in help_text
        await pilot.press("escape")


def test_panels_render_without_a_terminal():
    s = factory(PROGRAMS / "asm" / "hello_syscall.s")()
    s.run_to_transition()
    v = s.view()
    from tui.panels import code_lines, maps_lines, register_lines, stack_lines, transition_lines

    assert "▶ 0000000000401016  syscall" in plain(code_lines(v))
    assert "Next: syscall" in plain(transition_lines(v))
    assert "rdx 0000000000000014" in plain(register_lines(v))
    assert "[stack]" in plain(maps_lines(v))
    assert "rsp" in plain(stack_lines(v))


@pilot_test
async def test_the_demo_shows_all_three_ways_of_getting_the_time():
    import programs

    app = make_app(factory(programs.find("time-three-ways").path))
    seen = {}
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        for _ in range(12):
            await press(pilot, app, "t")
            up = app.state.view.upcoming
            if up is None:
                break
            if up[0] in ("vdso", "vsyscall") and up[0] not in seen:
                preview = words(app, "transition")
                keys = await walk_all(pilot, app)
                seen[up[0]] = (preview, keys, words(app, "transition"))
            await press(pilot, app, "n")
    preview, keys, last = seen["vdso"]
    assert "Next: a call into the vDSO __vdso_clock_gettime" in preview
    assert keys == ["call", "vvar", "tsc", "math", "ret"]
    assert "The kernel never ran" in last
    preview, keys, last = seen["vsyscall"]
    assert "vsyscall page" in preview
    assert keys == ["call", "fault", "emulate", "ret"]
    assert "only rax, rip and rsp change" in last


@pilot_test
async def test_i386_demo_enters_through_the_vdso_sysenter():
    import programs

    app = make_app(factory(programs.find("time-three-ways-32").path))
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        for _ in range(6):
            await press(pilot, app, "t")
            if app.state.view.upcoming == ("sysenter", None):
                break
            await press(pilot, app, "n")
        assert "Next: sysenter" in text(app, "transition")
        assert "__kernel_vsyscall" in app.state.view.symbol
        keys = await walk_all(pilot, app)
        assert keys == ["user", "pushes", "cpu", "pt_regs", "table", "handler", "return"]
        assert "landing pad" in words(app, "transition")


@pilot_test
async def test_escape_stops_a_long_run_and_the_screen_stays_live():
    app = make_app(factory(PROGRAMS / "asm" / "bench_compute.s", "2000000000"))
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot, app)
        await pilot.press("c")
        await pilot.pause(0.3)
        assert app.state.busy  # still running, and the screen answers
        assert "running" in str(app.screen.query_one("#status").visual)
        await pilot.press("escape")
        await settle(pilot, app)
        assert app.state.reason == "interrupted"
        assert not app.state.view.exited


@pytest.mark.parametrize("size", [WIDE, SMALL])
@pilot_test
async def test_the_events_list_keeps_the_spaces_of_a_traced_string(tmp_path, size):
    from test_tui_panels import SPACES

    src = tmp_path / "spaces.s"
    src.write_text(SPACES)
    app = make_app(factory(src))
    async with app.run_test(size=size) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "t", "n")
        events = app.screen.query_one(EventList)
        prompts = [str(o.prompt) for o in events.options]
        assert any('write(1, "a  b", 4)' in p for p in prompts), prompts

"""A long history: what the screen is shown (the events list, the output) is kept as marks
are added and trimmed as the budget drops old ones; it must be what a fresh pass over the
history would show, wherever the user is."""

from __future__ import annotations

from conftest import PROGRAMS

from emu.program import load_program
from kernel_model.debugger import view_events
from kernel_model.debugger.session import DebugSession
from kernel_model.system import RunOptions


def fresh(session):
    """The events and output as a first view would build them."""
    kept = session.__dict__.pop("_view_kept", None)
    try:
        rows = [(e.index, e.text, e.kind, e.mechanism, e.past, e.current, e.mark, e.before)
                for e in view_events.event_lines(session)]
        return rows, view_events.output_chunks(session)
    finally:
        session._view_kept = kept


def shown(session):
    v = session.view()
    return [(e.index, e.text, e.kind, e.mechanism, e.past, e.current, e.mark, e.before)
            for e in v.events], v.output


def test_events_and_output_of_a_long_history_match_a_fresh_pass():
    path = PROGRAMS / "bin" / "getpid_loop.musl-x86_64"
    s = DebugSession.create(load_program(str(path)), [str(path), "400"], RunOptions(seed=1),
                            budget=2 << 20)
    checked = 0
    while True:
        stop = s.run_to_transition()
        if checked % 50 == 0 or stop.reason != "transition":
            assert shown(s) == fresh(s)
        checked += 1
        if stop.reason != "transition":
            break
    assert s.timeline.dropped, "the budget dropped the oldest history"
    assert s.timeline.used <= s.timeline.budget
    rows, output = shown(s)
    assert "getpid()" in rows[-10][1] or any("getpid()" in r[1] for r in rows)
    assert output and output[-1].stream == "stdout"
    for _ in range(30):  # back, where rows ahead are dimmed and the current one moves
        s.reverse_to_transition()
    s.reverse_step()
    assert shown(s) == fresh(s)
    rows, _ = shown(s)
    current = [r for r in rows if r[5]]
    assert len(current) == 1 and not rows[-1][4]


def test_the_events_list_of_a_long_history_reaches_its_first_line():
    """More rows than the list holds at once: it shows the ones around the current line,
    and moving up through it brings the older ones, down to the first."""
    import asyncio

    from test_tui import WIDE, factory, press, settle

    from tui.app import make_app
    from tui.widgets.events import WINDOW, EventList

    app = make_app(factory(PROGRAMS / "bin" / "getpid_loop.musl-x86_64", "600"))

    async def drive():
        async with app.run_test(size=WIDE) as pilot:
            await settle(pilot, app)
            await press(pilot, app, "c")
            events = app.screen.query_one(EventList)
            total = len(app.state.view.events)
            assert total > WINDOW and events.option_count == WINDOW
            assert events.highlighted == WINDOW - 1  # the last line, the current one
            events.focus()
            for _ in range(total // 10):
                await pilot.press("pageup")
            await settle(pilot, app)
            assert events.highlighted == 0
            await press(pilot, app, "enter")
            v = app.state.view
            # just before the first syscall: that line not yet past, nothing before it
            assert not v.exited and v.upcoming == ("syscall", None)
            assert not any(e.past for e in v.events[:3])

    asyncio.run(drive())

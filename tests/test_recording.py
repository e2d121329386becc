"""Recording a session (run --record, tui --record) and replaying it in the TUI without the
guest: every panel shows at each recorded stop what the live session showed there; the
format's version and bad files; the SVG screenshot key."""

import asyncio
import functools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROGRAMS

from kernel_model.debugger.recording import (
    FORMAT,
    VERSION,
    Recorder,
    RecordingError,
    load,
    position,
    record_session,
    walk_transitions,
)
from tui import cli
from tui.launch import session_factory
from tui.panels import (
    code_lines,
    event_lines,
    maps_lines,
    output_lines,
    plain,
    register_lines,
    stack_lines,
    transition_lines,
)
from tui.panels.registers import registers_at
from tui.replay import RecordingApp, ReplayApp, save_tui_recording
from tui.widgets.panel import Panel

ROOT = Path(__file__).resolve().parent.parent
MACHINE = ["--seed", "1", "--clock", "frozen:1700000000"]


def pilot_test(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        asyncio.run(fn(*args, **kwargs))

    return run


def panels(v) -> dict:
    """Every panel's text for a view, as the screen draws it."""
    return {"code": plain(code_lines(v, width=100, height=60)),
            "transition": plain(transition_lines(v, width=60)),
            "registers": plain(register_lines(*registers_at(v)[:2])),
            "registers title": registers_at(v)[2], "stack": plain(stack_lines(v)),
            "maps": plain(maps_lines(v)), "output": plain(output_lines(v)),
            "events": plain(event_lines(v))}


def record_run(tmp_path, program="time-three-ways", *extra) -> Path:
    out = tmp_path / "class.json"
    assert cli.main(["run", "--record", str(out), *MACHINE, *extra, program]) == 0
    return out


def live_views(program="time-three-ways", save=None):
    """The live session walked the way a recording walks it: (position, view) per stop."""
    args = cli.build_parser().parse_args(["tui", *MACHINE, program])
    make, _name = session_factory(args)
    session = make()
    rec = Recorder(program=program)
    seen = []
    orig = rec.add

    def add(view, **kw):
        seen.append((kw["key"], view))
        orig(view, **kw)

    rec.add = add
    walk_transitions(session, rec)
    session.close()
    if save is not None:
        rec.save(str(save))
    return seen


def test_run_record_writes_a_versioned_recording(tmp_path, capsys):
    path = record_run(tmp_path)
    out = capsys.readouterr()
    assert "vDSO     clock_gettime" in out.out  # the program's output, as plain `run` shows
    assert f"to {path}" in out.err
    doc = json.loads(path.read_text())
    assert doc["format"] == FORMAT and doc["version"] == VERSION
    assert doc["source"] == "run" and doc["program"] == "time-three-ways"
    kinds = [s["kind"] for s in doc["stops"]]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert kinds.count("transition") == 10 and kinds.count("phase") > 30
    # the event trace, as --trace-json writes it
    names = [e["name"] for e in doc["trace"] if e["kind"] == "syscall"]
    assert names[0] == "clock_gettime" and names[-1] == "exit"
    assert any(e["kind"] == "vdso" for e in doc["trace"])
    # one memory map and a code window made of shared instructions, for the whole run
    assert len(doc["maps"]) == 1
    assert len(doc["insns"]) < 200 and len(doc["views"]) < 100
    assert path.stat().st_size < 400_000


def same(view) -> dict:
    """Panels without what differs between two runs of one program: the host's TSC."""
    return {k: re.sub(r"edx:eax = \d+", "edx:eax = N", t) for k, t in panels(view).items()}


def test_every_recorded_stop_shows_what_the_live_session_showed(tmp_path):
    """Each stop saved and loaded again draws every panel exactly as the live view did."""
    live = live_views(save=tmp_path / "same.json")
    rec = load(str(tmp_path / "same.json"))
    assert len(live) == len(rec.views)
    for (key, lv), rv in zip(live, rec.views, strict=True):
        assert panels(rv) == panels(lv), key
        assert rv.history is not None and rv.regs == lv.regs and rv.walk == lv.walk or (
            rv.walk.phase == lv.walk.phase and
            panels(rv.walk.before) == panels(lv.walk.before))


def test_run_record_matches_a_live_session(tmp_path):
    """`run --record` and a live session of the same program (same seed and clock) stop at
    the same points and show the same panels there (up to the host's TSC)."""
    rec = load(str(record_run(tmp_path)))
    live = live_views()
    assert len(live) == len(rec.views)
    for (key, lv), rv in zip(live, rec.views, strict=True):
        assert same(rv) == same(lv), key


def test_bad_recordings_are_one_line_and_status_2(tmp_path, capsys):
    good = json.loads(record_run(tmp_path).read_text())
    capsys.readouterr()
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({**good, "version": VERSION + 1}))
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    text = tmp_path / "notes.txt"
    text.write_text("not json at all")
    for path, words in ((tmp_path / "missing.json", "no such file"),
                        (other, "not a syscall-lab recording"),
                        (text, "not a syscall-lab recording"),
                        (newer, f"version {VERSION + 1} recording")):
        assert cli.main(["replay", str(path)]) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, err
        with pytest.raises(RecordingError):
            load(str(path))


def test_gzip_recordings(tmp_path):
    doc = load(str(record_run(tmp_path))).doc
    args = cli.build_parser().parse_args(["tui", *MACHINE, "hello-syscall"])
    make, _ = session_factory(args)
    session = make()
    rec = Recorder(program="hello-syscall")
    record_session(session, rec)
    session.close()
    rec.save(str(tmp_path / "c.json.gz"))
    assert load(str(tmp_path / "c.json.gz")).views[-1].exited
    assert doc["format"] == FORMAT


def test_run_record_does_not_import_textual(tmp_path):
    code = ("import sys, tui.cli\n"
            f"assert tui.cli.main(['run', '--record', {str(tmp_path / 'r.json')!r}, "
            "'hello-syscall']) == 0\n"
            "print('IMPORTED:', sorted(m for m in sys.modules if m.split('.')[0] == "
            "'textual'))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "IMPORTED: []" in r.stdout


def test_replay_runs_no_guest_code_and_needs_no_program_file(tmp_path):
    """The program file deleted, the replay still steps; the machine is never imported."""
    prog = tmp_path / "hello.s"
    shutil.copy(PROGRAMS / "asm" / "hello_syscall.s", prog)
    rec = tmp_path / "hello.json"
    assert cli.main(["run", "--record", str(rec), *MACHINE, str(prog)]) == 0
    prog.unlink()
    code = f"""
import asyncio, sys
from kernel_model.debugger.recording import load
from tui.replay import ReplayApp

async def main():
    app = ReplayApp(load({str(rec)!r}), path="hello.json")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for key in ("t", "s", "s", "n", "t", "s", "end", "S", "T", "home"):
            await pilot.press(key)
        await pilot.pause()
        assert app.session.index == 0, app.session.index
        await pilot.press("end")
        await pilot.pause()
        assert app.state.view.exited
asyncio.run(main())
bad = sorted(m for m in sys.modules if m in ("emu.machine", "kernel_model.system",
             "kernel_model.debugger.session", "kernel_model.kernel", "capstone"))
print("IMPORTED:", bad)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "IMPORTED: []" in r.stdout


def text(app, panel_id: str) -> str:
    return " ".join(str(app.screen.query_one(f"#{panel_id}", Panel).visual).split())


def status(app) -> str:
    return " ".join(str(app.screen.query_one("#status").visual).split())


@pilot_test
async def test_replay_steps_forward_and_back_through_the_recorded_stops(tmp_path):
    rec = load(str(record_run(tmp_path)))
    live = [v for _k, v in live_views()]
    app = ReplayApp(rec, path="class.json")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.state.view.pc == live[0].pc and "replay" in app.sub_title
        # t: before the first transition, a syscall (clock_gettime)
        await pilot.press("t")
        await pilot.pause()
        i = app.session.index
        assert rec.stops[i]["kind"] == "transition"
        assert "Next: syscall" in text(app, "transition")
        assert "clock_gettime" in text(app, "transition")
        # s: into its phases; each one as the live session showed it
        await pilot.press("s", "s")
        await pilot.pause()
        v = app.state.view
        assert v.walk is not None and v.walk.transition.kind == "syscall"
        assert "phase" in status(app)
        assert panels(v) == panels(live[app.session.index])
        assert v.walk.transition.phases[v.walk.phase].title in text(app, "transition")
        # S: one phase back
        phase = v.walk.phase
        await pilot.press("S")
        await pilot.pause()
        assert app.state.view.walk.phase == phase - 1
        # t again and again: to the vDSO call
        for _ in range(10):
            await pilot.press("t")
            await pilot.pause()
            if app.state.view.upcoming and app.state.view.upcoming[0] == "vdso":
                break
        assert "Next: a call into the vDSO" in text(app, "transition")
        await pilot.press("s")
        await pilot.pause()
        v = app.state.view
        assert v.walk.transition.kind == "vdso"
        assert panels(v) == panels(live[app.session.index])
        assert "vDSO call" in text(app, "transition")
        # n: over the rest of it; T: back to the transition before
        await pilot.press("n")
        await pilot.pause()
        assert app.state.view.walk is None
        after_vdso = app.session.index
        await pilot.press("T")
        await pilot.pause()
        assert app.session.index < after_vdso
        assert app.state.view.upcoming[0] == "vdso"
        # End and Home
        await pilot.press("end")
        await pilot.pause()
        assert app.state.view.exited and "vsyscall gettimeofday" in " ".join(
            c.text for c in app.state.view.output)
        await pilot.press("home")
        await pilot.pause()
        assert app.session.index == 0
        # keys that need the guest say it is a replay
        await pilot.press("f")
        await pilot.pause()
        assert "this is a replay" in status(app)


def test_replay_steps_into_a_trap_at_phase_1(tmp_path):
    """A recording holds phase 1 of every trap, and its replay shows it first; one made
    before phase 1 was recorded (straight from the trap to phase 2) replays the same."""
    from kernel_model.debugger.recording import RecordedSession
    from tui.panels import status_line

    path = record_run(tmp_path, "hello-syscall")
    doc = json.loads(path.read_text())
    phase0 = [i for i, st in enumerate(doc["stops"]) if st["kind"] == "phase" and
              doc["views"][st["view"]]["walk"]["phase"] == 0]
    assert len(phase0) == 2  # write and exit
    old = tmp_path / "old.json"
    old.write_text(json.dumps({**doc, "stops": [st for i, st in enumerate(doc["stops"])
                                                if i not in phase0]}))
    for file in (path, old):
        s = RecordedSession(load(str(file)))
        s.run_to_transition()
        assert s.view().upcoming[0] == "syscall"
        s.step()
        v = s.view()
        assert "syscall: phase 1/6" in plain([status_line(v)])
        assert "in the past: recorded stop 3 of " in plain([status_line(v)])
        assert "1/6  User registers and the x86_64 ABI" in plain(transition_lines(v))
        s.step()
        assert "syscall: phase 2/6" in plain([status_line(s.view())])


def test_replayed_events_keep_the_spaces_of_a_traced_string(tmp_path):
    from test_tui_panels import SPACES

    src = tmp_path / "spaces.s"
    src.write_text(SPACES)
    rec = load(str(record_run(tmp_path, str(src))))
    for width in (40, 60, 100):
        assert 'write(1, "a  b", 4)' in plain(event_lines(rec.views[-1], width=width))


@pilot_test
async def test_replay_in_the_small_layout(tmp_path):
    rec = load(str(record_run(tmp_path)))
    app = ReplayApp(rec, path="class.json")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("t", "s")
        await pilot.pause()
        assert app.current_mode == "compact"
        assert app.state.view.walk is not None
        assert "phase" in status(app)


@pilot_test
async def test_tui_record_keeps_the_visited_stops(tmp_path):
    """A pilot-driven `tui --record`: the stops the user visited, then every transition."""
    args = cli.build_parser().parse_args(["tui", *MACHINE, "time-three-ways"])
    make, name = session_factory(args)
    app = RecordingApp(make, program=name)
    seen = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for key in ("t", "s", "s", "s", "n", "t", "t", "s", "S", "s", "s"):
            await pilot.press(key)
            for _ in range(100):
                await pilot.pause(0.01)
                if not app.state.busy:
                    break
            seen[position(app.session)] = panels(app.state.view)
    path = tmp_path / "tui.json"
    save_tui_recording(make, app.visited, str(path), program=name, argv=[name])
    rec = load(str(path))
    assert rec.doc["source"] == "tui"
    visited = [i for i, s in enumerate(rec.stops) if s["visited"]]
    assert len(visited) == len(seen) + 1  # and the start
    kinds = [s["kind"] for s in rec.stops]
    assert kinds.count("transition") == 10 and kinds[-1] == "end"
    # the visited stops replay as the user saw them
    views = [rec.views[i] for i in visited[1:]]
    assert sorted(map(lambda p: p["transition"], seen.values())) == sorted(
        panels(v)["transition"] for v in views)
    # and the replay's c goes from one visited stop to the next
    app = ReplayApp(rec, path=str(path))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        assert rec.stops[app.session.index]["visited"]


@pytest.mark.parametrize("mode", ["replay", "live"])
@pilot_test
async def test_f12_saves_an_svg_screenshot(tmp_path, monkeypatch, mode):
    from tui.app import make_app

    if mode == "replay":
        app = ReplayApp(load(str(record_run(tmp_path))), path="class.json")
    else:
        args = cli.build_parser().parse_args(["tui", *MACHINE, "hello-syscall"])
        app = make_app(session_factory(args)[0], program="hello-syscall")
    shots = tmp_path / "shots"
    shots.mkdir()
    monkeypatch.chdir(shots)
    monkeypatch.delenv("SYSCALL_LAB_SCREENSHOTS", raising=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("f12")
        await pilot.pause()
    files = list((shots / "screenshots").glob("syscall-lab-*.svg"))  # made when needed
    assert len(files) == 1
    assert files[0].read_text().lstrip().startswith("<svg")

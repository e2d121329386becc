"""`syscall-lab serve` without a browser: the page, what its address opens, the names it
refuses, the polite page when the class is full, and its command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("textual_serve", reason="textual-serve is not installed")

from serve_harness import (  # noqa: E402
    ROOT,
    free_port,
    get,
    serving,
    session_screen,
    websocket_url,
)

from programs import lesson as lessons  # noqa: E402
from programs.grading.catalog import names as exercise_names  # noqa: E402
from tui import serve, web_session  # noqa: E402
from tui.web_session import Choice, choose  # noqa: E402


def test_each_listed_item_opens_from_its_own_address():
    items = web_session.items()
    kinds = {i.kind for i in items}
    assert kinds == {"demo", "lesson", "program", "exercise"}
    assert {i.name for i in items if i.kind == "lesson"} == set(lessons.bundled())
    assert {i.name for i in items if i.kind == "exercise"} == set(exercise_names())
    for item in items:
        query = item.url.removeprefix("/?")
        kind, _, name = query.partition("=")
        assert choose([(kind, name)]) == Choice(item.kind, item.name), item.url


@pytest.mark.parametrize("query, said", [
    ([("lesson", "no-such-lesson")], "there is no lesson named 'no-such-lesson'"),
    ([("lesson", "../../../etc/passwd")], "there is no lesson named '../../../etc/passwd'"),
    ([("exercise", "echo-argv; rm -rf ~")], "there is no exercise named 'echo-argv; rm -rf ~'"),
    ([("program", "/bin/sh")], "there is no program named '/bin/sh'"),
    ([("program", "--debug")], "there is no program named '--debug'"),
    ([("lesson", "")], "which lesson?"),
    ([("shell", "ls")], "asks for 'shell'"),
    ([("lesson", "entry-paths"), ("exercise", "echo-argv")], "more than one thing"),
])
def test_a_bad_address_opens_the_landing_screen_saying_why(query, said):
    choice = choose(query)
    assert choice.kind == "landing"
    assert said in choice.notice
    assert "\n" not in choice.notice
    # and the session command line holds no name from the address, only the notice
    assert choice.argv()[:2] == ["landing", "--notice"]


def test_a_notice_shows_no_control_characters():
    choice = choose([("lesson", "x\x1b[2Jy\nz")])
    assert "\x1b" not in choice.notice and "\n" not in choice.notice


def test_the_session_process_checks_its_arguments_again():
    argv = serve.session_argv(Choice("lesson", "entry-paths"), serve.Limits(run_timeout=7))
    assert argv[1:3] == ["-m", "tui.web_session"]
    choice, limits, kept = web_session.parse(argv[3:])
    assert choice == Choice("lesson", "entry-paths")
    assert limits == web_session.RunLimits(7, serve.Limits().run_max_insns)
    assert not kept
    argv = serve.session_argv(Choice("exercise", "echo-argv"), serve.Limits(), kept=True)
    assert web_session.parse(argv[3:])[2]
    bad, _, _ = web_session.parse(["exercise", "../x"])
    assert bad.kind == "landing" and "no exercise named '../x'" in bad.notice


def test_loopback_or_not():
    assert serve.is_loopback("127.0.0.1") and serve.is_loopback("::1")
    assert serve.is_loopback("localhost")
    assert not serve.is_loopback("0.0.0.0") and not serve.is_loopback("192.168.1.10")
    assert not serve.is_loopback("lab.example.org")


def lab(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [["--port", "70000"], ["--port", "0"],
                                  ["--max-sessions", "-1"], ["--idle", "x"]])
def test_bad_options_one_line_status_2(args):
    r = lab("serve", *args)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_a_port_in_use_one_line_status_2():
    with serving() as base:
        port = base.rsplit(":", 1)[1]
        r = lab("serve", "--port", port)
    assert r.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr
    assert "Traceback" not in r.stderr


def test_the_page_and_a_session_behind_it():
    with serving() as base:
        status, page = get(base + "/")
        assert status == 200
        assert 'class="textual-terminal"' in page
        # the landing screen, over the session's websocket
        first = web_session.items()[1]  # the first lesson
        screen = session_screen(websocket_url(page), first.name)
        assert first.name in screen and first.title in screen


def test_a_bad_name_reaches_the_landing_screen_with_one_line():
    with serving() as base:
        status, page = get(base + "/?lesson=../../etc/passwd")
        assert status == 200
        notice = "there is no lesson named '../../etc/passwd'"
        screen = session_screen(websocket_url(page), notice)
        assert notice in screen
        assert "Lessons" in screen  # and the list to pick from


def test_a_full_class_gets_the_polite_page():
    with serving("--max-sessions", "1") as base:
        _, page = get(base + "/?demo")
        seen = {}

        async def while_open():
            seen["full"] = get(base + "/")

        session_screen(websocket_url(page), "cont", keep_open=while_open)
        status, text = seen["full"]
        assert status == 503
        assert "The lab is full right now" in text


def test_listening_beyond_loopback_warns():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "serve", "--host", "0.0.0.0",
                             "--port", str(free_port())], cwd=ROOT, env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        first = proc.stderr.readline() if proc.stderr else ""
    finally:
        proc.kill()
        proc.wait()
    assert first.startswith("syscall-lab serve: warning: listening on 0.0.0.0")


def test_an_idle_tab_is_closed_and_a_key_counts_as_activity():
    import asyncio
    import time
    from types import SimpleNamespace

    server = serve.LabServer("127.0.0.1", 1, serve.Limits(idle_minutes=1))
    closed = []

    async def close():
        closed.append(True)

    websocket = SimpleNamespace(close=close)
    # a tab whose last key was more than a minute ago: closed at once
    idle = SimpleNamespace(last_input=time.monotonic() - 61)
    asyncio.run(server._close_when_idle(idle, websocket))
    assert closed == [True]

    # a key sent to the session is what moves last_input
    written = []
    service = serve.SessionService(["true"], "/", serve.Limits(), write_bytes=None,
                                   write_str=None, close=None, download_manager=None)
    service.last_input -= 600

    async def drain():
        pass

    service._stdin = SimpleNamespace(write=written.append, drain=drain)
    before = time.monotonic()
    assert asyncio.run(service.send_bytes(b"t"))
    assert service.last_input >= before and written


@pytest.mark.parametrize("limits, said", [
    (web_session.RunLimits(max_insns=200_000), "instructions (max-insns)"),
    (web_session.RunLimits(timeout=0.5), "stopped after 0.5 s (timeout)"),
])
def test_a_run_that_never_ends_stops_at_the_servers_limit(tmp_path, limits, said):
    """What a tab's session does with `c` on `jmp $`: the run stops as Esc stops it, and
    the status line says which limit it met (the terminal TUI has no such limit)."""
    import asyncio
    import re

    from tui.app import make_app
    from tui.cli import build_parser
    from tui.launch import session_factory

    loop = tmp_path / "loop.s"
    loop.write_text("bits 64\nsection .text\nglobal _start\n_start:\n    jmp _start\n")
    factory, name = session_factory(build_parser().parse_args(["tui", str(loop)]))
    app = make_app(factory, program=name)
    web_session.limit_runs(app, limits)

    async def drive():
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("c")
            while True:  # the run ends by the limit or not at all (pytest's timeout)
                await pilot.pause(0.05)
                if not app.state.busy:
                    break
            return app.state.message

    message = asyncio.run(drive())
    assert "the server's limit for one run: stopped after" in message
    assert said in message
    if limits.max_insns:
        ran = int(re.search(r"after (\d+) instructions", message).group(1))
        assert ran >= limits.max_insns


# -- --workdir: a student's directory, found again by a cookie ----------------------------------
@pytest.mark.parametrize("value", [None, "", "../../etc", "a" * 42, "a" * 44, "a" * 42 + "/",
                                   "a" * 42 + ".", "a" * 42 + "\n", "é" * 43])
def test_a_cookie_that_the_server_did_not_make_is_refused(value):
    assert serve.valid_token(value) is None


def test_a_students_directory_is_named_by_a_hash_of_the_token(tmp_path):
    token = serve.new_token()
    assert serve.valid_token(token) == token
    home = serve.student_dir(tmp_path, token)
    assert home.parent == tmp_path and token not in str(home)
    assert serve.student_dir(tmp_path, token) == home  # the same browser, the same place
    assert serve.student_dir(tmp_path, serve.new_token()) != home


def test_bad_workdir_one_line_status_2(tmp_path):
    afile = tmp_path / "f"
    afile.write_text("")
    r = lab("serve", "--port", str(free_port()), "--workdir", str(afile / "x"))
    assert r.returncode == 2
    assert r.stderr.startswith(f"syscall-lab: error: --workdir {afile / 'x'}: ")
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def cookie_of(base: str, query: str = "") -> str | None:
    import urllib.request

    with urllib.request.urlopen(base + "/" + query, timeout=30) as r:
        return r.headers.get("Set-Cookie")


def test_the_page_sets_the_cookie_only_with_a_workdir(tmp_path):
    with serving() as base:
        assert cookie_of(base) is None
        status, page = get(base + "/")
        screen = session_screen(websocket_url(page), "not kept across reloads")
        assert "Solutions are not kept across reloads" in screen
    with serving("--workdir", str(tmp_path)) as base:
        header = cookie_of(base, "?exercise=echo-argv")
        assert header is not None
        name, _, rest = header.partition("=")
        value = rest.split(";")[0]
        assert name == serve.COOKIE and serve.valid_token(value)
        attrs = {a.strip().split("=")[0].lower() for a in rest.split(";")[1:]}
        assert {"httponly", "samesite", "path", "max-age"} <= attrs
        assert "samesite=strict" in header.lower()


def _ws_with_cookie(url: str, cookie: str | None, needle: str) -> str:
    headers = {"Cookie": f"{serve.COOKIE}={cookie}"} if cookie is not None else {}
    return session_screen(url, needle, headers=headers, size="width=120&height=40")


def test_a_kept_exercise_lives_in_the_students_directory_and_a_forged_cookie_keeps_none(
        tmp_path):
    with serving("--workdir", str(tmp_path)) as base:
        _, page = get(base + "/?exercise=echo-argv")
        url = websocket_url(page)
        token = serve.new_token()
        screen = _ws_with_cookie(url, token, "In the browser: your file is kept")
        assert "In the browser: your file is kept" in " ".join(screen.split()), screen
        home = serve.student_dir(tmp_path, token)
        assert (home / "echo-argv.s").is_file()
        # a cookie the server could not have made: a tab like any other, nothing kept,
        # and nothing made under the work directory
        for forged in ("../../tmp", "x" * 43 + "/.."):
            screen = _ws_with_cookie(url, forged, "In the browser: not kept")
            assert "In the browser: not kept" in " ".join(screen.split()), screen
        assert [p.name for p in tmp_path.iterdir()] == [home.name]


# -- the browser's exercise keys: F8 downloads the solution, F9 pastes one in ---------------------
def _web_exercise(tmp_path, kept=True):
    from programs.grading import find
    from tui.exercise import starter_copy
    from tui.web_exercise import WebExerciseApp

    exercise = find("echo-argv")
    solution, _ = starter_copy(exercise, tmp_path)
    return WebExerciseApp(exercise, solution, kept=kept, seed=5), Path(solution)


REFERENCE = Path(__file__).resolve().parent / "exercises" / "echo-argv" / "reference.s"


def test_f9_pastes_a_solution_into_the_editor_and_f8_downloads_it(tmp_path):
    import asyncio

    from tui.web_exercise import PasteScreen

    app, solution = _web_exercise(tmp_path)
    delivered = []

    def deliver_text(f, **kw):
        delivered.append((f.read(), kw.get("save_filename")))
        return "key"

    app.deliver_text = deliver_text

    async def drive():
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("i")  # from the editor too
            await pilot.press("f9")
            await pilot.pause()
            assert isinstance(app.screen, PasteScreen)
            app.screen.query_one("#paste-text").text = REFERENCE.read_text()
            await pilot.press("f9")  # again: into the editor, saved
            await pilot.pause()
            assert not isinstance(app.screen, PasteScreen)
            assert solution.read_text() == REFERENCE.read_text()
            assert app.state.message == f"saved {solution}"
            await pilot.press("escape")
            await pilot.press("f9")
            await pilot.pause()
            await pilot.press("escape")  # cancelled: nothing changes
            await pilot.pause()
            assert not isinstance(app.screen, PasteScreen)
            assert solution.read_text() == REFERENCE.read_text()
            # an edit, then F8: the download is the file, saved first
            app.editor().insert("; mine\n", (0, 0))
            await pilot.press("f8")
            await pilot.pause()
            assert solution.read_text() == "; mine\n" + REFERENCE.read_text()
            assert delivered == [(solution.read_text(), "echo-argv.s")]
            await pilot.press("f5")  # and the pasted solution passes
            while app.grading:
                await pilot.pause(0.05)
            assert app.report is not None and app.report.passed

    asyncio.run(drive())


@pytest.mark.parametrize("kept, said", [(True, "a reload reopens your edits"),
                                        (False, "not kept across a reload")])
def test_the_exercise_says_whether_the_solution_is_kept(tmp_path, kept, said):
    import asyncio

    from textual.widgets import Markdown

    app, _ = _web_exercise(tmp_path, kept)

    async def drive():
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            return app.screen.query_one("#statement", Markdown).source

    assert said in asyncio.run(drive())


def test_a_dialog_closing_keeps_the_editors_unsaved_edits(tmp_path):
    """The help (or the paste box) over the exercise screen, closed: the editor still has
    what was typed, not the text it had when the layout was last chosen."""
    import asyncio

    app, solution = _web_exercise(tmp_path)

    async def drive():
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("i", "x", "y", "escape")
            await pilot.press("question_mark")
            await pilot.pause()
            await pilot.press("escape")
            await pilot.pause()
            return app.editor().text

    assert asyncio.run(drive()) == "xy" + solution.read_text()

"""`syscall-lab serve` without a browser: the page, what its address opens, the names it
refuses, the polite page when the class is full, and its command line."""

from __future__ import annotations

import os
import subprocess
import sys

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
    choice, limits = web_session.parse(argv[3:])
    assert choice == Choice("lesson", "entry-paths")
    assert limits == web_session.RunLimits(7, serve.Limits().run_max_insns)
    bad, _ = web_session.parse(["exercise", "../x"])
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

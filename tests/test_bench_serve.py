"""The serve load bench as the issue asks it of the CI machine: 20 sessions step the demo over
websockets at once (4 `t` each, with s s S); every key is answered, the numbers are there
and sane (no timing is asserted: the machine is shared; `bench --serve` prints them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("textual_serve", reason="textual-serve is not installed")

from tui import bench_serve  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def result() -> dict:
    return bench_serve.run(sessions=20, keys=4)


def test_the_baseline_then_the_loaded_run(result):
    assert [x["sessions"] for x in result["runs"]] == [1, 20]
    assert result["p95_ratio"] > 0


def test_every_session_answered_every_key(result):
    for x in result["runs"]:
        assert len(x["clients"]) == x["sessions"]
        for c in x["clients"]:
            assert c["error"] == "", c
            # 4 `t` presses, and after the second one s s S
            assert [p[0] for p in c["presses"]] == ["t", "t", "s", "s", "S", "t", "t"], c
            assert c["answered"] == c["keys"] == 7, c
            assert c["first_screen_s"] > 0
        assert x["answered"] == x["keys"] == 7 * x["sessions"]


def test_each_key_moved_the_demo_as_a_student_would_see_it(result):
    for x in result["runs"]:
        for c in x["clients"]:
            statuses = [p[2] for p in c["presses"]]
            # the first `t` stops at the demo's first syscall, `s` walks its phases
            assert statuses[0].startswith("at _start+"), statuses
            assert "syscall" in statuses[0]
            assert statuses[2].startswith("syscall: phase 1/")
            assert statuses[3].startswith("syscall: phase 2/")
            assert statuses[4].startswith("syscall: phase 1/")
            assert not any(s.startswith(bench_serve.BUSY) for s in statuses)


def test_latencies_are_positive_and_ordered(result):
    for x in result["runs"]:
        lat = x["latency_ms"]
        assert lat["n"] == x["answered"]
        assert 0 < lat["p50"] <= lat["p95"] <= lat["max"]
        assert set(x["latency_by_key_ms"]) == {"t", "s", "S"}
        first = x["first_update_ms"]
        assert 0 < first["p50"] <= lat["max"]


def test_memory_per_session(result):
    for x in result["runs"]:
        m = x["memory"]
        assert m["session_processes"] == x["sessions"]
        assert m["rss_per_session_kib"] > 0 and m["pss_per_session_kib"] > 0
        assert m["server_rss_kib"] > 0 and m["server_idle_rss_kib"] > 0
        assert m["total_rss_kib"] == m["server_rss_kib"] + m["sessions_rss_kib"]
        assert m["rss_per_session_kib"] * x["sessions"] == m["sessions_rss_kib"]
        # PSS splits shared pages among their users: never more than RSS
        assert m["pss_per_session_kib"] <= m["rss_per_session_kib"]


def test_the_report_names_both_runs(result):
    text = bench_serve.report(result)
    lines = text.splitlines()
    assert lines[0].startswith("serve load")
    rows = [line.split() for line in lines[2:4]]
    assert [r[0] for r in rows] == ["1", "20"]
    assert "7/7" in rows[0][1] and "140/140" in rows[1][1]
    assert "p95 with 20 sessions" in text


def test_the_screen_reads_textual_output():
    screen = bench_serve.Screen(20, 3)
    screen.feed(b"\x1b[1;1H\x1b[1;38;2;1;2;3mat _st")
    screen.feed(b"art\x1b[0m\x1b[3;5H\xe2\x96")  # a character split across two messages
    screen.feed(b"\xb6 x\x1b[2")  # and an escape sequence
    screen.feed(b";1Hmid")
    assert screen.status == "at _start"
    assert screen.line(1) == "mid"
    assert screen.line(2) == "▶ x"


def test_bad_options_one_line_status_2():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "tui.cli", "bench", "--serve", "0"], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_json_from_the_module():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "tui.bench_serve", "--sessions", "1", "--keys",
                        "1", "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [x["sessions"] for x in out["runs"]] == [1]
    assert out["runs"][0]["answered"] == out["runs"][0]["keys"] == 1

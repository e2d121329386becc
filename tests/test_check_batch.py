"""Grading a whole class as a teacher does it: `syscall-lab check EXERCISE DIR` grades every
submission in parallel, one line each, with a CSV or JSON report or Gradescope's
results.json; a solution that loops, floods its output, crashes or does not assemble scores 0
and never stops the others; one submission with `--format gradescope` writes the
results.json Gradescope reads."""

from __future__ import annotations

import csv
import io
import json
import os
import time

import pytest
from conftest import ROOT, cli

from programs.grading import batch, find

SOLUTIONS = ROOT / "tests" / "exercises" / "echo-argv"

LOOP = "bits 64\n_start:\n    jmp _start\n"
CRASH = "bits 64\nsection .text\n_start:\n    mov rax, [0]\n"
TYPO = "bits 64\n_start:\n    mvo eax, 1\n"
FLOOD = """bits 64
section .data
msg: db "flood flood flood flood flood flood flood flood flood flood flood flood flood", 10
section .text
_start:
    mov eax, 1
    mov edi, 1
    lea rsi, [rip + msg]
    mov edx, 78
    syscall
    jmp _start
"""


@pytest.fixture
def klass(tmp_path):
    """A class's submissions: one good, one typical mistake, and four that misbehave."""
    d = tmp_path / "subs"
    d.mkdir()
    (d / "good.s").write_text((SOLUTIONS / "reference.s").read_text())
    (d / "argv0.s").write_text((SOLUTIONS / "wrong_argv0.s").read_text())
    (d / "loop.s").write_text(LOOP)
    (d / "flood.s").write_text(FLOOD)
    (d / "crash.s").write_text(CRASH)
    (d / "typo.s").write_text(TYPO)
    (d / "notes.txt").write_text("not a submission")
    return d


def test_a_directory_of_submissions_is_graded_in_parallel_one_line_each(klass, tmp_path):
    report = tmp_path / "report.csv"
    r = cli("check", "echo-argv", str(klass), "--jobs", "2", "--seed", "9",
            "--format", "csv", "-o", str(report))
    assert r.returncode == 0, r.stderr.decode()  # every submission was graded
    assert b"Traceback" not in r.stdout + r.stderr
    lines = r.stdout.decode().splitlines()
    s = f"{klass}/"
    w = len(s) + len("argv0.s")
    assert lines[:6] == [
        f"FAIL  0.75  {s + 'argv0.s':{w}}  (failed: stdout)",
        f"FAIL  0.00  {s + 'crash.s':{w}}  (never exited: killed by SIGSEGV every time)",
        f"FAIL  0.00  {s + 'flood.s':{w}}  (never exited: stopped by the grader's instruction "
        "limit every time; wrote 1 MiB of output in one run)",
        f"PASS  1.00  {s + 'good.s'}",
        f"FAIL  0.00  {s + 'loop.s':{w}}  (never exited: stopped by the grader's instruction "
        "limit every time)",
        f"FAIL  0.00  {s + 'typo.s':{w}}  (does not assemble: {s}typo.s:3: invalid mnemonic: "
        "mvo eax, 1)",
    ]
    assert lines[6].startswith("echo-argv: 6 submissions in ")
    assert lines[6].endswith(" (2 jobs): 1 passed, 5 failed; mean score 0.29; grader seed 9: "
                             "`--seed 9` repeats these runs")
    rows = list(csv.DictReader(io.StringIO(report.read_text())))
    assert [os.path.basename(row["submission"]) for row in rows] == [
        "argv0.s", "crash.s", "flood.s", "good.s", "loop.s", "typo.s"]
    by = {os.path.basename(row["submission"]): row for row in rows}
    assert by["good.s"]["passed"] == "1" and by["good.s"]["score"] == "1.0000"
    assert by["argv0.s"]["stdout"] == "0" and by["argv0.s"]["exit"] == "1"
    assert by["argv0.s"]["score"] == "0.7500"
    assert by["typo.s"]["assemble"] == "0" and by["typo.s"]["exit"] == ""
    assert by["loop.s"]["score"] == "0.0000" and int(by["loop.s"]["instructions"]) > 0
    assert all(float(row["seconds"]) > 0 for row in rows)


def test_the_json_report_goes_to_stdout_and_the_lines_to_stderr(klass):
    (klass / "flood.s").unlink()
    r = cli("check", "echo-argv", str(klass / "good.s"), str(klass / "crash.s"),
            "--format", "json", "--seed", "3")
    assert r.returncode == 0
    data = json.loads(r.stdout)
    assert data["exercise"] == "echo-argv" and data["seed"] == 3
    assert data["submissions"] == 2 and data["passed"] == 1 and data["mean_score"] == 0.5
    assert [x["passed"] for x in data["results"]] == [True, False]
    assert data["results"][1]["checks"]["budget"] is True and data["results"][1]["score"] == 0
    assert data["jobs"] == len(os.sched_getaffinity(0))  # the default: the usable CPUs
    assert b"PASS  1.00" in r.stderr and b"never exited: killed by SIGSEGV" in r.stderr


def test_gradescope_results_json_for_one_submission(tmp_path):
    out = tmp_path / "autograder" / "results" / "results.json"
    r = cli("check", "echo-argv", str(SOLUTIONS / "wrong_argv0.s"), "--format", "gradescope",
            "-o", str(out), "--seed", "4")
    assert r.returncode == 1  # a single check keeps its meaning: 1 unless it passed
    assert b"FAIL  stdout" in r.stdout  # the student's report, as always
    data = json.loads(out.read_text())
    assert data["score"] == 3.0 and data["max_score"] == 4.0
    tests = {t["name"]: t for t in data["tests"]}
    assert list(tests) == ["assemble", "exit", "stdout", "trace", "budget"]
    assert tests["stdout"] == {**tests["stdout"], "score": 0.0, "max_score": 1.0,
                               "status": "failed"}
    assert "hint: You printed argv[0]" in tests["stdout"]["output"]
    assert tests["exit"]["score"] == 1.0 and tests["exit"]["status"] == "passed"
    assert tests["assemble"]["max_score"] == 0.0  # a gate, worth nothing
    assert sum(t["score"] for t in data["tests"]) == data["score"]
    assert "FAILED: 4 of 5 checks passed" in data["output"]
    r = cli("check", "echo-argv", str(SOLUTIONS / "reference.s"), "--format", "gradescope",
            "-o", str(out), "--points", "10")
    assert r.returncode == 0
    data = json.loads(out.read_text())
    assert data["score"] == 10.0 and data["max_score"] == 10.0
    assert all(t["status"] == "passed" for t in data["tests"])
    r = cli("check", "echo-argv", str(SOLUTIONS / "reference.s"), "--format", "gradescope",
            "-o", str(out.parent))  # a folder: its results.json
    assert r.returncode == 0 and json.loads(out.read_text())["max_score"] == 4.0


def test_gradescope_for_a_class_writes_one_results_json_each(klass, tmp_path):
    out = tmp_path / "gs"
    (klass / "flood.s").unlink()  # slow ones: the first test has them
    (klass / "loop.s").unlink()
    (klass / "nested").mkdir()
    (klass / "nested" / "good.s").write_text((SOLUTIONS / "reference.s").read_text())
    r = cli("check", "echo-argv", str(klass), "--format", "gradescope", "-o", str(out),
            "--seed", "2")
    assert r.returncode == 0
    folders = sorted(p.name for p in out.iterdir())
    assert folders == ["argv0", "crash", "good", "nested__good", "typo"]
    crash = json.loads((out / "crash" / "results.json").read_text())
    assert crash["score"] == 0.0 and crash["max_score"] == 4.0
    budget = next(t for t in crash["tests"] if t["name"] == "budget")
    assert budget["score"] == 0.0 and "earns nothing: no run reached its exit" in \
        budget["output"]
    assert json.loads((out / "good" / "results.json").read_text())["score"] == 4.0


def test_bad_batch_input_is_one_line_and_status_2(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli("check", "echo-argv", str(empty))
    assert r.returncode == 2 and r.stderr.count(b"\n") == 1
    assert b"no submissions (.s, .asm files) in" in r.stderr
    r = cli("check", "echo-argv", str(SOLUTIONS / "reference.s"), str(tmp_path / "nope.s"))
    assert r.returncode == 2 and b"nope.s: no such file or directory" in r.stderr
    for bad in (["--jobs", "0"], ["--points", "-3"], ["--format", "xml"]):
        r = cli("check", "echo-argv", str(SOLUTIONS / "reference.s"), *bad)
        assert r.returncode == 2 and r.stderr.count(b"\n") == 1, bad
        assert r.stderr.startswith(b"syscall-lab: error: ") and b"Traceback" not in r.stderr


def _hang_or_die(real_grade):
    def grade(exercise, path, seed=None, isolate=False):
        if path.endswith("hang.s"):
            time.sleep(60)  # past every limit the runner has
        if path.endswith("die.s"):
            os._exit(3)  # the grader's own process dies
        return real_grade(exercise, path, seed, isolate)

    return grade


def test_a_submission_past_its_hard_limit_is_killed_and_the_others_still_finish(
        tmp_path, monkeypatch):
    from programs.grading import grader

    monkeypatch.setattr(grader, "grade", _hang_or_die(grader.grade))  # forked children see it
    paths = []
    for name in ("hang.s", "good.s", "die.s", "good2.s"):
        p = tmp_path / name
        p.write_text((SOLUTIONS / "reference.s").read_text())
        paths.append(str(p))
    seen = []
    outcomes = batch.grade_all(find("echo-argv"), paths, jobs=2, seed=1, hard_limit=3.0,
                               on_result=lambda i, o: seen.append(i))
    assert seen == [0, 1, 2, 3]  # reported in the order given
    hang, good, die, good2 = outcomes
    assert hang.graded and hang.score == 0 and "the submission's hard limit" in hang.reason
    assert good.passed and good2.passed
    assert not die.graded and "the grader's process died (exit status 3)" in die.reason

"""The grader is fair to a whole class: a crashing solution earns nothing for the checks
it happened to pass, the score is the weighted share of the behavioural checks, no seed can
give two runs the same answer (so a hard-coded answer always fails), and the feedback a
student reads names the syscall that went wrong, in strace's words, never the transcript's
pattern syntax."""

from __future__ import annotations

import random
import re

import pytest
from conftest import ROOT

from programs.grading import find, grade, names
from programs.grading.grader import draw_runs
from programs.grading.report import json_text, text
from programs.grading.spec import SpecError, load

SOLUTIONS = ROOT / "tests" / "exercises"

# The echo-argv reference, up to its newline: the output is right, then it runs off the end.
RIGHT_OUTPUT_THEN_CRASH = """bits 64
section .data
newline: db 10
section .text
_start:
    mov rsi, [rsp + 16]
    xor edx, edx
count:
    cmp byte [rsi + rdx], 0
    je counted
    inc rdx
    jmp count
counted:
    mov eax, 1
    mov edi, 1
    syscall
    mov eax, 1
    mov edi, 1
    lea rsi, [rip + newline]
    mov edx, 1
    syscall
"""


def test_a_solution_that_crashes_at_once_scores_zero_though_assemble_and_budget_pass(tmp_path):
    crash = tmp_path / "crash.s"
    crash.write_text("bits 64\nsection .text\n_start:\n    mov rax, [0]\n")
    report = grade(find("exit-42"), str(crash), seed=3)
    verdicts = report.verdicts()
    assert verdicts["assemble"] and verdicts["budget"]  # they pass, and earn nothing
    assert report.score == 0.0
    out = text(report)
    assert "score 0.00" in out
    assert ("score 0: no run reached its exit (killed by SIGSEGV every time), so no check "
            "earns points") in out


def test_right_output_then_a_crash_on_every_run_scores_zero(tmp_path):
    path = tmp_path / "echo.s"
    path.write_text(RIGHT_OUTPUT_THEN_CRASH)
    report = grade(find("echo-argv"), str(path), seed=5)
    assert report.verdicts()["stdout"] is True
    assert report.score == 0.0


def test_a_loop_stopped_on_every_run_scores_zero(tmp_path):
    loop = tmp_path / "loop.s"
    loop.write_text("bits 64\n_start:\n    jmp _start\n")
    report = grade(find("exit-42"), str(loop), seed=1)
    assert report.score == 0.0
    assert "stopped by the grader's instruction limit every time" in text(report)


def test_the_score_is_the_weighted_share_of_the_behavioural_checks(tmp_path):
    spec = tmp_path / "echo" / "exercise.toml"
    spec.parent.mkdir()
    spec.write_text(
        'title = "t"\nstatement = "s"\narch = "x86_64"\n[vars]\nword = { letters = [3, 9] }\n'
        '[[run]]\nargv = ["{word}"]\n[checks]\nexit = 0\nstdout = "{word}\\n"\nbudget = 400\n'
        '[weights]\nstdout = 3\n')
    ex = load(spec)
    # exit 1 + stdout 3 + budget 1; assemble is a gate worth nothing
    wrong = grade(ex, str(SOLUTIONS / "echo-argv" / "wrong_argv0.s"), seed=2)
    assert wrong.score == 0.4
    right = grade(ex, str(SOLUTIONS / "echo-argv" / "reference.s"), seed=2)
    assert right.score == 1.0 and right.passed
    assert '"weight": 3.0' in json_text(wrong)
    # without weights every behavioural check weighs the same: 2 of 3
    spec.write_text(spec.read_text().replace("[weights]\nstdout = 3\n", ""))
    assert grade(load(spec), str(SOLUTIONS / "echo-argv" / "wrong_argv0.s"), seed=2).score \
        == round(2 / 3, 4)


@pytest.mark.parametrize("weights,message", [
    ("assemble = 1", "weights.assemble: a gate, not scored"),
    ("stdot = 1", "weights.stdot: not a check (one of instructions, exit, stdout"),
    ("exit = -1", "weights.exit: at least 0"),
    ('exit = "x"', "weights.exit: expected a number"),
])
def test_a_bad_weight_is_a_spec_error_naming_the_key(tmp_path, weights, message):
    spec = tmp_path / "x" / "exercise.toml"
    spec.parent.mkdir()
    spec.write_text(f'title = "t"\nstatement = "s"\narch = "x86_64"\n[checks]\nexit = 0\n'
                    f'[weights]\n{weights}\n')
    with pytest.raises(SpecError, match=re.escape(message)):
        load(spec)


def test_no_seed_gives_two_runs_of_exit_argc_the_same_argc():
    ex = find("exit-argc")
    for seed in range(1000):
        argcs = [r.names["argc"] for r in draw_runs(ex, random.Random(seed))]
        assert len(argcs) == 4 and len(set(argcs)) == 4, (seed, argcs)


def test_every_randomized_exercise_expects_a_different_answer_in_each_run():
    for name in names():
        ex = find(name)
        for seed in range(40):
            runs = draw_runs(ex, random.Random(seed))
            for template in ex.runs:
                mine = [r for r in runs if r.template is template]
                given = {(tuple(r.argv), r.stdin, tuple(r.env), tuple(r.files.items()))
                         for r in mine}
                if len(mine) > 1 and len(given) > 1:  # a template whose inputs vary at all
                    assert len(given) == len(mine), (name, seed)


def test_a_hard_coded_argc_fails_whatever_the_seed(tmp_path):
    path = tmp_path / "three.s"
    path.write_text("bits 64\nsection .text\n_start:\n    mov eax, 60\n    mov edi, 3\n"
                    "    syscall\n")
    for seed in range(25):
        report = grade(find("exit-argc"), str(path), seed=seed)
        assert not report.passed, seed
        assert sum(r.checks[0].passed for r in report.runs) <= 1, seed  # at most one right


def test_the_expected_line_is_shown_as_a_person_writes_it_not_as_a_pattern():
    report = grade(find("exit-42"), str(SOLUTIONS / "exit-42" / "wrong_write_number.s"), seed=1)
    out = text(report)
    assert "expected: exit(42) = ?  (or exit_group)" in out
    assert "got:      write(42, NULL, 0) = -1 EBADF (Bad file descriptor)" in out
    # every typical wrong solution of every exercise: no `<_...>` hole reaches the student
    for folder in sorted(SOLUTIONS.iterdir()):
        for wrong in sorted(folder.glob("wrong_*.s")):
            out = text(grade(find(folder.name), str(wrong), seed=7))
            assert not re.search(r"<_|<[a-z]\w*>", out), (wrong, out)


def test_a_string_passed_by_value_names_the_call_its_line_and_the_mistake(tmp_path):
    path = tmp_path / "echo.s"
    path.write_text(RIGHT_OUTPUT_THEN_CRASH.replace("counted:\n", "counted:\n    mov rsi, [rsi]\n")
                    + "    mov eax, 60\n    xor edi, edi\n    syscall\n")
    report = grade(find("echo-argv"), str(path), seed=4)
    word = report.runs[0].inputs.argv[1]
    trace = "\n".join(f for c in report.runs[0].checks if c.name == "trace" for f in c.feedback)
    m = re.search(rf"`write\(1, (0x[0-9a-f]+), {len(word)}\) = -1 EFAULT \(Bad address\)` at "
                  r"line 17 \(`syscall`\): rsi held \1, the bytes ", trace)
    assert m, trace
    # the register held the argument's first 8 bytes: the string itself, not where it is
    assert int(m[1], 16).to_bytes(8, "little").startswith((word.encode() + b"\0")[:8])
    assert "you passed the string's bytes, not its address" in trace
    assert "write failed: it returned -1 EFAULT (Bad address)" in trace
    # the note comes before the observed trace's window, which stays last
    assert trace.index("you passed") < trace.index("observed trace:")


def test_check_on_the_untouched_starter_says_where_to_write(tmp_path):
    from conftest import cli

    for name in names():
        starter = find(name).starter
        lines = starter.read_text().splitlines()
        line = next(i for i, t in enumerate(lines, 1) if t.strip().startswith("_start:")) + 1
        r = cli("check", name, str(starter))
        assert r.returncode == 1
        assert (f"FAIL  assemble: not solved yet: write your code below line {line}\n"
                ).encode() in r.stdout, (name, r.stdout.decode())
        assert b"no instructions in .text" not in r.stdout


def test_a_call_the_transcript_leaves_to_the_program_is_not_called_a_wrong_number():
    # open-errno and cat-file let the program write as it likes (the transcript has gaps):
    # a write that worked is no mistake, though the transcript never names write
    for name, wrong in (("open-errno", "wrong_minus_one.s"), ("cat-file", "wrong_no_close.s")):
        out = text(grade(find(name), str(SOLUTIONS / name / wrong), seed=7))
        assert "rax=1 is write on x86-64" not in out, out


def test_a_wrong_output_names_the_write_that_wrote_the_first_wrong_byte():
    report = grade(find("echo-argv"), str(SOLUTIONS / "echo-argv" / "wrong_argv0.s"), seed=7)
    stdout = next(c for c in report.runs[0].checks if c.name == "stdout")
    assert stdout.feedback[0].endswith(
        ', written by `write(1, "./echo-argv", 11) = 11` at line 17 (`syscall`)'), stdout


def test_expected_lines_read_as_strace_lines():
    from programs.grading.transcript import parse

    spec = ('<_:open|openat>(<_:(AT_FDCWD, )?>{quote(path)}, O_RDONLY<_:.*>) = <fd>\n'
            'read(<fd>, "", <_>) = 0\nwrite(1, <msg>, <len>) = <len>\n'
            '<_:exit|exit_group>(0) = ?')
    lines = parse(spec, {"path": "/data/a"})
    assert [line.human({}) for line in lines] == [
        'open("/data/a", O_RDONLY) = fd  (or openat)', 'read(fd, "", ...) = 0',
        "write(1, msg, len) = len", "exit(0) = ?  (or exit_group)"]
    assert lines[1].human({"fd": "3"}) == 'read(3, "", ...) = 0'
    assert lines[0].human({}, call="openat") == 'openat("/data/a", O_RDONLY) = fd'

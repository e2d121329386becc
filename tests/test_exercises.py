"""The auto-graded exercises, checked the way a student and a course use them: every bundled
exercise's reference solution passes; each typical wrong solution fails with the feedback a
student needs; a hard-coded answer fails the randomized runs; broken solutions (assembly
errors, endless loops, the wrong architecture) fail cleanly; `syscall-lab check` and
`syscall-lab exercises` behave as documented."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, cli

from programs.grading import find, grade, names
from programs.grading.report import text
from programs.grading.spec import SpecError, load
from programs.grading.templates import TemplateError, evaluate
from programs.grading.transcript import match, normalize, parse

SOLUTIONS = ROOT / "tests" / "exercises"

# (exercise, wrong solution) -> (the check that must fail, what its feedback must say)
WRONG = {
    ("exit-42", "wrong_status_in_rax.s"):
        ("exit", "exit status 0, expected 42: at exit (line 7), rdi held 0"),
    ("exit-42", "wrong_no_exit.s"):
        ("exit", "just past your last instruction (line 6)"),
    ("exit-42", "wrong_write_number.s"):
        ("trace", "`write(42, NULL, 0) = -1 EBADF (Bad file descriptor)` at line 7 (`syscall`): "
                  "rax=1 is write on x86-64; exit is 60 (1 is exit only in the i386 table"),
    ("exit-argc", "wrong_argv_pointer.s"):
        ("exit", "only its low 8 bits become the status"),
    ("exit-argc", "wrong_hardcoded.s"):
        ("exit", "your exit status is the same in every run"),
    ("hello-int80", "wrong_64bit_numbers.s"):
        ("trace", "eax=1 through `int 0x80` selects exit in the i386 table; 1 is write only "
                  "in the x86-64 table"),
    ("hello-int80", "wrong_string_bytes.s"):
        ("trace", "`write(1, 0x6c6c6548, 14) = -1 EFAULT (Bad address)` at line 11 (`int 0x80`): "
                  "ecx held 0x6c6c6548, the bytes \"Hell\": you passed the string's bytes, not "
                  "its address"),
    ("hello-int80", "wrong_no_newline_count.s"):
        ("stdout", "write(1, ...) wrote 13 bytes, expected 14: did you count the newline?"),
    ("echo-argv", "wrong_no_newline.s"): ("stdout", "did you count the newline?"),
    ("echo-argv", "wrong_argv0.s"): ("stdout", "You printed argv[0], the program's own name"),
    ("echo-argv", "wrong_counts_nul.s"): ("stdout", "included a string's terminating NUL"),
    ("hello-name", "wrong_substring.s"): ("stdout", "You printed LOGNAME's value"),
    ("cat-file", "wrong_writes_whole_buffer.s"):
        ("stdout", "NUL byte(s) after the expected text"),
    ("cat-file", "wrong_no_close.s"): ("trace", "no close call after line 4"),
    ("cat-stdin", "wrong_one_read.s"):
        ("trace", "stop only when read returns 0 (end of input)"),
    ("open-errno", "wrong_minus_one.s"):
        ("stdout", "test rax for a negative value (-4095..-1), not for -1"),
    ("open-errno", "wrong_always_enoent.s"):
        ("stdout", "compare -rax with each errno number"),
    ("int80-from-64", "wrong_stack_pointer.s"):
        ("stdout", "`int 0x80` passes only the low 32 bits of each register, so rcx = 0x7ff"),
    ("int80-from-64", "wrong_uses_syscall.s"):
        ("instructions", "line 17: `syscall`: this exercise forbids `syscall`"),
    ("hello-sysenter", "wrong_raw_sysenter.s"):
        ("exit", "a raw `sysenter` at line 13 (`sysenter`): the kernel returns from sysenter to "
                 "the landing pad"),
    ("hello-sysenter", "wrong_int80.s"):
        ("mechanisms", "used `int 0x80` for write at line 13 (and 3 more): this exercise "
                       "forbids it"),
    ("vdso-time", "wrong_no_load_bias.s"):
        ("exit", "is an offset from its load address"),
    ("vdso-time", "wrong_syscall.s"):
        ("syscalls", "clock_gettime went through the kernel (`syscall` at line 11)"),
    ("vdso-time", "wrong_getcpu_stat.s"):
        ("mechanisms", "called __vdso_getcpu through `vdso`, never __vdso_time or "
                       "__vdso_clock_gettime or __vdso_gettimeofday"),
    ("vsyscall-time", "wrong_vgetcpu_stat.s"):
        ("mechanisms", "called getcpu through `vsyscall`, never time or gettimeofday"),
    ("vsyscall-time", "wrong_reads_page.s"):
        ("exit", "reading 0xffffffffff600400 at line 9 (`mov rax, [rax]`): in vsyscall=xonly "
                 "mode (the default since Linux 5.3) the vsyscall page is execute-only"),
    ("vsyscall-time", "wrong_offset.s"):
        ("exit", "calling the vsyscall page at offset 0x40"),
    ("mmap-reverse", "wrong_read_only.s"):
        ("trace", "mmap's 3rd argument: expected PROT_READ|PROT_WRITE, got PROT_READ "
                  "(rdx held 1)"),
    ("mmap-reverse", "wrong_flags_in_rcx.s"):
        ("trace", "mmap's 4th argument: expected MAP_PRIVATE|MAP_ANONYMOUS, got MAP_FILE "
                  "(r10 held 0)"),
    ("shout", "wrong_usage_on_stdout.s"):
        ("stderr", "nothing was written to stderr (fd 2); your writes went to fd 1"),
    ("shout", "wrong_no_argc_check.s"):
        ("exit", "With no argument, argv[1] is the NULL that ends argv"),
    ("fork-status", "wrong_raw_status.s"):
        ("exit", "wait4 stores more than the exit code: shift the word right by 8"),
    ("fork-status", "wrong_no_wait.s"): ("trace", "no wait4 call after line 3"),
    ("fork-status", "wrong_no_test.s"):
        ("syscalls", "no wait4 syscall was made; this exercise requires one"),
    ("pipe-message", "wrong_no_newline.s"):
        ("stdout", "write(1, ...) wrote 13 bytes, expected 14: did you count the newline?"),
    ("pipe-message", "wrong_child_prints_argv.s"): ("trace", "no read call after line 4"),
    ("pipe-message", "wrong_child_keeps_write_end.s"):
        ("exit", "pid 4243 waits in read (data in pipe:[100000]: it is empty and its write end "
                 "is open): a read of a pipe returns 0 (end of file) only once every write end "
                 "is closed, the reader's own copy included"),
    ("exec-args", "wrong_no_argv0.s"):
        ("stdout", "the first element of its argv was taken as its name"),
    ("exec-args", "wrong_no_null.s"):
        ("trace", "Is the argv array ended by a NULL pointer"),
}


def feedback_of(report, check: str) -> str:
    """Everything the report says under one check, across runs."""
    parts = []
    for c in report.static:
        if c.name == check:
            parts += [c.summary, *c.feedback]
    for r in report.runs:
        for c in r.checks:
            if c.name == check and not c.passed:
                parts += [c.summary, *c.feedback]
    return "\n".join(parts)


# -- the bundled set -----------------------------------------------------------------------
def test_at_least_twelve_exercises_each_with_a_reference_and_a_wrong_solution():
    bundled = names()
    assert len(bundled) >= 12, bundled
    for name in bundled:
        folder = SOLUTIONS / name
        assert (folder / "reference.s").is_file(), name
        wrong = sorted(p.name for p in folder.glob("wrong_*.s"))
        assert wrong, f"{name} has no typical wrong solution"
        for w in wrong:
            assert (name, w) in WRONG, f"{name}/{w} has no expected feedback in WRONG"
        ex = find(name)
        assert ex.run_count >= 3, name
        assert ex.starter is not None and ex.starter.is_file(), name


@pytest.mark.parametrize("name", names())
def test_reference_solution_passes_every_check_on_every_run(name):
    for seed in (1, 2):
        report = grade(find(name), str(SOLUTIONS / name / "reference.s"), seed=seed)
        assert report.passed, text(report)
        assert report.score == 1.0


@pytest.mark.parametrize("name,wrong", sorted(WRONG))
def test_wrong_solution_fails_with_the_feedback_aimed_at_its_mistake(name, wrong):
    check, message = WRONG[(name, wrong)]
    report = grade(find(name), str(SOLUTIONS / name / wrong), seed=7)
    assert not report.passed
    assert report.score < 1.0
    assert report.verdicts()[check] is False, text(report)
    assert message in feedback_of(report, check), text(report)


# -- hard-coding one run's answer ----------------------------------------------------------
def hard_coded(bits: int, stdout: str, status: int) -> str:
    data = ", ".join(str(b) for b in stdout.encode()) or "0"
    if bits == 64:
        return (f"bits 64\nsection .data\nanswer: db {data}\nsection .text\n_start:\n"
                f"    mov eax, 1\n    mov edi, 1\n    lea rsi, [rip + answer]\n"
                f"    mov edx, {len(stdout.encode())}\n    syscall\n"
                f"    mov eax, 60\n    mov edi, {status}\n    syscall\n")
    return (f"bits 32\nsection .data\nanswer: db {data}\nsection .text\n_start:\n"
            f"    mov eax, 4\n    mov ebx, 1\n    mov ecx, answer\n"
            f"    mov edx, {len(stdout.encode())}\n    int 0x80\n"
            f"    mov eax, 1\n    mov ebx, {status}\n    int 0x80\n")


def test_a_solution_hard_coding_one_runs_answer_fails_the_randomized_runs(tmp_path):
    randomized = 0
    for name in names():
        ex = find(name)
        ref = grade(ex, str(SOLUTIONS / name / "reference.s"), seed=11)
        first = {c.name: c for c in ref.runs[0].checks}
        expected_out = [next((c.expected for c in r.checks if c.name == "stdout"), None)
                        for r in ref.runs]
        expected_exit = [next(c.expected for c in r.checks if c.name == "exit")
                         for r in ref.runs]
        if len(set(expected_out)) == 1 and len(set(expected_exit)) == 1:
            continue  # the same answer every run (exit-42, hello-int80): nothing to hard-code
        randomized += 1
        stdout = first["stdout"].expected if "stdout" in first else ""
        status = first["exit"].expected or 0
        path = tmp_path / f"{name}.s"
        path.write_text(hard_coded(ex.bits, stdout, status))
        report = grade(ex, str(path), seed=11)
        assert not report.passed, name
        failed_runs = [r for r in report.runs if not all(c.passed for c in r.checks)]
        assert len(failed_runs) >= 1, name
        said = feedback_of(report, "stdout") + feedback_of(report, "exit")
        assert "is the same in every run" in said, (name, text(report))
    assert randomized >= 9


# -- broken solutions fail cleanly ------------------------------------------------------------
def test_an_assembly_error_is_one_failed_check_naming_file_and_line(tmp_path):
    bad = tmp_path / "bad.s"
    bad.write_text("bits 64\n_start:\n    mov eax, 60\n    mvo edi, 42\n    syscall\n")
    report = grade(find("exit-42"), str(bad), seed=1)
    assert [c.name for c in report.static] == ["assemble"]
    assert not report.runs and report.score == 0.0
    assert report.static[0].summary.startswith(f"{bad}:4: ")
    r = cli("check", "exit-42", str(bad))
    assert r.returncode == 1
    assert b"Traceback" not in r.stderr + r.stdout
    assert f"FAIL  assemble: {bad}:4: ".encode() in r.stdout


def test_an_endless_loop_is_stopped_and_fails_cleanly(tmp_path):
    loop = tmp_path / "loop.s"
    loop.write_text("bits 64\n_start:\n    jmp _start\n")
    start = time.monotonic()
    report = grade(find("exit-42"), str(loop), seed=1)
    assert time.monotonic() - start < 10
    assert not report.passed
    said = feedback_of(report, "exit")
    assert "stopped after" in said and "a loop that never ends?" in said
    assert "line 3 (`jmp _start`)" in said


def test_the_wrong_architecture_fails_before_running(tmp_path):
    report = grade(find("hello-int80"), str(SOLUTIONS / "exit-42" / "reference.s"), seed=1)
    assert not report.passed and not report.runs
    assert feedback_of(report, "arch").startswith("your program is x86_64, this exercise is "
                                                  "i386")
    assert "start the file with `bits 32`" in feedback_of(report, "arch")


# -- the command line -----------------------------------------------------------------------
def test_exercises_lists_every_bundled_exercise_and_shows_one():
    r = cli("exercises")
    assert r.returncode == 0
    for name in names():
        assert name.encode() in r.stdout
    r = cli("exercises", "echo-argv")
    assert r.returncode == 0
    assert b"argv[1]" in r.stdout and b"starter:" in r.stdout


def test_check_exits_0_only_when_everything_passes():
    ok = cli("check", "echo-argv", str(SOLUTIONS / "echo-argv" / "reference.s"), "--seed", "3")
    assert ok.returncode == 0, ok.stdout.decode()
    assert b"PASSED" in ok.stdout and b"--seed 3" in ok.stdout
    bad = cli("check", "echo-argv", str(SOLUTIONS / "echo-argv" / "wrong_no_newline.s"))
    assert bad.returncode == 1
    assert b"FAIL  stdout" in bad.stdout and b"did you count the newline?" in bad.stdout


def test_check_json_has_per_check_results_and_a_score():
    r = cli("check", "--json", "--seed", "4", "hello-int80",
            str(SOLUTIONS / "hello-int80" / "wrong_no_newline_count.s"))
    assert r.returncode == 1
    data = json.loads(r.stdout)
    assert data["exercise"] == "hello-int80" and data["seed"] == 4
    assert data["passed"] is False and 0 < data["score"] < 1
    by_name = {c["name"]: c for c in data["checks"]}
    assert set(by_name) == {"assemble", "exit", "stdout", "trace", "mechanisms", "budget"}
    assert by_name["exit"]["passed"] is True
    stdout = by_name["stdout"]
    assert stdout["passed"] is False and len(stdout["results"]) == 3
    first = stdout["results"][0]
    assert first["run"] == 1 and first["expected"] == "Hello, world!\n"
    assert first["observed"] == "Hello, world!"
    assert any("did you count the newline?" in f for f in first["feedback"])
    assert data["checks_passed"] == 4 and data["checks_total"] == 6
    # assemble passing earns nothing: 3 of the 5 behavioural checks (exit, mechanisms, budget)
    assert data["score"] == 0.6
    assert by_name["assemble"]["weight"] == 0 and by_name["stdout"]["weight"] == 1
    run = data["runs"][0]
    assert run["trace"] == ['write(1, "Hello, world!", 13) = 13', "exit(0) = ?"]
    assert run["exit_code"] == 0 and run["instructions"] > 0


def test_check_takes_a_spec_path_and_reports_a_broken_spec_in_one_line(tmp_path):
    spec = tmp_path / "mine" / "exercise.toml"
    spec.parent.mkdir()
    spec.write_text('title = "t"\nstatement = "s"\narch = "x86_64"\n[checks]\nexit = 42\n')
    ok = cli("check", str(spec), str(SOLUTIONS / "exit-42" / "reference.s"))
    assert ok.returncode == 0, ok.stdout.decode()
    spec.write_text('title = "t"\nstatement = "s"\narch = "x86_64"\n[checks]\nstdot = "x"\n')
    bad = cli("check", str(spec), str(SOLUTIONS / "exit-42" / "reference.s"))
    assert bad.returncode == 2
    assert bad.stderr.decode().strip() == (
        f"syscall-lab: error: {spec}: checks: unknown key 'stdot' (allowed: budget, exit, "
        "instructions, mechanisms, stderr, stderr_regex, stdout, stdout_regex, syscalls, "
        "trace, trace_where)")
    missing = cli("check", "no-such-exercise", "x.s")
    assert missing.returncode == 2 and b"no such exercise" in missing.stderr


def test_check_does_not_import_textual():
    code = ("import sys, tui.cli\n"
            f"tui.cli.main(['check', 'exit-42', {str(SOLUTIONS / 'exit-42' / 'reference.s')!r}])\n"
            "print('IMPORTED:', sorted(m for m in sys.modules if m.startswith('textual')))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "IMPORTED: []" in r.stdout, r.stderr


# -- the spec format's parts ------------------------------------------------------------------
def test_transcript_named_gaps_bind_once_and_must_agree():
    lines = [normalize('write(1, "hi\\n", 3)                = 3'), "exit(0) = ?"]
    assert lines[0] == 'write(1, "hi\\n", 3) = 3'
    ok = match(parse("write(1, <msg>, <len>) = <len>\n<_:exit|exit_group>(0) = ?", {}), lines)
    assert ok.ok and ok.bindings == {"msg": '"hi\\n"', "len": "3"}
    short = [normalize('write(1, "hi\\n", 3) = 2'), "exit(0) = ?"]
    bad = match(parse("write(1, <msg>, <len>) = <len>\n...", {}), short)
    assert not bad.ok and bad.mismatch.kind == "differs" and bad.mismatch.index == 0


def test_transcript_gaps_templates_and_regex_holes():
    lines = ['open("/data/a", O_RDONLY) = 3', 'read(3, "x", 64) = 1', 'read(3, "", 64) = 0',
             "close(3) = 0", "exit_group(0) = ?"]
    spec = ('<_:open|openat>(<_:(AT_FDCWD, )?>{quote(path)}, O_RDONLY<_:.*>) = <fd>\n...\n'
            'close(<fd>) = 0\n<_:exit|exit_group>(0) = ?')
    assert match(parse(spec, {"path": "/data/a"}), lines).ok
    wrong = match(parse(spec, {"path": "/data/b"}), lines)
    assert not wrong.ok and wrong.mismatch.expected.startswith('<_:open|openat>(<_:(AT_FDCWD')
    extra = match(parse("...\nclose(<fd>) = 0", {}), lines)
    assert not extra.ok and extra.mismatch.kind == "extra" and extra.mismatch.index == 4
    missing = match(parse("...\nwrite(1, <_>, <_>) = <_>\n...", {}), lines)
    assert not missing.ok and missing.mismatch.kind == "missing"


def test_templates_evaluate_a_small_safe_language():
    names = {"word": "abc", "n": 4}
    assert evaluate("len(word) + 1", names) == 4
    assert evaluate('quote(word + "\\n")', names) == '"abc\\n"'
    assert evaluate("word[::-1]", names) == "cba"
    assert evaluate("'ok' if n > 3 else 'no'", names) == "ok"
    for evil in ("__import__('os')", "word.upper()", "open('/etc/passwd')", "nope"):
        with pytest.raises(TemplateError):
            evaluate(evil, names)


def test_a_spec_error_names_the_file_and_key(tmp_path):
    path = tmp_path / "x" / "exercise.toml"
    path.parent.mkdir()
    path.write_text('title = "t"\nstatement = "s"\narch = "arm"\n')
    with pytest.raises(SpecError, match=r"exercise.toml: arch: 'arm': use x86_64 or i386"):
        load(path)
    path.write_text('title = "t"\nstatement = "s"\narch = "x86_64"\n'
                    '[checks]\nmechanisms = { require = ["int80"] }\n')
    with pytest.raises(SpecError, match=r"checks.mechanisms: 'int80': one of syscall, "):
        load(path)


def test_the_bundled_specs_ship_inside_the_programs_package():
    import programs

    root = Path(programs.__file__).parent / "exercises"
    for name in names():
        assert (root / name / "exercise.toml").is_file()


def test_the_example_in_programs_readme_is_a_working_exercise(tmp_path):
    readme = (ROOT / "programs" / "README.md").read_text()
    example = readme.split("### A complete example")[1].split("```toml\n")[1].split("```")[0]
    spec = tmp_path / "echo" / "exercise.toml"
    spec.parent.mkdir()
    spec.write_text(example)
    (spec.parent / "starter.s").write_text("bits 64\n")
    ex = load(spec)
    assert grade(ex, str(SOLUTIONS / "echo-argv" / "reference.s"), seed=5).passed
    wrong = grade(ex, str(SOLUTIONS / "echo-argv" / "wrong_argv0.s"), seed=5)
    assert "hint: You printed argv[0]" in feedback_of(wrong, "stdout")


@pytest.mark.parametrize("name,wrong", [("vdso-time", "wrong_getcpu_stat.s"),
                                        ("vsyscall-time", "wrong_vgetcpu_stat.s")])
def test_a_file_time_does_not_give_away_the_frozen_clock(name, wrong):
    """The cheat prints stat("/").st_mtime: under the grader's frozen clock the file system's
    times start at their own fixed epoch, so it prints that, never the run's epoch."""
    report = grade(find(name), str(SOLUTIONS / name / wrong), seed=7)
    assert report.verdicts()["stdout"] is False
    for r in report.runs:
        assert r.outcome.stdout == b"1577836800\n"
        assert str(r.inputs.names["epoch"]).encode() not in r.outcome.stdout


def test_a_mechanism_entry_names_only_known_functions(tmp_path):
    spec = (ROOT / "programs" / "exercises" / "vdso-time" / "exercise.toml").read_text()
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "starter.s").write_text("bits 64\n")
    (folder / "exercise.toml").write_text(spec.replace("__vdso_gettimeofday", "__vdso_tme"))
    with pytest.raises(SpecError) as e:
        load(folder / "exercise.toml")
    assert "'__vdso_tme' is not a function of vdso (one of __vdso_clock_gettime," in str(e.value)


def test_the_function_names_a_mechanism_entry_may_use_are_the_models():
    """The names a spec may write are exactly those the events carry."""
    from kernel_model.vdso.watch import SIGNATURES
    from kernel_model.vsyscall.emulated import ENTRIES
    from programs.grading.spec import MECHANISM_FUNCTIONS

    assert set(MECHANISM_FUNCTIONS["vdso"]) == set(SIGNATURES)
    assert set(MECHANISM_FUNCTIONS["vsyscall"]) == set(ENTRIES.values())

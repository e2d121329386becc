"""`syscall-lab check` runs each solution under hard limits it cannot escape: assembling it
and each of its runs happen in a child process with an address-space and a wall-clock
limit, so an emulator that crashes (abort), an assembly that takes all the memory or a run
that never ends costs that piece a failed check, named in a teacher's words, and the JSON
report is still printed, whole."""

from __future__ import annotations

import json
import os
import time

from conftest import ROOT, cli

from programs.grading import find
from programs.grading import isolate as iso
from programs.grading.grader import grade
from programs.grading.report import json_text

REFERENCE = str(ROOT / "tests" / "exercises" / "hello-name" / "reference.s")


def test_an_isolated_grade_is_the_same_as_in_process():
    """A normal solution passes the same way in children as in the grader's own process
    (the limits are far above what a run needs)."""
    ex = find("hello-name")
    alone, inside = grade(ex, REFERENCE, seed=7, isolate=True), grade(ex, REFERENCE, seed=7)
    assert alone.passed and alone.score == 1.0
    assert alone.verdicts() == inside.verdicts()
    assert [r.outcome.stdout for r in alone.runs] == [r.outcome.stdout for r in inside.runs]


def test_a_run_that_crashes_the_emulator_is_a_failed_check(monkeypatch):
    """The run's process aborts (as Unicorn does on a guest's call gate): every run fails
    its exit check with 'crashed the emulator (SIGABRT)', the grader lives on."""
    monkeypatch.setattr(iso, "child_hook",
                        lambda fn: os.abort() if fn.__name__ == "_graded_run" else None)
    report = grade(find("hello-name"), REFERENCE, seed=7, isolate=True)
    assert not report.passed and report.score == 0.0
    assert report.static[0].passed  # assembling was not affected
    for r in report.runs:
        (check,) = r.checks
        assert check.name == "exit" and not check.passed
        assert check.summary.startswith("the grader stopped this run: it crashed the emulator "
                                        "(SIGABRT)")
    data = json.loads(json_text(report))
    assert data["passed"] is False and len(data["runs"]) == len(report.runs)


def test_an_assembly_that_never_ends_is_stopped(monkeypatch):
    monkeypatch.setattr(iso, "ASSEMBLE_SECONDS", 1.0)
    monkeypatch.setattr(iso, "child_hook",
                        lambda fn: time.sleep(60) if fn.__name__ == "load_program" else None)
    start = time.monotonic()
    report = grade(find("hello-name"), REFERENCE, seed=7, isolate=True)
    assert time.monotonic() - start < 30
    (check,) = report.static
    assert check.name == "assemble" and not check.passed
    assert check.summary == "the grader stopped assembling this solution: it ran longer " \
                            "than 1 s"


def test_a_run_over_the_memory_limit_is_stopped(monkeypatch):
    """A run that needs more memory than the limit ends with MemoryError in its child: the
    run fails, saying how much memory the grader allows."""
    monkeypatch.setattr(iso, "child_hook",
                        lambda fn: bytearray(4 << 30) if fn.__name__ == "_graded_run" else None)
    report = grade(find("hello-name"), REFERENCE, seed=7, isolate=True)
    limit = f"{iso.MEMORY_LIMIT / (1 << 30):g} GiB"
    assert [c.summary for r in report.runs for c in r.checks] == [
        f"the grader stopped this run: it used more than {limit} of memory"] * len(report.runs)


def test_check_survives_an_assembly_that_takes_all_memory(tmp_path):
    """900 MiB of `times` is under the guest limit but its copies are not under the host
    limit: `check --json` prints a complete report with the assemble check failed, status 1."""
    src = tmp_path / "big.s"
    src.write_text("bits 64\nsection .text\n_start:\n mov eax, 60\n syscall\n"
                   "section .data\n times 900 << 20 db 1\n")
    r = cli("check", "hello-name", str(src), "--json")
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    (check,) = data["checks"]
    assert check["name"] == "assemble" and not check["passed"]
    assert "used more than" in check["results"][0]["summary"]
    assert data["score"] == 0.0 and data["runs"] == []


def test_memory_running_out_inside_the_emulator_is_the_memory_limit(monkeypatch):
    """A MemoryError inside the run (a tmpfs flood, a huge mapping) is the host limit at
    work, not an emulator bug: the run fails naming the memory limit."""
    from kernel_model.system import System

    def flood(self):
        raise MemoryError

    monkeypatch.setattr(System, "run", flood)
    report = grade(find("hello-name"), REFERENCE, seed=7, isolate=True)
    summaries = {c.summary for r in report.runs for c in r.checks}
    assert summaries == {"the grader stopped this run: it used more than "
                         f"{iso.MEMORY_LIMIT / (1 << 30):g} GiB of memory"}


# A guest that writes a 64-bit call gate to the kernel code selector into the GDT page and
# calls through it: Unicorn aborts the whole process (SIGABRT) where Linux sends SIGSEGV.
CALL_GATE = """bits 64
section .data
farptr: dd 0
        dw 0x0043                   ; GDT entry 8, RPL 3
section .text
_start:
    mov rdi, 0x7ffffffff000 + 8*8
    lea rax, [rel target]
    mov rbx, rax
    and rbx, 0xffff
    mov rcx, 0x10 << 16             ; the gate's selector
    or rbx, rcx
    mov rcx, 0xEC00 << 32           ; present, DPL 3, a 64-bit call gate
    or rbx, rcx
    mov rcx, rax
    shr rcx, 16
    and rcx, 0xffff
    shl rcx, 48
    or rbx, rcx
    mov [rdi], rbx
    shr rax, 32
    mov [rdi + 8], rax
    lea rsi, [rel farptr]
    db 0xff, 0x1e                   ; call far [rsi]
target:
    mov eax, 60
    mov edi, 42
    syscall
"""


def test_check_survives_a_guest_that_crashes_the_emulator(tmp_path):
    """`check --json` prints a whole, valid report and status 1: every run failed (on a
    syscall-lab whose emulator still aborts on the gate, 'crashed the emulator (SIGABRT)';
    one that faults it as Linux does, a SIGSEGV), and no run is missing."""
    src = tmp_path / "gate.s"
    src.write_text(CALL_GATE)
    r = cli("check", "exit-42", str(src), "--json", "--seed", "3")
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    assert data["passed"] is False and data["score"] == 0.0
    assert [run["run"] for run in data["runs"]] == [1, 2, 3]
    (exit_check,) = [c for c in data["checks"] if c["name"] == "exit"]
    assert len(exit_check["results"]) == 3
    for result in exit_check["results"]:
        assert not result["passed"]
        assert "crashed the emulator (SIGABRT)" in result["summary"] or \
            "SIGSEGV" in json.dumps(result)

"""Grading a whole class: many submissions of one exercise, in parallel, each in its own
process with its own limits (the runner's instruction cap, timeout and output cap per run,
and a hard wall-clock limit per submission enforced by killing its process), so a solution
that loops, floods its output or crashes never stops or slows the others.

Each submission is graded in a forked child (the grader's modules are imported once, in the
parent, so a child starts in about a millisecond); the child sends back a small summary
(score, verdicts, the reason in one line, and, when asked, its Gradescope results). The
parent keeps at most `jobs` children alive and reports in the order the submissions were
given."""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

SOURCES = (".s", ".asm")  # what a directory of submissions is searched for
HARD_MARGIN = 30.0  # seconds beyond the runs' own timeouts before a child is killed


@dataclass
class Outcome:
    """One submission's result, as the batch report shows it."""

    submission: str
    graded: bool  # False: the grader itself failed or was killed (not the student's fault)
    passed: bool = False
    score: float = 0.0
    checks: dict[str, bool] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    reason: str = ""  # one line: why it failed
    seconds: float = 0.0
    instructions: int = 0
    gradescope: dict | None = None

    def line(self, width: int) -> str:
        mark = "PASS" if self.passed else "FAIL" if self.graded else "ERROR"
        tail = f"  ({self.reason})" if self.reason else ""
        return f"{mark:5} {self.score:4.2f}  {self.submission:{width}}{tail}".rstrip()

    def to_json(self) -> dict:
        return {"submission": self.submission, "graded": self.graded, "passed": self.passed,
                "score": self.score, "checks": self.checks, "reason": self.reason,
                "seconds": round(self.seconds, 3), "instructions": self.instructions}


def submissions(paths: list[str]) -> list[str]:
    """The files to grade: each file as given, each directory's .s/.asm files (recursively,
    hidden ones skipped), in order. Raises FileNotFoundError naming a missing path."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(str(f) for f in path.rglob("*") if f.is_file() and
                           f.suffix.lower() in SOURCES and
                           not any(part.startswith(".") for part in f.relative_to(path).parts))
            out += found
        elif path.is_file():
            out.append(str(path))
        else:
            raise FileNotFoundError(p)
    return list(dict.fromkeys(out))


def summarize(report, gradescope: bool = False, points: float | None = None) -> Outcome:
    from programs.grading.report import text

    verdicts = report.verdicts()
    out = Outcome(report.solution, True, report.passed, report.score, verdicts,
                  {n: report.exercise.weight(n) for n in verdicts})
    out.instructions = sum(r.outcome.instructions for r in report.runs)
    out.reason = reason(report)
    if gradescope:
        from programs.grading.gradescope import results

        out.gradescope = results(report, text(report), points)
    return out


def reason(report) -> str:
    """Why a submission failed, in one line ('' when it passed)."""
    if report.passed:
        return ""
    if not report.runs:
        first = next(c for c in report.static if not c.passed)
        what = {"assemble": "" if first.summary.startswith("not solved yet") else
                "does not assemble: ", "arch": "wrong architecture: "}.get(first.name, "")
        return what + first.summary
    zero = report.zero_reason()
    failed = [n for n, ok in report.verdicts().items() if not ok]
    out = ("never exited: " + zero.split("(")[1].split(")")[0]) if zero else \
        "failed: " + ", ".join(failed)
    flood = max((r.outcome.written[0] + r.outcome.written[1] for r in report.runs), default=0)
    if flood > (1 << 20):
        out += f"; wrote {flood / (1 << 20):.0f} MiB of output in one run"
    return out


def _child(conn, exercise, path: str, seed: int, gradescope: bool, points) -> None:
    """In the forked child: grade, send the summary, exit without cleanup of the parent's
    state (os._exit: the parent's atexit handlers are not ours to run)."""
    status = 0
    try:
        from programs.grading.grader import grade

        start = time.perf_counter()
        outcome = summarize(grade(exercise, path, seed, isolate=True), gradescope, points)
        outcome.seconds = time.perf_counter() - start
        conn.send(outcome)
    except BaseException as e:  # noqa: BLE001  (any failure is reported, never raised)
        try:
            conn.send(Outcome(path, False, reason=f"the grader failed: {type(e).__name__}: "
                                                  f"{e}"))
        except Exception:  # noqa: BLE001
            status = 1
    finally:
        conn.close()
        os._exit(status)


WARM_UP = {64: "bits 64\n_start:\n    mov eax, 60\n    xor edi, edi\n    syscall\n",
           32: "bits 32\n_start:\n    mov eax, 1\n    xor ebx, ebx\n    int 0x80\n"}


def preload(exercise) -> None:
    """Grade a tiny program once before forking, so that every module the grader imports
    lazily (and every cache it fills) is ready in the children instead of loaded by each."""
    import tempfile

    from programs.grading.grader import grade
    from programs.grading.gradescope import results  # noqa: F401

    with tempfile.TemporaryDirectory(prefix="syscall-lab-warm-") as tmp:
        path = Path(tmp) / "warm.s"
        path.write_text(WARM_UP[exercise.bits])
        grade(exercise, str(path), seed=1)


def grade_all(exercise, paths: list[str], *, jobs: int, seed: int, gradescope: bool = False,
              points: float | None = None, hard_limit: float | None = None,
              on_result=None) -> list[Outcome]:
    """Grade every path, at most `jobs` at once; `on_result(index, outcome)` is called in
    the order of `paths` as soon as each result and all before it are in."""
    preload(exercise)
    ctx = multiprocessing.get_context("fork")
    limit = hard_limit if hard_limit is not None else \
        exercise.run_count * exercise.timeout + HARD_MARGIN
    pending = list(enumerate(paths))
    running: dict = {}  # conn -> (index, process, started)
    results: dict[int, Outcome] = {}
    shown = 0
    while pending or running:
        while pending and len(running) < jobs:
            index, path = pending.pop(0)
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(child, exercise, path, seed, gradescope,
                                                    points), daemon=True)
            proc.start()
            child.close()
            running[parent] = (index, proc, time.monotonic())
        now = time.monotonic()
        timeout = max(0.0, min(start + limit for _, _, start in running.values()) - now)
        ready = wait(list(running), timeout=timeout)
        for conn in ready:
            index, proc, start = running.pop(conn)
            try:
                outcome = conn.recv()
            except (EOFError, OSError):
                proc.join(1)
                outcome = Outcome(paths[index], False, reason="the grader's process died "
                                  f"(exit status {proc.exitcode})")
            conn.close()
            proc.join(5)
            if outcome.seconds == 0.0:
                outcome.seconds = time.monotonic() - start
            results[index] = outcome
        now = time.monotonic()
        for conn, (index, proc, start) in list(running.items()):
            if now - start >= limit:  # beyond every run's own limits: a grader problem
                proc.kill()
                proc.join()
                conn.close()
                del running[conn]
                # the student's program is what kept it busy: it earns nothing
                results[index] = Outcome(paths[index], True, reason=f"stopped after "
                                         f"{limit:g} s, the submission's hard limit",
                                         seconds=now - start)
        while shown in results:
            if on_result is not None:
                on_result(shown, results[shown])
            shown += 1
    return [results[i] for i in range(len(paths))]

"""A report as Gradescope's autograder results.json: one test per check (its weight is its
max_score), the feedback of the first run it failed on as the test's output, and the whole
text report as the top-level output. Gradescope runs one submission per container and reads
/autograder/results/results.json; `syscall-lab check --format gradescope -o PATH` writes it."""

from __future__ import annotations

from programs.grading.report import _check_lines


def results(report, text: str, points: float | None = None) -> dict:
    """`points` scales the total (the assignment's points); default: the checks' weights."""
    verdicts = report.verdicts()
    weights = {n: report.exercise.weight(n) for n in verdicts}
    total = sum(weights.values())
    scale = (points / total) if points is not None and total else 1.0
    earns = bool(report.runs) and report.exited > 0  # report.score's zero rule
    static = {c.name: c for c in report.static}
    tests = []
    for name in report.check_names():
        ok = verdicts[name]
        if name in static:
            lines = _check_lines(static[name])
        else:
            found = [(r, c) for r in report.runs for c in r.checks if c.name == name]
            bad = [(r, c) for r, c in found if not c.passed]
            r, c = (bad or found)[0]
            where = (f"failed on {len(bad)} of {len(found)} runs; run {r.inputs.index}"
                     if bad else f"passed on all {len(found)} runs; run {r.inputs.index}")
            lines = [f"{where}: {r.inputs.describe()}", *_check_lines(c)]
        max_score = round(weights[name] * scale, 4)
        tests.append({"name": name, "score": max_score if ok and earns else 0.0,
                      "max_score": max_score, "status": "passed" if ok else "failed",
                      "output": "\n".join(line.strip() for line in lines),
                      "visibility": "visible"})
    zero = report.zero_reason()
    if zero:  # shown as failed: a green test worth 0 points would read as a mistake
        for t in tests:
            if t["status"] == "passed" and t["max_score"]:
                t["status"] = "failed"
                t["output"] += f"\n(earns nothing: {zero.split(', so')[0]})"
    return {"score": round(sum(t["score"] for t in tests), 4),
            "max_score": round(total * scale, 4),
            "output": text, "visibility": "visible", "stdout_visibility": "hidden",
            "tests": tests}

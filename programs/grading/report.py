"""A grading report for people (each check passed or failed, with its feedback) and for
course autograders (JSON: per-check results per run, and a score)."""

from __future__ import annotations

import json

from programs.grading.grader import Report

TRACE_LINES = 1000  # per run in the JSON: a runaway loop of writes makes millions


def _check_lines(c) -> list[str]:
    mark = "ok  " if c.passed else "FAIL"
    head, feedback = _strip_name(c), list(c.feedback)
    if feedback and feedback[0].startswith(head):  # the first sentence says it all
        head = feedback.pop(0)
    out = [f"  {mark}  {c.name}: {head}"]
    for line in feedback:
        for i, part in enumerate(line.splitlines() or [""]):
            out.append(("        " if i == 0 else "          ") + part)
    return out


def _strip_name(c) -> str:
    s = c.summary
    return s[len(c.name) + 2:] if s.startswith(c.name + ": ") else s


def text(report: Report) -> str:
    ex = report.exercise
    out = [f"{ex.name}: {ex.title} ({ex.arch})", f"solution: {report.solution}", ""]
    for c in report.static:
        out += _check_lines(c)
    total = len(report.runs)
    for r in report.runs:
        o = r.outcome
        out.append("")
        out.append(f"run {r.inputs.index} of {total}: {r.inputs.describe()}")
        for c in r.checks:
            out += _check_lines(c)
        if not any(c.name == "budget" for c in r.checks) and o.instructions:
            out.append(f"        ({o.instructions} instructions)")
    out.append("")
    verdicts = report.verdicts()
    good = sum(verdicts.values())
    if report.passed:
        out.append(f"PASSED: all {len(verdicts)} checks passed on all {total} runs "
                   f"(score 1.0)")
    else:
        failed = ", ".join(n for n, ok in verdicts.items() if not ok)
        runs = f" on all {total} runs" if total else ""
        out.append(f"FAILED: {good} of {len(verdicts)} checks passed{runs} (failed: {failed}; "
                   f"score {report.score:.2f})")
        zero = report.zero_reason()
        if zero:
            out.append(f"score 0: {zero}")
    out.append(f"grader seed {report.seed}: `--seed {report.seed}` repeats these runs")
    return "\n".join(out) + "\n"


def to_json(report: Report) -> dict:
    verdicts = report.verdicts()
    checks = []
    for c in report.static:
        checks.append({"name": c.name, "passed": c.passed, "static": True,
                       "weight": report.exercise.weight(c.name), "results": [c.to_json()]})
    for name in report.check_names():
        if any(c["name"] == name for c in checks):
            continue
        results = []
        for r in report.runs:
            for c in r.checks:
                if c.name == name:
                    results.append({"run": r.inputs.index, **c.to_json()})
        checks.append({"name": name, "passed": verdicts[name], "static": False,
                       "weight": report.exercise.weight(name), "results": results})
    runs = []
    for r in report.runs:
        o = r.outcome
        runs.append({**r.inputs.to_json(), "status": o.status, "exit_code": o.code,
                     "signal": o.signal, "stopped": o.stopped, "instructions": o.instructions,
                     "stdout": o.stdout.decode(errors="replace"),
                     "stderr": o.stderr.decode(errors="replace"),
                     "stdout_bytes": o.written[0], "stderr_bytes": o.written[1],
                     "trace": [t for t, _ in o.lines[:TRACE_LINES]],
                     "trace_lines": len(o.lines)})
    return {"exercise": report.exercise.name, "title": report.exercise.title,
            "arch": report.exercise.arch, "solution": report.solution, "seed": report.seed,
            "passed": report.passed, "score": report.score,
            "checks_passed": sum(verdicts.values()), "checks_total": len(verdicts),
            "checks": checks, "runs": runs}


def json_text(report: Report) -> str:
    return json.dumps(to_json(report), indent=2) + "\n"

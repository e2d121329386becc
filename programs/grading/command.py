"""`syscall-lab exercises` and `syscall-lab check`: the grader's command line. Returns exit
statuses; raises SpecError for a broken exercise (the caller prints one line, status 2)."""

from __future__ import annotations

import sys


def cmd_exercises(args) -> int:
    from programs.grading.catalog import find, ordered

    if getattr(args, "name", None):
        ex = find(args.name)
        print(f"{ex.name}: {ex.title} ({ex.arch})\n")
        print(ex.statement.strip() + "\n")
        if ex.starter is not None:
            print(f"starter: {ex.starter}")
        print(f"runs: {ex.run_count} (randomized inputs)")
        print(f"check a solution: syscall-lab check {ex.name} SOLUTION.s")
        return 0
    for i, ex in enumerate(ordered(), 1):
        print(f"{i:2d}. {ex.name:22} {ex.arch:7} {ex.title}")
    print("\n`syscall-lab exercises NAME` shows one; `syscall-lab check NAME SOLUTION.s` "
          "grades a solution")
    return 0


def cmd_check(args) -> int:
    """One submission: the full report, status 0 only when it passed (1 otherwise). Several,
    or a directory: batch grading (cmd_check_batch)."""
    import os

    from programs.grading.catalog import find
    from programs.grading.grader import grade
    from programs.grading.report import json_text, text
    from programs.grading.spec import SpecError

    exercise = find(args.exercise)
    fmt = args.format or ("json" if args.json else "text")
    given = args.solutions
    if len(given) > 1 or os.path.isdir(given[0]):
        return cmd_check_batch(args, exercise, fmt)
    if not os.path.exists(given[0]):
        raise SpecError(f"{given[0]}: no such file")
    report = grade(exercise, given[0], seed=args.seed, isolate=True)
    if fmt == "gradescope":  # Gradescope's case: one submission per container
        from programs.grading.gradescope import results

        path = args.output or "results.json"
        if os.path.isdir(path):  # `-o /autograder/results`
            path = os.path.join(path, "results.json")
        data = results(report, text(report), args.points)
        _write(path, _json(data))
        sys.stdout.write(text(report))
        print(f"wrote {path} (Gradescope: score {data['score']:g} of {data['max_score']:g})",
              file=sys.stderr)
    elif fmt == "csv":
        from programs.grading.batch import summarize

        _emit(args.output, _csv([summarize(report)], report.check_names()))
    else:
        _emit(args.output, json_text(report) if fmt == "json" else text(report))
    return 0 if report.passed else 1


def cmd_check_batch(args, exercise, fmt: str) -> int:
    """Every submission in parallel, one line each as they finish (in the given order), a
    report (CSV or JSON) or a Gradescope results.json per submission. Status 0 when every
    submission was graded, failing ones included (their scores are in the report); 1 when
    the grader itself failed on one; 2 for bad input."""
    import os
    import random
    import time

    from programs.grading import batch
    from programs.grading.spec import SpecError

    try:
        paths = batch.submissions(args.solutions)
    except FileNotFoundError as e:
        raise SpecError(f"{e.args[0]}: no such file or directory") from None
    if not paths:
        raise SpecError(f"no submissions ({', '.join(batch.SOURCES)} files) in "
                        f"{' '.join(args.solutions)}")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    jobs = args.jobs or cpu_count()
    # The report goes to stdout unless -o names a file: then the lines do.
    to_stdout = fmt in ("csv", "json") and not args.output
    lines = sys.stderr if to_stdout else sys.stdout
    width = max(len(p) for p in paths)
    start = time.monotonic()
    outcomes = batch.grade_all(exercise, paths, jobs=jobs, seed=seed,
                               gradescope=fmt == "gradescope", points=args.points,
                               on_result=lambda _i, o: print(o.line(width), file=lines,
                                                             flush=True))
    wall = time.monotonic() - start
    graded = [o for o in outcomes if o.graded]
    passed = sum(o.passed for o in outcomes)
    mean = sum(o.score for o in outcomes) / len(outcomes)
    errors = len(outcomes) - len(graded)
    print(f"{exercise.name}: {len(outcomes)} submissions in {wall:.1f} s ({jobs} jobs): "
          f"{passed} passed, {len(graded) - passed} failed"
          + (f", {errors} not graded (the grader failed)" if errors else "")
          + f"; mean score {mean:.2f}; grader seed {seed}: `--seed {seed}` repeats these runs",
          file=lines)
    names = list(dict.fromkeys(n for o in outcomes for n in o.checks))
    if fmt == "csv":
        _emit(args.output, _csv(outcomes, names))
    elif fmt == "json":
        _emit(args.output, _json({"exercise": exercise.name, "seed": seed, "jobs": jobs,
                                  "wall_seconds": round(wall, 3), "submissions": len(outcomes),
                                  "passed": passed, "mean_score": round(mean, 4),
                                  "results": [o.to_json() for o in outcomes]}))
    elif fmt == "gradescope":
        folder = args.output or "results"
        for o, slug in zip(outcomes, _slugs(paths), strict=True):
            data = o.gradescope or {"score": 0.0, "output": o.reason, "tests": []}
            _write(os.path.join(folder, slug, "results.json"), _json(data))
        print(f"wrote {folder}/NAME/results.json for each of the {len(outcomes)} submissions",
              file=lines)
    return 0 if not errors else 1


def cpu_count() -> int:
    """The CPUs this process may use (its affinity, as a container or taskset limits it)."""
    import os

    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _slugs(paths: list[str]) -> list[str]:
    """A folder name per submission: its path under their common directory, / as __."""
    import os

    root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths])
    return [os.path.splitext(os.path.relpath(os.path.abspath(p), root))[0]
            .replace(os.sep, "__") for p in paths]


def _csv(outcomes, names: list[str]) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["submission", "passed", "score", *names, "reason", "seconds", "instructions"])
    for o in outcomes:
        w.writerow([o.submission, int(o.passed), f"{o.score:.4f}",
                    *(("" if n not in o.checks else int(o.checks[n])) for n in names),
                    o.reason, f"{o.seconds:.3f}", o.instructions])
    return buf.getvalue()


def _json(data) -> str:
    import json

    return json.dumps(data, indent=2) + "\n"


def _emit(path: str | None, data: str) -> None:
    if path:
        _write(path, data)
    else:
        sys.stdout.write(data)


def _write(path: str, data: str) -> None:
    import os

    from programs.grading.spec import SpecError

    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as f:
            f.write(data)
    except OSError as e:
        raise SpecError(f"cannot write {path}: {e.strerror}") from None

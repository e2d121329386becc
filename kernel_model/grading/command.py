"""`syscall-lab exercises` and `syscall-lab check`: the grader's command line. Returns exit
statuses; raises SpecError for a broken exercise (the caller prints one line, status 2)."""

from __future__ import annotations

import sys


def cmd_exercises(args) -> int:
    from kernel_model.grading.catalog import find, ordered

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
    import os

    from kernel_model.grading.catalog import find
    from kernel_model.grading.grader import grade
    from kernel_model.grading.report import json_text, text
    from kernel_model.grading.spec import SpecError

    exercise = find(args.exercise)
    if not os.path.exists(args.solution):
        raise SpecError(f"{args.solution}: no such file")
    report = grade(exercise, args.solution, seed=args.seed)
    sys.stdout.write(json_text(report) if args.json else text(report))
    return 0 if report.passed else 1

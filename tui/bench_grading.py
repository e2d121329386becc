"""`syscall-lab bench`, part three: grading a class. 100 submissions of `echo-argv` (the
reference and its typical wrong solutions, in turn) graded as `syscall-lab check echo-argv
DIR` grades them: the wall time, each submission's own cost (the seconds its grading took
in its process), and the speed-up the parallel jobs give over grading them one after the
other (the sum of the costs over the wall time)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

SOLUTIONS = Path(__file__).resolve().parent.parent / "tests" / "exercises" / "echo-argv"


def run(count: int = 100, jobs: int | None = None) -> dict:
    from programs.grading import batch, find

    exercise = find("echo-argv")
    sources = sorted(SOLUTIONS.glob("*.s"))
    jobs = jobs or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="syscall-lab-bench-class-") as tmp:
        paths = []
        for i in range(count):
            path = Path(tmp) / f"student{i:03d}.s"
            shutil.copyfile(sources[i % len(sources)], path)
            paths.append(str(path))
        start = time.perf_counter()
        outcomes = batch.grade_all(exercise, paths, jobs=jobs, seed=1)
        wall = time.perf_counter() - start
    costs = sorted(o.seconds for o in outcomes)
    return {"submissions": count, "jobs": jobs, "wall_s": wall,
            "per_submission_wall_s": wall / count,
            "cost_mean_s": sum(costs) / count, "cost_max_s": costs[-1],
            "speedup": sum(costs) / wall, "passed": sum(o.passed for o in outcomes),
            "graded": sum(o.graded for o in outcomes)}


def report(r: dict) -> str:
    return (f"grading      {r['submissions']} echo-argv submissions in {r['wall_s']:.1f} s wall "
            f"with {r['jobs']} jobs: {r['per_submission_wall_s'] * 1000:.0f} ms each\n"
            f"             each submission's own cost {r['cost_mean_s'] * 1000:.0f} ms mean, "
            f"{r['cost_max_s'] * 1000:.0f} ms max (3 runs each); {r['speedup']:.2f}x over "
            f"one at a time; {r['graded']} graded, {r['passed']} passed")

"""`syscall-lab bench`, start-up: the wall time of `syscall-lab run` of the static glibc
hello against the dynamically linked one (hello-dynamic: the real ld.so maps libc.so.6
before main), each a fresh process, side by side: the runs alternate, so a noisy moment
of the machine slows both, and each side's median is compared. Target: the dynamic one in
at most twice the static one's time.

Then the floor: `syscall-lab run` of the static glibc hello and of the assembly hello
against a bare `python -c pass` and `python -c "import unicorn"` (the import no run can
avoid), again alternating in one loop, each side's median; each row as a ratio to the
Unicorn import and as the time it adds to it. Target: the glibc hello in at most 0.15 s
(reported, never asserted: the machine may be loaded).

Every timed process runs with warm .pyc caches, as on a user's machine: without
PYTHONDONTWRITEBYTECODE (which some environments set, making every process compile every
module again), after one untimed run of each command has written them."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the timed processes run this tree
# What the `syscall-lab` console script does (pip writes it so): import tui.cli, call main.
SYSCALL_LAB = ["-c", "import sys; from tui.cli import main; sys.exit(main())"]
PAIRS = {  # arch: (static, dynamic), bundled program names
    "x86_64": ("hello.glibc-x86_64", "hello-dynamic.glibc-x86_64"),
    "i386": ("hello.glibc-i386", "hello-dynamic.glibc-i386"),
}
TARGET = 2.0
FLOORS = {  # row: the command after `python`
    "python -c pass": ["-c", "pass"],
    "import unicorn": ["-c", "import unicorn"],
    "hello.glibc-x86_64": [*SYSCALL_LAB, "run", "hello.glibc-x86_64"],
    "hello-syscall (asm)": [*SYSCALL_LAB, "run", "hello-syscall"],
}
FLOOR = "import unicorn"
TARGET_GLIBC_S = 0.15
# The issue's 0.15 s was set on a machine where Unicorn's import took 21 ms: the target here
# is 0.15 s scaled by this machine's Unicorn import (the two floor rows' difference), so a
# slow or loaded machine is judged by the same ratio.
ISSUE_UNICORN_IMPORT_S = 0.021
CACHES = "warm .pyc caches (PYTHONDONTWRITEBYTECODE unset, one untimed run of each first)"


def _env() -> dict[str, str]:
    """The timed processes' environment: caches read and written as Python does by default."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _wall(name: str, args: list[str] | None = None) -> tuple[float, int]:
    cmd = [sys.executable, *(args or [*SYSCALL_LAB, "run", name])]
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                       env=_env())
    return time.perf_counter() - t, r.returncode


def run(repeat: int = 5, arches: tuple[str, ...] = tuple(PAIRS)) -> dict:
    out = {}
    for arch in arches:
        static, dynamic = PAIRS[arch]
        times: dict[str, list[float]] = {static: [], dynamic: []}
        status = {static: 0, dynamic: 0}
        for name in (static, dynamic):
            _wall(name)  # writes the caches this command reads
        for _ in range(repeat):
            for name in (static, dynamic):
                seconds, code = _wall(name)
                times[name].append(seconds)
                status[name] = status[name] or code
        s, d = statistics.median(times[static]), statistics.median(times[dynamic])
        out[arch] = {"static": static, "dynamic": dynamic, "runs": repeat,
                     "static_s": s, "dynamic_s": d, "ratio": d / s,
                     "static_status": status[static], "dynamic_status": status[dynamic],
                     "target_ratio": TARGET}
    out["floor"] = _floor(repeat)
    return out


def _floor(repeat: int) -> dict:
    times: dict[str, list[float]] = {k: [] for k in FLOORS}
    status = dict.fromkeys(FLOORS, 0)
    for row, args in FLOORS.items():
        _wall(row, args)  # writes the caches this command reads
    for _ in range(repeat):
        for row, args in FLOORS.items():
            seconds, code = _wall(row, args)
            times[row].append(seconds)
            status[row] = status[row] or code
    medians = {row: statistics.median(t) for row, t in times.items()}
    unicorn_import = medians[FLOOR] - medians["python -c pass"]
    scaled = TARGET_GLIBC_S * unicorn_import / ISSUE_UNICORN_IMPORT_S
    return {"runs": repeat, "median_s": medians, "status": status,
            "unicorn_import_s": unicorn_import, "target_scaled_s": scaled,
            "target_met": medians["hello.glibc-x86_64"] <= scaled,
            "ratio": {row: m / medians[FLOOR] for row, m in medians.items()},
            "over_floor_s": {row: m - medians[FLOOR] for row, m in medians.items()},
            "target_glibc_s": TARGET_GLIBC_S, "caches": CACHES}


def _report_floor(f: dict) -> list[str]:
    lines = []
    for row, m in f["median_s"].items():
        head = "start-up floor" if not lines else ""
        line = f"{head:15}{row:21}{m:.3f} s (median of {f['runs']})"
        if f["status"][row]:
            line += f": exited with status {f['status'][row]}, no ratio"
        else:
            line += f", {f['ratio'][row]:.2f}x {FLOOR}"
            if row not in ("python -c pass", FLOOR):
                line += f" (+{f['over_floor_s'][row] * 1000:.0f} ms)"
            if row == "hello.glibc-x86_64":
                line += (f" (target <= {f['target_glibc_s']:g} s where Unicorn's import takes "
                         f"{ISSUE_UNICORN_IMPORT_S * 1000:.0f} ms; it takes "
                         f"{f['unicorn_import_s'] * 1000:.0f} ms here, so <= "
                         f"{f['target_scaled_s']:.3f} s: "
                         f"{'met' if f['target_met'] else 'NOT met'})")
        lines.append(line)
    lines.append(f"{'':15}all with {f['caches']}")
    return lines


def report(r: dict) -> str:
    lines: list[str] = []
    for arch, x in r.items():
        if arch == "floor":
            continue
        head = "start-up" if not lines else ""
        line = (f"{head:15}{arch:7} static hello {x['static_s']:.3f} s, dynamic "
                f"{x['dynamic_s']:.3f} s (medians of {x['runs']}): ")
        failed = [f"{x[k]} exited with status {x[k + '_status']}"
                  for k in ("static", "dynamic") if x[k + "_status"]]
        if failed:  # a failed run's time says nothing about start-up
            line += "no ratio, the run failed: " + "; ".join(failed)
        else:
            line += f"{x['ratio']:.2f}x (target <= {x['target_ratio']:g}x)"
        lines.append(line)
    if "floor" in r:
        lines += _report_floor(r["floor"])
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run()))

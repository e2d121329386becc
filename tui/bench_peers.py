"""`syscall-lab bench --peers`: syscall-lab beside qemu-user (and the host itself) on the same
bundled static binaries, as whole-process wall times, so the comparison a user would make
by hand (`time qemu-x86_64 prog` against `time syscall-lab run prog`) is one command.

Each workload runs natively, under qemu-user and under `syscall-lab run`, the three
alternating round after round (a noisy moment of the shared machine slows all three), and
each side's median is compared. Every run must exit 0 and, where the program's output
depends only on its arguments, print what the native run printed: a peer that is fast
because it did something else would make the ratio meaningless.

qemu-user is optional (Debian's `qemu-user` package): without it the rows say so and only
the native baseline is kept."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BIN = Path(__file__).resolve().parent.parent / "programs" / "bin"
QEMU = {"x86_64": "qemu-x86_64", "i386": "qemu-i386"}


@dataclass(frozen=True)
class Workload:
    label: str
    program: str  # a file in programs/bin
    args: tuple[str, ...]
    deterministic: bool  # output depends only on args (a pid or a clock would not)

    @property
    def arch(self) -> str:
        return "i386" if self.program.endswith("i386") else "x86_64"


# Sized so syscall-lab's loop outweighs its start-up: what the table compares.
WORKLOADS = (
    Workload("hello", "hello.glibc-x86_64", (), True),
    Workload("compute", "compute_loop.glibc-x86_64", ("30000000",), True),
    Workload("getpid", "getpid_loop.glibc-x86_64", ("300000",), False),
    Workload("gettimeofday", "gettimeofday_loop.glibc-x86_64", ("2000000",), True),
    Workload("hello i386", "hello.glibc-i386", (), True),
    Workload("getpid i386", "getpid_loop.glibc-i386", ("300000",), False),
)


def _timed(cmd: list[str]) -> tuple[float, int, str]:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    return time.perf_counter() - t, r.returncode, r.stdout


def _commands(w: Workload, qemu: str | None) -> dict[str, list[str]]:
    path = str(BIN / w.program)
    cmds = {"native": [path, *w.args],
            "syscall-lab": [sys.executable, "-m", "tui.cli", "run", path, *w.args]}
    if qemu:
        cmds["qemu-user"] = [qemu, path, *w.args]
    return cmds


def run(repeat: int = 3, workloads: tuple[Workload, ...] = WORKLOADS) -> dict:
    rows = []
    for w in workloads:
        qemu = shutil.which(QEMU[w.arch])
        cmds = _commands(w, qemu)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        failures: list[str] = []
        for _ in range(repeat):
            outputs = {}
            for name, cmd in cmds.items():
                seconds, code, out = _timed(cmd)
                times[name].append(seconds)
                outputs[name] = out
                if code != 0:
                    failures.append(f"{name} exited {code}")
            if w.deterministic:
                failures += [f"{name}'s output differs from native's"
                             for name, out in outputs.items() if out != outputs["native"]]
        medians = {name: statistics.median(ts) for name, ts in times.items()}
        row = {"workload": w.label, "program": w.program, "args": list(w.args),
               "runs": repeat, "median_s": medians, "failures": sorted(set(failures)),
               "qemu": qemu}
        if "qemu-user" in medians:
            row["lab_vs_qemu"] = medians["syscall-lab"] / medians["qemu-user"]
        rows.append(row)
    return {"rows": rows}


def report(result: dict) -> str:
    lines = ["peers: whole-process wall time, medians of alternating runs "
             "(x = syscall-lab's time over the peer's)"]
    lines.append(f"  {'workload':<13} {'native':>8} {'qemu-user':>10} {'syscall-lab':>12} "
                 f"{'x qemu':>8}")
    missing = set()
    for row in result["rows"]:
        m = row["median_s"]
        qemu = f"{m['qemu-user']:.3f} s" if "qemu-user" in m else "-"
        ratio = f"{row['lab_vs_qemu']:.1f}x" if "lab_vs_qemu" in row else "-"
        lines.append(f"  {row['workload']:<13} {m['native']:>6.3f} s {qemu:>10} "
                     f"{m['syscall-lab']:>10.3f} s {ratio:>8}")
        if not row["qemu"]:
            missing.add(QEMU["i386" if row["program"].endswith("i386") else "x86_64"])
        for failure in row["failures"]:
            lines.append(f"    ! {row['workload']}: {failure}")
    if missing:
        lines.append(f"  ({', '.join(sorted(missing))} not found: install Debian's "
                     "qemu-user to compare with it)")
    return "\n".join(lines)

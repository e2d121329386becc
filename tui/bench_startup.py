"""`syscall-lab bench`, start-up: the wall time of `syscall-lab run` of the static glibc
hello against the dynamically linked one (hello-dynamic: the real ld.so maps libc.so.6
before main), each a fresh process, side by side: the runs alternate, so a noisy moment
of the machine slows both, and each side's median is compared. Target: the dynamic one in
at most twice the static one's time."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

PAIRS = {  # arch: (static, dynamic), bundled program names
    "x86_64": ("hello.glibc-x86_64", "hello-dynamic.glibc-x86_64"),
    "i386": ("hello.glibc-i386", "hello-dynamic.glibc-i386"),
}
TARGET = 2.0


def _wall(name: str) -> tuple[float, int]:
    cmd = [sys.executable, "-m", "tui.cli", "run", name]
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t, r.returncode


def run(repeat: int = 5, arches: tuple[str, ...] = tuple(PAIRS)) -> dict:
    out = {}
    for arch in arches:
        static, dynamic = PAIRS[arch]
        times: dict[str, list[float]] = {static: [], dynamic: []}
        status = {static: 0, dynamic: 0}
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
    return out


def report(r: dict) -> str:
    lines = []
    for arch, x in r.items():
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
    return "\n".join(lines)

if __name__ == "__main__":
    print(report(run()))

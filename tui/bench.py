"""`syscall-lab bench`: the emulator's speed, as ratios against bare Unicorn in the same
run (the machine is shared and noisy: absolute numbers mean little, ratios mean more).

- compute: the same guest code under `run` vs a bare Unicorn harness with no hooks;
- getpid: syscalls/s under `run` with tracing off, vs a bare syscall hook that does nothing
  and vs a minimal hook written the usual way (Unicorn's reg_read of rax, reg_write of rax);
- hello: wall time of `syscall-lab run` of the assembly hello world, a fresh process;
- start-up: `syscall-lab run` of the static glibc hello against the dynamically linked one,
  side by side (tui/bench_startup.py);
- memory: peak RSS of the getpid loop at two lengths (flat when not tracing);
- grading: 100 submissions of echo-argv graded in parallel (tui/bench_grading.py);
- host memory against guest memory: the /tmp flood (tui/bench_tmpfs.py).
- host memory against guest memory for large, mostly untouched mappings (tui/bench_host_memory.py).
- processes: fork round trips, context switches, pipe throughput, forked children's memory
  (tui/bench_procs.py).
- serve: 20 websocket clients stepping the demo on `syscall-lab serve` at once, per-key
  latency and memory per session, against 1 session (tui/bench_serve.py; `--serve [N]`
  runs only this).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from emu.bare import minimal_hook, run_bare, stop_after

ASM = Path(__file__).resolve().parent.parent / "programs" / "asm"


def _run_lab(path: Path, argv_extra: list[str]) -> float:
    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    prog = load_program(str(path))
    system = System(prog.image, prog.path, [str(path), *argv_extra], RunOptions(seed=1),
                    symbols=prog.symbols)
    t = time.perf_counter()
    system.run()
    return time.perf_counter() - t


def bench_compute() -> dict:
    path = ASM / "bench_compute.s"
    bare = min(run_bare(path) for _ in range(3))
    lab = min(_run_lab(path, []) for _ in range(3))
    return {"bare_s": bare, "run_s": lab, "ratio": bare / lab, "target": 0.8}


def bench_getpid(n: int = 300_000) -> dict:
    path = ASM / "bench_getpid.s"
    # The bare harnesses loop the program's default count: scale to calls/s.
    default_n = 1_000_000

    bare_nothing = run_bare(path, stop_after(default_n))
    bare_minimal = run_bare(path, minimal_hook)
    lab = min(_run_lab(path, [str(n)]) for _ in range(2))
    rate_lab = n / lab
    rate_nothing = default_n / bare_nothing
    rate_minimal = default_n / bare_minimal
    return {
        "run_calls_per_s": rate_lab,
        "bare_nothing_calls_per_s": rate_nothing,
        "bare_minimal_calls_per_s": rate_minimal,
        "ratio_vs_nothing": rate_lab / rate_nothing,
        "ratio_vs_minimal": rate_lab / rate_minimal,
        "target_calls_per_s": 100_000,
        "target_ratio": 0.5,
    }


def bench_hello(repeat: int = 5) -> dict:
    cmd = [sys.executable, "-m", "tui.cli", "run", str(ASM / "hello_syscall.s")]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t)
    return {"wall_s": min(times), "target_s": 0.3}


_RSS_CHILD = """
import resource, sys
from tui.bench import _run_lab, ASM
_run_lab(ASM / "bench_getpid.s", [sys.argv[1]])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def bench_memory() -> dict:
    out = {}
    for n in (10_000, 300_000):
        r = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(n)], capture_output=True,
                           text=True, check=True)
        out[n] = int(r.stdout.split()[-1])
    small, big = out[10_000], out[300_000]
    return {"peak_kib_10k": small, "peak_kib_300k": big, "growth_ratio": big / small,
            "target": "flat (ratio ~1.0)"}


def main(as_json: bool = False, serve: int | None = None) -> int:
    from tui import (
        bench_grading,
        bench_host_memory,
        bench_mechanisms,
        bench_procs,
        bench_serve,
        bench_startup,
        bench_tmpfs,
    )

    if serve:
        load = bench_serve.run(serve)
        print(json.dumps({"serve": load}, indent=2) if as_json else bench_serve.report(load))
        return 0
    results = {
        "compute": bench_compute(),
        "getpid": bench_getpid(),
        "hello": bench_hello(),
        "startup": bench_startup.run(),
        "memory": bench_memory(),
        "mechanisms": bench_mechanisms.run(),
        "grading": bench_grading.run(),
        "tmpfs": bench_tmpfs.run(),
        "host_memory": bench_host_memory.run(),
        "processes": bench_procs.run(),
        "serve": bench_serve.run(),
    }
    if as_json:
        print(json.dumps(results, indent=2))
        return 0
    c, g, h, m = results["compute"], results["getpid"], results["hello"], results["memory"]
    print("syscall-lab bench (ratios from this one run)")
    print(f"compute loop   run {c['run_s']:.3f} s, bare Unicorn {c['bare_s']:.3f} s: "
          f"{c['ratio']:.2f}x of bare (target >= 0.8x)")
    print(f"getpid loop    {g['run_calls_per_s']:,.0f} syscalls/s under run (target >= 100,000)")
    print(f"               bare hook doing nothing: {g['bare_nothing_calls_per_s']:,.0f}/s -> "
          f"{g['ratio_vs_nothing']:.2f}x")
    print(f"               bare minimal hook (reg_read rax, reg_write rax): "
          f"{g['bare_minimal_calls_per_s']:,.0f}/s -> {g['ratio_vs_minimal']:.2f}x "
          "(target >= 0.5x)")
    print(f"hello (asm)    {h['wall_s']:.3f} s wall for `syscall-lab run` (target < 0.3 s)")
    print(bench_startup.report(results["startup"]))
    print(f"peak memory    {m['peak_kib_10k']} KiB at 10k syscalls, {m['peak_kib_300k']} KiB at "
          f"300k: {m['growth_ratio']:.2f}x (target: flat)")
    print()
    print(bench_mechanisms.report(results["mechanisms"]))
    print()
    print(bench_grading.report(results["grading"]))
    print()
    print(bench_tmpfs.report(results["tmpfs"]))
    print(bench_host_memory.report(results["host_memory"]))
    print()
    print(bench_procs.report(results["processes"]))
    print()
    print(bench_serve.report(results["serve"]))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main("--json" in sys.argv))

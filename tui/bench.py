"""`syscall-lab bench`: the emulator's speed, as ratios against bare Unicorn in the same
run (the machine is shared and noisy: absolute numbers mean little, ratios mean more).

- compute: the same guest code under `run` vs a bare Unicorn harness with no hooks;
- vdso: gettimeofday calls/s through our vDSO (glibc loop), vs the same binary with vdso=0;
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
- stepping at scale: step and reverse-step p50/p95 late in a 125k-syscall busybox run,
  against the demo's, and the history's memory against --history-budget
  (tui/bench_tui_scale.py);
- serve: 20 websocket clients stepping the demo on `syscall-lab serve` at once, per-key
  latency and memory per session, against 1 session (tui/bench_serve.py; `--serve [N]`
  runs only this).
- peers (`--peers`, alone): the same bundled binaries natively, under qemu-user and under
  `run`, whole-process wall times side by side (tui/bench_peers.py).
"""

from __future__ import annotations

import contextlib
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


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def bench_compute(pairs: int = 5) -> dict:
    """Bare and `run` side by side, pair after pair: the machine is shared, and a pair's two
    runs see the same load far more often than two batches do; the median pair's ratio.

    Both sides run on one CPU. On the 2-CPU virtual machine this was built on, the loop
    (five register instructions, one block chained to itself) took 0.57 s or 1.77 s from
    run to run, in bare Unicorn as under `run`, whenever the process could move between
    the CPUs, and 0.51-0.69 s every time when pinned to either one: a ratio of two unpinned
    runs said more about that than about the emulator."""
    path = ASM / "bench_compute.s"
    bares, labs, ratios = [], [], []
    with _one_cpu():
        for _ in range(pairs):
            bare, lab = run_bare(path), _run_lab(path, [])
            bares.append(bare)
            labs.append(lab)
            ratios.append(bare / lab)
    return {"bare_s": _median(bares), "run_s": _median(labs), "ratio": _median(ratios),
            "target": 0.95}


@contextlib.contextmanager
def _one_cpu():
    """This process (its threads too) kept on one of its CPUs, then let go again."""
    allowed = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(allowed)})
    except OSError:  # not allowed to: measured as it is
        pass
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)


GTOD = ASM.parent / "bin" / "gettimeofday_loop.glibc-x86_64"


def _gtod_rate(n: int, vdso: bool) -> float:
    """gettimeofday calls/s of the glibc loop under `run`: the time of n calls less the time
    of 1,000 (start-up and exit), so only the loop counts."""
    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    def timed(count: int) -> float:
        prog = load_program(str(GTOD))
        system = System(prog.image, prog.path, [str(GTOD), str(count)],
                        RunOptions(seed=1, vdso=vdso), symbols=prog.symbols)
        t = time.perf_counter()
        system.run()
        return time.perf_counter() - t

    return (n - 1000) / max(timed(n) - timed(1000), 1e-9)


def bench_vdso(pairs: int = 3) -> dict:
    """The vDSO's gettimeofday (no trap: guest code reading the vvar page and rdtsc) against
    the same binary booted with vdso=0, where glibc falls back to the `syscall`: pair by
    pair, the median. Run's output goes to a pipe nobody reads: the loop prints 2 lines."""
    vd, sc, ratios = [], [], []
    stdout = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        for _ in range(pairs):
            a, b = _gtod_rate(3_000_000, True), _gtod_rate(200_000, False)
            vd.append(a)
            sc.append(b)
            ratios.append(a / b)
    finally:
        os.dup2(stdout, 1)
        os.close(stdout)
        os.close(null)
    return {"vdso_calls_per_s": _median(vd), "syscall_calls_per_s": _median(sc),
            "ratio_vs_syscall": _median(ratios), "target_calls_per_s": 5_000_000}


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
        "target_calls_per_s": 300_000,  # issue 16: on a loaded machine
        "target_ratio_vs_nothing": 0.4,
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


def main(as_json: bool = False, serve: int | None = None,
         only: list[str] | None = None, peers: bool = False) -> int:
    from tui import (
        bench_grading,
        bench_host_memory,
        bench_mechanisms,
        bench_peers,
        bench_procs,
        bench_serve,
        bench_startup,
        bench_tmpfs,
        bench_tui_scale,
    )

    if only is not None:
        parts = {"compute": bench_compute, "vdso": bench_vdso}
        out = {name: parts[name]() for name in only}
        print(json.dumps(out, indent=2))
        return 0
    if peers:
        side = bench_peers.run()
        print(json.dumps({"peers": side}, indent=2) if as_json else bench_peers.report(side))
        return 0
    if serve:
        load = bench_serve.run(serve)
        print(json.dumps({"serve": load}, indent=2) if as_json else bench_serve.report(load))
        return 0
    results = {
        "compute": bench_compute(),
        "vdso": bench_vdso(),
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
        "stepping_at_scale": bench_tui_scale.run(),
    }
    if as_json:
        print(json.dumps(results, indent=2))
        return 0
    c, g, h, m = results["compute"], results["getpid"], results["hello"], results["memory"]
    print("syscall-lab bench (ratios from this one run)")
    print(f"compute loop   run {c['run_s']:.3f} s, bare Unicorn {c['bare_s']:.3f} s: "
          f"{c['ratio']:.2f}x of bare (median of pairs; target >= 0.95x)")
    v = results["vdso"]
    met = "met" if v['vdso_calls_per_s'] >= v['target_calls_per_s'] else "not met"
    print(f"vDSO           {v['vdso_calls_per_s']:,.0f} gettimeofday/s (glibc, untraced; target "
          f">= {v['target_calls_per_s']:,}: {met}); vdso=0 (the syscall): "
          f"{v['syscall_calls_per_s']:,.0f}/s -> {v['ratio_vs_syscall']:.1f}x")
    print(f"getpid loop    {g['run_calls_per_s']:,.0f} syscalls/s under run (target >= "
          f"{g['target_calls_per_s']:,})")
    print(f"               bare hook doing nothing: {g['bare_nothing_calls_per_s']:,.0f}/s -> "
          f"{g['ratio_vs_nothing']:.2f}x (target >= {g['target_ratio_vs_nothing']}x)")
    print(f"               bare minimal hook (reg_read rax, reg_write rax): "
          f"{g['bare_minimal_calls_per_s']:,.0f}/s -> {g['ratio_vs_minimal']:.2f}x")
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
    print()
    print(bench_tui_scale.report(results["stepping_at_scale"]))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    # `python -m tui.bench --only compute,vdso`: those sections alone, as JSON.
    picked = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else None
    sys.exit(main("--json" in sys.argv, only=picked))

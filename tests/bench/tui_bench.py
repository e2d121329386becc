"""The stepping TUI's performance, measured (a benchmark, not a test: the machine is shared
and noisy). Run: .venv/bin/python tests/bench/tui_bench.py [--json]

- step + redraw: one `s` in the real app (120x40, headless), from the key's action until
  the screen has the new stop drawn; p50 and p95 over 300 steps (target: p95 <= 50 ms);
- reverse step after 100,000 instructions: a free run of 100k instructions, then the first
  step back (which counts the run by replay) and the following ones (target: <= 50 ms);
- run to the next transition vs `run`: a compute loop of ~50M instructions ending in exit,
  under the session's `t` and under System.run (target: >= 0.5x run's speed);
- history memory: what the history holds after stepping through a static glibc program's
  start-up, crossing by crossing, and its budget.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from emu.program import load_program  # noqa: E402
from kernel_model.debugger.session import DebugSession  # noqa: E402
from kernel_model.system import RunOptions, System  # noqa: E402

ASM = ROOT / "programs" / "asm"
BIN = ROOT / "programs" / "bin"


def session(path: Path, *args: str) -> DebugSession:
    prog = load_program(str(path))
    return DebugSession.create(prog, [path.name, *args], RunOptions(seed=1))


def p95(values):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.95))]


def bench_step_redraw(steps: int = 300) -> dict:
    """From the key's action to the new stop drawn on the screen: the action starts the
    worker, the worker steps and builds the view, the app redraws the panels, and the
    measurement ends once the compositor has refreshed the screen. (Pilot.press itself adds
    its own pauses between keys, which are not part of the app's latency.)"""
    from tui.app import make_app

    prog = load_program(str(BIN / "hello.glibc-x86_64"))

    def make():
        return DebugSession.create(prog, ["hello"], RunOptions(seed=1))

    times: list[float] = []
    app = make_app(make)
    started: list[float] = []
    run_session = app.run_session
    finished = app._finished

    def timed_run_session(*args, **kwargs):
        started.append(time.perf_counter())
        return run_session(*args, **kwargs)

    def timed_finished(*args):
        finished(*args)
        t0 = started[-1]
        app.call_after_refresh(lambda: times.append(time.perf_counter() - t0))

    app.run_session = timed_run_session
    app._finished = timed_finished

    async def drive():
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.3)
            for _ in range(steps):
                n = len(times)
                await pilot.press("s" if app.state.view.walk is None else "n")
                while len(times) == n:
                    await asyncio.sleep(0.001)

    asyncio.run(drive())
    return {"steps": len(times), "p50_ms": statistics.median(times) * 1e3,
            "p95_ms": p95(times) * 1e3, "target_p95_ms": 50}


def bench_reverse_after(instructions: int = 100_000) -> dict:
    """A free run of `instructions` to the exit syscall, then steps back: the first lands
    before the crossing (a replay of the run at full speed), the second steps into the run
    (which has it counted, by replay and bisection), the rest are inside counted history."""
    loop = instructions // 5  # bench_compute.s: five instructions per iteration
    s = session(ASM / "bench_compute.s", str(loop))
    s.run_to_transition()  # stops before exit
    s.next()  # over it: the program has ended
    times = []
    for _ in range(52):
        t = time.perf_counter()
        s.reverse_step()
        times.append(time.perf_counter() - t)
    return {"history_insns": instructions, "back_over_crossing_ms": times[0] * 1e3,
            "into_free_run_ms": times[1] * 1e3, "next_p95_ms": p95(times[2:]) * 1e3,
            "worst_ms": max(times) * 1e3, "target_ms": 50}


def bench_run_to_transition(loop: int = 10_000_000) -> dict:
    path = ASM / "bench_compute.s"
    prog = load_program(str(path))
    t_times, run_times = [], []
    for _ in range(3):
        s = DebugSession.create(prog, ["c", str(loop)], RunOptions(seed=1))
        t = time.perf_counter()
        stop = s.run_to_transition()
        t_times.append(time.perf_counter() - t)
        assert stop.reason == "transition", stop
        s.close()
        system = System(prog.image, prog.path, ["c", str(loop)], RunOptions(seed=1))
        t = time.perf_counter()
        system.run()
        run_times.append(time.perf_counter() - t)
    t_best, run_best = min(t_times), min(run_times)
    insns = loop * 5
    return {"instructions": insns, "t_s": t_best, "run_s": run_best,
            "t_minsns_per_s": insns / t_best / 1e6, "run_minsns_per_s": insns / run_best / 1e6,
            "ratio": run_best / t_best, "target_ratio": 0.5}


def bench_history_memory() -> dict:
    s = session(BIN / "hello.glibc-x86_64")
    crossings = 0
    while s.run_to_transition().reason == "transition":
        s.next()
        crossings += 1
    steps = 0
    s.goto_start()
    for _ in range(5000):  # and a stretch of single steps
        if s.step().reason in ("exited",):
            break
        steps += 1
    t = s.timeline
    return {"crossings": crossings, "marks": len(t), "used_mib": t.used / (1 << 20),
            "budget_mib": t.budget / (1 << 20), "dropped": t.dropped, "thinned": t.thinned}


def main() -> int:
    results = {
        "step_redraw": bench_step_redraw(),
        "reverse_step_after_100k": bench_reverse_after(),
        "run_to_transition_vs_run": bench_run_to_transition(),
        "history_memory": bench_history_memory(),
    }
    if "--json" in sys.argv:
        print(json.dumps(results, indent=2))
        return 0
    r = results["step_redraw"]
    print(f"step + redraw (120x40, {r['steps']} steps): p50 {r['p50_ms']:.1f} ms, "
          f"p95 {r['p95_ms']:.1f} ms  (target p95 <= 50 ms)")
    r = results["reverse_step_after_100k"]
    print(f"reverse step after {r['history_insns']:,} instructions of history: back over "
          f"the exit {r['back_over_crossing_ms']:.1f} ms, into the free run "
          f"{r['into_free_run_ms']:.1f} ms (counts it), then p95 {r['next_p95_ms']:.2f} ms; "
          f"worst {r['worst_ms']:.1f} ms  (target <= 50 ms)")
    r = results["run_to_transition_vs_run"]
    print(f"run to the next transition vs run ({r['instructions']:,} instructions): "
          f"{r['t_minsns_per_s']:.0f} vs {r['run_minsns_per_s']:.0f} M insns/s = "
          f"{r['ratio']:.2f}x  (target >= 0.5x)")
    r = results["history_memory"]
    print(f"history memory: {r['used_mib']:.1f} MiB in {r['marks']} saved points after "
          f"{r['crossings']} crossings and a stretch of single steps (budget "
          f"{r['budget_mib']:.0f} MiB; {r['thinned']} merged, {r['dropped']} dropped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

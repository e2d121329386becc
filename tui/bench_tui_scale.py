"""`syscall-lab bench`, stepping at scale: how long one step takes, forward and back, late
in a long run, against the same steps on the small demo at its start (the baseline, in the
same run).

The long run: busybox `dd if=FILE of=/dev/null bs=160` of a 10 MB file shared with the
guest (--mount): 62,500 reads and 62,500 writes (125k syscalls) and over 10 M user
instructions (`syscall-lab run --max-insns 10000000` of it stops before its end), in a
DebugSession with a history budget (default 256 MiB, --history-budget's default). The
session runs to a few hundred transitions before the end (every crossing
saved, as the TUI does), then times, N times each:
- step by instruction (`s`) and to the next transition (`t`) at the live end;
- back by transition (`T`) and by instruction (`S`);
- step by instruction and by transition again, now in the past (replayed from history);
each step including the view the screen draws from (session.view()), as the TUI does.
Reported: p50 and p95 per kind in ms, the target (p95 <= 30 ms), the ratio of p95 to the
demo's; the history the engine counts against the budget, and the process's RSS.

The TUI layer ("key t" ...), if Textual is there: the app the `tui` command opens,
headless (App.run_test), on the same late point: from a key's command starting to the end
of the screen refresh that shows its result.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path

FILE_BYTES = 10_000_000
BLOCK = 160
TARGET_MS = 30.0
BUSYBOX = Path("/bin/busybox")


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def _timed(session, method: str, n: int) -> list[float]:
    """ms per call of session.method() followed by session.view()."""
    out = []
    for _ in range(n):
        t = time.perf_counter()
        getattr(session, method)()
        session.view()
        out.append((time.perf_counter() - t) * 1000)
    return out


def _kinds(session, n: int, *, live: bool) -> dict[str, list[float]]:
    times = {}
    if live:
        times["step (live)"] = _timed(session, "step", n)
        times["transition (live)"] = _timed(session, "run_to_transition", n)
    times["reverse transition"] = _timed(session, "reverse_to_transition", n)
    times["reverse step"] = _timed(session, "reverse_step", n)
    times["step (replay)"] = _timed(session, "step", n)
    times["transition (replay)"] = _timed(session, "run_to_transition", n)
    return times


def _demo_baseline(n: int, tui: bool) -> dict[str, list[float]]:
    """The demo's steps from its start: its transitions are few, so fewer of them."""
    from kernel_model.debugger.session import DebugSession
    from kernel_model.system import RunOptions
    from programs.options import resolve_program

    program = resolve_program("time-three-ways", None)
    s = DebugSession.create(program, ["time-three-ways"], RunOptions(seed=1))
    try:
        for _ in range(3):
            s.run_to_transition()
        times = _kinds(s, n, live=True)
        if tui:
            s.goto_start()
            for _ in range(3):
                s.run_to_transition()
            times.update({f"key {k}": v for k, v in _tui_keys(s, 5).items()})
        return times
    finally:
        s.close()


def _make_file(folder: str, size: int) -> str:
    path = os.path.join(folder, "data")
    with open(path, "wb") as f:
        f.write(random.Random(16).randbytes(size))
    return path


def run(n: int = 200, budget: int = 256 << 20, tui: bool = True,
        file_bytes: int = FILE_BYTES) -> dict:
    from emu.program import load_program
    from kernel_model.debugger.session import DebugSession
    from kernel_model.system import RunOptions
    from programs.options import mount

    if not BUSYBOX.exists():
        return {"skipped": "no /bin/busybox (apt-get install busybox-static)"}
    baseline = _demo_baseline(min(n, 20), tui)
    with tempfile.TemporaryDirectory() as folder:
        path = _make_file(folder, file_bytes)
        argv = ["busybox", "dd", f"if={path}", "of=/dev/null", f"bs={BLOCK}"]
        options = RunOptions(seed=1, mounts=[mount(folder)], cwd="/")
        rss0 = _rss()
        s = DebugSession.create(load_program(str(BUSYBOX)), argv, options, budget=budget)
        try:
            total = 2 * (file_bytes // BLOCK)  # the reads and writes
            t = time.perf_counter()
            crossings = 0
            while crossings < total - 2 * n:
                if s.run_to_transition().reason != "transition":
                    break
                crossings += 1
            run_s = time.perf_counter() - t
            times = _kinds(s, n, live=True)
            used, marks = s.timeline.used, len(s.timeline)
            rss = _rss() - rss0
            if tui:
                times.update({f"key {k}": v for k, v in _tui_keys(s, min(n, 20)).items()})
        finally:
            s.close()
    kinds = {}
    for kind, xs in times.items():
        base = baseline.get(kind)
        p95 = _pct(xs, 95)
        kinds[kind] = {"p50_ms": _pct(xs, 50), "p95_ms": p95,
                       "demo_p95_ms": _pct(base, 95) if base else None,
                       "ratio_vs_demo": p95 / max(_pct(base, 95), 1e-6) if base else None}
    program = " ".join(argv[:2] + [f"if=<{file_bytes:,} bytes>", *argv[3:]])
    return {"program": program, "crossings": crossings, "run_s": run_s, "budget": budget,
            "history_used": used,
            "marks": marks, "dropped": s.timeline.dropped, "rss_growth": rss,
            "steps": kinds, "target_ms": TARGET_MS}


def _tui_keys(session, n: int) -> dict[str, list[float]]:
    """The app on this session, headless: ms from the key's action starting the command (s
    and S inline, t and T on the worker thread) to the end of the screen refresh that shows
    its result (the first refresh after the app took the result in). Pilot.press's own
    waits (for idle, for animations) are not counted: a terminal has none of them."""
    try:
        import asyncio

        from tui.app import make_app
    except ImportError:
        return {}
    app = make_app(lambda: session, program="bench")
    out: dict[str, list[float]] = {"t": [], "T": [], "s": [], "S": []}
    shown: list[float] = []
    started = [0.0]
    run_session, finished = app.run_session, app._finished

    def timed_run_session(*args, **kwargs):
        started[0] = time.perf_counter()
        run_session(*args, **kwargs)

    def timed_finished(*args):
        finished(*args)
        t0 = started[0]
        app.call_after_refresh(lambda: shown.append((time.perf_counter() - t0) * 1000))

    app.run_session, app._finished = timed_run_session, timed_finished

    async def drive():
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            for _ in range(n):
                for key in ("t", "T", "s", "S"):
                    before = len(shown)
                    await pilot.press(key)
                    while len(shown) == before:
                        await asyncio.sleep(0.001)
                    out[key].append(shown[-1])

    asyncio.run(drive())
    return out


def report(r: dict) -> str:
    if "skipped" in r:
        return f"stepping at scale: skipped ({r['skipped']})"
    lines = [f"stepping at scale: `{r['program']}`, {r['crossings']:,} crossings, "
             f"run to there in {r['run_s']:.0f} s; "
             f"target p95 <= {r['target_ms']:.0f} ms"]
    for kind, k in r["steps"].items():
        ratio = f"{k['ratio_vs_demo']:.1f}x the demo's" if k["ratio_vs_demo"] else ""
        lines.append(f"  {kind:22s} p50 {k['p50_ms']:7.1f} ms  p95 {k['p95_ms']:7.1f} ms  "
                     f"{ratio}")
    lines.append(f"  history {r['history_used'] / 2**20:.0f} MiB counted of the "
                 f"{r['budget'] / 2**20:.0f} MiB budget ({r['marks']:,} points kept, "
                 f"{r['dropped']:,} dropped); process RSS grew {r['rss_growth'] / 2**20:.0f} MiB")
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    import sys

    # python -m tui.bench_tui_scale [BUDGET_MIB [FILE_BYTES]] [--no-tui] [--json]
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    budget = int(args[0]) << 20 if args else 256 << 20
    size = int(args[1]) if len(args) > 1 else FILE_BYTES
    result = run(budget=budget, tui="--no-tui" not in sys.argv, file_bytes=size)
    print(report(result))
    if "--json" in sys.argv:
        print(json.dumps(result, indent=2))

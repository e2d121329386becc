"""`syscall-lab bench`, processes: fork+exit+wait round trips, context switches in a
two-thread futex ping-pong, pipe throughput between two processes, and the host memory of
forked children. Rates come from one run each (the machine is shared and noisy: compare
them with the other lines of the same run, not across runs).

A fork copies the pages its parent has touched, eagerly (emu.machine.Machine.fork): two
Unicorn CPUs cannot share host pages copy-on-write, so a child of a parent that has written
64 MiB costs 64 MiB of host memory, where Linux's copy-on-write costs a few page tables."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

ASM = Path(__file__).resolve().parent.parent / "programs" / "asm"


def _timed(name: str, arg: str, **options) -> tuple[float, int]:
    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    path = ASM / name
    prog = load_program(str(path))
    system = System(prog.image, prog.path, [str(path), arg],
                    RunOptions(seed=1, **options), symbols=prog.symbols)
    t = time.perf_counter()
    status = system.run()
    return time.perf_counter() - t, status


_RSS_CHILD = """
import resource, sys
from tui.bench_procs import _timed
_timed("bench_fork_memory.s", sys.argv[1], memory_limit=16 << 30)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_kib(mib: int) -> int:
    r = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(mib)], capture_output=True,
                       text=True, check=True)
    return int(r.stdout.split()[-1])


def run(forks: int = 1000, rounds: int = 5000, pipe_mib: int = 64, parent_mib: int = 64
        ) -> dict:
    fork_s, fork_status = _timed("bench_fork.s", str(forks))
    ping_s, ping_status = _timed("bench_futex_pingpong.s", str(rounds))
    pipe_s, pipe_status = _timed("bench_pipe.s", str(pipe_mib))
    # The same 100 children with a 1 MiB and a parent_mib parent: the difference is what
    # the parent's memory costs per child.
    small = _peak_kib(1)
    big = _peak_kib(parent_mib)
    return {
        "fork_round_trips_per_s": forks / fork_s, "fork_status": fork_status,
        "fork_target_per_s": 2000,
        "switches_per_s": 2 * rounds / ping_s, "pingpong_status": ping_status,
        "pipe_mib_per_s": pipe_mib / pipe_s, "pipe_status": pipe_status,
        "children": 100, "parent_mib": parent_mib,
        "peak_kib_1mib_parent": small, "peak_kib_big_parent": big,
        "kib_per_child": (big - small) / 100,
        "copy": "eager (touched pages only)",
    }


def report(r: dict) -> str:
    ok = lambda s: "" if s == 0 else f" (exit status {s}: the run failed)"  # noqa: E731
    return "\n".join([
        f"fork+exit+wait {r['fork_round_trips_per_s']:,.0f} round trips/s "
        f"(target >= {r['fork_target_per_s']:,}){ok(r['fork_status'])}",
        f"futex ping-pong {r['switches_per_s']:,.0f} context switches/s between two "
        f"threads{ok(r['pingpong_status'])}",
        f"pipe           {r['pipe_mib_per_s']:,.1f} MiB/s from a parent to its child"
        f"{ok(r['pipe_status'])}",
        f"fork memory    {r['children']} children of a {r['parent_mib']} MiB parent (every "
        f"page written): {r['kib_per_child'] / 1024:,.1f} MiB of host memory each; the copy "
        f"is {r['copy']}, Linux's is copy-on-write",
    ])


if __name__ == "__main__":
    print(report(run()))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)

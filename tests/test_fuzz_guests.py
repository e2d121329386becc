"""Random hostile guests (tests/fuzz_guests.py) never break the host: no traceback, no crash
of the host process, no run past its limits. Seeded and bounded here; SYSCALL_LAB_FUZZ=N
runs N programs (thousands, by hand), SYSCALL_LAB_FUZZ_SEED another series."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from conftest import ROOT

SEED = int(os.environ.get("SYSCALL_LAB_FUZZ_SEED", "9"))
COUNT = int(os.environ.get("SYSCALL_LAB_FUZZ", "800"))
BATCH = 500  # programs per host process: a crash loses the rest of its batch only


def run_batch(first: int, count: int) -> tuple[int, list[str]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    script = ROOT / "tests" / "fuzz_guests.py"
    r = subprocess.run([sys.executable, "-X", "faulthandler", str(script), str(SEED),
                        str(first), str(count)], capture_output=True, text=True, env=env,
                       timeout=60 + count * 5)
    return r.returncode, (r.stdout + r.stderr).splitlines()


def test_random_guests_never_break_the_host():
    failures = []
    for first in range(0, COUNT, BATCH):
        count = min(BATCH, COUNT - first)
        rc, lines = run_batch(first, count)
        started = [int(ln.split()[1]) for ln in lines if ln.startswith("START ")]
        done = [ln for ln in lines if ln.startswith(("OK ", "TRACEBACK "))]
        if rc < 0:
            failures.append(f"program {started[-1]} (seed {SEED}) killed the host process "
                            f"with {signal.Signals(-rc).name}")
        bad = [ln for ln in done if not ln.startswith("OK ")
               or not 0 <= int(ln.split()[2]) <= 255]
        for ln in bad:
            index = ln.split()[1]
            start = lines.index(f"START {index}")
            end = lines.index(ln)
            failures.append(f"program {index} (seed {SEED}; python tests/fuzz_guests.py "
                            f"{SEED} {index} 1):\n" + "\n".join(lines[start + 1:end + 1]))
        if any(ln == "TRACEBACK in a thread" for ln in lines):
            failures.append("an exception in a host thread:\n" + "\n".join(lines[-30:]))
        if rc >= 0:
            assert len(done) == count, lines[-20:]
    assert not failures, "\n".join(failures)

"""`run --record` under the run's limits: a `jmp $` loop stops at --timeout, --max-insns
and Ctrl-C, with the usual message and status, and the recording is written up to there."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kernel_model.debugger.recording import load

ROOT = Path(__file__).resolve().parent.parent
# A crossing first (so the recording has transitions), then a loop that never ends.
SPIN = """bits 64
_start:
    mov eax, 39          ; getpid
    syscall
spin:
    jmp spin
"""
# Three stretches of 204 instructions, each ending in an rdtsc (the engine re-runs each
# stretch to count it for the virtual clock: its work, not the guest's), then a loop that
# counts its own iterations in rbx: 614 instructions before it, 2 an iteration.
SPIN_READING_TIME = """bits 64
_start:
    mov r12, 3
again:
    mov ecx, 100
count:
    dec ecx
    jnz count
    rdtsc
    dec r12
    jnz again
    xor ebx, ebx
spin:
    inc rbx
    jmp spin
"""


def _record(tmp_path, source, *options, interrupt_after=None):
    prog = tmp_path / "spin.s"
    prog.write_text(source)
    out = tmp_path / "spin.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "run", "--record", str(out),
                             *options, str(prog)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                            cwd=ROOT)
    if interrupt_after is not None:
        for _ in range(600):  # `run --record` creates the file first, then starts the guest
            if out.exists():
                break
            time.sleep(0.1)
        time.sleep(interrupt_after)
        proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)  # without the limits: for ever
    return proc.returncode, err.decode(), out


def _recorded_the_loop(path):
    rec = load(str(path))
    kinds = [s["kind"] for s in rec.stops]
    assert kinds[0] == "start" and kinds[-1] == "end" and "transition" in kinds
    return rec


@pytest.mark.parametrize("options, message", [
    (("--timeout", "1"), "syscall-lab: stopped after 1 s (--timeout): the guest did not "
                         "finish"),
    (("--max-insns", "1000"), "syscall-lab: stopped after 1000 instructions (--max-insns)"),
], ids=["timeout", "max-insns"])
def test_limits_stop_a_recorded_loop(tmp_path, options, message):
    status, err, out = _record(tmp_path, SPIN, *options)
    assert status == 2, err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == message
    rec = _recorded_the_loop(out)
    assert any(v.pc for v in rec.views)


def test_ctrl_c_stops_a_recorded_loop_and_keeps_the_recording(tmp_path):
    status, err, out = _record(tmp_path, SPIN, interrupt_after=3)
    assert status == 130, err
    assert err.splitlines()[-1] == "syscall-lab: interrupted" and "Traceback" not in err
    _recorded_the_loop(out)


def test_max_insns_counts_the_guest_s_instructions_only(tmp_path):
    """A budget of 1614 leaves the counting loop 1000 instructions: 500 iterations, as
    plain `run` counts them."""
    status, err, out = _record(tmp_path, SPIN_READING_TIME, "--max-insns", "1614")
    assert status == 2, err
    assert err.splitlines()[-1] == "syscall-lab: stopped after 1614 instructions (--max-insns)"
    assert load(str(out)).views[-1].regs["rbx"] == 500
    r = subprocess.run([sys.executable, "-m", "tui.cli", "run", "--max-insns", "1614",
                        str(tmp_path / "spin.s")], capture_output=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT, timeout=120)
    assert r.stderr.decode().splitlines()[-1] == err.splitlines()[-1]

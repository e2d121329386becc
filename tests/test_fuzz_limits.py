"""A seeded fuzz of the limits: random guest programs of sleeps (every clock, relative and
absolute, edge-case timespecs), reads and writes of pipes and of stdin, and /tmp files
written, extended and truncated at edge-case offsets, under --timeout 0.25 and
--memory-limit 16M. No run may raise (a traceback), outlive its limit, or take the host's
memory beyond a bound. Bounded: 40 programs of 12 calls, a few seconds in all."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

from tui.bench_tmpfs import PEAK_KIB_SOURCE

ROOT = Path(__file__).resolve().parent.parent
SEED = 9
PROGRAMS = 40
CALLS = 12

EDGE = [0, 1, 4095, 4096, 1 << 20, (255 << 20) - 1, 1 << 31, (1 << 31) - 1, 1 << 32,
        1 << 40, (1 << 63) - 1, -1, -4096, 1 << 63]
NSEC = [0, 1, 999_999_999, 1_000_000_000, -1, 500]
# Mostly nothing to wait for; now and then a wait only a limit ends (an hour, 2096, ever).
SECS = [0] * 30 + [1, -1, (1 << 63) - 1, 1 << 62, 4_000_000_000, 3600]
KINDS = {"nanosleep": 2, "clock_nanosleep": 2, "pwrite": 3, "write": 2, "ftruncate": 2,
         "pread": 2, "lseek": 1, "pipe": 2, "read0": 0.3, "unlink": 1}
CLOCKS = [0, 1, 2, 3, 4, 5, 6, 7, 11, -1, 99]


def _imm(v: int) -> str:
    return str(v & ((1 << 64) - 1))


def _call(rng: random.Random) -> list[str]:
    kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
    ts = [f"    mov rax, {_imm(rng.choice(SECS))}", "    mov [rbp], rax",
          f"    mov rax, {_imm(rng.choice(NSEC))}", "    mov [rbp + 8], rax"]
    if kind == "nanosleep":
        return ts + ["    mov eax, 35", "    mov rdi, rbp", "    lea rsi, [rbp + 16]",
                     "    syscall"]
    if kind == "clock_nanosleep":
        return ts + ["    mov eax, 230", f"    mov rdi, {_imm(rng.choice(CLOCKS))}",
                     f"    mov rsi, {rng.choice([0, 1, 1, 2, 0xFFFF])}", "    mov rdx, rbp",
                     "    lea r10, [rbp + 16]", "    syscall"]
    fd = "    mov rdi, r12"
    if kind == "pwrite":
        return ["    mov eax, 18", fd, "    mov rsi, r13",
                f"    mov rdx, {rng.choice([1, 4096, 1 << 20, 3 << 20])}",
                f"    mov r10, {_imm(rng.choice(EDGE))}", "    syscall"]
    if kind == "write":
        return ["    mov eax, 1", fd, "    mov rsi, r13",
                f"    mov rdx, {rng.choice([0, 1, 1 << 20, 4 << 20])}", "    syscall"]
    if kind == "ftruncate":
        return ["    mov eax, 77", fd, f"    mov rsi, {_imm(rng.choice(EDGE))}", "    syscall"]
    if kind == "pread":
        return ["    mov eax, 17", fd, "    mov rsi, r13",
                f"    mov rdx, {rng.choice([1, 4096, 1 << 20])}",
                f"    mov r10, {_imm(rng.choice(EDGE))}", "    syscall"]
    if kind == "lseek":
        return ["    mov eax, 8", fd, f"    mov rsi, {_imm(rng.choice(EDGE))}",
                f"    mov edx, {rng.choice([0, 1, 2, 3, 4, 9])}", "    syscall"]
    if kind == "pipe":  # a pipe: write to it, read it twice (the second finds it empty)
        return ["    mov eax, 22", "    lea rdi, [rbp + 32]", "    syscall",
                "    mov eax, 1", "    mov edi, [rbp + 36]", "    mov rsi, r13",
                f"    mov rdx, {rng.choice([1, 4096, 70000])}", "    syscall",
                "    mov eax, 0", "    mov edi, [rbp + 32]", "    mov rsi, r13",
                "    mov edx, 100000", "    syscall",
                "    mov eax, 0", "    mov edi, [rbp + 32]", "    mov rsi, r13",
                "    mov edx, 16", "    syscall"]
    if kind == "read0":
        return ["    mov eax, 0", "    xor edi, edi", "    mov rsi, r13", "    mov edx, 16",
                "    syscall"]
    return ["    mov eax, 87", "    lea rdi, [rel name]", "    syscall",
            "    mov eax, 2", "    lea rdi, [rel name]", "    mov esi, 0x42",
            "    mov edx, 0o600", "    syscall", "    mov r12, rax"]


def _program(rng: random.Random) -> str:
    lines = ["bits 64", "_start:", "    sub rsp, 256", "    mov rbp, rsp",
             "    mov eax, 9", "    xor edi, edi", "    mov esi, 0x400000", "    mov edx, 3",
             "    mov r10d, 0x22", "    mov r8, -1", "    xor r9d, r9d", "    syscall",
             "    mov r13, rax",
             "    mov eax, 2", "    lea rdi, [rel name]", "    mov esi, 0x42",
             "    mov edx, 0o600", "    syscall", "    mov r12, rax"]
    for _ in range(CALLS):
        lines += _call(rng)
    lines += ["    xor edi, edi", "    mov eax, 60", "    syscall", 'name: db "/tmp/f", 0']
    return "\n".join(lines) + "\n"


_CHILD = PEAK_KIB_SOURCE + """
import json, sys, time
from emu.program import load_program

from kernel_model.system import RunOptions, System
out = []
for path in sys.argv[1:]:
    prog = load_program(path)
    system = System(prog.image, prog.path, [path],
                    RunOptions(seed=1, timeout=0.25, memory_limit=16 << 20),
                    symbols=prog.symbols)
    start = time.monotonic()
    status = system.run()
    out.append([path, status, time.monotonic() - start])
print(json.dumps({"runs": out, "peak_kib": peak_kib()}))
"""


def test_fuzzed_limits_hold(tmp_path):
    import json

    rng = random.Random(SEED)
    paths = []
    for i in range(PROGRAMS):
        p = tmp_path / f"fuzz{i:02d}.s"
        p.write_text(_program(rng))
        paths.append(str(p))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.monotonic()
    # stdin: a pipe we keep open and never write, so a read of fd 0 blocks as on Linux
    r_in, w_in = os.pipe()
    try:
        r = subprocess.run([sys.executable, "-c", _CHILD, *paths], capture_output=True,
                           stdin=r_in, env=env, cwd=ROOT, timeout=PROGRAMS * 5 + 60)
    finally:
        os.close(r_in)
        os.close(w_in)
    err = r.stderr.decode()
    assert r.returncode == 0 and "Traceback" not in err, err[-3000:]
    result = json.loads(r.stdout.decode().splitlines()[-1])
    for path, status, seconds in result["runs"]:
        assert 0 <= status <= 255, (path, status)
        # a limit ends it: the 0.25 s timeout, with room for a loaded machine
        assert seconds < 10, (path, seconds)
    statuses = [status for _p, status, _s in result["runs"]]
    assert 2 in statuses and 0 in statuses  # some waited until the timeout, some finished
    assert result["peak_kib"] < 400 * 1024, result["peak_kib"]
    assert time.monotonic() - start < PROGRAMS * 5 + 60

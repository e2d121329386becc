"""`syscall-lab bench`, part two: each way of getting into the kernel (or not), as calls/s
in this emulator beside the modelled cost of one call on real hardware (kernel_model.entry.costs).
The emulator's numbers say how fast the model runs; the modelled ones, what Linux costs. Each
path with a target (TARGETS) says whether this run met it, against rates of the same run."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

LOOP_64 = """
bits 64
section .data
fn: dq 0
section .bss
ts: resq 2
section .text
_start:
    mov rbx, {n}
again:
{body}
    dec rbx
    jnz again
    mov eax, 60
    xor edi, edi
    syscall
"""

LOOP_32 = """
bits 32
section .data
fn: dd 0
section .bss
ts: resd 2
section .text
_start:
    mov esi, {n}
again:
{body}
    dec esi
    jnz again
    mov eax, 1
    xor ebx, ebx
    int 0x80
"""

# mechanism -> (bits, loop body, run options, what `fn` must hold, cost key)
MECHANISMS = {
    "syscall": (64, "    mov eax, 39\n    syscall", {}, None, "syscall"),
    "int 0x80 (64-bit code)": (64, "    mov eax, 20\n    int 0x80", {}, None, "int 0x80/64"),
    "int 0x80": (32, "    mov eax, 20\n    int 0x80", {}, None, "int 0x80"),
    "sysenter": (32, "    mov eax, 20\n    call [fn]", {}, "__kernel_vsyscall", "sysenter"),
    "vDSO": (64, "    mov edi, 1\n    lea rsi, [rip + ts]\n    call [rip + fn]", {},
             "__vdso_clock_gettime", "vdso"),
    "vsyscall emulated": (64, "    lea rdi, [rip + ts]\n    xor esi, esi\n"
                              "    mov rax, 0xffffffffff600000\n    call rax",
                          {"vsyscall": "xonly"}, None, "vsyscall emulated"),
    "vsyscall native": (64, "    lea rdi, [rip + ts]\n    xor esi, esi\n"
                            "    mov rax, 0xffffffffff600000\n    call rax",
                        {"vsyscall": "native"}, None, "vsyscall native"),
}


# Issue 16's targets, each against a rate measured in the same run:
# mechanism -> (what it is compared with, the least ratio or rate asked for).
TARGETS = {
    "syscall": ("vs_empty_hook", 0.4),  # getpid, untraced, against the empty Unicorn hook
    "int 0x80": ("vs_syscall", 0.8),
    "int 0x80 (64-bit code)": ("vs_syscall", 0.8),
    "sysenter": ("vs_syscall", 0.8),
    "vsyscall emulated": ("calls_per_s", 100_000),
}


def _calls_per_s(bits: int, body: str, options: dict, fn: str | None, n: int) -> float:
    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    source = (LOOP_64 if bits == 64 else LOOP_32).format(n=n, body=body)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "loop.s"
        path.write_text(source)
        prog = load_program(str(path))
        system = System(prog.image, prog.path, ["loop"], RunOptions(seed=1, **options),
                        symbols=prog.symbols)
        if fn is not None:
            system.machine.write_word(prog.assembled.labels["fn"], system.vdso.symbol(fn))
        t = time.perf_counter()
        status = system.run()
        elapsed = time.perf_counter() - t
    if status != 0:
        raise RuntimeError(f"the benchmark loop failed with status {status}")
    return n / elapsed


def _binary_rate(binary: str, n: int, vdso: bool) -> float:
    import programs
    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    path = str(programs.HERE / "bin" / binary)
    prog = load_program(path)
    import os

    with open(os.devnull, "wb") as null:
        system = System(prog.image, prog.path, [binary, str(n)],
                        RunOptions(seed=1, vdso=vdso, stdout_fd=null.fileno()))
        t = time.perf_counter()
        system.run()
        return n / (time.perf_counter() - t)


def _empty_hook_rate() -> float:
    import programs
    from emu.bare import run_bare, stop_after

    calls = 1_000_000  # bench_getpid.s's default count
    return calls / run_bare(programs.HERE / "asm" / "bench_getpid.s", stop_after(calls))


def run(n: int = 100_000) -> dict:
    from kernel_model.entry.costs import COSTS

    out = {}
    # The same run's baseline: getpid's loop in bare Unicorn with an empty `syscall` hook
    # (tui/bench.py's "hook doing nothing"), so machine load cancels out of the ratios.
    out["empty hook"] = {"calls_per_s": _empty_hook_rate()}
    for name, (bits, body, options, fn, cost_key) in MECHANISMS.items():
        rate = _calls_per_s(bits, body, options, fn, n)
        cost = COSTS[cost_key]
        out[name] = {"calls_per_s": rate, "modelled_ns": cost.ns, "source": cost.source}
    base, ref = out["empty hook"]["calls_per_s"], out["syscall"]["calls_per_s"]
    for name in MECHANISMS:
        out[name]["vs_empty_hook"] = out[name]["calls_per_s"] / base
        out[name]["vs_syscall"] = out[name]["calls_per_s"] / ref
    with_vdso = _binary_rate("gettimeofday_loop.glibc-x86_64", n, True)
    without = _binary_rate("gettimeofday_loop.glibc-x86_64", n, False)
    out["gettimeofday loop"] = {"vdso_calls_per_s": with_vdso, "syscall_calls_per_s": without,
                                "ratio": with_vdso / without, "target": 10.0}
    return out


def report(results: dict) -> str:
    lines = [f"{'mechanism':<24} {'emulator calls/s':>17} {'vs empty hook':>14} "
             f"{'vs syscall':>11} {'modelled ns/call':>17}  target"]
    lines.append(f"{'empty Unicorn hook':<24} {results['empty hook']['calls_per_s']:>17,.0f}")
    for name, r in results.items():
        if "modelled_ns" in r:
            lines.append(f"{name:<24} {r['calls_per_s']:>17,.0f} {r['vs_empty_hook']:>13.2f}x "
                         f"{r['vs_syscall']:>10.2f}x {r['modelled_ns']:>17.0f}  "
                         f"{target_text(name, r)}")
    g = results["gettimeofday loop"]
    lines.append(f"gettimeofday loop (glibc x86-64): {g['vdso_calls_per_s']:,.0f}/s with the "
                 f"vDSO, {g['syscall_calls_per_s']:,.0f}/s with --no-vdso: "
                 f"{g['ratio']:.1f}x (target >= 10x)")
    lines.append("modelled costs: kernel_model/entry/costs.py (KERNEL_FACTS §6, Linux 6.18)")
    return "\n".join(lines)


def target_text(name: str, r: dict) -> str:
    """The path's target beside its number, and whether this run met it."""
    if name not in TARGETS:
        return ""
    key, least = TARGETS[name]
    met = "met" if r[key] >= least else "NOT met"
    if key == "calls_per_s":
        return f">= {least:,.0f}/s: {met}"
    against = "empty hook" if key == "vs_empty_hook" else "syscall"
    return f">= {least}x {against}: {met}"

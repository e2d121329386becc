"""`syscall-lab bench`: host memory against guest memory, for guests that map far more
than they touch. Each case runs `syscall-lab run` in a child process and reports the
child's peak RSS above a run of the assembly hello world (Python, Unicorn and the model),
beside the guest memory mapped and the guest memory touched. The target: host memory close
to the touched memory plus a constant, whatever was mapped.

- mmap-split: mmap 900 MiB, touch 4 pages, munmap one page and mprotect another (each
  splits the mapping);
- madvise: mmap 1000 MiB, touch one page, MADV_DONTNEED over all of it;
- stack: recursion until the stack overflows (8 MiB of stack touched, then SIGSEGV).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

MIB = 1 << 20

_EXIT = """
    mov eax, 60
    xor edi, edi
    syscall
"""

_MMAP = """
bits 64
_start:
    mov eax, 9
    xor edi, edi
    mov esi, {size}
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov rbx, rax
"""

CASES = {
    "mmap-split": (900 * MIB, 4 * 4096, _MMAP.format(size=900 * MIB) + """
    mov byte [rbx], 1
    mov byte [rbx + 4096 * 30], 1
    mov byte [rbx + 4096 * 100000], 1
    mov byte [rbx + 4096 * 200000], 1
    lea rdi, [rbx + 4096 * 10]
    mov esi, 4096
    mov eax, 11
    syscall
    lea rdi, [rbx + 4096 * 20]
    mov esi, 4096
    mov edx, 1
    mov eax, 10
    syscall
""" + _EXIT),
    "madvise": (1000 * MIB, 4096, _MMAP.format(size=1000 * MIB) + """
    mov byte [rbx + 4096 * 5], 1
    mov rdi, rbx
    mov esi, 1000 * 1024 * 1024
    mov edx, 4
    mov eax, 28
    syscall
""" + _EXIT),
    "stack": (8 * MIB, 8 * MIB, """
bits 64
_start:
    call f
f:  push rax
    call f
"""),
}

_BASELINE = "bits 64\n_start:\n" + _EXIT

# Runs the CLI as its only child, so RUSAGE_CHILDREN is that run's peak alone.
_PEAK_CHILD = """
import resource, subprocess, sys
subprocess.run([sys.executable, "-m", "tui.cli", "run", sys.argv[1]],
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_bytes(source: str, workdir: Path) -> int:
    path = workdir / "case.s"
    path.write_text(source)
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "-c", _PEAK_CHILD, str(path)], capture_output=True,
                       text=True, check=True, cwd=root,
                       env=dict(os.environ, PYTHONPATH=str(root)))
    return int(r.stdout.split()[-1]) * 1024


def run() -> dict:
    with tempfile.TemporaryDirectory(prefix="syscall-lab-bench-") as tmp:
        workdir = Path(tmp)
        base = _peak_bytes(_BASELINE, workdir)
        out = {"baseline_mib": base / MIB}
        for name, (mapped, touched, source) in CASES.items():
            host = max(_peak_bytes(source, workdir) - base, 0)
            out[name] = {"guest_mapped_mib": mapped / MIB, "guest_touched_mib": touched / MIB,
                         "host_mib": host / MIB,
                         "host_per_mapped": host / mapped}
    return out


def report(results: dict) -> str:
    lines = [f"host memory    above a bare run ({results['baseline_mib']:.0f} MiB peak), "
             "against the guest's (target: touched + a few MiB)"]
    for name in CASES:
        r = results[name]
        lines.append(f"  {name:<12} guest mapped {r['guest_mapped_mib']:7.0f} MiB, touched "
                     f"{r['guest_touched_mib']:6.2f} MiB: host +{r['host_mib']:6.1f} MiB "
                     f"({r['host_per_mapped']:.3f}x of mapped)")
    return "\n".join(lines)

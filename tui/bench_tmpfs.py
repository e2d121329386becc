"""`syscall-lab bench`, host memory against guest memory: the in-memory /tmp.

The issue's flood: eight files each made 255 MB long by a one-byte pwrite at its end (2 GB
of apparent size, a page each of data), then real data written 1 MiB at a time until the
memory cap stops it with ENOSPC. Each run is a fresh process whose peak RSS
(VmHWM) is compared with the same process running a guest that only exits: what the
flood adds to the host should be the guest's memory (mappings and /tmp's pages), not the
files' sizes. Reported as a ratio; the absolute numbers depend on the machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAP = 64 << 20

FLOOD = """bits 64
_start:
    mov r12, 8
    lea r13, [rel names]
sparse:
    mov eax, 2           ; open(name, O_RDWR|O_CREAT, 0600)
    mov rdi, r13
    mov esi, 0x42
    mov edx, 0o600
    syscall
    mov rdi, rax
    mov eax, 18          ; pwrite64(fd, name, 1, 255 MB - 1)
    mov rsi, r13
    mov edx, 1
    mov r10, 255*1024*1024 - 1
    syscall
    add r13, 8
    dec r12
    jnz sparse
    mov eax, 9           ; a 1 MiB buffer
    xor edi, edi
    mov esi, 0x100000
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov r14, rax
    mov eax, 2
    mov rdi, r13
    mov esi, 0x42
    mov edx, 0o600
    syscall
    mov r15, rax
fill:
    mov eax, 1           ; write(fd, buf, 1 MiB) until ENOSPC
    mov rdi, r15
    mov rsi, r14
    mov edx, 0x100000
    syscall
    test rax, rax
    jg fill
    neg rax
    mov edi, eax
    mov eax, 60
    syscall
names: db "/tmp/fa", 0, "/tmp/fb", 0, "/tmp/fc", 0, "/tmp/fd", 0, "/tmp/fe", 0
    db "/tmp/ff", 0, "/tmp/fg", 0, "/tmp/fh", 0, "/tmp/fi", 0
"""
EXIT = """bits 64
_start:
    xor edi, edi
    mov eax, 60
    syscall
"""

# A child script's own peak memory, shared with the tests that bound host memory.
PEAK_KIB_SOURCE = """
import resource
def peak_kib():
    # VmHWM: this process's own peak (ru_maxrss would keep the parent's from before exec)
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""

_CHILD = PEAK_KIB_SOURCE + """
import json, sys
from emu.program import load_program

from kernel_model.system import RunOptions, System
prog = load_program(sys.argv[1])
system = System(prog.image, prog.path, [sys.argv[1]],
                RunOptions(seed=1, memory_limit=int(sys.argv[2])), symbols=prog.symbols)
status = system.run()
tmp = system.vfs.tmp
print(json.dumps({"status": status, "guest": system.mm.total + system.mm.outside,
                  "tmpfs": tmp.budget.used,
                  "apparent": sum(n.size() for n in tmp.root.children.values()),
                  "peak_kib": peak_kib()}))
"""


def _measure(source: str, tmp: str, name: str) -> dict:
    path = Path(tmp) / name
    path.write_text(source)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(CAP)],
                       capture_output=True, text=True, check=True, env=env, cwd=ROOT)
    return json.loads(r.stdout.split("\n")[-2])


def run() -> dict:
    with tempfile.TemporaryDirectory(prefix="syscall-lab-bench-tmpfs-") as tmp:
        base = _measure(EXIT, tmp, "exit.s")
        flood = _measure(FLOOD, tmp, "flood.s")
    added = max(0, flood["peak_kib"] - base["peak_kib"]) * 1024
    return {"cap": CAP, "status": flood["status"], "apparent_bytes": flood["apparent"],
            "tmpfs_bytes": flood["tmpfs"], "guest_bytes": flood["guest"],
            "host_peak_kib": flood["peak_kib"], "baseline_peak_kib": base["peak_kib"],
            "host_added_bytes": added, "host_per_guest": added / max(1, flood["guest"]),
            "target": "host added ~ guest memory (ratio ~1, never the files' sizes)"}


def report(r: dict) -> str:
    mib = 1 << 20
    return (f"tmpfs flood  8 x 255 MB sparse files + data to ENOSPC (status {r['status']}) "
            f"under --memory-limit {r['cap'] // mib}M\n"
            f"             files' size {r['apparent_bytes'] / mib:,.0f} MiB, /tmp's pages "
            f"{r['tmpfs_bytes'] / mib:.1f} MiB, guest memory {r['guest_bytes'] / mib:.1f} MiB\n"
            f"             host peak RSS {r['host_peak_kib'] / 1024:.0f} MiB, "
            f"{r['host_added_bytes'] / mib:.1f} MiB above a guest that only exits: "
            f"{r['host_per_guest']:.2f}x the guest's memory (target ~1x)")


if __name__ == "__main__":
    result = run()
    print(json.dumps(result, indent=2) if "--json" in sys.argv else report(result))

"""Shared helpers: run a guest in-process with its stdout captured, or the CLI as a user
would (a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ROOT / "programs"


@dataclass
class Run:
    status: int
    stdout: bytes
    events: list = field(default_factory=list)
    system: object = None

    def syscalls(self):
        from kernel_model.trace.events import SyscallReturned

        return [e for e in self.events if isinstance(e, SyscallReturned)]


def run_guest(program: str | Path, *args: str, source: str | None = None, bits: int = 64,
              **options) -> Run:
    """Run a program (a path, or assembly `source` written to a temp file) in-process."""
    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    tmpdir = tempfile.mkdtemp(prefix="syscall-lab-test-")
    if source is not None:
        path = Path(tmpdir) / str(program)
        path.write_text(source)
        program = path
    out_path = Path(tmpdir) / "stdout"
    with open(out_path, "w+b") as out:
        prog = load_program(str(program), bits)
        options.setdefault("seed", 1)
        system = System(prog.image, prog.path, [str(program), *args],
                        RunOptions(stdout_fd=out.fileno(), **options), symbols=prog.symbols)
        events: list = []
        system.kernel.attach(events.append)
        status = system.run()
        out.seek(0)
        data = out.read()
    return Run(status, data, events, system)


def cli(*args: str, stdin: bytes | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True,
                          input=stdin, timeout=timeout, env=env, cwd=ROOT)


@pytest.fixture
def guest():
    return run_guest

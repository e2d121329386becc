"""gdb's line-level reverse commands (reverse-next, reverse-step, reverse-finish) through
`syscall-lab run --gdb`, against native gdb's `record full` on the same binary: Linux and
the real gdb are the oracle. They are built from bs/bc and breakpoints gdb plants on the
way, so a reverse-continue must stop exactly on a breakpoint's instruction."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_gdbstub import GDB, debug, needs_gdb

sys.path.insert(0, str(Path(__file__).parent))
from test_session import asm  # noqa: E402

SOURCE = Path(__file__).parent / "guests" / "gdb" / "reverse_lines.c"
# From main's first line: forward by lines, back by lines, into bump and back out of it.
COMMANDS = ["next", "next", "next", "p counter", "reverse-next", "p counter",
            "reverse-next", "p counter", "step", "step", "reverse-finish", "p counter",
            "reverse-step", "info line *$pc", "p $pc", "echo @END@\\n"]


def _steps(out: str) -> list[str]:
    """gdb's lines from the stop at main to the end marker, without the program's output
    (it interleaves differently natively) and record's own chatter."""
    part = out.split("Breakpoint 1, main ()", 1)[1].split("@END@", 1)[0]
    keep = []
    for line in part.splitlines():
        if line in ("one", "") or line.startswith(("Process record", "The next instruction")):
            continue
        keep.append(line)
    return keep


@pytest.fixture(scope="module", params=[64, 32])
def binary(request, tmp_path_factory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    out = tmp_path_factory.mktemp("reverse") / f"reverse_lines{request.param}"
    r = subprocess.run(["gcc", f"-m{request.param}", "-g", "-O0", "-static", "-o", str(out),
                        str(SOURCE)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"gcc -m{request.param} -static cannot build here: {r.stderr[-200:]}")
    return out


@needs_gdb
def test_reverse_line_commands_land_where_native_record_does(binary):
    native = subprocess.run(
        [GDB, "-batch", "-nx", str(binary), "-ex", "break main", "-ex", "run",
         "-ex", "record full", *[a for c in COMMANDS for a in ("-ex", c)],
         "-ex", "record stop", "-ex", "continue"],
        capture_output=True, text=True, timeout=120)
    if "Breakpoint 1, main ()" not in native.stdout or "@END@" not in native.stdout:
        pytest.skip(f"native gdb cannot record here: {native.stdout[-300:]}"
                    f"{native.stderr[-300:]}")
    ours, status, stdout, _ = debug(binary, "break main", "continue", *COMMANDS, "continue")
    want = _steps(native.stdout)
    assert _steps(ours) == want
    # the lines themselves: back over the write to line 15, reverse-finish to bump's call
    assert "15\t    write(1, \"one\\n\", 4);" in want
    assert any(re.match(r"0x[0-9a-f]+ in main \(\) at .*:16", line) for line in want)
    assert status == 0 and stdout == b"one\n6 14 7\n"


CALL_AFTER_SYSCALL = """bits 64
section .text
global _start
bump:
    push rbp
    mov rbp, rsp
    add rbx, 1
    add rbx, 2
    add rbx, 3
    pop rbp
    ret
_start:
    mov eax, 39         ; getpid: a crossing starts the stretch the breakpoint is in
    syscall
    nop
    call bump
after:
    mov eax, 60
    xor edi, edi
    syscall
"""


def test_reverse_continue_stops_on_the_breakpoint_instruction(tmp_path):
    """Going back to a breakpoint in the stretch after a syscall lands on its address, and
    the machine is there (it once ran on by the counted offset a second time)."""
    s = asm(tmp_path, "bump.s", CALL_AFTER_SYSCALL)
    after = s.add_breakpoint("after").address
    assert s.cont().reason == "breakpoint" and s.machine.pc == after
    rbx = s.regs()["rbx"]
    bump = s.add_breakpoint("bump").address
    stop = s.reverse_continue()
    assert stop.reason == "breakpoint"
    assert stop.pc == bump and s.machine.pc == bump
    assert s.regs()["rbx"] == rbx - 6  # before bump's three adds
    # and forward again from there: the same history
    assert s.cont().reason == "breakpoint" and s.machine.pc == after
    assert s.regs()["rbx"] == rbx

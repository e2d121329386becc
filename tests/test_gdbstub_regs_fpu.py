"""The x87 and SSE registers through `syscall-lab run --gdb`: what gdb shows of them (st0-st7,
xmm0-xmm15, mxcsr, `info float`), what it writes into them, and what going back in history
gives, each compared with gdb on the same program running natively.

The guests (tests/guests/gdbfpu, built by its build.sh) load 1 and pi on the x87 stack,
2.5 into xmm0 and an MXCSR, stop at `loaded`, and exit with xmm1's low dword.

`info float`'s last-instruction and operand pointers and opcode are not compared: what a
process sees there depends on the CPU (an AMD CPU saves them only while an x87 exception is
pending, recent Intel ones update the opcode and data pointer only on exceptions), and the
emulated CPU records the instruction pointer but not the opcode (docs/kernel_facts.md §21).
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import ROOT
from tests.test_gdbstub import GDB, debug, needs_gdb

GUESTS = ROOT / "tests" / "guests" / "gdbfpu" / "bin"
# What the CPU's model decides (see above): the lines of `info float` left out.
MODEL_LINES = re.compile(r"^(Instruction Pointer|Operand Pointer|Opcode):.*\n", re.M)


def native(program, *commands: str) -> str:
    args = [GDB, "-batch", "-nx"]
    for c in commands:
        args += ["-ex", c]
    args.append(str(program))
    r = subprocess.run(args, capture_output=True, timeout=120, text=True)
    return r.stdout + r.stderr


def blocks(text: str) -> list[str]:
    """What the commands printed between each `echo @p@` and `echo @e@`, value numbers
    ($1, $2...) and the CPU model's lines taken out, so that two sessions compare."""
    parts = re.findall(r"@p@\n(.*?)@e@\n", text, re.S)
    return [MODEL_LINES.sub("", re.sub(r"^\$\d+ = ", "$ = ", p, flags=re.M)) for p in parts]


SHOW = ["echo @p@\\n", "p $pc", "p $st0", "p $st1", "p $st2", "p $xmm0", "p $xmm1",
        "info registers mxcsr", "info registers fctrl fstat ftag", "info float", "echo @e@\\n"]


@needs_gdb
@pytest.mark.parametrize("bits", [64, 32])
def test_x87_and_sse_registers_read_and_written_as_natively(bits):
    program = GUESTS / f"fpregs{bits}"
    # writes: an xmm lane the guest then uses, an x87 register, the MXCSR
    writes = ["set $xmm1.v2_int64[0] = 5", "set $st1 = -0.25", "set $mxcsr = 0x1f80",
              *SHOW[:-1], "p $xmm1.v4_int32", SHOW[-1],
              # the control registers, with bits they do not keep; a new TOP moves the stack
              "set $mxcsr = 0x11fa0", "set $ftag = 0x5fff", "set $fop = 0xffff",
              "set $fioff = 0x1234", "set $fstat = 0x12345",
              *SHOW[:-1], "info registers fop fioff fiseg fooff foseg", SHOW[-1],
              "set $fstat = 0x3000", "continue"]
    here = native(program, "break loaded", "run", *SHOW, *writes)
    out, status, stdout, err = debug(program, "break loaded", "continue", *SHOW, *writes)
    assert "Breakpoint 1, " in here and "exited with code 05" in here, here
    ours = blocks(out)
    assert ours == blocks(here), out
    assert "v2_double = {2.5, 0}" in ours[0] and "3.14159265358979323851" in ours[0]
    assert "$ = {5, 0, 0, 0}" in ours[1] and "$ = -0.25" in ours[1]
    assert re.search(r"^mxcsr +0x1fa0 ", ours[2], re.M) and "TOP: 4" in ours[2]
    assert "<unavailable>" not in out
    # the guest ran on with what gdb wrote into xmm1
    assert "exited with code 05" in out, out
    assert status == 5, err


@needs_gdb
@pytest.mark.parametrize("bits", [64, 32])
def test_going_back_gives_the_x87_and_sse_state_of_each_point(bits):
    """reverse-stepi from `loaded` back to the first instruction: at each point the x87 and
    SSE registers are what a native run has there going forward; then forward again to
    `loaded`, an edit there, a step that uses it and a step back over that step."""
    program = GUESTS / f"fpregs{bits}"
    steps = 6  # fninit fld1 fldpi movsd ldmxcsr pxor, then `loaded`
    di = "rdi" if bits == 64 else "ebx"
    after = ["set $xmm1.v2_int64[0] = 5", "stepi", "echo @di@\\n", f"p ${di}",
             "reverse-stepi", *SHOW, "continue"]
    here = native(program, "starti", *SHOW, *[c for _ in range(steps) for c in ["stepi", *SHOW]],
                  "set $xmm1.v2_int64[0] = 5", *SHOW, "continue")
    forward = blocks(here)
    assert len(forward) == steps + 2, here
    out, status, stdout, err = debug(
        program, "break loaded", "continue", *SHOW,
        *[c for _ in range(steps) for c in ["reverse-stepi", *SHOW]],
        "continue", *SHOW, *after)
    ours = blocks(out)
    assert len(ours) == steps + 3, out
    # at `loaded`, then each point back to the first instruction
    assert ours[:steps + 1] == forward[steps::-1], out
    # forward again to `loaded`: the state it had the first time
    assert ours[steps + 1] == forward[steps], out
    # the edit there, seen by the next instruction, and still there a step back
    assert re.search(r"@di@\n\$\d+ = 5\n", out), out
    assert ours[steps + 2] == forward[steps + 1], out
    assert "exited with code 05" in out, out
    assert status == 5, err


@needs_gdb
def test_an_edit_stays_after_going_back_past_it_and_forward_again():
    out, status, stdout, err = debug(
        GUESTS / "fpregs64", "break loaded", "continue", "set $xmm1.v2_int64[0] = 5",
        "reverse-stepi", "reverse-stepi", "continue", "echo @x@\\n", "p $xmm1.v2_int64[0]",
        "continue")
    assert re.search(r"@x@\n\$\d+ = 5\n", out), out
    assert status == 5, err

"""`run --gdb` with --max-insns and --timeout: a guest that loops forever under gdb's
`continue` stops at the limit (gdb sees SIGXCPU), going on ends the run as `run` ends it
(status 2 and the limit's line), and the time limit counts the guest's run time, not the
time gdb sits at its prompt."""

from __future__ import annotations

import re

from tests.conftest import ROOT, cli
from tests.test_gdbstub import debug, needs_gdb

SPIN = ROOT / "tests" / "guests" / "gdb" / "spin.s"


def plain_run(*options: str):
    return cli("run", *options, str(SPIN))


@needs_gdb
def test_max_insns_stops_continue_then_ends_the_run_as_run_does():
    plain = plain_run("--max-insns", "100000")
    out, status, stdout, err = debug(SPIN, "continue", "info registers rip",
                                     "echo @again@\\n", "continue",
                                     options=["--max-insns", "100000"])
    first, again = out.split("@again@", 1)
    assert "Program received signal SIGXCPU" in first, out
    assert re.search(r"^rip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <spin", first, re.M), out
    assert "Program terminated with signal SIGKILL" in again, out
    assert "(--max-insns)" in out, out  # said on gdb's console too
    assert status == plain.returncode == 2, err
    assert stdout == plain.stdout == b"spinning\n"
    assert re.search(rb"^syscall-lab: stopped after \d+ instructions \(--max-insns\)$", err,
                     re.M), err


@needs_gdb
def test_max_insns_ends_a_detached_guest():
    out, status, stdout, err = debug(SPIN, "detach", options=["--max-insns", "100000"])
    assert "detached" in out, out
    assert status == 2 and stdout == b"spinning\n", err
    assert b"(--max-insns)" in err, err


@needs_gdb
def test_max_insns_counts_what_ran_not_what_was_replayed():
    # The first 10 instructions, gone over backwards and forwards twice, count once: a
    # budget of 30 lets the guest reach instruction 20 (replays counted would make 60).
    out, status, _, err = debug(SPIN, "stepi 10", "reverse-stepi 10", "stepi 10",
                                "reverse-stepi 10", "stepi 20", "info registers rbx",
                                options=["--max-insns", "30"])
    assert "SIGXCPU" not in out and "SIGKILL" not in out, out
    # 5 instructions to the write, then inc/jmp pairs: 20 instructions ran 8 incs.
    assert re.search(r"^rbx\s+0x8\s", out, re.M), out


@needs_gdb
def test_timeout_counts_run_time_not_prompt_time():
    # gdb sits at its prompt for longer than the limit (`shell sleep`): the next stepi is
    # an ordinary step; then `continue` runs into the limit.
    out, status, stdout, err = debug(SPIN, "shell sleep 3", "stepi", "echo @run@\\n",
                                     "continue", options=["--timeout", "2"])
    before, after = out.split("@run@", 1)
    assert "SIGXCPU" not in before and "SIGKILL" not in before, out
    assert "Program received signal SIGXCPU" in after, out
    assert status == 2 and stdout == b"spinning\n", err
    assert b"of guest run time (--timeout)" in err, err

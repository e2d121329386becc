"""Signals under the real gdb as Linux's ptrace shows them: a stop before each delivery
("Program received signal ..."), the signals gdb passes silently (QPassSignals), the signal
given on resume delivered (`continue`, `signal 0`, `signal SIGUSR1`, `handle ... nopass`),
default actions (SIGTERM ends the guest), and going back over a delivery.

The guest is tests/guests/signals/signals.c (built by its build.sh, committed). Each scenario
runs under syscall-lab's stub and, where this machine lets gdb trace, natively under gdb from
the same first instruction (`starti`): the stop lines, the exit and the output must agree.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import ROOT
from tests.test_gdbstub import GDB, Stub, debug, gdb, needs_gdb, reg

GUESTS = ROOT / "tests" / "guests" / "signals" / "bin"
TARGETS = {64: "signals.glibc-x86_64", 32: "signals.glibc-i386"}
# What a user compares: the stops gdb announces, the breakpoints hit, how the program ended.
EVENT = re.compile(r"^(Program received signal .*|Program terminated with signal .*|"
                   r"Breakpoint \d+, 0x[0-9a-f]+ in \S+ \(\)|=> 0x[0-9a-f]+ <[^>]+>:.*|"
                   r"\[Inferior 1 \(.*\) (?P<exit>exited .*)\])$", re.M)


def events(out: str) -> list[str]:
    found = []
    for m in EVENT.finditer(out):
        # "[Inferior 1 (process N) exited ...]" natively, "(Remote target)" here
        found.append(m.group("exit") or m.group(1))
    return found


_native_ok: dict[str, bool] = {}


def native(program, *commands: str, tmp_path) -> tuple[str, bytes] | None:
    """gdb running `program` itself from its first instruction: (gdb's output, the
    program's stdout); None when this machine does not let gdb trace (no ptrace)."""
    out_file = tmp_path / "native.out"
    args = [GDB, "-batch", "-nx", "-ex", f"starti > {out_file}"]
    for c in commands:
        args += ["-ex", c]
    args.append(str(program))
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    if "Program stopped." not in out:
        return None  # ptrace refused (a container without CAP_SYS_PTRACE, ...)
    return out, out_file.read_bytes() if out_file.exists() else b""


def both(bits: int, *commands: str, tmp_path, options: list[str] | None = None):
    """The scenario under the stub, and natively when possible: (stub's gdb output, status,
    stdout, stderr, native (output, stdout) or None)."""
    program = GUESTS / TARGETS[bits]
    out, status, stdout, err = debug(program, *commands, options=options)
    assert b"Traceback" not in err and "Remote connection closed" not in out, (out, err)
    return out, status, stdout, err, native(program, *commands, tmp_path=tmp_path)


def agree(out: str, stdout: bytes, theirs) -> None:
    """The stub's run shows what the native one shows (when there is one)."""
    if theirs is None:
        return
    native_out, native_stdout = theirs
    assert events(out) == events(native_out), (out, native_out)
    assert stdout == native_stdout, (stdout, native_stdout)


BITS = pytest.mark.parametrize("bits", [64, 32])


@needs_gdb
@BITS
def test_each_signal_stops_and_continue_delivers_it(bits, tmp_path):
    """`continue` at each stop passes the signal: the handlers count both SIGUSR1 and the
    SIGPIPE; SIGALRM (gdb: nostop noprint pass) reaches its handler without a stop; SIGTERM
    stops, then kills as its default action."""
    out, status, stdout, err, theirs = both(bits, *["continue"] * 5, tmp_path=tmp_path)
    assert events(out) == [
        "Program received signal SIGUSR1, User defined signal 1.",
        "Program received signal SIGUSR1, User defined signal 1.",
        "Program received signal SIGPIPE, Broken pipe.",
        "Program received signal SIGTERM, Terminated.",
        "Program terminated with signal SIGTERM, Terminated."], out
    assert stdout == b"usr1=2 alrm=1 pipe=11\n", stdout
    assert status == 128 + 15, err
    agree(out, stdout, theirs)


@needs_gdb
@BITS
def test_signal_0_and_nopass_suppress_it(bits, tmp_path):
    """`signal 0` at a signal stop resumes without the signal; after `handle SIGUSR1
    nostop noprint nopass`, `continue` at the second stop drops that one too."""
    out, status, stdout, err, theirs = both(
        bits, "continue", "signal 0", "handle SIGUSR1 nostop noprint nopass", "continue",
        "continue", "continue", tmp_path=tmp_path)
    assert events(out)[:2] == ["Program received signal SIGUSR1, User defined signal 1."] * 2
    assert events(out)[2:] == [
        "Program received signal SIGPIPE, Broken pipe.",
        "Program received signal SIGTERM, Terminated.",
        "Program terminated with signal SIGTERM, Terminated."], out
    assert stdout == b"usr1=0 alrm=1 pipe=11\n", stdout
    assert status == 128 + 15, err
    agree(out, stdout, theirs)


@needs_gdb
@BITS
def test_signal_given_at_a_breakpoint_runs_the_handler(bits, tmp_path):
    """`signal SIGUSR1` where no signal is pending delivers it there (the handler counts a
    third one), and a breakpoint on the handler stops at its first instruction."""
    out, status, stdout, err, theirs = both(
        bits, "break kill", "continue", "delete", "break on_usr1", "signal SIGUSR1",
        "delete", *["continue"] * 5, tmp_path=tmp_path)
    got = events(out)
    assert re.fullmatch(r"Breakpoint 1, 0x[0-9a-f]+ in kill \(\)", got[0]), out
    assert re.fullmatch(r"Breakpoint 2, 0x[0-9a-f]+ in on_usr1 \(\)", got[1]), out
    assert got[2:4] == ["Program received signal SIGUSR1, User defined signal 1."] * 2, out
    assert stdout == b"usr1=3 alrm=1 pipe=11\n", stdout
    assert status == 128 + 15, err
    agree(out, stdout, theirs)


@needs_gdb
@BITS
def test_sigterm_given_on_resume_kills_by_default(bits, tmp_path):
    out, status, stdout, err, theirs = both(bits, "break kill", "continue",
                                            "signal SIGTERM", tmp_path=tmp_path)
    assert events(out)[-1] == "Program terminated with signal SIGTERM, Terminated.", out
    assert stdout == b"" and status == 128 + 15, (stdout, err)
    agree(out, stdout, theirs)


@needs_gdb
@BITS
def test_sigalrm_stops_when_gdb_asks_and_stepi_enters_the_handler(bits, tmp_path):
    """`handle SIGALRM stop print` takes it out of the passed set (QPassSignals); a stepi
    at a signal stop delivers the signal and stops at the handler's first instruction, as
    Linux's PTRACE_SINGLESTEP with a signal does."""
    out, status, stdout, err, theirs = both(
        bits, "handle SIGALRM stop print", "continue", "stepi", "x/i $pc", "continue",
        "continue", "stepi", "x/i $pc", "continue", "continue", "continue",
        tmp_path=tmp_path)
    got = events(out)
    assert got[0] == "Program received signal SIGUSR1, User defined signal 1.", out
    assert re.fullmatch(r"=> 0x[0-9a-f]+ <on_usr1>:.*", got[1]), out
    assert "Program received signal SIGALRM, Alarm clock." in got, out
    assert re.fullmatch(r"=> 0x[0-9a-f]+ <on_alrm>:.*", got[got.index(
        "Program received signal SIGALRM, Alarm clock.") + 1]), out
    assert stdout == b"usr1=2 alrm=1 pipe=11\n", stdout
    agree(out, stdout, theirs)


REGS = {64: ("rip", "rsp", "rax", "rdi", "rsi"), 32: ("eip", "esp", "eax", "ebx", "ecx")}


@needs_gdb
@BITS
def test_back_over_a_delivery_and_forward_again(bits):
    """From the handler's breakpoint, reverse-stepi lands where the signal stopped the
    guest, registers and stack as they were; going forward again stops for the signal
    again and replays its delivery: the kill syscall is never made twice."""
    names = " ".join(REGS[bits])
    out, status, stdout, err = debug(
        GUESTS / TARGETS[bits], "break on_usr1", "continue",
        "echo @stop@\\n", f"info registers {names}", "x/4xw $sp",
        "continue", "reverse-stepi",
        "echo @back@\\n", f"info registers {names}", "x/4xw $sp",
        "continue", "continue", "echo @again@\\n", f"info registers {REGS[bits][0]}",
        "delete", *["continue"] * 4, options=["-s"])
    stop, back = out.split("@stop@", 1)[1].split("@back@", 1)
    back = back.split("@again@", 1)[0]
    for name in REGS[bits]:
        assert reg(stop, name) == reg(back, name), (name, out)
    words = re.compile(r"^0x[0-9a-f]+:\s+(.*)$", re.M)
    assert words.findall(stop)[0] == words.findall(back)[0], out
    again = out.split("@again@", 1)
    assert again[0].count("Program received signal SIGUSR1") == 2, out
    assert re.search(r"Breakpoint 1, 0x[0-9a-f]+ in on_usr1", again[0].split("@back@")[1]), out
    handler = int(re.search(r"Breakpoint 1 at (0x[0-9a-f]+)", out).group(1), 16)
    assert reg(again[1], REGS[bits][0]) == handler, out
    trace = err.decode()
    assert len(re.findall(r"^kill\(\d+, SIGUSR1\)\s+= 0$", trace, re.M)) == 1, trace
    assert len(re.findall(r"^--- SIGUSR1 \{.*SI_USER", trace, re.M)) == 1, trace
    assert stdout == b"usr1=2 alrm=1 pipe=11\n" and status == 128 + 15, err


@needs_gdb
def test_signal_0_at_a_fault_runs_the_instruction_again(tmp_path):
    """At a SIGSEGV stop, `signal 0` drops the signal: the store runs again and faults
    again (ptrace discards the fault's signal; the instruction is not skipped)."""
    src = tmp_path / "segv.s"
    src.write_text("bits 64\nsection .text\nglobal _start\n_start:\n    xor eax, eax\n"
                   "    mov [rax], eax\n")
    out, status, _, err = debug(src, "continue", "signal 0", "info registers rip",
                                "continue")
    assert events(out) == ["Program received signal SIGSEGV, Segmentation fault."] * 2 + [
        "Program terminated with signal SIGSEGV, Segmentation fault."], out
    assert re.search(r"^rip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <_start\+2>", out, re.M), out
    assert status == 128 + 11, err


@needs_gdb
def test_gdb_connecting_again_at_a_signal_stop_passes_it():
    """A gdb that connects while the guest waits at a signal stop hears of the signal
    (`?`), and its `continue` passes it: the handler still counts both SIGUSR1."""
    stub = Stub(GUESTS / TARGETS[64])
    try:
        first = gdb(stub.port, "continue", "disconnect")
        second = gdb(stub.port, *["continue"] * 4)
        status, stdout, err = stub.finish()
    finally:
        stub.kill()
    assert events(first) == ["Program received signal SIGUSR1, User defined signal 1."], first
    assert events(second)[-1] == "Program terminated with signal SIGTERM, Terminated.", second
    assert stdout == b"usr1=2 alrm=1 pipe=11\n" and status == 128 + 15, err


@needs_gdb
def test_a_childs_signals_do_not_stop_gdb(tmp_path):
    """Only the first process is traced (gdb detaches a forked child): the SIGTERM the
    child sends itself is its own business, as natively."""
    program = ROOT / "tests" / "guests" / "procs" / "bin" / "wait_signal.glibc-x86_64"
    out, status, stdout, err = debug(program, "continue")
    assert events(out) == ["exited normally"], out
    assert b"WIFSIGNALED=1 WTERMSIG=15" in stdout and status == 0, (stdout, err)
    agree(out, stdout, native(program, "continue", tmp_path=tmp_path))


@needs_gdb
@BITS
@pytest.mark.parametrize("resume", ["continue", "signal 0"])
def test_a_signal_that_interrupts_a_wait(bits, resume, tmp_path):
    """The parent's read waits on a pipe when its child's SIGUSR1 comes: the stop shows
    rax/eax holding -ERESTARTSYS (-512) as Linux does; delivered, the handler runs and the
    read fails with EINTR (no SA_RESTART); discarded (`signal 0`), the read starts again
    and gets the byte the child writes next."""
    program = GUESTS / TARGETS[bits].replace("signals", "eintr")
    ax = "$rax" if bits == 64 else "$eax"
    commands = ("continue", f"p {ax}", f"p $orig_{ax[1:]}", resume, "continue")
    out, status, stdout, err = debug(program, *commands)
    assert events(out)[0] == "Program received signal SIGUSR1, User defined signal 1.", out
    assert "$1 = -512" in out, out
    assert re.search(rf"^\$2 = {3 if bits == 32 else 0}$", out, re.M), out  # read's number
    want = b"read=-1 errno=Interrupted system call c=- got=1\n" if resume == "continue" \
        else b"read=1 errno=- c=x got=0\n"
    assert stdout == want and status == 0, (stdout, err)
    theirs = native(program, *commands, tmp_path=tmp_path)
    if theirs is not None:
        assert "$1 = -512" in theirs[0], theirs[0]
        assert re.search(rf"^\$2 = {3 if bits == 32 else 0}$", theirs[0], re.M), theirs[0]
    agree(out, stdout, theirs)


@needs_gdb
def test_continue_after_the_guests_own_int3_goes_on():
    """The guest's own int3: SIGTRAP stops it after the instruction, and gdb's `continue`
    (which never passes SIGTRAP) goes on from there, as natively: the exit status is the
    program's, not a death by SIGTRAP."""
    src = ROOT / "tests" / "guests" / "signals" / "int3_exit5.s"
    out, status, _, err = debug(src, "continue", "info registers rip", "continue")
    assert events(out) == ["Program received signal SIGTRAP, Trace/breakpoint trap.",
                           "exited with code 05"], out
    assert re.search(r"^rip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <_start\+1>", out, re.M), out
    assert status == 5, err

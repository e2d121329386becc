"""fork and execve under `run --gdb`: gdb debugs the first process only (a child runs on
its own, to the same output and exit statuses as natively, and the first fork says so
once), a stepi over fork and wait4 goes as the native gdb's does, and an execve of the
first process reaches gdb as gdbserver reports it (exec-events: gdb loads the new
program's symbols)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.conftest import ROOT, cli
from tests.test_gdbstub import ASM, GDB, debug, needs_gdb

GUESTS = ROOT / "tests" / "guests"
FORKED = re.compile(r"process (\d+) forked child (\d+): only the first process is debugged; "
                    r"the child runs on its own")


def native(path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(path), *args], capture_output=True, timeout=60)


def said_once(out: str, err: bytes) -> tuple[int, int]:
    """The (parent, child) of the one fork announcement, on gdb's console and stderr."""
    on_console = FORKED.findall(out)
    on_stderr = FORKED.findall(err.decode())
    assert len(on_console) == 1 and on_console == on_stderr, (out, err)
    parent, child = on_console[0]
    return int(parent), int(child)


@needs_gdb
@pytest.mark.parametrize("target", ["glibc-x86_64", "glibc-i386", "musl-x86_64"])
def test_fork_wait_child_runs_undebugged(target):
    program = GUESTS / "procs" / "bin" / f"fork_wait.{target}"
    out, status, stdout, err = debug(program, "break main", "continue", "continue")
    expected = native(program)
    assert stdout == expected.stdout and status == expected.returncode, (out, err)
    assert re.search(r"^Breakpoint 1, .* in main \(\)$", out, re.M), out
    assert said_once(out, err)[0] == 4242  # the first process's pid


@needs_gdb
def test_stops_in_the_child_are_not_gdbs():
    # The child runs `child` and makes the first write; the parent's write is the one gdb
    # stops at, with the parent's registers; the exit is the parent's.
    out, status, stdout, err = debug(ASM / "fork_wait.s", "break child",
                                     "catch syscall write", "continue",
                                     "info registers rip", "continue", "continue")
    plain = cli("run", str(ASM / "fork_wait.s"))
    assert "Breakpoint 1, " not in out, out
    assert re.search(r"^Catchpoint 2 \(call to syscall write\), .* in parent \(\)$", out,
                     re.M), out
    assert re.search(r"^rip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <parent\+\d+>$", out, re.M), out
    assert re.search(r"^\[Inferior 1 \(.*\) exited normally\]$", out, re.M), out
    assert stdout == plain.stdout and status == plain.returncode == 0, err


def native_elf(source, tmp_path):
    """The assembly program built natively with nasm and ld (None without them)."""
    if not (shutil.which("nasm") and shutil.which("ld")):
        return None
    obj, exe = tmp_path / "t.o", tmp_path / "t"
    subprocess.run(["nasm", "-felf64", "-o", str(obj), str(source)], check=True)
    subprocess.run(["ld", "-o", str(exe), str(obj)], check=True)
    return exe


def pcs(out: str) -> list[int]:
    return [int(m, 16) for m in re.findall(r"^=> (0x[0-9a-f]+)", out, re.M)]


@needs_gdb
def test_stepi_over_fork_and_wait4_as_native_gdb(tmp_path):
    # Natively, gdb steps the parent over fork and over the wait4 that sleeps while the
    # child runs; the stub must give the same instructions, never the child's.
    source = ASM / "fork_wait.s"
    steps = ["display/i $pc"] + ["stepi"] * 22
    out, *_ = debug(source, *steps)
    exe = native_elf(source, tmp_path)
    if exe is None:
        pytest.skip("nasm and ld are needed for the native run")
    mine = pcs(out)
    theirs = pcs(subprocess.run([GDB, "-batch", "-nx", "-ex", "starti", *sum(
        (["-ex", c] for c in steps), []), str(exe)], capture_output=True, text=True,
        timeout=120).stdout)
    assert len(mine) == 22 and mine == theirs, (out, theirs)


@needs_gdb
def test_reverse_stepi_back_over_wait4_stays_in_the_parent():
    out, *_ = debug(ASM / "fork_wait.s", "stepi 11", "x/i $pc", "reverse-stepi", "x/i $pc",
                    "reverse-stepi", "x/i $pc", "info registers rax")
    after, at, before = pcs(out)
    # after wait4 -> at its syscall -> the `mov eax, 61` before it, all in the parent
    assert (at, before) == (after - 2, after - 7), out
    assert len(re.findall(r"^=> 0x[0-9a-f]+ <parent\+\d+>", out, re.M)) == 3, out
    forked = FORKED.search(out)
    assert forked, out
    assert re.search(rf"^rax\s+{int(forked.group(2)):#x}\s", out, re.M), out  # fork's return


@needs_gdb
def test_child_outlives_the_parent():
    program = GUESTS / "gdb" / "bin" / "fork_outlive.glibc-x86_64"
    out, status, stdout, err = debug(program, "break nanosleep", "continue")
    expected = native(program)
    assert stdout == expected.stdout and status == expected.returncode == 5, (out, err)
    assert b"child: still here after the parent" in stdout
    assert re.search(r"^\[Inferior 1 \(.*\) exited with code 05\]$", out, re.M), out
    assert "Breakpoint 1, " not in out, out  # only the child sleeps
    assert b"gdb's process exited; the others run on to their end" in err, err
    said_once(out, err)


@needs_gdb
def test_exec_of_the_first_process_loads_the_new_program():
    program = GUESTS / "gdb" / "exec_echo.s"
    out, status, stdout, err = debug(program, "catch exec", "continue",
                                     "break main", "continue", "info registers rip",
                                     "continue")
    plain = cli("run", str(program))
    assert re.search(r"executing new program: \S*echo_args\.glibc-x86_64$", out, re.M), out
    assert re.search(r"^Catchpoint 1 \(exec'd \S*echo_args", out, re.M), out
    assert re.search(r"^Breakpoint 2, 0x[0-9a-f]+ in main \(\)$", out, re.M), out
    assert re.search(r"^rip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <main>$", out, re.M), out
    assert "exited normally" in out, out
    assert stdout == plain.stdout == b"after exec\n" and status == 0, err


@needs_gdb
def test_exec_self_as_native():
    program = GUESTS / "procs" / "bin" / "exec_self.glibc-x86_64"
    out, status, stdout, err = debug(program, "break main", "continue", "continue",
                                     "continue")
    expected = native(program)
    assert stdout == expected.stdout and status == expected.returncode == 4, (out, err)
    assert len(re.findall(r"^Breakpoint 1, .* in main \(\)$", out, re.M)) == 2, out
    assert "executing new program" in out, out


@needs_gdb
def test_a_childs_exec_is_not_the_first_process_s():
    program = ASM / "fork_exec.s"
    out, status, stdout, err = debug(program, "continue")
    plain = cli("run", str(program))
    assert "executing new program" not in out, out
    assert stdout == plain.stdout and status == plain.returncode, (out, err)
    said_once(out, err)

"""`monitor strace on|off` and `monitor vdso` from the real gdb (batch mode) against
`syscall-lab run --gdb`: strace's lines reach gdb's console while the guest runs (as
console-output packets), a replayed stretch says it makes no syscall, and the vDSO's report
agrees with what gdb reads from the auxiliary vector and readelf from the image."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import ROOT, cli
from tests.test_gdbstub import ASM, GDB, Stub, debug, needs_gdb

BIN = ROOT / "programs" / "bin"
REPLAY = "strace: this stretch is replayed from history"


def strace_lines(*args: str) -> list[str]:
    """The strace lines `syscall-lab run -s` prints (its stderr, without the guest's)."""
    r = cli("run", "-s", *args)
    return [line for line in r.stderr.decode().splitlines() if line]


def debug_in_order(program, *commands: str) -> str:
    """Like debug(), gdb's two streams in one pipe: console output (which gdb writes to
    stderr) in its place among the stops (on stdout)."""
    stub = Stub(program)
    try:
        args = [GDB, "-batch", "-nx", "-ex", f"target remote 127.0.0.1:{stub.port}"]
        for c in commands:
            args += ["-ex", c]
        out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=120, text=True).stdout
        stub.finish()
    finally:
        stub.kill()
    return out


@needs_gdb
def test_help_lists_every_command():
    out, *_ = debug(ASM / "hello_syscall.s", "monitor help")
    for word in ("help", "transitions", "maps", "where", "strace on|off", "vdso"):
        assert f"monitor {word}" in out, out


@needs_gdb
def test_strace_on_prints_the_calls_as_run_s_does():
    program = ASM / "fork_wait.s"
    out, status, stdout, _ = debug(program, "monitor strace on", "continue")
    assert "strace on" in out, out
    expected = strace_lines(str(program))
    got = [line for line in out.splitlines() if line in expected]
    assert got == expected, (out, expected)
    assert status == 0 and b"exit code 7" in stdout


@needs_gdb
def test_strace_lines_come_while_the_guest_runs_not_at_the_stop():
    # Stopped at the entry of the parent's wait4: the fork's line came before the stop,
    # the rest (the child's calls, the parent's exit) after it.
    out = debug_in_order(ASM / "fork_wait.s", "monitor strace on", "catch syscall wait4",
                         "continue", "echo @stop@\\n", "delete", "continue")
    first, then = out.split("@stop@", 1)
    assert re.search(r"^fork\(\)\s+= \d+$", first, re.M), out
    assert "wait4(" not in first and "exit(" not in first, out
    assert 'write(1, "child: fork returned 0\\n", 23) = 23' in then, out
    assert re.search(r"^exit\(0\)\s+= \?$", then, re.M), out


@needs_gdb
def test_strace_off_prints_nothing():
    out, *_ = debug(ASM / "hello_syscall.s", "monitor strace on", "monitor strace off",
                    "continue")
    assert "strace off" in out and "write(1" not in out, out


@needs_gdb
def test_replayed_stretch_says_it_makes_no_syscalls():
    # Past the write, back before it, forward again: the write ran once, its line is
    # printed once, and the replay says why it prints nothing.
    out = debug_in_order(
        ASM / "hello_syscall.s", "monitor strace on", "stepi 6", "echo @back@\\n",
        "reverse-stepi 3", "echo @again@\\n", "stepi 3", "echo @end@\\n", "continue")
    line = 'write(1, "Hello from syscall!\\n", 20)   = 20'
    before, rest = out.split("@back@", 1)
    back, rest = rest.split("@again@", 1)
    again, end = rest.split("@end@", 1)
    assert line in before and REPLAY in back and REPLAY not in again, out
    assert out.count(line) == 1 and out.count(REPLAY) == 1, out  # once per stretch
    assert "+++ exited with 0 +++" in end, out


@needs_gdb
def test_bad_strace_argument_is_one_line():
    out, *_ = debug(ASM / "hello_syscall.s", "monitor strace sideways", "monitor strace")
    assert "say `monitor strace on` or `off`" in out and "strace is off" in out, out


def vdso_exports(arch: str, tmp_path) -> set[str]:
    """The vDSO's exported function names, as readelf reads the image syscall-lab maps."""
    image = tmp_path / f"vdso-{arch}.so"
    assert cli("vdso", "dump", "--arch", arch, "-o", str(image)).returncode == 0
    text = subprocess.run(["readelf", "-W", "--dyn-syms", str(image)], capture_output=True,
                          text=True, check=True).stdout
    return {m.group(1) for m in re.finditer(r"\sFUNC\s+\w+\s+\w+\s+\d+\s+(\w+)@", text)}


@needs_gdb
@pytest.mark.parametrize("libc", ["glibc", "musl"])
def test_vdso_report(libc, tmp_path):
    program = BIN / f"gettimeofday_loop.{libc}-x86_64"
    out = debug_in_order(program, "info auxv", "break main", "continue",
                              "echo @main@\\n", "monitor vdso", "catch syscall write writev",
                              "continue", "echo @write@\\n", "monitor vdso", "kill")
    ehdr = re.search(r"AT_SYSINFO_EHDR\s.*?(0x[0-9a-f]+)$", out, re.M)
    assert ehdr, out
    at_main = out.split("@main@", 1)[1].split("@write@", 1)[0]
    at_write = out.split("@write@", 1)[1]
    m = re.search(r"\[vdso\] at (0x[0-9a-f]+)-", at_main)
    assert m and int(m.group(1), 16) == int(ehdr.group(1), 16), out
    listed = set(re.findall(r"^  0x[0-9a-f]+  (.*)@LINUX", at_main, re.M))
    names = {n for entry in listed for n in entry.split(" = ")}
    assert names == vdso_exports("x86_64", tmp_path), out
    assert "calls into it so far: none" in at_main, out
    calls = re.search(r"calls into it so far: (\d+); the last: \[vdso\] __vdso_", at_write)
    assert calls and int(calls.group(1)) > 0, out
    # glibc looks the vDSO up while it starts; musl at its first call of clock_gettime
    # (it prints with writev, glibc with write).
    bound = "the C library bound to it" in at_main
    assert bound == (libc == "glibc"), out
    assert re.search(r"-> __vdso_clock_gettime$", at_write, re.M), out


@needs_gdb
def test_vdso_report_without_a_vdso():
    out, *_ = debug(ASM / "hello_syscall.s", "monitor vdso", options=["--no-vdso"])
    assert "no vDSO in this run" in out, out

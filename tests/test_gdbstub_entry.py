"""At a `catch syscall` entry stop gdb shows what Linux's ptrace shows: the task is in the
kernel, pt_regs has the return address, orig_rax the number and rax -ENOSYS; the return
stop differs only in rax. Checked against native gdb on the same static binaries (syscall,
and sysenter through __kernel_vsyscall), then a write at the entry stop changes the call
as on Linux."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_gdbstub import GDB, debug, needs_gdb

SOURCE = Path(__file__).parent / "guests" / "gdb" / "reverse_lines.c"
GPRS = {64: ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10",
             "r11", "r12", "r13", "r14", "r15", "rip", "eflags"],
        32: ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags"]}
STOPS = ["catch syscall write", "continue", "echo @entry@\\n", "info registers",
         "p $orig_{ax}", "echo @return@\\n", "continue", "info registers", "p $orig_{ax}",
         "echo @end@\\n"]


@pytest.fixture(scope="module", params=[64, 32])
def binary(request, tmp_path_factory) -> tuple[Path, int]:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    out = tmp_path_factory.mktemp("entry") / f"entry{request.param}"
    r = subprocess.run(["gcc", f"-m{request.param}", "-O0", "-static", "-o", str(out),
                        str(SOURCE)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"gcc -m{request.param} -static cannot build here: {r.stderr[-200:]}")
    return out, request.param


def _stop(out: str, start: str, end: str, bits: int) -> dict[str, str]:
    """A stop's registers (numbers as gdb prints them), its pc's symbol and orig_ax."""
    part = out.split(f"@{start}@", 1)[1].split(f"@{end}@", 1)[0]
    regs = {name: m.group(1) for name in GPRS[bits]
            for m in [re.search(rf"^{name}\s+(0x[0-9a-f]+)", part, re.M)] if m}
    regs["at"] = re.search(r"^[er]ip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <(.+)>", part, re.M).group(1)
    regs["orig"] = re.findall(r"^\$\d+ = (-?\d+)$", part, re.M)[-1]
    return regs


def _facts(out: str, bits: int) -> dict:
    entry, ret = _stop(out, "entry", "return", bits), _stop(out, "return", "end", bits)
    ax, pc = ("rax", "rip") if bits == 64 else ("eax", "eip")
    same = sorted(n for n in GPRS[bits] if n != ax and entry.get(n) == ret.get(n))
    facts = {"entry ax": int(entry[ax], 16), "return ax": int(ret[ax], 16),
             "orig": (entry["orig"], ret["orig"]), "at": (entry["at"], ret["at"]),
             "unchanged but ax": same}
    if bits == 64:
        facts["rcx is the return address"] = entry["rcx"] == entry[pc]
        facts["r11 is the flags"] = int(entry["r11"], 16) == int(entry["eflags"], 16)
    return facts


@needs_gdb
def test_entry_and_return_stops_show_what_linux_shows(binary):
    path, bits = binary
    commands = [c.format(ax="rax" if bits == 64 else "eax") for c in STOPS]
    natively = [commands[0], "run", *commands[2:], "kill"]  # run, where ours continues
    native = subprocess.run([GDB, "-batch", "-nx", str(path),
                             *[a for c in natively for a in ("-ex", c)]],
                            capture_output=True, text=True, timeout=120)
    if "@end@" not in native.stdout:
        pytest.skip(f"native gdb cannot run the program here: {native.stderr[-300:]}")
    want = _facts(native.stdout, bits)
    assert want["entry ax"] == (1 << bits) - 38 and want["return ax"] == 4  # oracle sanity
    ours, status, stdout, _ = debug(path, *commands, "continue")
    assert _facts(ours, bits) == want
    assert status == 0 and stdout == b"one\n6 14 7\n"


@needs_gdb
def test_writes_at_the_entry_stop_change_the_call(binary):
    path, bits = binary
    ax = "rax" if bits == 64 else "eax"
    getpid = 39 if bits == 64 else 20
    # orig_ax is the number the call runs with: getpid instead of write prints nothing
    # and returns the pid; pc cannot move (the kernel already took the return address).
    out, status, stdout, err = debug(path, "catch syscall write", "continue",
                                     f"set $orig_{ax} = {getpid}", "p $pc = 0",
                                     "catch syscall getpid", "continue", f"p ${ax}",
                                     "delete", "continue")
    assert "at a syscall-entry stop the kernel has already set" in err.decode(), err
    returned = re.findall(r"^\$\d+ = (\d+)$", out, re.M)
    assert returned and int(returned[-1]) > 1, out
    assert stdout == b"6 14 7\n", (stdout, out)  # "one\n" never written


@needs_gdb
def test_continue_from_a_trap_instruction_stops_at_the_entry_first():
    """gdb stepped onto the `syscall` (or stepped over a breakpoint to it): `continue`
    with `catch syscall` reports the call's entry before the kernel runs it, as
    PTRACE_SYSCALL does, then its return."""
    from tests.test_gdbstub import ASM

    out, status, stdout, _ = debug(ASM / "hello_syscall.s", "catch syscall write",
                                   "stepi 4", "x/i $pc", "continue", "p $orig_rax",
                                   "continue", "p $rax", "continue")
    assert re.search(r"=> 0x[0-9a-f]+ <_start\+\d+>:\s+syscall", out), out
    entry = out.index("Catchpoint 1 (call to syscall write)")
    assert entry < out.index("Catchpoint 1 (returned from syscall write)"), out
    assert re.search(r"^\$1 = 1\n", out, re.M) and re.search(r"^\$2 = 20\n", out, re.M), out
    assert status == 0 and stdout == b"Hello from syscall!\n"

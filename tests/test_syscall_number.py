"""The syscall number as Linux 6.x reads it: on x86-64 do_syscall_64 takes it as an int (the
low 32 bits of rax), so junk in the upper half is ignored; negative numbers, numbers past the
table and x32 numbers (bit 30) give ENOSYS on a kernel without the x32 ABI. `int 0x80` from
64-bit code takes eax the same way. The trace names the call from the low 32 bits, as strace
does; orig_rax (the transition's pt_regs) keeps all of rax.

tests/guests/trap/syscall_number.asm runs natively and under syscall-lab; its output (each
call's rax) and status must be identical, and so must the trace, but for the lines strace
writes in its x32 personality."""

from __future__ import annotations

import os
import re
import shutil

import pytest
from conftest import run_guest
from guest_harness import GUESTS, differences, lab_run_args, run_lab, run_native, strace_native

from kernel_model.trace.events import SyscallEntered, SyscallReturned

BINARY = GUESTS / "trap" / "bin" / "syscall_number"
NATIVE = os.uname().machine == "x86_64" and os.uname().sysname == "Linux"
ENOSYS = -38


@pytest.mark.skipif(not NATIVE, reason="needs an x86-64 Linux host")
def test_same_results_as_linux():
    native = run_native([str(BINARY)])
    lab = run_lab(*lab_run_args(), str(BINARY))
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)
    assert lab.stdout.startswith(b"hi\n")  # once: the x32 write wrote nothing
    results = [int.from_bytes(lab.stdout[3 + 8 * i:11 + 8 * i], "little", signed=True)
               for i in range(12)]
    assert results == [3, 0, ENOSYS, ENOSYS, ENOSYS, ENOSYS, ENOSYS, ENOSYS, 0, ENOSYS, 0,
                       ENOSYS]


def _calls(text: str) -> list[str]:
    """The syscall lines of a trace, pids replaced (strace -f -o puts one first; getpid
    returns the pid, which differs)."""
    out = []
    for line in text.splitlines():
        line = re.sub(r"^\d+\s+", "", line)
        if line.startswith(("[ Process", "+++", "execve(")):
            continue
        if line.startswith("getpid()"):
            line = re.sub(r"= \d+$", "= PID", line)
        out.append(re.sub(r"\s+=", " =", line))
    return out


@pytest.mark.skipif(not NATIVE or shutil.which("strace") is None,
                    reason="needs strace on an x86-64 Linux host")
def test_trace_matches_strace_but_for_x32_names(tmp_path):
    """strace names an x32 number from its x32 table (`getpid() = -1 ENOSYS`, after a
    "runs in x32 mode" line); syscall-lab has no x32 table and shows the raw number, with a
    note saying why it failed. Every other line is strace's."""
    native_trace, lab_trace = tmp_path / "native", tmp_path / "lab"
    strace_native([str(BINARY)], native_trace)
    run_lab(*lab_run_args(), "-s", "-o", str(lab_trace), str(BINARY))
    want, got = _calls(native_trace.read_text()), _calls(lab_trace.read_text())
    assert len(want) == len(got)
    x32 = {"getpid() = -1 ENOSYS (Function not implemented)":
           "syscall_0x40000027(0x1, 0x402000, 0x3, 0, 0, 0) = -1 ENOSYS (Function not "
           "implemented)",
           'write(1, "hi\\n", 3) = -1 ENOSYS (Function not implemented)':
           "syscall_0x40000001(0x1, 0x402000, 0x3, 0, 0, 0) = -1 ENOSYS (Function not "
           "implemented)"}
    assert [x32.get(w, w) for w in want] == got
    assert 'write(1, "hi\\n", 3) = 3' == got[0]  # rax 0xdeadbeef00000001 is write


X86_64_JUNK = """bits 64
section .text
global _start
_start:
    mov rax, 0xdeadbeef00000027     ; getpid, the upper half junk
    syscall
    mov rax, 0x40000027             ; x32's getpid
    syscall
    mov eax, 60
    xor edi, edi
    syscall
"""


def test_events_carry_the_number_the_table_sees():
    run = run_guest("junk.s", source=X86_64_JUNK)
    assert run.status == 0
    entered = [e for e in run.events if isinstance(e, SyscallEntered)]
    assert [(e.nr, e.name) for e in entered[:2]] == [(39, "getpid"), (0x40000027, None)]
    assert entered[0].regs["rax"] == 0xDEADBEEF00000027  # the register as the program left it
    returned = [e for e in run.events if isinstance(e, SyscallReturned)]
    assert returned[0].ret > 0
    assert returned[1].ret == ENOSYS
    assert "x32" in returned[1].note and "CONFIG_X86_X32_ABI" in returned[1].note


def test_untraced_run_ignores_the_upper_half_too(tmp_path):
    """A plain run (no listener) takes the hot path, which indexes the table itself: exit
    with junk above the number still exits."""
    path = tmp_path / "junk_exit.s"
    path.write_text("""bits 64
section .text
global _start
_start:
    mov rax, 0x123456780000003c     ; exit
    mov edi, 9
    syscall
    mov eax, 60
    xor edi, edi
    syscall
""")
    assert run_lab(*lab_run_args(), str(path)).status == 9


I386_MINUS_ONE = """bits 32
section .text
global _start
_start:
    mov eax, -1
    int 0x80
    mov ebx, eax                    ; -ENOSYS & 0xff: 218
    mov eax, 1
    int 0x80
"""


def test_i386_unknown_number_is_shown_as_strace_shows_it():
    run = run_guest("m1.s", source=I386_MINUS_ONE, bits=32)
    assert run.status == 218
    first = run.syscalls()[0]
    assert first.text.startswith("syscall_0xffffffffffffffff(0, ")
    assert first.ret == ENOSYS


def test_transition_shows_all_of_rax_and_what_the_table_sees(tmp_path):
    """The TUI's phases: the user registers say the upper half is ignored, pt_regs keeps
    all of rax in orig_rax, the table phase indexes entry 39."""
    from emu.program import load_program
    from kernel_model.debugger.session import DebugSession
    from kernel_model.system import RunOptions

    path = tmp_path / "junk.s"
    path.write_text(X86_64_JUNK)
    s = DebugSession.create(load_program(str(path)), [str(path)], RunOptions(seed=1))
    try:
        assert s.run_to_transition().reason == "transition"
        s.step()
        phases = {p.key: p for p in s.walk.transition.phases}
        user = phases["user"]
        assert user.details[0].startswith("rax = 0xdeadbeef00000027 -> sys_call_table[39] = "
                                          "getpid")
        assert "32-bit int" in user.warning and "39" in user.warning
        assert any(d.startswith("orig_rax 0xdeadbeef00000027") for d in
                   phases["pt_regs"].details)
        assert [r.name for r in phases["table"].table if r.current] == ["getpid"]
    finally:
        s.close()

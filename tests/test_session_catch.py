"""Caught syscall numbers in the stepping engine (what a gdb stub's QCatchSyscalls uses):
cont() stops at a caught call's entry, before the trap, and at its return, after the
kernel ran it; reverse_continue at the previous one; for `syscall`, `int 0x80` and
`sysenter`, numbers in the process's ABI."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROGRAMS

sys.path.insert(0, str(Path(__file__).parent))
from test_session import session  # noqa: E402

from kernel_model.entry.abi import ABIS  # noqa: E402


def stops(s, limit=200):
    out = []
    for _ in range(limit):
        st = s.cont()
        if st.reason == "exited":
            return out
        assert st.reason in ("syscall_entry", "syscall_return"), st
        out.append((st.reason, st.syscall_nr, st.pc, s.regs()))
    raise AssertionError("no exit")


def test_syscall_entry_before_the_trap_and_return_after_it():
    s = session(PROGRAMS / "asm" / "hello_syscall.s")
    s.catch_syscalls(None)
    got = stops(s)
    assert [(r, nr) for r, nr, _, _ in got] == [
        ("syscall_entry", 1), ("syscall_return", 1), ("syscall_entry", 60)]
    (_, _, entry_pc, entry_regs), (_, _, ret_pc, ret_regs) = got[:2]
    insn = s.insn_at(entry_pc)
    assert insn is not None and insn.kind == "syscall"
    assert entry_regs["rax"] == 1
    assert ret_pc == entry_pc + insn.size
    assert ret_regs["rax"] == entry_regs["rdx"]  # write returned the length it wrote
    assert ret_regs["rcx"] == ret_pc  # what the syscall instruction itself does


def test_only_the_numbers_asked_for_and_none_when_empty():
    s = session(PROGRAMS / "asm" / "hello_syscall.s")
    s.catch_syscalls({60})
    assert [(r, nr) for r, nr, _, _ in stops(s)] == [("syscall_entry", 60)]
    s = session(PROGRAMS / "asm" / "hello_syscall.s")
    s.catch_syscalls(set())
    assert stops(s) == []


@pytest.mark.parametrize("prog, kind", [("hello_int80.s", "int 0x80"),
                                        ("hello_sysenter.s", "sysenter")])
def test_i386_traps_use_the_i386_numbers(prog, kind):
    s = session(PROGRAMS / "asm" / prog)
    s.catch_syscalls(None)
    got = stops(s)
    assert [(r, nr) for r, nr, _, _ in got] == [
        ("syscall_entry", 4), ("syscall_return", 4), ("syscall_entry", 1)]
    insn = s.insn_at(got[0][2])
    assert insn is not None and insn.kind == kind
    assert got[1][3]["eax"] == got[0][3]["edx"]  # write's result: the length


def test_reverse_continue_goes_back_through_entries_and_returns_exactly():
    s = session(PROGRAMS / "asm" / "hello_syscall.s")
    s.catch_syscalls(None)
    forward = stops(s)
    back = []
    while True:
        st = s.reverse_continue()
        if st.reason == "start":
            break
        back.append((st.reason, st.syscall_nr, st.pc, s.regs()))
    assert back == list(reversed(forward))
    # and forward again from the first entry: its return, as the first time
    st = s.cont()
    assert (st.reason, st.syscall_nr, st.pc, s.regs()) == forward[0]
    st = s.cont()
    assert (st.reason, st.syscall_nr, st.pc, s.regs()) == forward[1]


def _native_numbers(path) -> list[int] | None:
    """The syscall numbers strace -n shows for the program run natively."""
    if shutil.which("strace") is None:
        return None
    r = subprocess.run(["strace", "-n", "-qq", str(path)], capture_output=True, text=True,
                       timeout=30)
    nums = []
    for line in r.stderr.splitlines():
        if line.startswith("[") and "]" in line:
            nums.append(int(line[1:line.index("]")]))
    return nums[1:] if nums else None  # (the first is the execve that started it)


def test_static_glibc_i386_through_kernel_vsyscall_matches_linux():
    path = PROGRAMS / "bin" / "echo_args.glibc-i386"
    s = session(path)
    s.catch_syscalls(None)
    got = stops(s)
    entries = [(nr, pc) for r, nr, pc, _ in got if r == "syscall_entry"]
    returns = [nr for r, nr, _, _ in got if r == "syscall_return"]
    assert returns == [nr for nr, _ in entries[:-1]]  # exit_group never returns
    table = ABIS["i386"].table
    assert table[entries[-1][0]] == "exit_group" and table[4] == "write"
    assert 4 in [nr for nr, _ in entries]
    # glibc's calls go through the vDSO's __kernel_vsyscall, whose trap is sysenter
    vsys = [pc for nr, pc in entries if nr == 4]
    insn = s.insn_at(vsys[0])
    assert insn is not None and insn.kind == "sysenter"
    native = _native_numbers(path)
    if native is None:
        pytest.skip("strace cannot run the program here")
    assert [nr for nr, _ in entries] == native


def test_a_blocking_call_returns_when_its_task_runs_again_and_exit_never_returns():
    # fork_wait: the parent forks (57), waits (61: blocks until the child exits), the child
    # writes (1) and exits (60); then the parent writes and exits.
    s = session(PROGRAMS / "asm" / "fork_wait.s")
    s.catch_syscalls(None)
    forward = []
    while (st := s.cont()).reason != "exited":
        forward.append((st.reason, st.syscall_nr, s.kernel.process.pid, st.pc))
    parent, child = forward[0][2], forward[3][2]
    assert [(r, nr, pid) for r, nr, pid, _ in forward] == [
        ("syscall_entry", 57, parent), ("syscall_return", 57, parent),
        ("syscall_entry", 61, parent),
        ("syscall_entry", 1, child), ("syscall_return", 1, child),
        ("syscall_entry", 60, child),
        ("syscall_return", 61, parent),
        ("syscall_entry", 1, parent), ("syscall_return", 1, parent),
        ("syscall_entry", 60, parent)]
    assert forward[6][3] == forward[2][3] + 2  # wait4 returns after its own syscall
    back = []
    while (st := s.reverse_continue()).reason != "start":
        back.append((st.reason, st.syscall_nr, s.kernel.process.pid, st.pc))
    assert back == forward[::-1]

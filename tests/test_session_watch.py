"""Watchpoints in the stepping engine (what a gdb stub's Z2/Z3/Z4 use): a run stops right
after the instruction that wrote, read or accessed the watched range, as a hardware
watchpoint reports; reverse_continue stops before the last such instruction; every stop
is a point of the exact history (going back and forward again lands on it)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_session import asm  # noqa: E402

# Labels name each accessing instruction (a_*) and the one after it (n_*): the expected
# stops come from the instructions, not from a run.
GUEST = """bits 64
section .data
val:    dq 5
other:  dq 0
section .text
global _start
_start:
    mov rcx, 3
loop:
    mov rax, [rel other]
a_rloop:
    mov rdx, [rel val]          ; read 3 times, by the same instruction
n_rloop:
    add qword [rel other], 1
    dec rcx
    jnz loop
a_w1:
    mov rbx, 15
    mov [rel val], rbx          ; write 15
n_w1:
    mov eax, 39                 ; getpid: history has a crossing in between
    syscall
a_r2:
    mov rdx, [rel val]          ; read
n_r2:
a_w2:
    mov qword [rel val], 7      ; write 7
n_w2:
    mov byte [rel other + 7], 1 ; next to val: never a hit
a_w3:
    mov dword [rel val + 4], 9  ; touches only the high half
n_w3:
    mov eax, 60
    xor edi, edi
    syscall
"""


def guest(tmp_path):
    s = asm(tmp_path, "watch.s", GUEST)
    return s, (lambda name: s.resolve(name))


def run_all(s):
    stops = []
    while True:
        st = s.cont()
        if st.reason != "watch":
            assert st.reason == "exited", st
            return stops
        stops.append((st, s.machine.pc, s.machine.read_word(st.data_addr & ~7), s.regs()))


def test_write_watch_stops_after_each_store_with_the_value_it_stored(tmp_path):
    s, at = guest(tmp_path)
    val = at("val")
    s.add_watchpoint(val, 8, "write")
    stops = run_all(s)
    # the first write stores rbx (15); a_w1's first instruction is the mov rbx, 15
    assert [(st.access_pc, pc) for st, pc, _, _ in stops] == [
        (at("n_w1") - 7, at("n_w1")), (at("a_w2"), at("n_w2")), (at("a_w3"), at("n_w3"))]
    assert [v for _, _, v, _ in stops] == [15, 7, (9 << 32) | 7]
    for st, pc, _, _ in stops:
        assert st.watch_kind == "write" and st.pc == pc
        assert val <= st.data_addr < val + 8


def test_read_watch_stops_at_every_read_in_a_loop(tmp_path):
    s, at = guest(tmp_path)
    s.add_watchpoint(at("val"), 8, "read")
    stops = run_all(s)
    assert [(st.access_pc, pc) for st, pc, _, _ in stops] == [
        (at("a_rloop"), at("n_rloop"))] * 3 + [(at("a_r2"), at("n_r2"))]
    # the loop's iterations, told apart by its counter; rdx holds what was read
    assert [r["rcx"] for _, _, _, r in stops[:3]] == [3, 2, 1]
    assert [r["rdx"] for _, _, _, r in stops] == [5, 5, 5, 15]
    assert all(st.watch_kind == "read" for st, _, _, _ in stops)


def test_access_watch_sees_reads_and_writes_in_order(tmp_path):
    s, at = guest(tmp_path)
    s.add_watchpoint(at("val"), 8, "access")
    stops = run_all(s)
    assert [st.access_pc for st, _, _, _ in stops] == (
        [at("a_rloop")] * 3 + [at("n_w1") - 7, at("a_r2"), at("a_w2"), at("a_w3")])
    assert all(st.watch_kind == "access" for st, _, _, _ in stops)


def test_a_narrow_watch_is_hit_by_a_wider_access_that_covers_it(tmp_path):
    s, at = guest(tmp_path)
    s.add_watchpoint(at("val") + 4, 1, "write")  # the high half's first byte
    stops = run_all(s)
    assert [st.access_pc for st, _, _, _ in stops] == [at("n_w1") - 7, at("a_w2"),
                                                       at("a_w3")]
    assert [st.data_addr for st, _, _, _ in stops] == [at("val") + 4] * 3


def test_reverse_continue_stops_before_each_access_with_the_old_value(tmp_path):
    s, at = guest(tmp_path)
    val = at("val")
    s.add_watchpoint(val, 8, "write")
    forward = run_all(s)
    back = []
    while True:
        st = s.reverse_continue()
        if st.reason != "watch":
            assert st.reason == "start", st
            break
        back.append((st.pc, s.machine.read_word(val)))
        assert st.pc == st.access_pc  # before the instruction, as gdb shows it going back
    assert back == [(at("a_w3"), 7), (at("a_w2"), 15), (at("n_w1") - 7, 5)]
    assert [st.access_pc for st, *_ in reversed(forward)] == [pc for pc, _ in back]


def test_reverse_read_watch_finds_the_last_loop_iteration(tmp_path):
    s, at = guest(tmp_path)
    s.add_watchpoint(at("val"), 8, "read")
    run_all(s)
    pcs_rcx = []
    for _ in range(4):
        st = s.reverse_continue()
        assert st.reason == "watch"
        pcs_rcx.append((st.pc, s.regs()["rcx"]))
    # (after the syscall, rcx holds the address it returned to: a_r2)
    assert pcs_rcx == [(at("a_r2"), at("a_r2")), (at("a_rloop"), 1), (at("a_rloop"), 2),
                       (at("a_rloop"), 3)]
    assert s.reverse_continue().reason == "start"


def test_forward_again_after_going_back_lands_on_the_same_stop(tmp_path):
    s, at = guest(tmp_path)
    s.add_watchpoint(at("val"), 8, "read")
    first = s.cont()
    second = s.cont()
    regs = s.regs()
    assert s.reverse_continue().pc == at("a_rloop")  # before the second read
    assert s.reverse_step().reason == "step"
    again = s.cont()
    assert (again.reason, again.pc, again.access_pc) == (second.reason, second.pc,
                                                          second.access_pc)
    assert s.regs() == regs
    assert first.pc == second.pc


def test_no_memory_hook_without_watchpoints(tmp_path):
    s, at = guest(tmp_path)
    base = len(s.machine._hooks)
    assert s.data_hooks_installed() == 0
    w = s.add_watchpoint(at("val"), 8, "access")
    assert s.data_hooks_installed() == 1 and len(s.machine._hooks) == base + 1
    assert s.cont().reason == "watch"
    assert s.remove_watchpoint(w.addr, w.length, w.kind)
    assert not s.remove_watchpoint(w.addr, w.length, w.kind)
    assert s.data_hooks_installed() == 0 and len(s.machine._hooks) == base
    assert s.cont().reason == "exited"


def test_bad_watchpoints_are_refused(tmp_path):
    s, at = guest(tmp_path)
    with pytest.raises(ValueError, match="not a watchpoint kind"):
        s.add_watchpoint(at("val"), 8, "exec")
    with pytest.raises(ValueError, match="length"):
        s.add_watchpoint(at("val"), 0, "write")


KERNEL_WRITE = """bits 64
section .bss
buf: resb 16
section .text
global _start
_start:
    xor eax, eax        ; read(0, buf, 16): the kernel fills buf
    xor edi, edi
    lea rsi, [rel buf]
    mov edx, 16
    syscall
a_w:
    mov byte [rel buf], 'X'
n_w:
    mov eax, 60
    xor edi, edi
    syscall
"""


def test_kernel_writes_do_not_trigger_a_write_watch(tmp_path):
    # The model's kernel writes guest memory directly, not through the CPU: only the
    # guest's own store is reported (see step_watch.py).
    s = asm(tmp_path, "kw.s", KERNEL_WRITE)
    s.feed_input("hello\n")
    s.add_watchpoint(s.resolve("buf"), 4, "write")
    st = s.cont()
    assert (st.reason, st.access_pc, st.pc) == ("watch", s.resolve("a_w"), s.resolve("n_w"))
    assert s.machine.read(s.resolve("buf"), 6) == b"Xello\n"


KW_C = r"""#include <unistd.h>
char buf[16];
int main(void) {
    read(0, buf, 16);
    buf[0] = 'X';
    return 0;
}
"""


def test_kernel_writes_are_not_reported_natively_either(tmp_path):
    """Linux as the oracle: gdb's hardware watchpoint over a read() into the buffer stops
    only at the program's own store (old value 0: read()'s bytes were not reported)."""
    import shutil
    import subprocess

    if shutil.which("gcc") is None or shutil.which("gdb") is None:
        pytest.skip("needs gcc and gdb")
    src, exe, inp = tmp_path / "kw.c", tmp_path / "kw", tmp_path / "in.txt"
    src.write_text(KW_C)
    inp.write_text("hello\n")
    subprocess.run(["gcc", "-g", "-O0", "-static", "-o", str(exe), str(src)], check=True)
    r = subprocess.run(["gdb", "-nx", "-batch", "-ex", "break main", "-ex",
                        f"run < {inp}", "-ex", "watch buf[0]", "-ex", "continue", str(exe)],
                       capture_output=True, text=True, timeout=60)
    if "Hardware watchpoint" not in r.stdout:
        pytest.skip("no hardware watchpoints here: " + r.stdout[-200:])
    assert "Old value = 0 '\\000'" in r.stdout and "New value = 88 'X'" in r.stdout

    from test_session import session

    s = session(exe)
    s.feed_input("hello\n")
    buf = s.resolve("buf")
    s.add_watchpoint(buf, 1, "write")
    st = s.cont()
    assert st.reason == "watch" and s.machine.read(buf, 6) == b"Xello\n"
    main = s.resolve("main")
    assert main < st.access_pc < main + 64  # main's store, not the kernel's read()


def test_a_single_step_that_accesses_the_range_reports_the_watchpoint(tmp_path):
    s, at = guest(tmp_path)
    s.add_watchpoint(at("val"), 8, "read")
    while s.machine.pc != at("a_rloop"):
        assert s.step().reason == "step"
    st = s.step()
    assert (st.reason, st.pc, st.access_pc) == ("watch", at("n_rloop"), at("a_rloop"))
    assert s.step().reason == "step"


GUEST_32 = """bits 32
section .data
val:    dd 1
section .text
global _start
_start:
    mov eax, [val]
a_w:
    add dword [val], 41         ; read and write by one instruction
n_w:
    mov eax, 1
    xor ebx, ebx
    int 0x80
"""


def test_i386_access_watch_forward_and_back(tmp_path):
    s = asm(tmp_path, "w32.s", GUEST_32)
    val = s.resolve("val")
    s.add_watchpoint(val, 4, "write")
    st = s.cont()
    assert (st.reason, st.access_pc, st.pc) == ("watch", s.resolve("a_w"), s.resolve("n_w"))
    assert int.from_bytes(s.machine.read(val, 4), "little") == 42
    assert s.cont().reason == "exited"
    st = s.reverse_continue()
    assert (st.reason, st.pc) == ("watch", s.resolve("a_w"))
    assert int.from_bytes(s.machine.read(val, 4), "little") == 1


def test_backwards_breakpoints_and_watchpoints_come_in_time_order(tmp_path):
    s, at = guest(tmp_path)
    val = at("val")
    s.add_watchpoint(val, 8, "write")
    s.add_breakpoint(hex(at("a_w2")))  # the instruction a watch stop is before, too
    s.add_breakpoint(hex(at("loop")))
    while s.cont().reason != "exited":
        pass
    got = []
    while (st := s.reverse_continue()).reason != "start":
        got.append((st.reason, st.pc, s.machine.read_word(val), s.regs()["rcx"]))
    after_syscall = at("a_r2")  # rcx after the syscall: its return address
    assert got == [("watch", at("a_w3"), 7, after_syscall),
                   ("watch", at("a_w2"), 15, after_syscall),
                   ("watch", at("n_w1") - 7, 5, 0),
                   ("breakpoint", at("loop"), 5, 1), ("breakpoint", at("loop"), 5, 2),
                   ("breakpoint", at("loop"), 5, 3)]


def test_cont_to_a_breakpoint_in_a_loop_after_going_back_counts_each_iteration(tmp_path):
    # (the engine's replayed runs: a stop at a hook inside a recorded stretch must land on
    # that very iteration, not on a position counted from where the run stopped)
    s, at = guest(tmp_path)
    while s.cont().reason != "exited":
        pass
    s.goto_start()
    s.add_breakpoint(hex(at("n_rloop")))
    other = at("other")
    seen = []
    for _ in range(3):
        st = s.cont()
        assert (st.reason, st.pc) == ("breakpoint", at("n_rloop"))
        seen.append((s.machine.read_word(other), s.regs()["rcx"]))
        # one back, restored from history: the same iteration, one instruction earlier
        assert s.reverse_step().pc == at("a_rloop")
        assert (s.machine.read_word(other), s.regs()["rcx"]) == seen[-1]
        assert s.step().pc == at("n_rloop")
    assert seen == [(0, 3), (1, 2), (2, 1)]

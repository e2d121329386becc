"""The pure panel functions (tui/panels), on real stops, without a terminal: what a person
reads in each panel, and the roles that colour it."""

import pytest
from conftest import PROGRAMS

from emu.program import load_program
from kernel_model.debugger import DebugSession
from kernel_model.system import RunOptions
from tui.panels import (
    code_lines,
    event_lines,
    flags_text,
    history_lines,
    maps_lines,
    output_lines,
    plain,
    register_lines,
    stack_lines,
    transition_lines,
)


def session(path, **options):
    options.setdefault("seed", 1)
    options.setdefault("clock", "frozen:1700000000")
    prog = load_program(str(path))
    return DebugSession.create(prog, ["prog"], RunOptions(**options))


@pytest.fixture
def at_write():
    s = session(PROGRAMS / "asm" / "hello_syscall.s")
    s.run_to_transition()
    return s


def roles(lines, text):
    """The roles of the segments whose text contains `text`."""
    return {role for line in lines for t, role in line if text in t}


def test_code_marks_the_pc_the_trap_and_the_source(at_write):
    lines = code_lines(at_write.view())
    text = plain(lines)
    assert "_start:" in text
    assert "▶ 0000000000401016  syscall" in text
    assert "; rcx <- next rip, r11 <- rflags, CPL 3 -> 0" in text  # the source's comment
    assert "<msg>" in text  # a rip-relative operand named
    assert "pc-insn" in roles(lines, "syscall")


def test_code_in_att_syntax(at_write):
    assert "movl $1, %eax" in plain(code_lines(at_write.view(), att=True))


def test_code_fits_the_height_around_the_pc(at_write):
    lines = code_lines(at_write.view(), height=3)
    assert len(lines) == 3 and "▶" in plain(lines)


def test_registers_show_what_changed_and_its_old_value(at_write):
    v = at_write.view()
    before = dict(v.regs, rdx=0, rax=0)
    lines = register_lines(v, before)
    text = plain(lines)
    assert "rdx 0000000000000014" in text
    assert "was: rax 0x0  rdx 0x0" in text
    assert roles(lines, "0000000000000014") == {"changed"}
    assert "flags 0x202 [ IF ]" in text
    assert "CPL 3" in text


def test_flags_by_name():
    assert flags_text(0x246) == "[ PF ZF IF ]"
    assert flags_text(0x893) == "[ CF AF SF OF ]"


def test_stack_annotates_words(at_write):
    s = session(PROGRAMS / "bin" / "hello.glibc-x86_64")
    s.run_to_transition()
    s.finish()
    text = plain(stack_lines(s.view()))
    assert "rsp" in text
    assert "return to" in text or "-> [stack]" in text


def test_maps_mark_the_pc_region_and_colour_kinds(at_write):
    lines = maps_lines(at_write.view())
    text = plain(lines)
    assert "◀ pc" in text and "◀ sp" in text and "[stack]" in text
    assert "kind-stack" in roles(lines, "[stack]")
    assert "[vsyscall]" in text and "kind-vsyscall" in roles(lines, "[vsyscall]")
    assert "[vdso]" in text and "kind-vdso" in roles(lines, "[vdso]")


def test_events_past_current_and_future():
    s = session(PROGRAMS / "asm" / "hello_syscall.s")
    s.cont()
    s.reverse_to_transition()  # before exit: write is past, exit is ahead
    lines = event_lines(s.view())
    text = plain(lines)
    assert '▶ [syscall] write(1, "Hello from syscall!\\n", 20)' in text
    assert roles(lines, "exit(0)") == {"future"}


def test_output_keeps_streams_apart(tmp_path):
    from test_session import ECHO

    src = tmp_path / "echo.s"
    src.write_text(ECHO)
    s = session(src)
    s.cont()
    assert "type a line below" in plain(output_lines(s.view()))
    s.feed_input("abc\n")
    s.cont()
    lines = output_lines(s.view())
    assert roles(lines, "abc") == {"stdin", "stdout"}


def test_transition_preview_then_phases(at_write):
    text = plain(transition_lines(at_write.view(), width=70))
    assert "Next: syscall  sys_call_table[1] = write" in text
    assert "rdi=0x1" in text and "rdx=0x14" in text
    at_write.step()
    at_write.step()
    at_write.step()  # the table phase
    lines = transition_lines(at_write.view(), width=70)
    text = plain(lines)
    assert "4/6  sys_call_table[1]" in text and "ring 0 (kernel)" in text
    assert "table-now" in roles(lines, "write")
    assert "__x64_sys_write" in text
    assert "phase-now" in roles(lines, "table")


def test_transition_costs_compare_the_paths(at_write):
    at_write.step()
    at_write.next()  # the return phase
    text = plain(transition_lines(at_write.view(), width=80))
    for path in ("syscall", "int 0x80", "sysenter", "vDSO", "vsyscall (emulated)"):
        assert path in text
    assert "~136 ns in all" in text


def test_history_says_how_far_back(at_write):
    text = plain(history_lines(at_write.view()))
    assert "saved points" in text and "the start of the program" in text

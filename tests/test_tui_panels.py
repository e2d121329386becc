"""The pure panel functions (tui/panels), on real stops, without a terminal: what a person
reads in each panel, and the roles that colour it."""

import pytest
from conftest import PROGRAMS

from emu.program import load_program
from kernel_model.debugger.session import DebugSession
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
    status_line,
    transition_lines,
)
from tui.panels.registers import registers_at


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
    for _ in range(4):  # phase 1 (user), 2 (CPU), 3 (pt_regs), 4 (the table)
        at_write.step()
    lines = transition_lines(at_write.view(), width=70)
    text = plain(lines)
    assert "4/6  sys_call_table[1]" in text and "ring 0 (kernel)" in text
    assert "table-now" in roles(lines, "write")
    assert "__x64_sys_write" in text
    assert "phase-now" in roles(lines, "table")


@pytest.mark.parametrize("program, kind, title", [
    ("hello_syscall.s", "syscall", "User registers and the x86_64 ABI"),
    ("hello_int80.s", "int 0x80", "User registers and the i386 ABI"),
    ("sysenter", "sysenter", "User registers and the i386 ABI"),
])
def test_the_first_step_into_a_trap_shows_phase_1(tmp_path, program, kind, title):
    if program == "sysenter":
        from test_session import SYSENTER

        src = tmp_path / "sysenter.s"
        src.write_text(SYSENTER)
        s = session(src)
        s.kernel.sysenter_landing_pad = s.program.assembled.labels["landing_pad"]
    else:
        s = session(PROGRAMS / "asm" / program)
    s.run_to_transition()
    assert s.upcoming()[0] == kind
    s.step()
    v = s.view()
    n = len(v.walk.transition.phases)
    assert f"{kind}: phase 1/{n}" in plain([status_line(v)])
    assert f"1/{n}  {title}" in plain(transition_lines(v, width=90))
    s.step()
    assert f"{kind}: phase 2/{n}" in plain([status_line(s.view())])
    s.reverse_step()
    s.reverse_step()  # back from phase 1: the trap again, not yet stepped into
    assert s.view().walk is None and s.upcoming()[0] == kind


def test_registers_follow_the_phases_of_a_syscall(at_write):
    """In the kernel phases the Registers pane shows the CPU's registers at that phase as
    Linux sets them (rcx/r11, CPL 0, __KERNEL_CS/__KERNEL_DS, rip at entry_SYSCALL_64, rflags
    masked by IA32_FMASK), says it is modelled, and agrees with the Transition pane."""
    user = at_write.view().regs
    at_write.step()  # phase 1: the user registers, as at the trap
    regs, prev, title = registers_at(at_write.view())
    assert title == "Registers" and regs.regs == user
    at_write.step()  # phase 2: the CPU's part of `syscall`
    v = at_write.view()
    regs, prev, title = registers_at(v)
    assert title == "Registers  kernel entry, modelled"
    lines = register_lines(regs, prev, width=48)
    text = plain(lines)
    assert f"rcx {user['rip'] + 2:016x}" in text  # the return address
    assert f"r11 {user['eflags']:016x}" in text  # the user's flags
    assert "rip IA32_LSTAR = entry_SYSCALL_64" in text
    assert "flags 0x2 [ ]" in text  # 0x202 & ~IA32_FMASK
    assert "CPL 0  cs 0x10  ss 0x18" in text
    assert f"rsp {user['rsp']:016x}" in text  # syscall does not switch stacks
    assert roles(lines, f"{user['rip'] + 2:016x}") == {"changed"}
    assert roles(lines, "0x10") == {"changed"}
    assert "was: rcx 0x0  r11 0x0  rip 0x401016" in text
    # every register the Transition pane says changed shows that value here
    pane = plain(transition_lines(v, width=90))
    phase = v.walk.transition.phases[v.walk.phase]
    assert {c.what for c in phase.changes} == {"rcx", "r11", "CPL", "cs", "ss", "rflags",
                                               "rip"}
    for c in phase.changes:
        assert f"{c.what}  {c.before}  → {c.after}" in " ".join(pane.split()).replace(
            "  ", " ") or c.after in pane, c
        if c.what != "CPL":
            value = regs.regs["eflags" if c.what == "rflags" else c.what]
            shown = c.after.split(" (")[0]
            assert value == (int(shown, 16) if shown.startswith("0x") else c.after), c
    at_write.step()  # phase 3: entry_SYSCALL_64 switches to the kernel stack
    regs, prev, _ = registers_at(at_write.view())
    text = plain(register_lines(regs, prev, width=48))
    assert "rsp kernel stack" in text and f"was: rsp {user['rsp']:#x}" in text
    assert "gs_base kernel per-CPU area (swapgs)" in text
    at_write.step()
    at_write.step()  # phase 5: the handler
    regs, prev, _ = registers_at(at_write.view())
    assert "rip __x64_sys_write" in plain(register_lines(regs, prev))
    at_write.step()  # phase 6: back in user mode, the result in rax
    regs, prev, title = registers_at(at_write.view())
    text = plain(register_lines(regs, prev))
    assert title == "Registers  after the return"
    assert "rax 0000000000000014" in text and "CPL 3  cs 0x33  ss 0x2b" in text
    assert "was: rax 0x1" in text
    at_write.run_to_transition()  # exit: the task ends in the kernel, never back in user mode
    at_write.step()
    at_write.next()
    v = at_write.view()
    assert v.walk.transition.phases[v.walk.phase].title == "No return: the process ends"
    regs, prev, title = registers_at(v)
    assert title == "Registers  kernel entry, modelled"
    assert "rip __x64_sys_exit" in plain(register_lines(regs, prev))


@pytest.mark.parametrize("program, phase, expect", [
    ("hello_int80.s", "gate", ["eip IDT[0x80] = asm_int80_emulation",
                               "esp kernel stack (TSS.sp0)", "CPL 0 cs 0x10 ss 0 "]),
    ("sysenter", "cpu", ["eip IA32_SYSENTER_EIP = entry_SYSENTER_compat",
                         "esp IA32_SYSENTER_ESP (kernel stack)", "CPL 0 cs 0x10 ss 0x18"]),
])
def test_registers_follow_the_i386_entries(tmp_path, program, phase, expect):
    if program == "sysenter":
        from test_session import SYSENTER

        src = tmp_path / "sysenter.s"
        src.write_text(SYSENTER)
        s = session(src)
        s.kernel.sysenter_landing_pad = s.program.assembled.labels["landing_pad"]
    else:
        s = session(PROGRAMS / "asm" / program)
    s.run_to_transition()
    user = s.view().regs
    s.step()
    while s.walk.transition.phases[s.walk.phase].key != phase:
        s.step()
    regs, prev, title = registers_at(s.view())
    text = " ".join(plain(register_lines(regs, prev, width=44)).split())
    assert title == "Registers  kernel entry, modelled"
    for line in expect:
        assert line in text
    assert user["eflags"] == 0x202 and "flags 0x2 [ ] (was [ IF ])" in text


def test_registers_follow_an_emulated_vsyscall_into_the_page_fault_handler():
    from test_session import run_to, time_three_ways

    s = time_three_ways(vsyscall="emulate")
    run_to(s, "vsyscall")
    user = s.view().regs
    s.step()
    s.step()  # phase 2: the fetch faults
    v = s.view()
    assert v.walk.transition.phases[v.walk.phase].key == "fault"
    regs, prev, title = registers_at(v)
    text = plain(register_lines(regs, prev, width=48))
    assert title == "Registers  kernel entry, modelled"
    assert "rip IDT[14] = asm_exc_page_fault" in text and "CPL 0  cs 0x10  ss 0" in text
    assert "rsp kernel stack (TSS.sp0)" in text
    assert f"was: rsp {user['rsp']:#x}  rip {user['rip']:#x}" in text  # at the call
    s.step()  # phase 3: emulate_vsyscall
    regs, prev, _ = registers_at(s.view())
    assert "rip emulate_vsyscall" in plain(register_lines(regs, prev))


SPACES = """
bits 64
section .data
msg:    db "a  b"
section .text
_start:
    mov eax, 1              ; write(1, "a  b", 4): a comment long enough to be cut at the edge
    mov edi, 1
    lea rsi, [rip + msg]
    mov edx, 4
    syscall
    mov eax, 60
    xor edi, edi
    syscall
"""


@pytest.fixture
def spaces(tmp_path):
    src = tmp_path / "spaces.s"
    src.write_text(SPACES)
    s = session(src)
    s.run_to_transition()
    s.next()  # over the write
    return s


@pytest.mark.parametrize("width", [40, 60, 100])
def test_events_keep_the_spaces_of_traced_strings(spaces, width):
    text = plain(event_lines(spaces.view(), width=width))
    assert 'write(1, "a  b", 4)' in text
    if width < 70:  # strace's padding to column 40 squeezed out, the string untouched
        assert 'write(1, "a  b", 4) = 4' in text


def test_a_line_cut_at_the_edge_ends_with_an_ellipsis(spaces):
    v = spaces.view()
    for name, lines in (
            ("events", event_lines(v, width=20)),
            ("code", code_lines(v, width=60)),
            ("maps", maps_lines(v, width=40)),
            ("stack", stack_lines(v, width=45)),
            ("transition", transition_lines(v, width=30))):
        assert any(plain([line]).endswith("…") for line in lines), (name, plain(lines))
    # the events line, cut: its start kept, "…" where it ends
    assert plain(event_lines(v, width=20)).splitlines()[0] == '▶ [syscall] write(1…'
    # the source comment beside the code, cut
    assert any("; write(1," in line and line.endswith("…")
               for line in plain(code_lines(v, width=80)).splitlines())


def test_a_long_transition_title_is_cut_with_an_ellipsis():
    from test_session import time_three_ways

    s = time_three_ways()
    s.run_to_transition()
    s.step()  # into clock_gettime(CLOCK_REALTIME, {tv_sec=1700000000, tv_nsec=...}) = 0
    lines = plain(transition_lines(s.view(), width=24)).splitlines()
    assert lines[0].startswith("syscall  clock_gettime(")
    assert lines[2].endswith("…") and lines[3].startswith("user")


def test_the_status_says_where_in_history_in_words(at_write):
    import re

    from tui.panels import status_line

    at_write.reverse_step()
    at_write.reverse_step()
    text = plain([status_line(at_write.view())])
    assert "in the past: 2 instructions after the start" in text, text
    assert not re.search(r"point \d+ \+\d+", text)
    at_write.goto_end()
    at_write.next()  # over the write: a saved point after it
    at_write.step()
    at_write.step()
    at_write.reverse_step()  # one instruction after that saved point
    text = plain([status_line(at_write.view())])
    assert re.search(r"in the past: 1 instruction after saved point \d+ of \d+", text), text
    history = plain(history_lines(at_write.view(), width=60))
    assert "A saved point is the whole machine" in history


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

"""The headless stepping engine: stepping into each entry path phase by phase, running to
transitions and breakpoints, and going back in time with everything restored exactly."""

import hashlib
import threading
import time

import pytest
from conftest import PROGRAMS

from emu.program import load_program
from kernel_model.debugger.session import DebugSession
from kernel_model.debugger.state import capture_memory
from kernel_model.system import RunOptions


def session(path, *args, **options):
    options.setdefault("seed", 1)
    prog = load_program(str(path))
    s = DebugSession.create(prog, [str(path), *args], RunOptions(**options))
    return s


def asm(tmp_path, name, source, **options):
    path = tmp_path / name
    path.write_text(source)
    return session(path, **options)


def walk(s):
    """Step into the transition at pc and walk it to the end; the phase keys in order."""
    keys = []
    stop = s.step()
    assert stop.reason == "phase", stop
    keys.append(s.walk.transition.phases[0].key)
    while s.walk is not None and s.walk.phase < len(s.walk.transition.phases) - 1:
        keys.append(s.walk.transition.phases[s.walk.phase].key)
        s.step()
    keys.append(s.walk.transition.phases[-1].key)
    return keys[:1] + keys[1:]


def state(s):
    """Everything a step back must restore: registers, every mapped byte, kernel state."""
    img = capture_memory(s.machine)
    h = hashlib.sha1()
    for region, pages in zip(img.regions, img.pages, strict=True):
        h.update(repr(region).encode())
        for page in pages:
            h.update(page)
    p = s.system.process
    t = s.kernel.current
    kernel = (tuple(s.system.mm.vmas), s.system.mm.brk, t.fs_base, tuple(p.fds.fds()),
              s.kernel.seq, t.sigmask, p.exited, dict(p.sigactions))
    return s.regs(), h.hexdigest(), kernel


def test_syscall_phases_in_order_and_what_each_shows():
    s = session(PROGRAMS / "asm" / "hello_syscall.s")
    assert s.run_to_transition().reason == "transition"
    assert s.upcoming() == ("syscall", None)
    s.step()
    t = s.walk.transition
    assert [p.key for p in t.phases] == ["user", "cpu", "pt_regs", "table", "handler", "return"]
    assert s.walk.phase == 0  # the first step shows phase 1: the user registers and the ABI
    cpu = t.phases[1]
    changed = {c.what for c in cpu.changes}
    assert {"rcx", "r11", "CPL", "rip"} <= changed
    table = t.phases[3]
    assert table.table_name == "sys_call_table"
    assert [r.name for r in table.table if r.current] == ["write"]
    handler = t.phases[4]
    assert any('"Hello from syscall!\\n"' in d for d in handler.details)
    ret = t.phases[5]
    assert any(c.what == "rax" and "20" in c.after for c in ret.changes)
    assert t.total_ns and "KERNEL_FACTS" in t.cost_source
    while s.walk is not None:
        s.step()
    assert s.view().output[0].text == "Hello from syscall!\n"


def test_int80_phases_show_the_gate_and_the_pushed_frame():
    s = session(PROGRAMS / "asm" / "hello_int80.s")
    s.run_to_transition()
    assert s.upcoming()[0] == "int 0x80"
    s.step()
    t = s.walk.transition
    assert [p.key for p in t.phases] == ["user", "gate", "frame", "pt_regs", "table",
                                         "handler", "return"]
    frame = t.phases[2]
    assert [c.after.split()[1] for c in frame.changes] == ["ss", "esp", "eflags", "cs", "eip"]
    # a 64-bit kernel's interrupt frame: 8-byte slots, even for an i386 process
    assert [d.split()[0] for d in frame.details] == ["top", "+8", "+16", "+24", "+32"]
    assert t.phases[4].table_name == "ia32_sys_call_table"
    assert [r.nr for r in t.phases[4].table if r.current] == [4]
    assert t.phases[-1].title.startswith("iret")


def test_int80_from_64_bit_code_warns_about_the_low_32_bits():
    s = session(PROGRAMS / "asm" / "int80_from_64.s")
    s.run_to_transition()
    s.next()  # the first write, with a low buffer
    s.run_to_transition()
    s.step()
    user = s.walk.transition.phases[0]
    assert "low 32 bits" in user.warning and "rcx=0x7ff" in user.warning
    s.next()  # finish the walk at once
    handler = s.walk.transition.phases[-1]
    assert any("= -14" in c.after for c in handler.changes)


SYSENTER = """
bits 32
section .data
msg: db "via sysenter", 10
section .text
_start:
    mov eax, 4
    mov ebx, 1
    mov ecx, msg
    mov edx, 13
    call kernel_vsyscall
    mov eax, 1
    xor ebx, ebx
    call kernel_vsyscall
kernel_vsyscall:
    push ecx
    push edx
    push ebp
    mov ebp, esp
    sysenter
    int 0x80
landing_pad:
    pop ebp
    pop edx
    pop ecx
    ret
"""


def test_sysenter_through_a_stub_returns_to_the_landing_pad(tmp_path):
    s = asm(tmp_path, "sysenter.s", SYSENTER)
    pad = s.program.assembled.labels["landing_pad"]
    s.kernel.sysenter_landing_pad = pad
    assert s.run_to_transition().message == "sysenter"
    s.step()
    t = s.walk.transition
    assert [p.key for p in t.phases] == ["user", "pushes", "cpu", "pt_regs", "table",
                                         "handler", "return"]
    assert any("saved ebp" in d for d in t.phases[1].details)
    assert "IA32_SYSENTER_EIP" in " ".join(c.after for c in t.phases[2].changes)
    assert f"{pad:#x}" in " ".join(t.phases[-1].text)
    s.next()
    s.step()  # leave the walk: one instruction at the landing pad
    assert s.machine.pc == pad + 1


def test_reverse_steps_restore_registers_memory_and_kernel_state_exactly():
    s = session(PROGRAMS / "bin" / "hello.glibc-x86_64")
    pairs = []  # (just before a crossing, just after it), all the way to exit_group
    while s.run_to_transition().reason == "transition":
        before = state(s)
        s.next()
        pairs.append((before, state(s)))
    assert len(pairs) > 15
    # Back: from after each crossing one step lands exactly before it; then back to the
    # previous crossing and forward over it again (a replay, not a re-execution).
    for i in reversed(range(len(pairs))):
        before, after = pairs[i]
        assert state(s) == after
        s.reverse_step()
        assert state(s) == before
        if i:
            assert s.reverse_to_transition().reason == "transition"
            assert state(s) == pairs[i - 1][0]
            s.next()


def test_single_steps_forward_and_back_agree():
    s = session(PROGRAMS / "asm" / "int80_from_64.s")
    forward = []
    for _ in range(30):
        forward.append(state(s))
        stop = s.next() if s.upcoming() else s.step()
        if stop.reason == "exited":
            break
    for expected in reversed(forward):
        s.reverse_step()
        assert state(s) == expected


def test_output_follows_the_point_in_history():
    s = session(PROGRAMS / "asm" / "hello_syscall.s")
    s.cont()
    assert "".join(c.text for c in s.view().output) == "Hello from syscall!\n"
    s.reverse_to_transition()  # before exit
    s.reverse_to_transition()  # before write
    assert s.view().output == ()
    s.next()
    assert s.view().output[0].text == "Hello from syscall!\n"


ECHO = """
bits 64
section .bss
buf: resb 64
section .text
_start:
    xor eax, eax            ; read(0, buf, 64)
    xor edi, edi
    lea rsi, [rip + buf]
    mov edx, 64
    syscall
    mov rdx, rax            ; write(1, buf, n)
    mov eax, 1
    mov edi, 1
    lea rsi, [rip + buf]
    syscall
    mov eax, 60
    xor edi, edi
    syscall
"""


def test_the_guest_waits_for_typed_input(tmp_path):
    s = asm(tmp_path, "echo.s", ECHO)
    stop = s.cont()
    assert stop.reason == "input" and s.view().waiting_input
    s.feed_input("hello there\n")
    assert s.cont().reason == "exited"
    out = s.view().output
    assert [(c.stream, c.text) for c in out] == [("stdin", "hello there\n"),
                                                ("stdout", "hello there\n")]
    # back before the read: the typed line is read again, never asked twice
    s.goto_start()
    assert s.cont().reason == "exited"


CALLS = """
bits 64
section .text
_start:
    mov ebx, 3
again:
    call work
    dec ebx
    jnz again
    mov eax, 60
    xor edi, edi
    syscall
work:
    mov eax, 39             ; getpid
    syscall
    ret
"""


def test_breakpoints_next_finish_and_reverse_continue(tmp_path):
    s = asm(tmp_path, "calls.s", CALLS)
    labels = s.program.assembled.labels
    s.add_breakpoint("work")
    assert s.cont().reason == "breakpoint" and s.machine.pc == labels["work"]
    stop = s.finish()
    assert s.machine.pc == labels["again"] + 5, stop  # back in the caller, after the call
    s.step()  # dec
    s.step()  # jnz
    assert s.next().reason == "breakpoint"  # the call runs into the breakpoint again
    rbx = s.regs()["rbx"]
    assert s.cont().reason == "breakpoint"
    assert s.regs()["rbx"] == rbx - 1
    assert s.reverse_continue().reason == "breakpoint"
    assert s.regs()["rbx"] == rbx and s.machine.pc == labels["work"]
    s.remove_breakpoint(s.breakpoints[0])
    assert s.cont().reason == "exited"


def test_catch_syscall_by_name(tmp_path):
    s = asm(tmp_path, "calls.s", CALLS)
    stop = s.run_to_syscall("exit")
    assert stop.reason == "syscall" and s._syscall_name("syscall") == "exit"
    assert len([e for e in s.view().events if "getpid" in e.text]) == 3


def test_interrupt_stops_a_long_run_and_history_says_so():
    s = session(PROGRAMS / "asm" / "bench_compute.s", "2000000000")
    result = []
    t = threading.Thread(target=lambda: result.append(s.cont()))
    t.start()
    time.sleep(0.3)
    s.interrupt()
    t.join(10)
    assert result and result[0].reason == "interrupted"
    stop = s.reverse_step()
    assert "interrupted" in stop.message


SEGV = """
bits 64
section .text
_start:
    xor eax, eax
    mov rax, [rax]          ; NULL dereference
"""


def test_a_fault_stops_before_the_signal_and_the_next_step_delivers(tmp_path):
    s = asm(tmp_path, "segv.s", SEGV)
    stop = s.cont()
    assert stop.reason == "fault" and "SIGSEGV" in stop.message
    assert s.view().pending_fault
    assert s.step().reason == "exited"
    assert s.view().exit_text == "killed by SIGSEGV"
    assert s.reverse_step().reason == "step"
    assert s.view().pending_fault


def test_a_replayed_run_stops_at_a_recorded_fault_as_the_live_run_did(tmp_path):
    s = asm(tmp_path, "segv.s", SEGV)
    live = [s.cont(), s.cont()]
    assert [st.reason for st in live] == ["fault", "exited"]
    s.goto_start()
    assert [s.cont(), s.cont()] == live
    assert len([m for m in s.timeline.marks if m.kind == "fault"]) == 1


def test_history_within_a_small_budget_is_thinned_and_says_how_far_back():
    s = session(PROGRAMS / "bin" / "hello.glibc-x86_64")
    s.timeline.budget = 1 << 20
    while s.run_to_transition().reason == "transition":
        s.next()
    assert s.timeline.used <= s.timeline.budget or s.timeline.dropped
    assert s.timeline.dropped or s.timeline.thinned
    while s.reverse_to_transition().reason != "start":
        pass
    if s.timeline.dropped:
        assert "budget" in s.view().history.horizon


def time_three_ways(**options):
    import programs

    options.setdefault("clock", "frozen:1700000000")
    return session(programs.find("time-three-ways").path, **options)


def run_to(s, kind):
    while True:
        stop = s.run_to_transition()
        assert stop.reason == "transition", stop
        if stop.message == kind:
            return
        s.next()


def test_a_vdso_call_is_walked_without_a_crossing():
    s = time_three_ways()
    run_to(s, "vdso")
    assert s.insn_at(s.machine.pc).kind == "call"
    seq = s.kernel.seq
    s.step()
    t = s.walk.transition
    assert [p.key for p in t.phases] == ["call", "vvar", "tsc", "math", "ret"]
    assert not t.crossed and "never ran" in t.banner
    assert "__vdso_clock_gettime(CLOCK_REALTIME, {tv_sec=1700000000" in t.title
    assert any("seq = " in d for d in t.phases[1].details)
    assert any("rdtsc" in d for d in t.phases[2].details)
    assert s.kernel.seq == seq  # not one syscall
    s.next()
    s.step()  # the instruction after the call
    s.reverse_step()
    s.reverse_step()  # back into the vDSO: its `ret`
    assert s.view().symbol.startswith("__vdso_clock_gettime+")
    assert s.insn_at(s.machine.pc).kind == "ret"


def test_continue_records_each_vdso_call_once():
    s = time_three_ways()
    assert s.cont().reason == "exited"
    assert len([e for e in s.view().events if e.kind == "vdso"]) == 1


def test_a_vsyscall_call_faults_and_is_emulated():
    s = time_three_ways()
    run_to(s, "vsyscall")
    assert s.upcoming() == ("vsyscall", 0xFFFFFFFFFF600000)
    before = s.regs()
    s.step()
    t = s.walk.transition
    assert [p.key for p in t.phases] == ["call", "fault", "emulate", "ret"]
    assert "(emulated)" in t.title
    changed = {c.what for c in t.phases[-1].changes}
    assert changed == {"rax", "rip", "rsp", "CPL"}
    s.next()
    after = s.regs()
    assert {r for r in before if before[r] != after[r]} <= {"rax", "rip", "rsp"}
    assert s.reverse_to_transition().message == "vsyscall"
    assert s.regs() == before


@pytest.mark.parametrize("mode, phases", [
    ("native", ["call", "native"]),
    ("none", ["call", "fault"]),
    ("emulate", ["call", "fault", "emulate", "ret"]),
])
def test_each_vsyscall_mode_is_its_own_transition(mode, phases):
    s = time_three_ways(vsyscall=mode)
    run_to(s, "vsyscall")
    assert s.upcoming()[0] == "vsyscall"
    s.step()
    assert [p.key for p in s.walk.transition.phases] == phases


def vsyscall_time(**options):
    options.setdefault("clock", "frozen:1700000000")
    return session(PROGRAMS / "asm" / "vsyscall_time.s", **options)


def transitions(s):
    """Every stop of `t` to the end (and what each is about to do), going over each."""
    stops = []
    while True:
        stop = s.run_to_transition()
        stops.append((stop.reason, stop.message, stop.pc, s.upcoming()))
        if stop.reason != "transition":
            return stops
        s.next()


def test_a_replay_stops_before_a_call_into_the_vsyscall_page():
    s = vsyscall_time()
    assert s.run_to_transition().message == "vsyscall"
    call = s.machine.pc
    assert s.cont().reason == "exited"
    s.goto_start()
    stop = s.run_to_transition()  # replayed: the call, not the write after it
    assert (stop.reason, stop.message, s.machine.pc) == ("transition", "vsyscall", call)
    assert s.upcoming() == ("vsyscall", 0xFFFFFFFFFF600000)


def time_three_ways_32(**options):
    import programs

    options.setdefault("clock", "frozen:1700000000")
    return session(programs.find("time-three-ways-32").path, **options)


@pytest.mark.parametrize("make, mode", [
    (vsyscall_time, "xonly"), (vsyscall_time, "emulate"), (vsyscall_time, "native"),
    (time_three_ways, "xonly"), (time_three_ways, "native"), (time_three_ways, "none"),
    (time_three_ways_32, "xonly"),
])
def test_a_replay_stops_at_every_transition_the_live_run_stopped_at(make, mode):
    s = make(vsyscall=mode)
    live = transitions(s)
    assert {"vdso", "vsyscall"} & {st[1] for st in live if st[0] == "transition"}
    s.goto_start()
    assert transitions(s) == live  # replayed, from the first stop to the end
    s.goto_start()
    s.cont()  # a replayed run over all of it, then `t` again over what it left
    s.goto_start()
    assert transitions(s) == live


@pytest.mark.parametrize("make, mode, kind", [
    (time_three_ways, "xonly", "vdso"), (time_three_ways, "xonly", "vsyscall"),
    (time_three_ways, "none", "vsyscall"), (time_three_ways_32, "xonly", "vdso"),
])
def test_t_onto_a_call_it_found_after_the_fact_stays_at_the_live_end(make, mode, kind):
    """A live `t` learns of a call into the vDSO or the vsyscall page at its target and
    goes back to the call: that point is still the live end (the screen says nothing of
    the past), and the program goes on from it as from any other stop."""
    straight = make(vsyscall=mode)
    to_the_end(straight)
    s = make(vsyscall=mode)
    run_to(s, kind)
    view = s.view()
    assert s.upcoming()[0] == kind and s.insn_at(s.machine.pc).kind == "call"
    assert view.history.at_live_end
    s.step()  # into the call, phase by phase, as from any stop at the live end
    assert s.walk is not None and s.walk.transition.phases[0].key == "call"
    to_the_end(s)
    assert [e.text for e in s.view().events] == [e.text for e in straight.view().events]


def to_the_end(s):
    """`c` until the program has exited (a fault stops `c` first: vsyscall=none)."""
    for _ in range(5):
        if s.cont().reason == "exited":
            return
    raise AssertionError("the program did not end")


def test_a_replay_stops_before_a_vdso_call():
    s = time_three_ways()
    run_to(s, "vdso")
    call = s.machine.pc
    s.cont()
    s.goto_start()
    run_to(s, "vdso")
    assert s.machine.pc == call and s.upcoming()[0] == "vdso"


@pytest.mark.parametrize("replayed", [False, True])
def test_run_to_transition_at_a_call_goes_on_to_the_next_one(replayed):
    expected = [st[:3] for st in transitions(time_three_ways())]
    s = time_three_ways()
    if replayed:
        s.cont()
        s.goto_start()
    seen = []
    while True:  # `t` again and again, never `n`: each moves on to the next transition
        stop = s.run_to_transition()
        seen.append((stop.reason, stop.message, stop.pc))
        if stop.reason != "transition":
            break
        assert len(seen) < 20, seen
    assert seen == expected
    assert {"vdso", "vsyscall"} <= {m for _, m, _ in seen}


def test_a_replayed_cont_past_a_stop_into_a_stretch_not_yet_counted():
    s = session(PROGRAMS / "bin" / "seed.glibc-x86_64", clock="frozen:1700000000")

    def cont_to(spec):
        b = s.add_breakpoint(spec)
        try:
            return s.cont()
        finally:
            s.remove_breakpoint(b)

    assert cont_to("main").reason == "breakpoint"
    main = s.machine.pc
    assert cont_to("__gettimeofday").reason == "breakpoint"
    wrapper = s.machine.pc
    assert s.run_to_transition().message == "vdso"
    assert cont_to("syscall").reason == "breakpoint"
    assert s.run_to_syscall("gettimeofday").reason == "syscall"
    walk(s)
    s.finish()
    assert s.cont().reason == "exited"
    s.goto_start()
    assert cont_to("main").reason == "breakpoint" and s.machine.pc == main
    # From the point before the stop mark kept at main: the stretch after that mark was
    # run freely and is counted only now.
    assert cont_to("__gettimeofday").reason == "breakpoint" and s.machine.pc == wrapper
    s.goto_start()
    cont_to("main")
    s.step()
    assert s.machine.pc != main
    s.goto_start()
    assert cont_to("main").reason == "breakpoint"
    assert s.run_to_transition().message == "vdso"


def test_goto_a_mark_or_a_position_leaves_a_walk():
    s = session(PROGRAMS / "asm" / "hello_syscall.s")
    s.run_to_transition()
    before = state(s)
    at = s.pos
    s.step()
    assert s.walk is not None
    s.goto(at)
    assert s.walk is None and state(s) == before and s.pos == at
    s.step()
    s.step()
    end = state(s)
    s.goto(s.walk.after_pos)
    assert s.walk is None and state(s) == end
    s.goto(s.timeline.marks[0])
    assert s.walk is None and s.pos == (s.timeline.marks[0], 0)
    s.step()
    s.step()
    inside, two = s.pos, state(s)  # two instructions into the first stretch
    assert inside == (s.timeline.marks[0], 2)
    assert s.goto(at).reason == "step" and state(s) == before
    s.goto(inside)
    assert state(s) == two
    s.goto(at)
    assert "not in the history" in s.goto((at[0], 10**6)).message
    assert "not in the history" in s.goto((at[0], -1)).message
    assert "not in the history" in s.goto((at[0], None)).message
    assert state(s) == before


def test_a_dropped_session_leaves_no_files_or_fds_behind():
    """A class server, a grader or a long test run makes sessions by the thousand: one that
    is dropped without close() still gives back its three fds and its directory."""
    import gc
    import glob
    import os
    import tempfile

    from emu.program import load_program
    from kernel_model.debugger.session import DebugSession
    from kernel_model.system import RunOptions

    prog = load_program(str(PROGRAMS / "asm" / "hello_syscall.s"), 64)
    pattern = os.path.join(tempfile.gettempdir(), "syscall-lab-session-*")
    gc.collect()
    dirs, fds = set(glob.glob(pattern)), len(os.listdir("/proc/self/fd"))
    for _ in range(10):
        session = DebugSession.create(prog, ["hello"], RunOptions(seed=1))
        session.step()
        del session
    gc.collect()
    assert set(glob.glob(pattern)) <= dirs
    assert len(os.listdir("/proc/self/fd")) <= fds

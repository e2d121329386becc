"""The stepping engine with many tasks: a fork+wait4 guest and a two-thread guest stepped to
the end, back to the start and forward again, exactly (the same stops, tasks and registers);
context switches as stops and transitions with phases; the Processes view and pane; and
breakpoints and catchpoints limited to one process."""

from __future__ import annotations

import pytest
from test_tui import SMALL, WIDE, pilot_test, press, settle
from test_tui_keyboard import active, labels

from emu.program import load_program
from kernel_model.debugger.session import DebugSession
from kernel_model.system import RunOptions
from tui.app import make_app
from tui.panels import plain
from tui.panels.processes import process_lines

# fork; the child writes "child\n" and exits 7; the parent waits for it (wait4) and exits
# with the child's status.
FORK_WAIT = """bits 64
section .bss
status: resd 1
section .text
global _start
_start:
    mov eax, 57          ; fork
    syscall
    test eax, eax
    jnz parent
    mov eax, 1
    mov edi, 1
    lea rsi, [rel msg]
    mov edx, 6
    syscall
    mov eax, 60
    mov edi, 7
    syscall
parent:
    mov edi, eax
    mov eax, 61          ; wait4(pid, &status, 0, NULL)
    lea rsi, [rel status]
    xor edx, edx
    xor r10d, r10d
    syscall
    mov eax, [rel status]
    shr eax, 8
    mov edi, eax
    mov eax, 60
    syscall
section .data
msg: db "child", 10
"""

# clone a thread (as pthread_create does: CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|
# PARENT_SETTID|CHILD_CLEARTID); both add 1 to a counter 1000 times with a plain
# load/add/store (a race when the time slice ends between the load and the store); the main
# thread yields first, then joins the thread by a futex wait on its cleared tid.
THREADS = """bits 64
section .bss
align 16
stack: resb 4096
stack_top:
section .text
global _start
_start:
    mov dword [rel ctid], 1
    mov eax, 56
    mov edi, 0x3d0f00
    lea rsi, [rel stack_top]
    lea rdx, [rel ctid]
    lea r10, [rel ctid]
    xor r8d, r8d
    syscall
    test eax, eax
    jz child
    mov eax, 24          ; sched_yield: the thread runs first
    syscall
    mov ecx, 1000
race:
    mov eax, [rel counter]
    add eax, 1
    mov [rel counter], eax
    dec ecx
    jnz race
join:
    mov edx, [rel ctid]
    test edx, edx
    jz joined
    mov eax, 202         ; futex(&ctid, FUTEX_WAIT, val, NULL)
    lea rdi, [rel ctid]
    xor esi, esi
    xor r10d, r10d
    syscall
    jmp join
joined:
    mov eax, 1
    mov edi, 1
    lea rsi, [rel msg2]
    mov edx, 7
    syscall
    mov eax, 231         ; exit_group(counter)
    mov edi, [rel counter]
    syscall
child:
    mov ecx, 1000
spin:
    mov eax, [rel counter]
    add eax, 1
    mov [rel counter], eax
    dec ecx
    jnz spin
    mov eax, 1
    mov edi, 1
    lea rsi, [rel msg1]
    mov edx, 7
    syscall
    mov eax, 60          ; exit: this thread only
    xor edi, edi
    syscall
section .data
ctid: dd 0
counter: dd 0
msg1: db "thread", 10
msg2: db "joined", 10
"""

PARENT, CHILD = 4242, 4243


def session(tmp_path, name, source, **options):
    path = tmp_path / name
    path.write_text(source)
    options.setdefault("seed", 1)
    return DebugSession.create(load_program(str(path)), [str(path)], RunOptions(**options))


def stop_state(s, stop) -> tuple:
    """What a person sees at a stop: why, which task, its registers, the walk's phase."""
    w = s.walk
    return (stop.reason, stop.message, s.kernel.current.tid, s.regs(),
            None if w is None else (w.transition.title, w.phase))


def run_all(s, command: str, limit: int = 20000) -> list[tuple]:
    cmd = getattr(s, command)
    stops = []
    for _ in range(limit):
        stop = cmd()
        stops.append(stop_state(s, stop))
        if stop.reason == "exited":
            return stops
    raise AssertionError(f"{command} did not reach the end in {limit} stops")


def output(s) -> str:
    return s.io.stdout().decode()


# -- there and back again ------------------------------------------------------------------

def test_fork_wait_steps_to_the_end_back_to_the_start_and_forward_the_same(tmp_path):
    s = session(tmp_path, "fork.s", FORK_WAIT)
    first = run_all(s, "step")
    assert s.exit_text() == "exited with status 7"
    assert output(s) == "child\n"
    tids = [t for _r, _m, t, _regs, _w in first]
    assert CHILD in tids and tids[-1] == PARENT  # the child ran, the parent ended it
    # step by step back to the start of the program: the child is gone again
    for _ in range(len(first) + 10):
        if s.reverse_step().reason == "start":
            break
    else:
        raise AssertionError("stepping back never reached the start")
    assert [p.pid for p in s.kernel.processes] == [PARENT]
    assert s.kernel.current.tid == PARENT
    again = run_all(s, "step")
    assert again == first
    assert output(s) == "child\n"
    assert s.exit_text() == "exited with status 7"


def test_fork_wait_memory_of_each_process_is_restored(tmp_path):
    """A capture holds every address space: going back to the child's write and forward
    again shows the child's own memory and registers, and the parent's untouched."""
    s = session(tmp_path, "fork.s", FORK_WAIT)
    b = s.add_breakpoint("0x401021")  # the child's write
    assert s.cont().reason == "breakpoint"
    assert s.kernel.current.tid == CHILD
    child_regs = s.regs()
    child_stack = s.machine.read(s.machine.sp, 64)
    parent_machine = s.kernel.processes[PARENT].machine
    assert parent_machine is not s.machine  # its own address space
    assert s.cont().reason == "exited"
    assert s.reverse_continue().reason == "breakpoint"
    assert s.kernel.current.tid == CHILD
    assert s.regs() == child_regs
    assert s.machine.read(s.machine.sp, 64) == child_stack
    s.remove_breakpoint(b)


@pytest.fixture(scope="module")
def raced(tmp_path_factory) -> int:
    """The race's outcome with a 300-instruction slice: the exit status (the counter)."""
    s = session(tmp_path_factory.mktemp("race"), "threads.s", THREADS, timeslice=300)
    run_all(s, "cont")
    status = s.system.process.status
    # the threads' increments interleaved: some were lost, as in a real data race
    assert status != 2000 & 0xFF
    return status


@pytest.mark.parametrize("command", ["step", "run_to_transition", "cont"])
def test_two_threads_same_run_whatever_the_commands_and_again_after_going_back(
        tmp_path, command, raced):
    """With a 300-instruction time slice the threads are preempted mid-race: the switches
    happen at the same instructions whether the user steps, runs to transitions or
    continues, so the race ends the same way, and the same again from the start."""
    s = session(tmp_path, "threads.s", THREADS, timeslice=300)
    first = run_all(s, command)
    assert s.system.process.status == raced
    assert output(s) == "thread\njoined\n"
    assert s.goto_start().reason == "step"
    assert len(list(s.kernel.processes.tasks())) == 1
    again = run_all(s, command)
    assert again == first
    assert s.system.process.status == raced


# -- a context switch is a transition --------------------------------------------------------

def test_t_stops_at_each_context_switch(tmp_path):
    s = session(tmp_path, "fork.s", FORK_WAIT)
    stops = []
    for _ in range(20):
        stop = s.run_to_transition()
        stops.append((stop.reason, str(stop.message), s.kernel.current.tid))
        if stop.reason == "exited":
            break
    assert stops == [("transition", "syscall", PARENT),   # fork
                     ("transition", "syscall", PARENT),   # wait4: it waits
                     ("transition", "switch", PARENT),    # to the child
                     ("transition", "syscall", CHILD),    # write
                     ("transition", "syscall", CHILD),    # exit
                     ("transition", "switch", CHILD),     # back to the parent
                     ("transition", "syscall", PARENT),   # exit
                     ("exited", "exited with status 7", PARENT)]


def walk_phases(s) -> list:
    stop = s.step()
    assert stop.reason == "phase", stop
    phases = s.walk.transition.phases
    while s.walk.phase < len(phases) - 1:
        s.step()
    return list(phases)


def test_a_switch_between_processes_walks_in_phases_with_its_cost(tmp_path):
    s = session(tmp_path, "fork.s", FORK_WAIT)
    s.run_to_transition()
    s.run_to_transition()
    assert s.run_to_transition().message == "switch"
    view = s.view()
    assert view.upcoming == ("switch", None)
    assert view.pending_switch == "it waits: wait for child 4243"
    phases = walk_phases(s)
    t = s.walk.transition
    assert [p.key for p in phases] == ["trap", "save", "schedule", "mm", "tls", "return"]
    assert t.title == "context switch: pid 4242 -> pid 4243 (it waits: wait for child 4243)"
    assert "wait4" in phases[0].title
    assert any(line.startswith("rip") for line in phases[1].details)  # the saved registers
    assert "-> 4243   R" in phases[2].details and any("4242   S" in d for d in
                                                          phases[2].details)
    assert [(c.what) for c in phases[3].changes] == ["CR3"]  # another address space
    assert phases[4].changes[0].what == "fs_base"
    assert "ret_from_fork" in " ".join(phases[5].text)  # the child's first run
    assert t.total_ns == 2000 and "lat_ctx" in t.cost_source
    assert sum(p.cost_ns or 0 for p in phases) == pytest.approx(2000)
    s.step()  # past the last phase: the child's first instruction, as the walk said
    assert s.walk is None and s.kernel.current.tid == CHILD
    assert s.regs()["rax"] == 0  # fork's child side


def test_a_switch_back_resumes_the_waiting_call(tmp_path):
    s = session(tmp_path, "fork.s", FORK_WAIT)
    for _ in range(5):
        s.run_to_transition()
    assert s.run_to_transition().message == "switch"
    phases = walk_phases(s)
    assert "exited" in phases[0].title
    assert "wait4 resumed" in " ".join(phases[-1].text)
    assert s.regs()["rax"] == CHILD  # wait4's result, written as its return path would


def test_a_switch_between_threads_keeps_the_address_space(tmp_path):
    s = session(tmp_path, "threads.s", THREADS, timeslice=300)
    while s.run_to_transition().message != "switch":
        pass
    phases = walk_phases(s)
    assert phases[3].title == "The address space stays"
    assert s.walk.transition.total_ns == 1700  # a thread switch


def test_a_time_slice_ends_with_a_timer_interrupt(tmp_path):
    s = session(tmp_path, "threads.s", THREADS, timeslice=300)
    stops = run_all(s, "run_to_transition")
    assert ("transition", "switch") in [(r, m) for r, m, *_ in stops]
    s.goto_start()
    while True:
        stop = s.run_to_transition()
        if stop.message == "switch" and s.view().pending_switch.startswith("the timer"):
            break
        assert stop.reason != "exited", "no switch at a slice's end"
    phases = walk_phases(s)
    assert phases[0].title == "The timer interrupt"
    assert any(c.what == "CPL" and c.after == "0" for c in phases[0].changes)


def test_fork_walk_shows_the_child_created_as_a_copy(tmp_path):
    s = session(tmp_path, "fork.s", FORK_WAIT)
    s.run_to_transition()
    phases = walk_phases(s)
    fork = next(p for p in phases if p.key == "fork")
    assert fork.title == "copy_process: child pid 4243, a copy"
    assert "a copy of its parent 4242" in fork.text[0]
    assert fork.details and fork.details[0].startswith("the child's mappings, copied")


def test_a_waiting_call_walk_ends_waiting_not_returning(tmp_path):
    s = session(tmp_path, "fork.s", FORK_WAIT)
    s.run_to_transition()
    s.next()
    s.run_to_transition()  # wait4
    phases = walk_phases(s)
    title = s.walk.transition.title
    assert title.startswith("wait4(4243") and title.endswith("<unfinished ...>")
    assert phases[-1].key == "wait"
    assert "wait for child 4243" in phases[-1].text[0]


# -- the Processes view and pane -----------------------------------------------------------

def test_processes_view_lists_each_task_and_what_it_waits_for(tmp_path):
    s = session(tmp_path, "fork.s", FORK_WAIT)
    assert [(r.pid, r.state, r.current) for r in s.view().processes] == [
        (PARENT, "R", True)]
    s.run_to_transition()
    s.run_to_transition()
    s.run_to_transition()  # before the switch: the parent waits in wait4
    rows = {r.pid: r for r in s.view().processes}
    assert rows[PARENT].state == "S" and rows[PARENT].waits == "wait for child 4243"
    assert rows[CHILD].state == "R" and rows[CHILD].ppid == PARENT
    s.step()  # into the switch's walk
    while s.walk is not None:
        s.step()
    rows = {r.pid: r for r in s.view().processes}
    assert rows[CHILD].current and not rows[PARENT].current
    s.goto_start()
    # stepped instruction by instruction, every count is known: at the switch back from
    # the exited child, it is a zombie that ran 10 instructions (from fork's return to its
    # exit), and its parent ran 10 (up to its wait4), woken by that exit
    while not (s.view().upcoming == ("switch", None) and s.kernel.current.tid == CHILD):
        assert s.next().reason != "exited"  # n: over each crossing, no walk
    rows = {r.pid: r for r in s.view().processes}
    assert (rows[CHILD].state, rows[CHILD].insns, rows[CHILD].waits) == (
        "Z", 10, "its parent's wait")
    assert (rows[PARENT].state, rows[PARENT].insns, rows[PARENT].waits) == ("R", 10, "")
    while s.machine.pc != 0x401054:  # the parent's exit
        assert s.next().reason != "exited"
    rows = {r.pid: r for r in s.view().processes}
    assert list(rows) == [PARENT] and rows[PARENT].insns == 14  # the child reaped
    text = plain(process_lines(s.view(), width=78))
    assert "PID" in text and "WAITS FOR" in text


def test_processes_pane_in_the_tui_at_80x24_and_120x40(tmp_path):
    path = tmp_path / "fork.s"
    path.write_text(FORK_WAIT)

    def make():
        return DebugSession.create(load_program(str(path)), ["fork.s"],
                                   RunOptions(seed=1, clock="frozen:1700000000"))

    async def run(size, key):
        app = make_app(make)
        async with app.run_test(size=size) as pilot:
            await settle(pilot, app)
            await press(pilot, app, "t", "t", "t")
            assert app.state.view.upcoming == ("switch", None)
            await press(pilot, app, key)
            assert active(app) == "tab-processes"
            panel = app.screen.query_one("#processes")
            text = "\n".join(line.text for line in panel.render_lines(panel.region.reset_offset))
            assert "4242" in text and "4243" in text and "wait for child 4243" in text
            return labels(app)

    async def both():
        small = await run(SMALL, "8")
        assert small[-1] == "8 Procs"
        wide = await run(WIDE, "5")
        assert "5 Processes" in wide

    pilot_test(both)()


# -- breakpoints and catchpoints for one process ----------------------------------------------

def test_breakpoint_limited_to_one_pid(tmp_path):
    s = session(tmp_path, "fork.s", FORK_WAIT)
    b = s.add_breakpoint("0x401021 pid 4242")  # the child's write: never the parent's
    assert (b.spec, b.pid) == ("0x401021 pid 4242", PARENT)
    assert s.cont().reason == "exited"
    s.goto_start()
    s.remove_breakpoint(b)
    s.add_breakpoint("0x401021 pid 4243")
    stop = s.cont()
    assert (stop.reason, s.kernel.current.tid, s.machine.pc) == ("breakpoint", CHILD, 0x401021)
    assert s.cont().reason == "exited"
    stop = s.reverse_continue()
    assert (stop.reason, s.kernel.current.tid, s.machine.pc) == ("breakpoint", CHILD, 0x401021)


def test_catch_syscall_limited_to_one_pid(tmp_path):
    s = session(tmp_path, "fork.s", FORK_WAIT)
    stop = s.run_to_syscall("exit")
    assert (stop.reason, s.kernel.current.tid) == ("syscall", CHILD)  # the child's first
    s.goto_start()
    stop = s.run_to_syscall("exit pid 4242")
    assert (stop.reason, s.kernel.current.tid) == ("syscall", PARENT)
    s.goto_start()
    s.add_breakpoint("syscall exit pid 4243")
    assert s.cont().reason == "syscall" and s.kernel.current.tid == CHILD
    assert s.cont().reason == "exited"  # the parent's exit is not caught
    stop = s.reverse_continue()
    assert (stop.reason, s.kernel.current.tid) == ("transition", CHILD)


def test_a_recording_replays_the_switches_and_the_processes(tmp_path):
    """`run --record` of a fork+wait4 guest: the switches are transitions of the recording,
    and the Processes table comes back with each stop."""
    from kernel_model.debugger.recording import load
    from tui import cli

    path = tmp_path / "fork.s"
    path.write_text(FORK_WAIT)
    out = tmp_path / "fork.json"
    assert cli.main(["run", "--record", str(out), "--seed", "1", str(path)]) == 7
    rec = load(str(out))
    titles = [t["title"] for t in rec.doc["transitions"] if t["kind"] == "switch"]
    assert titles == ["context switch: pid 4242 -> pid 4243 (it waits: wait for child 4243)",
                      "context switch: pid 4243 -> pid 4242 (it exited)"]
    every = [rec.view(i) for i in range(len(rec.doc["views"]))]
    before_switch = [v for v in every if v.upcoming == ("switch", None)]
    assert [v.pending_switch for v in before_switch] == ["it waits: wait for child 4243",
                                                         "it exited"]
    rows = before_switch[0].processes
    assert [(r.pid, r.state, r.waits, r.current) for r in rows] == [
        (PARENT, "S", "wait for child 4243", True), (CHILD, "R", "", False)]


def test_the_gdb_console_sets_breakpoints_and_catchpoints_for_one_pid(tmp_path):
    from kernel_model.debugger.gdbcommands import GdbConsole
    from kernel_model.debugger.gdbtarget import target_for

    s = session(tmp_path, "fork.s", FORK_WAIT)
    console = GdbConsole()

    def gdb(line: str) -> list[str]:
        return console.execute(line, target_for(s, s.view()))

    assert gdb("break *0x401021 pid 4243") == ["Breakpoint 1 at 0x401021: file fork.s, line 15."]
    assert gdb("catch syscall exit pid 4242") == ["Catchpoint 2 (syscall 'exit' [60]) in pid 4242"]
    table = gdb("info breakpoints")
    assert table[2] == "\tstop only in pid 4243" and table[-1] == "\tstop only in pid 4242"
    stop = s.cont()
    assert (stop.reason, s.kernel.current.tid) == ("breakpoint", CHILD)
    stop = s.cont()  # the child's exit is not caught: the parent's is
    assert (stop.reason, s.kernel.current.tid) == ("syscall", PARENT)

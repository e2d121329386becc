"""The guest's clock under the stepping engine is virtual: it advances with the guest's
instructions and crossings, never with the host's clock, so a class pausing for minutes
between two keys never breaks a program that compares readings, and stepping back and forth
reads the same times. `run` keeps the real clock unless `--clock virtual` asks."""

from __future__ import annotations

import re
import time

import pytest
from conftest import PROGRAMS, cli, run_guest

import programs
from emu.program import load_program
from kernel_model.debugger.session import DebugSession
from kernel_model.system import RunOptions
from kernel_model.trace.events import SyscallReturned, VdsoCalled, VsyscallCalled
from programs import lesson
from programs.lesson_play import LessonPlayer, make_session

MINUTES = 60 * 1_000_000_000


class JumpingWallClock:
    """The host's clocks as a class at a human pace sees them: every read moves on a little,
    and each `pause()` (between two keys) jumps minutes ahead."""

    NAMES = ("time_ns", "monotonic_ns", "perf_counter_ns", "time", "monotonic",
             "perf_counter")

    def __init__(self, monkeypatch):
        self.offset = 0
        real = {n: getattr(time, n) for n in self.NAMES}
        for n in self.NAMES:
            if n.endswith("_ns"):
                monkeypatch.setattr(time, n, self._ns(real[n]))
            else:
                monkeypatch.setattr(time, n, self._s(real[n]))

    def _ns(self, real):
        return lambda: real() + self.offset

    def _s(self, real):
        return lambda: real() + self.offset / 1e9

    def pause(self, minutes: int = 4) -> None:
        self.offset += minutes * MINUTES


def _finish(session, wall: JumpingWallClock) -> int:
    """Run to the end a transition at a time, pausing between keys; the exit status."""
    for _ in range(10_000):
        if session.system.process.exited:
            break
        stop = session.run_to_transition()
        wall.pause()
        if stop.reason == "transition":
            session.next()  # over it, as `n` does
            wall.pause()
    assert session.system.process.exited, "the program did not finish"
    return session.system.process.status


@pytest.mark.parametrize("name", list(lesson.bundled()))
def test_every_lesson_at_a_teaching_pace_ends_with_its_pages_status(name, monkeypatch):
    wall = JumpingWallClock(monkeypatch)
    les = lesson.find(name)
    page = programs.find(les.program)
    assert page is not None, f"{name}: its program has no catalog page"
    session = make_session(les)
    try:
        player = LessonPlayer(les, session)
        for k in range(len(les.stops)):
            player.goto(k)
            wall.pause()
        assert "virtual" in session.view().clock
        assert _finish(session, wall) == page.status, session.exit_text()
    finally:
        session.close()


def _demo(**options):
    prog = load_program(str(PROGRAMS / "asm" / "time_three_ways.s"))
    return DebugSession.create(prog, ["time-three-ways"], RunOptions(seed=1, **options))


def _stdout(session) -> str:
    return "".join(c.text for c in session.view().output if c.stream == "stdout")


def test_the_bare_demo_stepped_phase_by_phase_with_long_pauses_exits_0(monkeypatch):
    wall = JumpingWallClock(monkeypatch)
    s = _demo()
    try:
        for _ in range(10_000):
            if s.system.process.exited:
                break
            s.step()  # s: into each transition, one phase a key
            wall.pause()
        assert s.system.process.status == programs.find("time-three-ways").status == 0
        secs = re.findall(r": *(\d+)\n", _stdout(s))
        assert len(secs) == 3 and len(set(secs)) == 1, _stdout(s)
        # It started at the host's time, and the minutes of pauses are not in it.
        assert abs(int(secs[0]) - (time.time() - wall.offset / 1e9)) < 60
    finally:
        s.close()


def _readings(session) -> list[str]:
    """Every time the guest read, as the trace told it (syscall, vDSO and vsyscall page)."""
    out = []
    for mark in session.timeline.marks:
        for e in mark.events:
            if isinstance(e, (SyscallReturned, VdsoCalled, VsyscallCalled)) and \
                    "tv_sec=" in e.text:
                out.append(e.text)
    return out


def test_stepping_back_and_forth_reads_the_same_times_as_one_free_run(monkeypatch):
    """The readings depend only on the guest's progress: a free run, and a walk stepped
    back and forth with pauses, read the very same nanoseconds."""
    wall = JumpingWallClock(monkeypatch)
    free = _demo(clock="virtual:1700000000")
    try:
        free.cont()
        assert free.system.process.status == 0
        want = _readings(free)
        want_out = _stdout(free)
    finally:
        free.close()
    assert len(want) == 3 and all("1700000000" in t for t in want), want
    nsecs = [int(re.search(r"tv_(?:n|u)sec=(\d+)", t).group(1)) for t in want]
    assert nsecs[0] > 0 and nsecs[1] > nsecs[0]  # it moves with the guest's work

    s = _demo(clock="virtual:1700000000")
    try:
        for _ in range(3):  # a few instructions at a time, back one, forward again
            for _ in range(7):
                s.step()
                wall.pause()
            s.reverse_step()
            wall.pause()
        seen = []
        while not s.system.process.exited:
            stop = s.run_to_transition()
            wall.pause(9)
            if stop.reason == "transition":
                s.next()
                before = _readings(s)
                s.reverse_to_transition()  # back over it and forward again
                s.next()
                assert _readings(s) == before
            seen = _readings(s)
        assert seen == want
        assert _stdout(s) == want_out
    finally:
        s.close()


def test_the_vdso_and_the_syscall_agree_to_the_nanosecond_order():
    """One timeline: each later reading, whichever way it was made, is not earlier."""
    run = run_guest(PROGRAMS / "asm" / "time_three_ways.s", clock="virtual:1700000000")
    assert run.status == 0
    texts = [e.text for e in run.events if isinstance(e, (SyscallReturned, VdsoCalled,
                                                          VsyscallCalled))
             and "tv_sec=" in e.text]
    ns = []
    for t in texts:
        m = re.search(r"tv_sec=(\d+), tv_(n|u)sec=(\d+)", t)
        ns.append(int(m.group(1)) * 10**9 + int(m.group(3)) * (1 if m.group(2) == "n"
                                                                else 1000))
    assert len(ns) == 3 and ns == sorted(ns) and ns[0] >= 1700000000 * 10**9


def test_rdtsc_reads_the_virtual_counter(tmp_path):
    """The guest's rdtsc follows the virtual timeline (what the vDSO reads), not the host's
    TSC: two reads around 1000 instructions differ by their modelled time."""
    src = tmp_path / "tsc.s"
    src.write_text("""bits 64
section .text
_start:
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov rbx, rax
    mov ecx, 1000
spin:
    dec ecx
    jnz spin
    rdtsc
    shl rdx, 32
    or rax, rdx
    sub rax, rbx
    mov rdi, rax
    mov eax, 60
    syscall
""")
    # 1 dec + 1 jnz a round, 1000 rounds, plus the instructions in between: at 0.5 ns each.
    run = run_guest(src, clock="virtual:1700000000")
    insns = 3 + 1 + 2000 + 1  # shl, or, mov, mov ecx, the loop, up to the second rdtsc
    assert run.status == (insns * 500 // 1000) & 0xFF


def test_run_keeps_the_real_clock_and_virtual_is_an_option(monkeypatch):
    # run's default is the host's clock: a jump of the host clock shows in the guest.
    real = run_guest(PROGRAMS / "asm" / "time_three_ways.s")
    assert real.system.clock.kind == "real" and real.system.counter is None
    virtual = run_guest(PROGRAMS / "asm" / "time_three_ways.s", clock="virtual")
    assert virtual.system.clock.kind == "virtual" and virtual.status == 0
    r = cli("run", "--clock", "virtual:1700000000", "time-three-ways")
    assert r.returncode == 0
    assert r.stdout.decode().count("1700000000") == 3
    r = cli("run", "--clock", "virtual:soon", "time-three-ways")
    assert r.returncode == 2 and len(r.stderr.decode().strip().splitlines()) == 1
    assert "virtual:EPOCH" in r.stderr.decode()


def test_a_frozen_clock_stays_frozen_under_the_stepping_engine(monkeypatch):
    wall = JumpingWallClock(monkeypatch)
    s = _demo(clock="frozen:1700000000")
    try:
        assert s.view().clock == "frozen clock"
        while not s.system.process.exited:
            s.run_to_transition()
            wall.pause()
            s.next()
        assert s.system.process.status == 0
        assert _stdout(s).count("1700000000\n") == 3
        assert all("tv_nsec=0}" in t or "tv_usec=0}" in t for t in _readings(s))
    finally:
        s.close()


@pytest.mark.parametrize("program", ["time_three_ways.s", "time_three_ways_32.s"])
def test_run_and_the_stepping_engine_read_the_same_virtual_times(program):
    """`run --clock virtual` counts with a hook, the stepping engine by replay where the
    time is read: the same program reads the same nanoseconds under both."""
    path = PROGRAMS / "asm" / program
    run = run_guest(path, clock="virtual:1700000000")
    want = [e.text.removeprefix("[vdso] ").removeprefix("[vsyscall] ")
            for e in run.events if isinstance(e, (SyscallReturned, VdsoCalled,
                                                  VsyscallCalled)) and "tv_sec=" in e.text]
    prog = load_program(str(path))
    s = DebugSession.create(prog, [str(path)], RunOptions(seed=1, clock="virtual:1700000000"))
    try:
        s.cont()
        got = [t.removeprefix("[vdso] ").removeprefix("[vsyscall] ") for t in _readings(s)]
    finally:
        s.close()
    assert len(want) == 3 and got == want


CLOCKS = ["real", "virtual", "virtual:0", "frozen:0", "frozen:1700000000"]


@pytest.mark.parametrize("clock", CLOCKS)
@pytest.mark.parametrize("name", ["time-three-ways", "time-three-ways-32", "vsyscall-time"])
def test_the_programs_that_compare_readings_pass_on_every_clock(name, clock):
    page = programs.find(name)
    run = run_guest(page.path, bits=32 if page.arch == "i386" else 64, clock=clock)
    assert run.status == page.status, run.stdout.decode()


SLEEPER = """bits 64
section .data
req:    dq 200, 0               ; 200 s
t0:     dq 0, 0
t1:     dq 0, 0
section .text
_start:
    mov eax, 228                ; clock_gettime(CLOCK_MONOTONIC, &t0)
    mov edi, 1
    lea rsi, [rip + t0]
    syscall
    mov eax, 35                 ; nanosleep(&req, NULL)
    lea rdi, [rip + req]
    xor esi, esi
    syscall
    mov eax, 228
    mov edi, 1
    lea rsi, [rip + t1]
    syscall
    mov rdi, [rip + t1]         ; exit(seconds slept)
    sub rdi, [rip + t0]
    mov eax, 60
    syscall
"""


def test_a_virtual_sleep_moves_the_guests_time_and_returns_at_once(tmp_path):
    start = time.monotonic()
    run = run_guest("sleep.s", source=SLEEPER, clock="virtual")
    assert run.status == 200
    assert time.monotonic() - start < 60  # the host did not wait 200 s
    path = tmp_path / "sleep.s"
    path.write_text(SLEEPER)
    s = DebugSession.create(load_program(str(path)), ["sleep"], RunOptions(seed=1))
    try:
        s.cont()
        assert s.system.process.status == 200
    finally:
        s.close()


def test_the_status_line_and_a_recording_say_which_clock(tmp_path):
    from kernel_model.debugger.recording import load
    from tui.panels.status import status_line

    s = _demo()
    try:
        assert ("   virtual clock", "muted") in status_line(s.view())
    finally:
        s.close()
    rec = tmp_path / "demo.json"
    r = cli("run", "--record", str(rec), "time-three-ways")
    assert r.returncode == 0, r.stderr.decode()
    assert {v.clock for v in load(str(rec)).views} == {"virtual clock"}
    real = run_guest(PROGRAMS / "asm" / "hello_syscall.s")
    assert real.system.clock.describe() == "real clock"


LONG_RUN = """bits 64
section .data
ts:     dq 0, 0
section .text
_start:
    mov eax, 228                ; clock_gettime(CLOCK_REALTIME, &ts)
    xor edi, edi
    lea rsi, [rip + ts]
    syscall
    mov ecx, {loops}
spin:
    dec ecx
    jnz spin
    mov eax, 228
    xor edi, edi
    lea rsi, [rip + ts]
    syscall
    rdtsc
    mov eax, 60
    xor edi, edi
    syscall
"""


@pytest.mark.parametrize("loops", [1000, 700_000])
def test_a_free_run_is_counted_exactly_before_the_next_reading(tmp_path, loops):
    """A short run is counted by one replay with a hook, one over a million instructions by
    bisection: either way the reading is the one `run --clock virtual` makes."""
    src = LONG_RUN.format(loops=loops)
    run = run_guest("long.s", source=src, clock="virtual:1700000000")
    want = [e.text for e in run.events if isinstance(e, SyscallReturned)
            and "tv_sec=" in e.text]
    assert len(want) == 2 and want[0] != want[1]
    path = tmp_path / "long.s"
    path.write_text(src)
    s = DebugSession.create(load_program(str(path)), ["long"],
                            RunOptions(seed=1, clock="virtual:1700000000"))
    try:
        s.cont()
        assert s.system.process.status == 0
        assert _readings(s) == want
    finally:
        s.close()


def test_the_tui_opens_the_demo_on_a_virtual_clock_and_refuses_a_bad_one():
    from tui.cli import build_parser
    from tui.launch import session_factory

    make, name = session_factory(build_parser().parse_args(["tui"]))
    s = make()
    try:
        assert name == "time-three-ways" and s.system.clock.kind == "virtual"
    finally:
        s.close()
    make, _ = session_factory(build_parser().parse_args(["tui", "--clock", "frozen:5"]))
    s = make()
    try:
        assert s.system.clock.kind == "frozen"
    finally:
        s.close()
    r = cli("tui", "--clock", "virtual:soon")
    assert r.returncode == 2
    assert r.stderr.decode().strip() == ("syscall-lab: error: bad --clock 'virtual:soon': "
                                         "expected virtual:EPOCH, EPOCH in seconds since 1970")

"""The one run loop (kernel_model/run): `System.run` and the stepping session's live
execution go through the same `loop.resume` / `loop.enter_kernel` step, so a guest ends
the same way under both; every stop is a typed StopCause; both stepping sessions (live and
recorded) satisfy the SteppingSession protocol the screen drives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_guest
from test_cpu_faults import guest64

from emu.program import load_program
from kernel_model.debugger.session import DebugSession
from kernel_model.debugger.stepping import SteppingSession
from kernel_model.run import causes, loop
from kernel_model.system import RunOptions, System
from kernel_model.trace.events import ProcessExited, SignalDelivered

GUESTS = {
    # a read of an unmapped page: SIGSEGV (SEGV_MAPERR) at the address
    "fault": (guest64("    mov rax, [0x10]"), 139),
    # hlt at CPL 3: a #GP, SIGSEGV with SI_KERNEL
    "hlt": (guest64("    hlt"), 139),
    # a handled signal: the handler exits 7 (rt_sigaction, then kill(getpid(), SIGUSR1))
    "signal": ("""bits 64
section .text
global _start
_start:
    sub rsp, 64
    lea rax, [rel handler]
    mov [rsp], rax
    mov qword [rsp+8], 0x04000000
    lea rax, [rel restorer]
    mov [rsp+16], rax
    mov qword [rsp+24], 0
    mov eax, 13
    mov edi, 10
    mov rsi, rsp
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 39
    syscall
    mov edi, eax
    mov eax, 62
    mov esi, 10
    syscall
    mov eax, 60
    mov edi, 1
    syscall
handler:
    mov eax, 60
    mov edi, 7
    syscall
restorer:
    mov eax, 15
    syscall
""", 7),
}


def _source(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.s"
    path.write_text(GUESTS[name][0])
    return path


def _summary(events) -> list[str]:
    return [type(e).__name__ + ":" + str(getattr(e, "signo", getattr(e, "status", "")))
            for e in events if isinstance(e, (ProcessExited, SignalDelivered))]


@pytest.mark.parametrize("name", sorted(GUESTS))
def test_run_and_the_live_session_end_a_guest_the_same_way(tmp_path, name):
    """One step for both drivers: the exit status and the signal and exit events agree."""
    path = _source(tmp_path, name)
    run = run_guest(path)
    assert run.status == GUESTS[name][1]

    session = DebugSession.create(load_program(str(path)), [str(path)], RunOptions(seed=1))
    events: list = []
    session.kernel.attach(events.append)
    for _ in range(10):
        if session.system.process.exited:
            break
        session.cont()
    assert session.system.process.exited
    assert session.system.process.status == run.status
    assert _summary(events) == _summary(run.events)
    session.close()


def _system(path: Path) -> System:
    prog = load_program(str(path))
    system = System(prog.image, prog.path, [str(path)], RunOptions(seed=1),
                    symbols=prog.symbols)
    system.start()
    return system


def test_resume_reports_a_typed_cause_and_the_kernel_handles_it(tmp_path):
    """hlt is the #GP's SIGSEGV (SI_KERNEL), whether the CPU reports the exception (a
    Fault) or just stops there (Halted, which the kernel turns into that Fault); a bad read
    is a Fault with its si_code and address; both become the signal that kills the guest."""
    from kernel_model.signals import delivery as signals

    gp = causes.Fault(signals.SIGSEGV, signals.SI_KERNEL, 0)
    system = _system(_source(tmp_path, "hlt"))
    cause = loop.resume(system)
    assert isinstance(cause, (causes.Fault, causes.Halted))
    assert getattr(cause, "fault", cause) == gp
    assert causes.Halted(system.machine.pc).fault == gp
    loop.enter_kernel(system, causes.Halted(system.machine.pc))
    system.signals.deliver_pending()
    assert system.process.exited and system.process.killed_by == signals.SIGSEGV

    system = _system(_source(tmp_path, "fault"))
    cause = loop.resume(system)
    assert cause == causes.Fault(signals.SIGSEGV, signals.SEGV_MAPERR, 0x10)
    assert "SEGV_MAPERR" in cause.text(system.machine.pc)


def test_a_counted_step_and_a_limit_are_causes_too(tmp_path):
    system = _system(_source(tmp_path, "signal"))
    assert isinstance(loop.resume(system, count=1), causes.Counted)  # sub rsp, 64
    prog = load_program(str(_source(tmp_path, "signal")))
    limited = System(prog.image, prog.path, ["x"], RunOptions(seed=1, max_insns=3),
                     symbols=prog.symbols)
    assert limited.run() == 2
    assert "--max-insns" in limited.limit_reason


def test_the_live_session_stops_before_hlt_with_the_same_text_as_a_fault(tmp_path):
    path = _source(tmp_path, "hlt")
    session = DebugSession.create(load_program(str(path)), [str(path)], RunOptions(seed=1))
    stop = session.cont()
    assert stop.reason == "fault"
    assert stop.message.startswith("SIGSEGV (SI_KERNEL) at ")
    assert session.view().pending_fault == stop.message
    session.close()


def test_both_sessions_satisfy_the_stepping_protocol_and_the_view_reads_them(tmp_path):
    """The screen drives either session through SteppingSession; the live one's view is
    built through its public methods, the recorded one's is stored."""
    from kernel_model.debugger.recording import RecordedSession, load
    from tui import cli

    path = _source(tmp_path, "signal")
    live = DebugSession.create(load_program(str(path)), [str(path)], RunOptions(seed=1))
    assert isinstance(live, SteppingSession)
    live.run_to_transition()
    view = live.view()
    assert view.upcoming is not None and view.upcoming[0] == "syscall"
    live.close()

    out = tmp_path / "rec.json"
    assert cli.main(["run", "--record", str(out), "--seed", "1", str(path)]) == 7
    assert json.loads(out.read_text())["stops"]
    recorded = RecordedSession(load(str(out)))
    assert isinstance(recorded, SteppingSession)
    recorded.run_to_transition()
    assert recorded.view().upcoming[0] == "syscall"


def test_the_debugger_imports_no_unicorn():
    """Only emu talks to Unicorn: the stepping engine uses Machine methods."""
    import ast

    root = Path(__file__).resolve().parent.parent / "kernel_model"
    for file in [*(root / "debugger").glob("*.py"), *(root / "run").glob("*.py")]:
        tree = ast.parse(file.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "unicorn" for n in names), file
            if isinstance(node, ast.Attribute) and node.attr == "uc":
                pytest.fail(f"{file.name} reaches into machine.uc")

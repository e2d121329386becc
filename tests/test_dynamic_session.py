"""The stepping engine on a dynamically linked program: glibc's PLT (or, the first time,
the loader's lazy resolver) *jumps* into the vDSO, so the transition is at that jump, and
walking it ends where the caller's return address points, forward and backward."""

from __future__ import annotations

import pytest

from programs.options import parse_run_line, resolve_program, run_options


def _session():
    from kernel_model.debugger.session import DebugSession

    args = parse_run_line(["--seed", "3", "hello-dynamic"])
    program = resolve_program(args.program, None)
    s = DebugSession.create(program, ["hello-dynamic"], run_options(args))
    if s.system.vdso is None:
        pytest.skip("no vDSO")
    return s


def _walk(s) -> tuple[int, int]:
    """Walk the vDSO transition at pc; returns (the return address it began with, where the
    walk ended)."""
    ret = s.machine.read_word(s.machine.sp)
    phases = []
    stop = s.step()
    while s.walk is not None and len(phases) < 10:
        phases.append(stop.message)
        if len(phases) == 5:
            break
        stop = s.step()
    assert phases[0].startswith("jmp __vdso_gettimeofday"), phases
    assert phases[-1].startswith("ret"), phases
    assert not s.view().exited, phases
    return ret, s.machine.pc  # at the last phase: where the walk came back to


def _to_vdso_jump(s, move) -> None:
    for _ in range(200):
        move()
        up = s.upcoming()
        if up is not None and up[0] == "vdso":
            return
    pytest.fail("no vDSO transition found")


def test_the_vdso_jump_is_walked_forward_back_to_the_caller():
    s = _session()
    try:
        _to_vdso_jump(s, s.run_to_transition)
        vdso = s.system.vdso
        assert not vdso.contains(s.machine.pc) and s.insn_at(s.machine.pc).kind == "jump"
        ret, end = _walk(s)
        assert end == ret  # back in main, after its call of gettimeofday@plt
    finally:
        s.close()


def test_the_vdso_jump_is_found_going_backwards_and_walked_again():
    s = _session()
    try:
        s.cont()
        assert s.view().exited
        _to_vdso_jump(s, s.reverse_to_transition)
        assert s.insn_at(s.machine.pc).kind == "jump"
        ret, end = _walk(s)
        assert end == ret and not s.view().exited
    finally:
        s.close()

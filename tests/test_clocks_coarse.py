"""The coarse clocks under every clock the model offers: the guest
tests/guests/memory/clocks_coarse.c (run natively by test_memory_differential.py) checks
that CLOCK_REALTIME_COARSE / MONOTONIC_COARSE read before CLOCK_REALTIME / MONOTONIC is
never the greater, that a coarse clock never goes back, and that a vDSO reading lies
between two syscall readings of the same clock, through the vDSO, the syscall and both
mixed. Here it runs without a vDSO and with the virtual and frozen clocks too."""

from __future__ import annotations

import pytest
from guest_harness import GUESTS, TARGETS, lab_run_args, run_lab, run_native

BIN = GUESTS / "memory" / "bin"
MODES = {
    "no-vdso": ["--no-vdso"],
    "virtual": ["--clock", "virtual"],
    "frozen": ["--clock", "frozen:1577836800"],
    "2.6.33": ["--kernel", "2.6.33"],  # a vDSO beside the native vsyscall page's tick
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("mode", MODES)
def test_coarse_clocks_never_ahead_of_the_precise_ones(mode, target):
    binary = str(BIN / f"clocks_coarse.{target}")
    native = run_native([binary])
    assert native.status == 0
    lab = run_lab(*lab_run_args(), *MODES[mode], binary)
    assert (lab.status, lab.stdout) == (0, native.stdout), lab.stdout.decode()


def test_the_syscall_reads_the_same_tick_as_the_vdso():
    """Without a vDSO, a coarse clock is the precise one rounded down to the last tick."""
    from kernel_model.clock import BOOT_AGO_NS, TICK_NS, Clock

    clock = Clock.parse("virtual")
    clock.charge_ns(3 * TICK_NS + 12345)
    mono = clock.monotonic_ns()
    assert clock.coarse_ns(6) == mono - 12345  # the last tick, 12345 ns ago
    assert (clock.coarse_ns(6) - BOOT_AGO_NS) % TICK_NS == 0
    assert clock.coarse_ns(5) <= clock.realtime_ns()

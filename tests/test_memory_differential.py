"""Differential tests of memory, clocks and randomness: each guest of tests/guests/memory
(mmap of /dev/zero, mremap, madvise, mlock, msync, mincore, the coarse clocks, getrandom)
runs natively and under syscall-lab, for glibc x86-64, glibc i386 and musl x86-64; stdout
and exit status must be identical. The guests print no addresses, inode numbers or times:
only what Linux guarantees, so any difference is syscall-lab's."""

from __future__ import annotations

from pathlib import Path

import pytest
from guest_harness import GUESTS, TARGETS, differences, lab_run_args, run_lab, run_native

MEMORY = GUESTS / "memory"
MEMORY_BIN = MEMORY / "bin"
PROGRAMS = sorted(p.stem for p in MEMORY.glob("*.c"))


def test_every_guest_is_built_for_every_target():
    missing = [f"{name}.{target}" for name in PROGRAMS for target in TARGETS
               if not (MEMORY_BIN / f"{name}.{target}").is_file()]
    assert not missing, f"run tests/guests/memory/build.sh: missing {missing}"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", PROGRAMS)
def test_same_output_and_status_as_linux(name: str, target: str):
    binary: Path = MEMORY_BIN / f"{name}.{target}"
    native = run_native([str(binary)])
    assert native.status == 0, native.stdout.decode(errors="replace")  # the guest's own checks
    lab = run_lab(*lab_run_args(), str(binary))
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)

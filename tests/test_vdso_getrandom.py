"""The vDSO's getrandom (Linux 6.11+, x86-64 only): tests/guests/memory/vdso_getrandom.c
compares the parameter query, the fills and the fallbacks with Linux
(test_memory_differential.py); here, what the host cannot show: the eras, and that the
bytes are made without the caller's buffer ever going to the syscall."""

from __future__ import annotations

import pytest
from conftest import run_guest
from guest_harness import GUESTS

from kernel_model.trace.events import SyscallReturned
from kernel_model.vdso.image import build_vdso

GUEST = GUESTS / "memory" / "bin" / "vdso_getrandom.glibc-x86_64"


@pytest.mark.parametrize("arch,getrandom,exported", [
    ("x86_64", True, True), ("x86_64", False, False), ("i386", True, False)])
def test_only_a_6_11_or_later_x86_64_image_exports_it(arch, getrandom, exported):
    image = build_vdso(arch, getrandom=getrandom)
    assert ("__vdso_getrandom" in (image.versions or {})) is exported
    assert ("getrandom" in (image.versions or {})) is exported


@pytest.mark.parametrize("era,present", [("6.18", True), ("5.3", False)])
def test_the_era_decides(era, present):
    run = run_guest(GUEST, kernel=era)
    assert run.status == 0
    first = run.stdout.splitlines()[0]
    assert first == (b"__vdso_getrandom: present" if present else b"__vdso_getrandom: absent")


def test_the_buffer_never_reaches_the_syscall():
    """Like Linux's vdso_test_getrandom: the fills of 1263 and 7 bytes are made in the vDSO;
    the only getrandom syscalls with a state are the key's (32 bytes) and the fallbacks the
    guest asks for on purpose (16 bytes: an unknown flag, a wrong opaque_len)."""
    run = run_guest(GUEST)
    assert run.status == 0, run.stdout
    assert b"two fills: 1263 1263, random-looking 1" in run.stdout
    lengths = [e.args[1] for e in run.events
               if isinstance(e, SyscallReturned) and e.name == "getrandom"]
    assert 1263 not in lengths and 7 not in lengths
    # One key for the state, fetched once; and one for the fork's child, whose copy of the
    # MAP_DROPPABLE state starts zeroed (generation 0), so its bytes are its own.
    assert lengths.count(32) == 2
    assert b"fork: child's bytes differ from the parent's 1" in run.stdout

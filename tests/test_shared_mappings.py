"""MAP_SHARED memory stays shared between a parent and the children it forks, as on Linux:
the model backs it with one host allocation (emu.hostmem.SharedBlock) that every CPU maps,
where a private mapping is copied at fork. Differential (a counter incremented by four
children in turn, a grandchild's write, a child's munmap, a /tmp file mapping), then the
host-memory bookkeeping behind it."""

from __future__ import annotations

import pytest
from guest_harness import GUESTS, TARGETS, differences, lab_run_args, run_lab, run_native

from emu import hostmem
from emu.arch import X86_64
from emu.machine import PROT_READ, PROT_WRITE, Machine

BIN = GUESTS / "ipc" / "bin"


@pytest.mark.parametrize("target", TARGETS)
def test_shared_anonymous_memory_across_fork_as_linux(target):
    binary = BIN / f"shared_anon_fork.{target}"
    native = run_native([str(binary)])
    assert native.status == 0
    assert b"shared counter 4100 (expect 4100)" in native.stdout
    lab = run_lab(*lab_run_args(), str(binary))
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)


RW = PROT_READ | PROT_WRITE


def _shared_machine() -> tuple[Machine, int]:
    m = Machine(X86_64)
    m.map(0x10000, 0x2000, RW)
    m.share(0x10000, 0x2000)
    m.map(0x20000, 0x1000, RW)  # private, beside it
    return m, 0x10000


def test_fork_maps_the_same_host_pages_and_copies_the_private_ones():
    parent, addr = _shared_machine()
    child = parent.fork()
    child.write(addr + 8, b"from the child")
    child.write(0x20000, b"private")
    assert parent.read(addr + 8, 14) == b"from the child"
    assert parent.read(0x20000, 7) == bytes(7)
    grandchild = child.fork()
    parent.write(addr + 0x1800, b"late")
    assert grandchild.read(addr + 0x1800, 4) == b"late"


def test_the_block_goes_back_to_the_host_with_its_last_holder():
    parent, addr = _shared_machine()
    block = hostmem.block_at(parent.backing.find(addr, addr + 1) or 0)
    assert block is not None and block.host
    child = parent.fork()
    parent.release()
    assert block.host, "the child still maps it"
    assert child.read(addr, 1) == b"\0"
    child.unmap(addr, 0x1000)  # half of it: still held
    assert block.host
    child.unmap(addr + 0x1000, 0x1000)
    assert block.host == 0


def test_discarding_shared_pages_keeps_their_contents():
    """MADV_DONTNEED on shared memory drops this process's view, not the data."""
    m, addr = _shared_machine()
    m.write(addr, b"kept")
    m.discard(addr, 0x1000, keep_shared=True)
    assert m.read(addr, 4) == b"kept"
    m.discard(addr, 0x1000)  # restoring a saved state: every byte as it was
    assert m.read(addr, 4) == bytes(4)


def test_a_spare_cpu_reused_for_a_fork_never_keeps_shared_memory():
    """clear_memory (a CPU kept for the next fork) unmaps shared ranges rather than
    zeroing them, and a fork into it takes the full path that maps them afresh."""
    parent, addr = _shared_machine()
    spare = parent.fork()
    spare.clear_memory()
    assert parent.backing.has_shared() and not spare.backing.has_shared()
    parent.write(addr, b"still here")
    child = parent.fork(into=spare)
    assert child.read(addr, 10) == b"still here"
    child.write(addr, b"shared too")
    assert parent.read(addr, 10) == b"shared too"


def test_sharing_never_takes_a_reservations_memory():
    m = Machine(X86_64)
    m.reserve(0x40000, 0x4000)
    m.map(0x42000, 0x1000, RW)
    with pytest.raises(ValueError):
        m.share(0x42000, 0x1000)
    m.write(0x42000, b"x")
    assert m.read(0x42000, 1) == b"x"


def test_host_address_lookup_of_a_block():
    block = hostmem.SharedBlock(0x3000)
    try:
        assert hostmem.block_at(block.host + 0x2FFF) is block
        assert hostmem.block_at(block.host + 0x3000) is not block
    finally:
        holder = object()
        block.hold(holder)
        block.drop(holder)
    assert block.host == 0


def test_a_moved_shared_range_stays_shared():
    """mremap moves the host pages with the guest range: still the same block."""
    parent, addr = _shared_machine()
    parent.move(addr, 0x2000, 0x80000)
    child = parent.fork()
    child.write(0x80010, b"moved")
    assert parent.read(0x80010, 5) == b"moved"


def test_a_copy_of_the_kernels_state_names_the_same_block():
    """The debugger's history deep-copies the kernel model: a segment's block is a host
    handle, never a second owner of the same pages."""
    import copy

    block = hostmem.SharedBlock(0x1000)
    block.hold("segment")
    assert copy.deepcopy({"seg": block})["seg"] is block
    assert copy.copy(block) is block
    block.drop("segment")
    assert block.host == 0


def test_a_runs_segments_go_back_to_the_host_with_the_run():
    """A segment nobody removed outlives its processes (as on Linux), but not the run: when
    the run's IPC objects go, their host memory does."""
    import gc

    from kernel_model.ipc import IpcNamespace

    ns = IpcNamespace()
    block = hostmem.SharedBlock(0x1000)
    ns.segment_blocks.own(block)
    assert block.host
    del ns
    gc.collect()
    assert block.host == 0

"""A seeded fuzz of the mapping mechanics (bounded: a few seconds): random mmap, munmap,
mprotect, MADV_DONTNEED, mremap moves and stack-like growth over host-backed memory, checked
after every step against a shadow copy of what the guest should see: every byte written
where it should be, zeros after MADV_DONTNEED and in new pages, Unicorn's regions exactly the
VMAs with their protections, every mapped page backed by host memory, and the host's
memory bounded by what was touched, not by what was mapped."""

from __future__ import annotations

import random

import pytest

from emu.arch import X86_64
from emu.machine import PAGE, Machine, MemoryFault
from kernel_model.memory.mm import Mm, OutOfMemory

BASE = 0x7F0000000000
SPAN = 1 << 32  # the fuzz plays in 4 GiB of address space
MIB = 1 << 20


def _rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Shadow:
    """What each written page should hold: {page address: byte value}; others read 0."""

    def __init__(self):
        self.pages: dict[int, int] = {}

    def drop(self, start: int, end: int) -> None:
        for p in [p for p in self.pages if start <= p < end]:
            del self.pages[p]

    def move(self, old: int, size: int, new: int) -> None:
        moved = {p - old + new: v for p, v in self.pages.items() if old <= p < old + size}
        self.drop(old, old + size)
        self.pages.update(moved)


def _runs(spans) -> list[tuple[int, int, int]]:
    """Spans sorted, with touching ones of one protection joined."""
    out: list[tuple[int, int, int]] = []
    for start, end, prot in sorted(spans):
        if out and out[-1][1] == start and out[-1][2] == prot:
            out[-1] = (out[-1][0], end, prot)
        else:
            out.append((start, end, prot))
    return out


def check(mm: Mm, shadow: Shadow, rng: random.Random) -> None:
    m = mm.machine
    # Unicorn's regions are the VMAs, byte for byte, with the same protection.
    assert _runs((b, e + 1, p) for b, e, p in m.regions()) == \
        _runs((v.start, v.end, v.prot) for v in mm.vmas)
    # Every mapped page has host memory behind it.
    for v in mm.vmas:
        assert m.backing.contiguous(v.start, v.start + PAGE) is not None
    # The bytes: written pages hold their value, a sample of the others zero.
    for page, value in shadow.pages.items():
        assert m.read(page, 1)[0] == value, hex(page)
        assert m.read(page + PAGE - 1, 1)[0] == value, hex(page)
    for v in rng.sample(mm.vmas, min(len(mm.vmas), 8)):
        page = v.start + rng.randrange(v.size // PAGE) * PAGE
        if page not in shadow.pages:
            assert m.read(page, PAGE) == bytes(PAGE)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_mapping_changes_keep_bytes_maps_and_host_memory(seed):
    rng = random.Random(seed)
    machine = Machine(X86_64)
    mm = Mm(machine, mmap_base=BASE + SPAN, mmap_min=BASE, limit=3 << 30)
    shadow = Shadow()
    # A stack's growth room, grown down a page at a time by the "stack" steps.
    stack_top = BASE + SPAN - 64 * MIB
    machine.reserve(stack_top - 8 * MIB, 8 * MIB)
    stack_low = stack_top
    rss_before = _rss()
    touched = 0
    done = 0
    for _step in range(400):
        op = rng.choice(["map", "map", "big", "unmap", "protect", "dontneed", "write",
                         "write", "move", "heap", "heap", "stack", "stack"])
        start = BASE + rng.randrange(SPAN // PAGE - 300_000) * PAGE
        size = rng.choice([1, 2, 3, 17, 256]) * PAGE
        try:
            if op == "map":
                mm.map(start, size, rng.choice([1, 3, 5, 7]))
                shadow.drop(start, start + size)
            elif op == "big":  # a large mapping, untouched: free for the host
                size = rng.choice([256, 512, 900]) * MIB
                mm.map(start, size, 3)
                shadow.drop(start, start + size)
            elif op == "stack":
                if stack_low > stack_top - 8 * MIB and mm.is_free(stack_low - PAGE, stack_low):
                    stack_low -= PAGE
                    mm.map(stack_low, PAGE, 3, name="[stack]", grows_down=True)
                    shadow.drop(stack_low, stack_low + PAGE)
            elif op == "heap" and mm.vmas:  # grow a mapping up, with room kept above it
                v = rng.choice(mm.vmas)
                n = rng.choice([1, 1, 3]) * PAGE
                if v.end + n <= BASE + SPAN and mm.is_free(v.end, v.end + n):
                    mm.map(v.end, n, v.prot, grow_room=rng.choice([PAGE, 64 * PAGE, MIB]))
                    shadow.drop(v.end, v.end + n)
            elif op in ("unmap", "protect", "dontneed", "write", "move") and mm.vmas:
                v = rng.choice(mm.vmas)
                lo = v.start + rng.randrange(v.size // PAGE) * PAGE
                n = min(rng.choice([1, 2, 5, 40]) * PAGE, v.end - lo)
                if op == "unmap":
                    mm.unmap(lo, n)
                    shadow.drop(lo, lo + n)
                elif op == "protect":
                    assert mm.protect(lo, n, rng.choice([0, 1, 3, 5, 7]))
                elif op == "dontneed":
                    machine.discard(lo, n)
                    shadow.drop(lo, lo + n)
                elif op == "write":
                    value = rng.randrange(1, 256)
                    machine.write(lo, bytes([value]) * n)
                    for p in range(lo, lo + n, PAGE):
                        shadow.pages[p] = value
                    touched += n
                else:
                    new = mm.find_free(n)
                    if new is not None:
                        mm.move(lo, n, new, n)
                        shadow.move(lo, n, new)
        except (OutOfMemory, MemoryFault):
            continue
        check(mm, shadow, rng)
        done += 1
    assert done > 300  # the steps ran, not only their refusals
    assert len(machine.regions()) < 4 * len(mm.vmas) + 20  # pieces were joined again
    # Several GiB were mapped, split, moved and zeroed; the host paid for what was touched.
    assert _rss() - rss_before < touched + 64 * MIB

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


def chacha20_block(key: bytes, counter: int) -> bytes:
    """RFC 8439's block function with a zero nonce and a 64-bit counter in words 12-13."""
    import struct

    def rotl(v: int, n: int) -> int:
        return ((v << n) | (v >> (32 - n))) & 0xFFFFFFFF

    state = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574, *struct.unpack("<8I", key),
             counter & 0xFFFFFFFF, counter >> 32, 0, 0]
    x = list(state)
    for _ in range(10):
        for a, b, c, d in ((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
                           (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14)):
            x[a] = (x[a] + x[b]) & 0xFFFFFFFF
            x[d] = rotl(x[d] ^ x[a], 16)
            x[c] = (x[c] + x[d]) & 0xFFFFFFFF
            x[b] = rotl(x[b] ^ x[c], 12)
            x[a] = (x[a] + x[b]) & 0xFFFFFFFF
            x[d] = rotl(x[d] ^ x[a], 8)
            x[c] = (x[c] + x[d]) & 0xFFFFFFFF
            x[b] = rotl(x[b] ^ x[c], 7)
    return struct.pack("<16I", *((x[i] + state[i]) & 0xFFFFFFFF for i in range(16)))


def test_the_reference_block_is_rfc_8439s():
    """RFC 8439 appendix A.1, test vector 1: all-zero key, nonce and counter."""
    assert chacha20_block(bytes(32), 0).hex() == (
        "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
        "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586")


@pytest.mark.parametrize("length", [64, 100, 7, 0])
def test_the_vdso_makes_chacha20_blocks_and_erases_its_key(length):
    """With a state whose generation is current, the vDSO makes the bytes alone: ChaCha20
    blocks of the state's key with counters 0, 1, ..., then the next block's first 32 bytes
    become the key (fast key erasure), as lib/vdso/getrandom.c does."""
    from test_vdso_image import Guest

    from kernel_model.vdso import vvar

    g = Guest("x86_64")
    key = bytes(range(100, 132))
    state = g.DATA + 0x800
    g.uc.mem_write(state, key + bytes(vvar.VGR_GENERATION - 32)
                   + vvar.RNG_GENERATION.to_bytes(8, "little") + bytes(8))
    ret = g.call("__vdso_getrandom", g.DATA, length, 0, state, vvar.VGR_STATE_SIZE)
    assert g.traps == []  # no syscall: the generation matched
    assert ret == length
    blocks = -(-length // 64)
    stream = b"".join(chacha20_block(key, i) for i in range(blocks))
    assert bytes(g.uc.mem_read(g.DATA, length)) == stream[:length]
    new_key = bytes(g.uc.mem_read(state, 32))
    if length:
        assert new_key == chacha20_block(key, blocks)[:32]
    else:
        assert new_key == key  # nothing asked: nothing used
    assert g.uc.mem_read(state + vvar.VGR_IN_USE, 1) == b"\0"

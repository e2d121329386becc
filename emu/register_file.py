"""The CPU's register file as memory: the trap hooks read and write the guest's general
registers and instruction pointer in place, without a call into Unicorn.

Why: each call into Unicorn from Python costs about 0.3 us (ctypes), and a trap hook needs
two (read the arguments, write the result), which is most of a getpid. Worse, Unicorn's API
treats any write of the instruction pointer from a hook as a jump: it leaves the CPU loop
and enters it again (about 0.8 us here), and `sysenter` must return to the vDSO's landing
pad, two bytes past where the CPU would go on. Written in place, before the instruction's
helper adds its length, the new pointer is simply where the next block starts.

What Unicorn 2.1 guarantees and what this relies on (docs/kernel_facts.md §7, "The register
file in place"):
- the x86 CPU state (QEMU's CPUX86State) begins with the 16 general registers in encoding
  order (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15), then eip, then eflags, each a
  64-bit word in both CPU modes (Unicorn builds one 64-bit target);
- a `syscall`, `sysenter` or interrupt hook runs from a helper that the translator has made
  write every register back to that state first and read them all again afterwards, so the
  state is current while the hook runs and what the hook writes is what the guest sees;
- the eflags word holds only the flags the CPU does not compute lazily (TF, IF, DF is
  elsewhere): the arithmetic flags live in other fields, so a full rflags still comes
  through Unicorn's API (`reg_read` computes it), and the word is never written here.

The state's address is not part of Unicorn's API. It is found once per process: distinct
values are written to the first eight registers through the API (an i386 CPU has no more),
and the words of Unicorn's handle are followed, as pointers into writable memory, to the
place holding that very sequence. Every new CPU is then checked both ways (values written
through the API appear in memory, and values written in memory are what the API reads
back). If any of that fails (another Unicorn build lays its state out otherwise),
`RegisterFile` keeps a private copy instead, and the hooks fall back to reading and writing
it through the API: slower, never wrong.
"""

from __future__ import annotations

import ctypes
import functools
import re
import struct
from collections.abc import Callable

from emu import registers as R
from emu.uclib import reg_read_batch_held, reg_write_batch_held

# Word indices in the register file.
RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI = range(8)
R8, R9, R10, R11, R12, R13, R14, R15 = range(8, 16)
PC, FLAGS = 16, 17  # eip/rip, and eflags as stored (TF and IF; see the module's text)
WORDS = 18

# The same places as Unicorn register ids, for the API path and the checks.
_IDS64 = (R.RAX, R.RCX, R.RDX, R.RBX, R.RSP, R.RBP, R.RSI, R.RDI, R.R8, R.R9, R.R10, R.R11,
          R.R12, R.R13, R.R14, R.R15, R.RIP, R.EFLAGS)
_IDS32 = (R.EAX, R.ECX, R.EDX, R.EBX, R.ESP, R.EBP, R.ESI, R.EDI)
# What the search writes to the first eight registers: values an i386 CPU holds whole.
_PROBE = tuple(0x5EC0DE01 + i * 0x01020305 for i in range(8))
_SCAN_WORDS = 2048  # how far into Unicorn's handle to look for the pointer (16 KiB)
_SCAN_BYTES = 1 << 17  # how far past each pointer to look for the registers (128 KiB)

ENABLED = True  # tests switch the in-place path off to run the API path
# Found once per process: (offset in Unicorn's handle of the pointer, offset from where it
# points to the register file), or False once the search has failed.
_found: tuple[int, int] | bool | None = None
_spans: list[tuple[int, int]] = []  # the writable mappings as last read


def _writable() -> list[tuple[int, int]]:
    """The host's readable and writable mappings: a pointer is followed only into one of
    them (the CPU state is data the CPU writes; code and constants are not searched)."""
    spans = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            span, perms = line.split(None, 2)[:2]
            if perms.startswith("rw"):
                lo, hi = span.split("-")
                spans.append((int(lo, 16), int(hi, 16)))
    return spans


def _end_of(spans: list[tuple[int, int]], address: int) -> int | None:
    for lo, hi in spans:
        if lo <= address < hi:
            return hi
    return None


def _search(handle: int) -> tuple[int, int] | None:
    """Follow the words of Unicorn's handle to the probe values (already in the registers).
    Of the pointers that lead there, the one pointing closest before them is kept: the
    object that holds the state (Unicorn's CPU), so the same two offsets find it in every
    CPU of this process."""
    spans = _writable()
    end = _end_of(spans, handle)
    if end is None:
        return None
    count = min(_SCAN_WORDS, (end - handle) // 8)
    pointers: dict[int, int] = {}  # pointer -> the first offset in the handle holding it
    for i, word in enumerate(struct.unpack_from(f"<{count}Q", ctypes.string_at(handle,
                                                                            count * 8))):
        if not word & 7 and word >= 0x10000 and _end_of(spans, word) is not None:
            pointers.setdefault(word, 8 * i)
    # The windows past each pointer, overlapping ones joined: each byte searched once.
    windows: list[list[int]] = []
    for start in sorted(pointers):
        stop = min(start + _SCAN_BYTES, _end_of(spans, start) or start)
        if windows and start <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], stop)
        else:
            windows.append([start, stop])
    probe = re.compile(re.escape(struct.pack("<8Q", *_PROBE)))
    for start, stop in windows:
        for match in probe.finditer((ctypes.c_char * (stop - start)).from_address(start)):
            state = start + match.start()
            if state % 8:
                continue
            nearest = max((p for p in pointers if p <= state < p + _SCAN_BYTES), default=None)
            if nearest is not None:
                return pointers[nearest], state - nearest
    return None


def _locate(uc, handle: int, ids: tuple[int, ...]) -> int | None:
    """The register file's address for this CPU, checked both ways, or None. `ids`: the
    first eight registers' ids in this CPU's mode."""
    global _found
    saved = [uc.reg_read(r) for r in ids]
    try:
        for reg, value in zip(ids, _PROBE, strict=True):
            uc.reg_write(reg, value)
        address = _at(handle, _found) if _found else None
        if address is None and _found is not False:
            _found = _search(handle) or False  # first CPU, or one the offsets miss
            address = _at(handle, _found) if _found else None
        if address is None:
            return None
        words = (ctypes.c_uint64 * 8).from_address(address)
        for i in range(8):
            words[i] = _PROBE[7 - i]
        if tuple(uc.reg_read(r) for r in ids) != _PROBE[::-1]:
            return None
        return address
    finally:
        for reg, value in zip(ids, saved, strict=True):
            uc.reg_write(reg, value)


def _at(handle: int, found) -> int | None:
    """Where the offsets found lead in this CPU, if the probe values are there."""
    global _spans
    pointer_at, offset = found
    address = ctypes.c_uint64.from_address(handle + pointer_at).value + offset
    if _end_of(_spans, address) is None or _end_of(_spans, address) < address + 64:
        _spans = _writable()  # a new mapping since the last look, or not memory at all
        end = _end_of(_spans, address)
        if end is None or end < address + 64:
            return None
    if ctypes.string_at(address, 64) != struct.pack("<8Q", *_PROBE):
        return None
    return address


class RegisterFile:
    """One CPU's registers as `words` (Unicorn's order, see the word indices above): the
    CPU's own memory when it was found (`in_place`), else a private copy that `reader` and
    `writer` calls move through Unicorn's API. A hook calls the reader before it looks and
    the writer after it has written (each is None when there is nothing to move)."""

    def __init__(self, uc, handle, bits: int):
        self._handle = handle
        self._ids = _IDS64 if bits == 64 else _IDS32 + _IDS64[8:16] + (R.EIP, R.EFLAGS)
        address = _locate(uc, handle.value, self._ids[:8]) if ENABLED else None
        self.in_place = address is not None
        if address is None:
            self._copy = (ctypes.c_uint64 * WORDS)()
            address = ctypes.addressof(self._copy)
        self._address = address
        raw = memoryview((ctypes.c_uint64 * WORDS).from_address(address)).cast("B")
        self.words = raw.cast("Q")
        self.signed = raw.cast("q")  # the same words, for results that may be negative

    def reader(self, slots: tuple[int, ...], extra: tuple[int, ...] = ()
               ) -> tuple[Callable[[], object] | None, memoryview]:
        """(read, extra_words): read() brings the registers at `slots` into `words` (in
        place: nothing to bring) and the Unicorn registers `extra` into extra_words."""
        scratch = (ctypes.c_uint64 * max(1, len(extra)))()
        places = [] if self.in_place else [(self._ids[s], self._address + 8 * s) for s in slots]
        places += [(reg, ctypes.addressof(scratch) + 8 * i) for i, reg in enumerate(extra)]
        view = memoryview(scratch).cast("B").cast("Q")
        if not places:
            return None, view
        return _batch(reg_read_batch_held, self._handle, places), view

    def writer(self, slots: tuple[int, ...]) -> Callable[[], object] | None:
        """write() sends `words` at `slots` to the CPU (in place: None, they are there)."""
        if self.in_place:
            return None
        return _batch(reg_write_batch_held, self._handle,
                      [(self._ids[s], self._address + 8 * s) for s in slots])


def _batch(call, handle, places: list[tuple[int, int]]) -> Callable[[], object]:
    n = len(places)
    ids = (ctypes.c_int * n)(*[reg for reg, _ in places])
    pointers = (ctypes.c_void_p * n)(*[address for _, address in places])
    read = functools.partial(call, handle, ids, pointers, n)
    read.keep = (ids, pointers)  # type: ignore[attr-defined]
    return read


"""gdb's x87 and SSE registers (st0-st7, the x87 control registers, xmm0-xmm15, mxcsr),
read from and written into the FXSAVE image of the emulated CPU (emu/fpu.py): the image
Linux's ptrace hands a debugger (PTRACE_GETFPREGS / NT_PRFPREG), converted the way gdb
converts it for a native process (docs/kernel_facts.md §21). st(i) is in stack order
there, so gdb's st0 is the top of the stack, physical register (TOP+i)&7."""

from __future__ import annotations

import struct

from emu import fpu
from kernel_model.signals.frame_fpu import _full_tag as full_tag

_HEAD = struct.Struct("<HHBxHQQI")  # fcw fsw ftw (abridged) fop fip fdp mxcsr
_FIELDS = ("fctrl", "fstat", "ftag", "fop", "fip", "fdp", "mxcsr")


def image(m) -> bytearray:
    return fpu.fxsave(m)


def _head(image: bytes | bytearray) -> dict[str, int]:
    return dict(zip(_FIELDS, _HEAD.unpack_from(image), strict=True))


def read(image: bytes | bytearray, name: str, bits: int) -> int:
    """Register `name`'s value as gdb's g packet carries it (little-endian, its size)."""
    if name.startswith("st"):
        at = fpu.OFF_ST + 16 * int(name[2:])
        return int.from_bytes(image[at:at + 10], "little")
    if name.startswith("xmm"):
        at = fpu.OFF_XMM + 16 * int(name[3:])
        return int.from_bytes(image[at:at + 16], "little")
    h = _head(image)
    if name == "ftag":  # the full two-bit tags, from the abridged ones and the contents
        return full_tag(image) & 0xFFFF
    if name == "fop":
        return h["fop"] & 0x7FF
    if name in ("fioff", "fooff"):
        return h["fip" if name == "fioff" else "fdp"] & 0xFFFFFFFF
    if name in ("fiseg", "foseg"):
        # FXSAVE64 has the pointers' upper halves where the 32-bit form has selectors:
        # gdb shows all 32 bits of that for amd64, the 16 of a selector for i386
        return (h["fip" if name == "fiseg" else "fdp"] >> 32) & _seg_mask(bits)
    return h[name]


def _seg_mask(bits: int) -> int:
    return 0xFFFFFFFF if bits == 64 else 0xFFFF


def write(image: bytearray, name: str, value: int, bits: int) -> None:
    """Set register `name` in the image as a native gdb's write through ptrace ends up:
    the x87 control registers cut to their 16 (fop: 11) bits, the tags to "empty or not",
    MXCSR's reserved bits dropped (the CPU would fault on loading them)."""
    if name.startswith("st"):
        at = fpu.OFF_ST + 16 * int(name[2:])
        image[at:at + 10] = value.to_bytes(10, "little")
        return
    if name.startswith("xmm"):
        at = fpu.OFF_XMM + 16 * int(name[3:])
        image[at:at + 16] = value.to_bytes(16, "little")
        return
    h = _head(image)
    if name == "ftag":
        h["ftag"] = sum(1 << i for i in range(8) if (value >> (2 * i)) & 3 != 3)
    elif name in ("fctrl", "fstat", "fop"):
        h[name] = value & (0x7FF if name == "fop" else 0xFFFF)
    elif name in ("fioff", "fooff"):
        key = "fip" if name == "fioff" else "fdp"
        h[key] = (h[key] & ~0xFFFFFFFF) | (value & 0xFFFFFFFF)
    elif name in ("fiseg", "foseg"):
        key = "fip" if name == "fiseg" else "fdp"
        h[key] = (h[key] & 0xFFFFFFFF) | ((value & _seg_mask(bits)) << 32)
    else:
        h[name] = value & fpu.MXCSR_MASK
    _HEAD.pack_into(image, 0, *(h[f] for f in _FIELDS))


def load(m, image: bytes | bytearray) -> None:
    fpu.fxrstor(m, image)

"""The CPU's x87 and SSE state as one 512-byte FXSAVE image, read from and written to
Unicorn's FPU registers, and the state Linux gives a new process.

The kernel keeps a task's FPU registers in memory in the layout of the FXSAVE/XSAVE
instructions (arch/x86/include/asm/fpu/types.h, struct fxregs_state): signal frames carry
that image, and sigreturn loads it back. Unicorn has no instruction the host can run on
the guest's behalf, so the image is built field by field from the registers it exposes:

    +0   fcw  +2 fsw  +4 ftw (abridged: one bit per register, 1 = in use)  +6 fop
    +8   fip (64-bit, the FXSAVE64 form a 64-bit kernel uses for every task)
    +16  fdp  +24 mxcsr  +28 mxcsr_mask
    +32  st0..st7, 16 bytes each (10 used), in stack order: st(i) is register (TOP+i)&7
    +160 xmm0..xmm15, 16 bytes each (an i386 CPU has eight; the rest stay zero)
    +416 reserved (48 bytes)   +464 sw_reserved, for the kernel (48 bytes)

What the model's CPU offers, as Unicorn's default CPU reports it (CPUID and xgetbv run by
a guest read the same): XSAVE with XCR0 = x87 | SSE, so an XSAVE image is this legacy
area plus the 64-byte XSAVE header, 576 bytes (CPUID.(EAX=0xD,ECX=0).EBX). Unicorn
rejects AVX instructions, so Linux on this CPU would enable no more.
"""

from __future__ import annotations

import ctypes
import struct

from unicorn import x86_const as X

from emu import registers as R
from emu.uclib import reg_read_batch as _reg_read_batch
from emu.uclib import reg_write_batch as _reg_write_batch

FXSAVE_SIZE = 512
XSAVE_HEADER_SIZE = 64
XFEATURE_FP, XFEATURE_SSE = 0x1, 0x2
XCR0 = XFEATURE_FP | XFEATURE_SSE  # what xgetbv(0) returns in the guest
XSAVE_SIZE = FXSAVE_SIZE + XSAVE_HEADER_SIZE  # CPUID.(EAX=0xD,ECX=0).EBX for that XCR0
MXCSR_MASK = 0x0000FFFF  # the mask the CPU's FXSAVE stores: MXCSR bits it accepts
# fpstate_init_fx()/fpu__init_cpu(): what a new process starts with (and what fninit and
# XRSTOR's init of the x87 component give): every exception masked, 64-bit precision,
# round to nearest; SSE exceptions masked, round to nearest.
FCW_INIT, MXCSR_INIT = 0x037F, 0x1F80

OFF_MXCSR, OFF_ST, OFF_XMM, OFF_SW_RESERVED = 24, 32, 160, 464
_HEAD = struct.Struct("<HHBxHQQII")  # fcw fsw ftw (pad) fop fip fdp mxcsr mxcsr_mask

_CONTROL = (X.UC_X86_REG_FPCW, X.UC_X86_REG_FPSW, X.UC_X86_REG_FPTAG, X.UC_X86_REG_FOP,
            X.UC_X86_REG_FIP, X.UC_X86_REG_FDP, X.UC_X86_REG_MXCSR)
_FP = tuple(X.UC_X86_REG_FP0 + i for i in range(8))  # physical registers R0..R7
_XMM = {64: tuple(X.UC_X86_REG_XMM0 + i for i in range(8))
        + tuple(getattr(X, f"UC_X86_REG_XMM{i}") for i in range(8, 16)),
        32: tuple(X.UC_X86_REG_XMM0 + i for i in range(8))}


class _Buffers:
    """One 16-byte slot per register, and the arrays Unicorn's batch calls take."""

    def __init__(self, ids: tuple[int, ...]):
        self.n = len(ids)
        self.ids = (ctypes.c_int * self.n)(*ids)
        self.raw = ctypes.create_string_buffer(16 * self.n)
        base = ctypes.addressof(self.raw)
        self.ptrs = (ctypes.c_void_p * self.n)(*[base + 16 * i for i in range(self.n)])


_buffers: dict[int, _Buffers] = {}


def _batch(bits: int) -> _Buffers:
    b = _buffers.get(bits)
    if b is None:
        b = _buffers[bits] = _Buffers(_CONTROL + _FP + _XMM[bits])
    return b


def abridged_tag(full: int) -> int:
    """FXSAVE's one-byte tag: bit i set unless register i is empty (tag 11)."""
    return sum(1 << i for i in range(8) if (full >> (2 * i)) & 3 != 3)


def fxsave(m) -> bytearray:
    """The machine's x87 and SSE registers as FXSAVE64 stores them; sw_reserved is zero."""
    b = _batch(m.arch.bits)
    ctypes.memset(b.raw, 0, len(b.raw))
    _reg_read_batch(m._h, b.ids, b.ptrs, b.n)
    raw = b.raw.raw
    fcw, fsw, ftw, fop, fip, fdp, mxcsr = (
        int.from_bytes(raw[16 * i:16 * i + 8], "little") for i in range(len(_CONTROL)))
    image = bytearray(FXSAVE_SIZE)
    _HEAD.pack_into(image, 0, fcw & 0xFFFF, fsw & 0xFFFF, abridged_tag(ftw & 0xFFFF),
                    fop & 0x7FF, fip, fdp, mxcsr & 0xFFFFFFFF, MXCSR_MASK)
    top = (fsw >> 11) & 7
    fp0 = 16 * len(_CONTROL)
    for i in range(8):
        phys = fp0 + 16 * ((top + i) & 7)
        image[OFF_ST + 16 * i:OFF_ST + 16 * i + 10] = raw[phys:phys + 10]
    xmm0 = fp0 + 16 * 8
    count = len(_XMM[m.arch.bits])
    image[OFF_XMM:OFF_XMM + 16 * count] = raw[xmm0:xmm0 + 16 * count]
    return image


def fxrstor(m, image: bytes | bytearray) -> None:
    """Load the x87 and SSE registers from an FXSAVE64 image (the caller has checked
    MXCSR against MXCSR_MASK, as the CPU would fault on reserved bits)."""
    b = _batch(m.arch.bits)
    _load(m, b, _registers(b, image))


def _load(m, b: _Buffers, raw: bytes) -> None:
    ctypes.memmove(b.raw, raw, len(raw))
    _reg_write_batch(m._h, b.ids, b.ptrs, b.n)


def _registers(b: _Buffers, image: bytes | bytearray) -> bytes:
    """An FXSAVE image as the values of the batch's registers, 16 bytes each."""
    fcw, fsw, ftw, fop, fip, fdp, mxcsr, _mask = _HEAD.unpack_from(image)
    # Unicorn's tag register keeps only "empty or not": 11 for a free register, 00 else.
    full_tag = sum(3 << (2 * i) for i in range(8) if not (ftw >> i) & 1)
    raw = bytearray(16 * b.n)
    for i, value in enumerate((fcw, fsw, full_tag, fop & 0x7FF, fip, fdp, mxcsr)):
        raw[16 * i:16 * i + 8] = value.to_bytes(8, "little")
    top = (fsw >> 11) & 7
    fp0 = 16 * len(_CONTROL)
    for i in range(8):
        phys = fp0 + 16 * ((top + i) & 7)
        raw[phys:phys + 10] = image[OFF_ST + 16 * i:OFF_ST + 16 * i + 10]
    xmm0 = fp0 + 16 * 8
    count = b.n - len(_CONTROL) - 8
    raw[xmm0:xmm0 + 16 * count] = image[OFF_XMM:OFF_XMM + 16 * count]
    return bytes(raw)


def init_image() -> bytearray:
    """The FXSAVE image of Linux's init_fpstate: the x87 reset state (fninit) with every
    register empty, MXCSR 0x1F80, every xmm register zero."""
    image = bytearray(FXSAVE_SIZE)
    _HEAD.pack_into(image, 0, FCW_INIT, 0, 0, 0, 0, 0, MXCSR_INIT, MXCSR_MASK)
    return image


CR0_NE = 0x20  # native FPU error reporting: an unmasked exception raises #MF


def init_cpu(m) -> None:
    """fpu__init_cpu() and a new process's FPU: CR0.NE, as Linux always runs (Unicorn
    starts without it, and then reports x87 errors nowhere), and the init state."""
    cr0 = R.CR0
    m.set_reg(cr0, m.reg(cr0) | CR0_NE)
    reset(m)


def reset(m) -> None:
    """Linux's init FPU state (init_fpstate), what a new image and every signal handler
    start with. Unicorn starts a CPU with the control word and MXCSR at 0 (every exception
    unmasked, 24-bit precision) and every x87 register tagged in use."""
    b = _batch(m.arch.bits)
    raw = _init_registers.get(m.arch.bits)
    if raw is None:  # every signal delivery resets the FPU: prepared once
        raw = _init_registers[m.arch.bits] = _registers(b, init_image())
    _load(m, b, raw)


_init_registers: dict[int, bytes] = {}

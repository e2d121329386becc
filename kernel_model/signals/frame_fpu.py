"""The FPU state in a signal frame and its return through sigreturn, as Linux keeps it
(arch/x86/kernel/fpu/signal.c: fpu__alloc_mathframe, copy_fpstate_to_sigframe,
fpu__restore_sig; arch/x86/kernel/signal.c: get_sigframe, init_sigframe_size).

Below the frame proper, 64-byte aligned, the kernel stores the task's registers in the
XSAVE layout (emu/fpu.py draws it):

    x86-64:  uc_mcontext.fpstate -> [XSAVE area: FXSAVE image + 64-byte header][magic2]
    i386:    sigcontext.fpstate  -> [fsave header, 112 bytes][XSAVE area][magic2]

The FXSAVE image's last 48 bytes (sw_reserved) carry struct _fpx_sw_bytes: magic1
FP_XSTATE_MAGIC1, extended_size (the area, magic2, and the i386 fsave header), xfeatures
(XCR0) and xstate_size; FP_XSTATE_MAGIC2 follows the area. The i386 fsave header is the
old FSAVE layout (control, status and tag words widened to 32 bits with 0xffff above, the
eight registers packed to 10 bytes), then `status` and `magic` (X86_FXSR_MAGIC, 0: an
FXSAVE image follows). On i386 sigreturn the x87 part comes from that header, the SSE
part from the FXSAVE image (convert_to_fxsr).

The handler then starts with a clean FPU (fpu__clear_user_states): the state a new
process has. A frame whose fpstate is NULL gives that same clean state back on sigreturn;
a reserved MXCSR bit or a bad XSAVE header makes the frame bad (SIGSEGV), as XRSTOR's #GP
does on Linux.
"""

from __future__ import annotations

import struct

from emu import fpu
from kernel_model.signals.frame_layout import BadFrame

FP_XSTATE_MAGIC1, FP_XSTATE_MAGIC2 = 0x46505853, 0x46505845
FP_XSTATE_MAGIC2_SIZE = 4
X86_FXSR_MAGIC = 0x0000  # the fsave header's magic: an FXSAVE image follows it
FSAVE_HEADER_SIZE = 112  # struct fregs_state
SIGFRAME_IA32_SIZE = 732  # struct sigframe_ia32, the largest frame proper
FRAME_ALIGNMENT = 16
MAX_FRAME_PADDING = FRAME_ALIGNMENT - 1
MAX_XSAVE_PADDING = 63

# The XSAVE area the model's CPU uses (fpstate->user_size) and what the frame reserves.
XSTATE_SIZE = fpu.XSAVE_SIZE
XSTATE_SIGFRAME_SIZE = XSTATE_SIZE + FP_XSTATE_MAGIC2_SIZE  # xstate_sigframe_size()

_SW_BYTES = struct.Struct("<IIQI28x")  # magic1, extended_size, xfeatures, xstate_size
_FSAVE_ENV = struct.Struct("<7I")  # cwd swd twd fip fcs foo fos
_HEADER_XFEATURES = fpu.FXSAVE_SIZE  # the XSAVE header's first field, XSTATE_BV


def max_frame_size() -> int:
    """init_sigframe_size(): the worst case a signal needs on the stack, which the kernel
    reports as AT_MINSIGSTKSZ: the i386 frame without SA_SIGINFO, its alignment, the fsave
    header (counted for every process), the XSAVE area and magic2, the area's alignment."""
    fpstate = XSTATE_SIGFRAME_SIZE + FSAVE_HEADER_SIZE  # fpu__get_fpstate_size()
    size = SIGFRAME_IA32_SIZE + MAX_FRAME_PADDING + fpstate + MAX_XSAVE_PADDING
    return -(-size // FRAME_ALIGNMENT) * FRAME_ALIGNMENT


def alloc_mathframe(sp: int, *, ia32: bool) -> tuple[int, int]:
    """fpu__alloc_mathframe(): (the new sp, which is also the fpstate pointer, and the
    64-byte aligned XSAVE area's address)."""
    buf_fx = (sp - XSTATE_SIGFRAME_SIZE) & -64
    return (buf_fx - FSAVE_HEADER_SIZE if ia32 else buf_fx), buf_fx


def fpstate_image(m, *, ia32: bool, cs: int = 0, ds: int = 0) -> bytes:
    """copy_fpstate_to_sigframe(): the bytes from fpstate up to magic2, for the machine's
    registers now (XSAVE with the header's reserved fields cleared, the sw bytes, magic2,
    and the fsave header for i386)."""
    fx = fpu.fxsave(m)
    extended = XSTATE_SIGFRAME_SIZE + (FSAVE_HEADER_SIZE if ia32 else 0)
    _SW_BYTES.pack_into(fx, fpu.OFF_SW_RESERVED, FP_XSTATE_MAGIC1, extended, fpu.XCR0,
                        XSTATE_SIZE)
    # XSAVE's XSTATE_BV, with x87 and SSE always set (save_xstate_epilog) so a handler that
    # edits only the legacy area has its edits loaded.
    header = struct.pack("<Q", fpu.XCR0).ljust(fpu.XSAVE_HEADER_SIZE, b"\0")
    area = bytes(fx) + header + struct.pack("<I", FP_XSTATE_MAGIC2)
    return (_fsave_header(fx, cs, ds) + area) if ia32 else area


def _fsave_header(fx: bytearray, cs: int, ds: int) -> bytes:
    """save_fsave_header() with convert_from_fxsr(): the old FSAVE environment (words
    widened with 0xffff, the full tag word), the registers packed to 10 bytes, then the
    status word and X86_FXSR_MAGIC. fcs and fos are the user code and data selectors."""
    cwd, swd, _ftw, _fop, fip, fdp = struct.unpack_from("<HHBxHQQ", fx)
    env = _FSAVE_ENV.pack(cwd | 0xFFFF0000, swd | 0xFFFF0000, _full_tag(fx),
                          fip & 0xFFFFFFFF, cs, fdp & 0xFFFFFFFF, ds | 0xFFFF0000)
    regs = b"".join(bytes(fx[fpu.OFF_ST + 16 * i:fpu.OFF_ST + 16 * i + 10]) for i in range(8))
    return env + regs + struct.pack("<HH", swd, X86_FXSR_MAGIC)


def _full_tag(fx: bytes | bytearray) -> int:
    """twd_fxsr_to_i387(): the two-bit tags FSAVE stores, from the abridged tag and each
    register's class (valid, zero, special; 11 for empty), 0xffff above."""
    swd, ftw = struct.unpack_from("<HB", fx, 2)
    top = (swd >> 11) & 7
    tag = 0xFFFF0000
    for phys in range(8):
        if not (ftw >> phys) & 1:
            kind = 3
        else:
            slot = fpu.OFF_ST + 16 * ((phys - top) & 7)
            mantissa, exponent = struct.unpack_from("<QH", fx, slot)
            exponent &= 0x7FFF
            if exponent == 0x7FFF:
                kind = 2
            elif exponent == 0:
                kind = 1 if mantissa == 0 else 2
            else:
                kind = 0 if mantissa >> 63 else 2
        tag |= kind << (2 * phys)
    return tag


def _abridged_from_full(twd: int) -> int:
    """twd_i387_to_fxsr()."""
    return sum(1 << i for i in range(8) if (twd >> (2 * i)) & 3 != 3)


def clear_user_states(m) -> None:
    """fpu__clear_user_states(): the init state, as the handler starts with it."""
    fpu.reset(m)


def restore(k, fpstate: int, *, ia32: bool, read_user) -> None:
    """fpu__restore_sig(): load the registers from the frame's fpstate. NULL means the init
    state. A frame the CPU would refuse (a reserved MXCSR bit, an XSAVE header with bits the
    CPU lacks or reserved bytes set) is a BadFrame, and the FPU is reset as Linux does."""
    m = k.machine
    if fpstate == 0:
        clear_user_states(m)
        return
    header = b""
    buf_fx = fpstate
    if ia32:
        header = read_user(k, fpstate, FSAVE_HEADER_SIZE)
        buf_fx = fpstate + FSAVE_HEADER_SIZE
    fx = bytearray(read_user(k, buf_fx, fpu.FXSAVE_SIZE))
    try:
        image = _checked_image(k, fx, buf_fx, header, read_user)
    except BadFrame:
        clear_user_states(m)
        raise
    fpu.fxrstor(m, image)


def _checked_image(k, fx: bytearray, buf_fx: int, header: bytes, read_user) -> bytearray:
    """What XRSTOR (or FXRSTOR, for a frame without the XSAVE magic words) would load:
    components the header marks as in their init state come back initialized."""
    magic1, _extended, xfeatures, xstate_size = _SW_BYTES.unpack_from(fx, fpu.OFF_SW_RESERVED)
    # check_xstate_in_sigframe(): without both magic words (and sane sizes) the image is a
    # plain FXSAVE one, restored whole.
    fx_only = not (magic1 == FP_XSTATE_MAGIC1
                   and fpu.FXSAVE_SIZE + fpu.XSAVE_HEADER_SIZE <= xstate_size <= XSTATE_SIZE
                   and xstate_size <= _extended)
    if not fx_only:
        (magic2,) = struct.unpack("<I", read_user(k, buf_fx + xstate_size, 4))
        fx_only = magic2 != FP_XSTATE_MAGIC2
    if header:  # convert_to_fxsr(): the x87 words and registers of the fsave header win
        cwd, swd, twd, fip, fcs, foo, _fos = _FSAVE_ENV.unpack_from(header)
        struct.pack_into("<HHBxHQQ", fx, 0, cwd & 0xFFFF, swd & 0xFFFF,
                         _abridged_from_full(twd), (fcs >> 16) & 0x7FF, fip, foo)
        for i in range(8):
            fx[fpu.OFF_ST + 16 * i:fpu.OFF_ST + 16 * i + 10] = header[28 + 10 * i:38 + 10 * i]
    if fx_only:
        _check_mxcsr(fx)
        return fx
    head = read_user(k, buf_fx + fpu.FXSAVE_SIZE, fpu.XSAVE_HEADER_SIZE)
    (xstate_bv,) = struct.unpack_from("<Q", head)
    # XRSTOR refuses XSTATE_BV bits beyond XCR0 and a nonzero XCOMP_BV or next 8 bytes
    # (x86-64 loads the frame with XRSTOR); the i386 path copies the header through
    # validate_user_xstate_header(), which wants every reserved byte zero.
    reserved = head[8:] if header else head[8:24]
    if xstate_bv & ~fpu.XCR0 or any(reserved):
        raise BadFrame("the XSAVE header has bits the CPU does not have or reserved bytes")
    rfbm = xfeatures & fpu.XCR0  # only what the sw bytes ask for is loaded...
    if rfbm & fpu.XFEATURE_SSE:
        _check_mxcsr(fx)
    init = fpu.init_image()
    load = rfbm & xstate_bv  # ...and, of that, what the header says is not in init state
    if not load & fpu.XFEATURE_FP:  # x87: control, status, tags, pointers, registers
        fx[0:24] = init[0:24]
        fx[fpu.OFF_ST:fpu.OFF_XMM] = init[fpu.OFF_ST:fpu.OFF_XMM]
    if not load & fpu.XFEATURE_SSE:
        fx[fpu.OFF_XMM:fpu.OFF_XMM + 256] = init[fpu.OFF_XMM:fpu.OFF_XMM + 256]
    if not rfbm & fpu.XFEATURE_SSE:  # MXCSR is loaded whenever SSE is requested
        fx[fpu.OFF_MXCSR:fpu.OFF_MXCSR + 4] = init[fpu.OFF_MXCSR:fpu.OFF_MXCSR + 4]
    return fx


def _check_mxcsr(fx: bytearray) -> None:
    """FXRSTOR and XRSTOR fault (#GP) on an MXCSR with reserved bits set."""
    (mxcsr,) = struct.unpack_from("<I", fx, fpu.OFF_MXCSR)
    if mxcsr & ~fpu.MXCSR_MASK:
        raise BadFrame(f"MXCSR {mxcsr:#x} has reserved bits set")

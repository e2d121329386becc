"""Which floating-point exception a #MF (x87) or #XM (SIMD) trap reports in si_code
(arch/x86/kernel/traps.c math_error, arch/x86/kernel/fpu/core.c fpu__exception_code): the
exception flags that are set and not masked, the invalid operation first."""

from __future__ import annotations

import struct

from emu import fpu

FPE_FLTDIV, FPE_FLTOVF, FPE_FLTUND, FPE_FLTRES, FPE_FLTINV = 3, 4, 5, 6, 7


def math_error_code(m) -> int:
    """si_code for the FPU's pending unmasked exception, 0 if none (Linux then sends no
    signal). The x87 status word is asked first, then MXCSR: Unicorn raises only the x87's
    #MF (it sets no MXCSR flag), where Linux would know the vector."""
    image = fpu.fxsave(m)
    cwd, swd = struct.unpack_from("<HH", image)
    (mxcsr,) = struct.unpack_from("<I", image, fpu.OFF_MXCSR)
    err = swd & ~cwd & 0x3F
    if not err:
        err = ~(mxcsr >> 7) & mxcsr & 0x3F
    if err & 0x001:
        return FPE_FLTINV
    if err & 0x004:
        return FPE_FLTDIV
    if err & 0x008:
        return FPE_FLTOVF
    if err & 0x012:
        return FPE_FLTUND
    if err & 0x020:
        return FPE_FLTRES
    return 0

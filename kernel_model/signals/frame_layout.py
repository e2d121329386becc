"""The byte layouts of x86 signal frames and the constants they use: sigaction flags,
sigaltstack flags, eflags bits, trap numbers, the i386 retcodes, and the offsets of
struct rt_sigframe (x86-64), rt_sigframe_ia32 and sigframe_ia32
(arch/x86/include/asm/sigframe.h; include/uapi/asm/{sigcontext,ucontext,signal}.h;
include/uapi/asm-generic/signal-defs.h). The drawing is in kernel_model/signals/frame.py.

Names with a leading underscore are private to kernel_model.signals."""

from __future__ import annotations

import struct

from emu import registers as R
from kernel_model.signals.delivery import SIGKILL, SIGSTOP

# -- constants (include/uapi/asm-generic/signal-defs.h, arch/x86/include/uapi/asm/signal.h) --
SA_SIGINFO = 0x00000004
SA_RESTORER = 0x04000000
SA_ONSTACK = 0x08000000
SA_RESTART = 0x10000000
SA_NODEFER = 0x40000000
SA_RESETHAND = 0x80000000

SS_ONSTACK, SS_DISABLE, SS_AUTODISARM = 1, 2, 1 << 31
MINSIGSTKSZ = 2048

UC_FP_XSTATE, UC_SIGCONTEXT_SS, UC_STRICT_RESTORE_SS = 0x1, 0x2, 0x4

# arch/x86/include/uapi/asm/processor-flags.h
EFLAGS_CF, EFLAGS_PF, EFLAGS_AF, EFLAGS_ZF, EFLAGS_SF = 0x1, 0x4, 0x10, 0x40, 0x80
EFLAGS_TF, EFLAGS_DF, EFLAGS_OF, EFLAGS_RF, EFLAGS_AC = 0x100, 0x400, 0x800, 0x10000, 0x40000
# The flags sigreturn takes from the frame (asm/sighandling.h); IF, IOPL, NT, VM... stay.
FIX_EFLAGS = (EFLAGS_AC | EFLAGS_OF | EFLAGS_DF | EFLAGS_TF | EFLAGS_SF | EFLAGS_ZF
              | EFLAGS_AF | EFLAGS_PF | EFLAGS_CF | EFLAGS_RF)

# Trap numbers (asm/trapnr.h) and page-fault error code bits (asm/trap_pf.h).
X86_TRAP_DE, X86_TRAP_DB, X86_TRAP_BP, X86_TRAP_UD = 0, 1, 3, 6
X86_TRAP_GP, X86_TRAP_PF, X86_TRAP_MF = 13, 14, 16
X86_PF_PROT, X86_PF_WRITE, X86_PF_USER, X86_PF_INSTR = 0x1, 0x2, 0x4, 0x10
TASK_SIZE_MAX = 0x7FFFFFFFF000  # x86-64: user addresses end here

USER32_CS, USER_DS, USER_CS = 0x23, 0x2B, 0x33
UNBLOCKABLE = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))

NR_IA32_SIGRETURN, NR_IA32_RT_SIGRETURN = 119, 173
# The bytes Linux still writes into i386 frames (gdb recognises frames by them).
# rt: `mov eax, 173; int 0x80` (and a pad byte); old: `pop eax; mov eax, 119; int 0x80`.
RETCODE_RT = b"\xb8" + struct.pack("<I", NR_IA32_RT_SIGRETURN) + b"\xcd\x80\x00"
RETCODE = b"\x58\xb8" + struct.pack("<I", NR_IA32_SIGRETURN) + b"\xcd\x80"

SIGINFO_SIZE = 128

# -- x86-64 layouts ------------------------------------------------------------------------
# struct sigcontext_64: r8..r15, di, si, bp, bx, dx, ax, cx, sp, ip, flags (18 x u64),
# cs gs fs ss (4 x u16), err, trapno, oldmask, cr2, fpstate (5 x u64), reserved1[8].
SIGCONTEXT_64 = struct.Struct("<18Q4H5Q64x")
SC64_FIELDS = ("r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rdi", "rsi", "rbp",
               "rbx", "rdx", "rax", "rcx", "rsp", "rip", "eflags", "cs", "gs", "fs", "ss",
               "err", "trapno", "oldmask", "cr2", "fpstate")
STACK_T_64 = struct.Struct("<Qi4xQ")  # ss_sp, ss_flags, (pad), ss_size
UC64_FLAGS_LINK = struct.Struct("<QQ")
UC64_STACK, UC64_MCONTEXT = 16, 40
UC64_SIGMASK = UC64_MCONTEXT + SIGCONTEXT_64.size  # 296
UCONTEXT_64_SIZE = UC64_SIGMASK + 8  # 304
RT64_UC = 8
RT64_INFO = RT64_UC + UCONTEXT_64_SIZE  # 312
RT_SIGFRAME_64_SIZE = RT64_INFO + SIGINFO_SIZE  # 440
assert SIGCONTEXT_64.size == 256 and RT_SIGFRAME_64_SIZE == 440

_REGS_64 = tuple(R.reg_id(n) for n in SC64_FIELDS[:18])
_GPRS_64 = SC64_FIELDS[:17]  # every register sigreturn reloads as is (flags are filtered)

# -- i386 layouts --------------------------------------------------------------------------
# struct sigcontext_32: gs fs es ds (u16 + u16 pad, written as u32), di si bp sp bx dx cx ax,
# trapno, err, ip, cs, flags, sp_at_signal, ss, fpstate, oldmask, cr2: 22 x u32 = 88 bytes.
SIGCONTEXT_32 = struct.Struct("<22I")
SC32_FIELDS = ("gs", "fs", "es", "ds", "edi", "esi", "ebp", "esp", "ebx", "edx", "ecx", "eax",
               "trapno", "err", "eip", "cs", "eflags", "sp_at_signal", "ss", "fpstate",
               "oldmask", "cr2")
STACK_T_32 = struct.Struct("<IiI")  # compat_stack_t: ss_sp, ss_flags, ss_size
UC32_STACK, UC32_MCONTEXT = 8, 20
UC32_SIGMASK = UC32_MCONTEXT + SIGCONTEXT_32.size  # 108
UCONTEXT_32_SIZE = UC32_SIGMASK + 8  # 116
RT32_INFO, RT32_UC = 16, 16 + SIGINFO_SIZE  # 16, 144
RT32_RETCODE = RT32_UC + UCONTEXT_32_SIZE  # 260
RT_SIGFRAME_32_SIZE = RT32_RETCODE + 8  # 268
FPSTATE_32_SIZE = 624  # struct _fpstate_32: still reserved in the old frame, never written
SF32_SC = 8
SF32_EXTRAMASK = SF32_SC + SIGCONTEXT_32.size + FPSTATE_32_SIZE  # 720
SF32_RETCODE = SF32_EXTRAMASK + 4  # 724
SIGFRAME_32_SIZE = SF32_RETCODE + 8  # 732
assert SIGCONTEXT_32.size == 88 and RT_SIGFRAME_32_SIZE == 268 and SIGFRAME_32_SIZE == 732

_SEGS = {"gs": R.GS, "fs": R.FS, "es": R.ES,
         "ds": R.DS, "cs": R.CS, "ss": R.SS}
_GPRS_32 = ("edi", "esi", "ebp", "esp", "ebx", "edx", "ecx", "eax", "eip")
_REGS_32 = tuple(R.reg_id(n) for n in _GPRS_32) + (
    R.EFLAGS,)
# The same registers of a 64-bit CPU, for a 64-bit process that enters through `int 0x80`
# (compat sigreturn): their low halves are what the i386 frame holds.
_REGS_32_ON_64 = tuple(R.reg_id(f"r{n[1:]}") for n in _GPRS_32) + (
    R.EFLAGS,)


class BadFrame(Exception):
    """The frame could not be written or read: the process gets SIGSEGV."""

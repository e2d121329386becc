"""cs and ss across signal delivery and sigreturn (arch/x86/kernel/signal_64.c,
signal_32.c): a handler always runs in the process's flat code segment (0x33 for a 64-bit
process, even when the signal interrupted compatibility-mode code; 0x23 for i386), and
sigreturn puts back the cs and ss the frame holds, RPL forced to 3, so a handler may send
the program into 32-bit code and back. The kernel returns with `iret`: a selector the CPU
refuses makes that `iret` fault, which Linux turns into SIGSEGV (si_code SI_KERNEL, trap
13, the selector as error code) for the restored context."""

from __future__ import annotations

from emu import registers as R
from emu.segments import SELECTOR_TI
from kernel_model.signals.delivery import SI_KERNEL, SIGBUS, SIGSEGV
from kernel_model.signals.frame_access import _seg
from kernel_model.signals.frame_layout import USER_DS
from kernel_model.signals.trap_info import _set_trap_state

X86_TRAP_GP = 13


def user_64bit_mode(k, cs: int | None = None) -> bool:
    """Whether the interrupted code (or code segment `cs`) is 64-bit (user_64bit_mode)."""
    m = k.machine
    if m.arch.bits != 64:
        return False
    d = k.gdt.descriptor_of(_seg(m, "cs") if cs is None else cs) or 0
    return bool((d >> 53) & 1)


def force_valid_ss(k, ss: int) -> int:
    """force_valid_ss(): an ss that is not a present, writable DPL-3 data segment becomes
    __USER_DS (for DOSEMU and CRIU, which do not ask for strict restores)."""
    d = k.gdt.descriptor_of(ss) if ss & 0xFFFC else None
    access = (d >> 40) & 0xFF if d else 0
    if access & 0xF2 == 0xF2 and not access & 0x08:
        return ss
    return USER_DS


def sigreturn_segments(k, pc: int, sp: int, cs: int, ss: int) -> None:
    """The return to the restored context: cs and ss from the frame. Called from the trap
    (inside the CPU's run): a change of segment stops the run, and the next one begins
    with the far return (Gdt.far_return)."""
    m = k.machine
    cs, ss = cs | 3, ss | 3
    fault = k.gdt.iret_fault(cs, ss, pc)
    if fault is not None:
        vector, error = fault
        if ss & SELECTOR_TI:
            # To an LDT stack segment Linux returns through the espfix64 stack, where a
            # faulting iret becomes a double fault the kernel reports as #GP(0).
            vector, error = X86_TRAP_GP, 0
        # The frame of the signal shows the selectors the `iret` could not load.
        m.far_return = (cs, ss)
        _set_trap_state(k.current, vector, error, k.current.cr2)
        # #GP is SIGSEGV; #NP and #SS are SIGBUS (arch/x86/kernel/traps.c), all SI_KERNEL.
        k.signals.force(SIGSEGV if vector == X86_TRAP_GP else SIGBUS, SI_KERNEL, 0,
                        software=True)
        m.stop()
        return
    if not user_64bit_mode(k, cs) and m.arch.bits == 64 and _is_32bit_stack(k, ss):
        sp &= 0xFFFFFFFF  # what a 64-bit CPU keeps of rsp for 32-bit code (measured)
    if m.arch.bits == 32 and cs == 0x33:
        k.note("sigreturn to cs 0x33 in an i386 process: Linux runs 64-bit code there; the "
               "model's 32-bit CPU for i386 processes runs it as 16-bit code")
    if (cs, ss) != (_seg(m, "cs"), _seg(m, "ss")):
        k.gdt.far_return(pc, sp, cs, ss)
        m.stop()


def _is_32bit_stack(k, ss: int) -> bool:
    d = k.gdt.descriptor_of(ss) or 0
    return bool((d >> 54) & 1)


def handler_segments(k, cs: int, ss: int) -> None:
    """The handler's cs and ss (set_rt_frame: __USER_CS and, in 64-bit code, the old ss if
    it was valid), loaded on the way to it when they differ from the CPU's."""
    m = k.machine
    m.far_return = None
    m.before_run = None
    if (cs, ss) != (_seg(m, "cs"), _seg(m, "ss")):
        k.gdt.far_return(m.pc, m.reg(R.RSP if m.arch.bits == 64 else R.ESP), cs, ss)

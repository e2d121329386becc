"""What the CPU exception behind a signal leaves in current->thread (trap_nr, error_code,
cr2) for the frame's sigcontext (arch/x86/kernel/traps.c; arch/x86/mm/fault.c:
set_signal_archinfo, sanitize_error_code)."""

from __future__ import annotations

from emu import registers as R
from emu.machine import PAGE, MemoryFault
from kernel_model.signals import delivery as signals
from kernel_model.signals.delivery import SIGSEGV
from kernel_model.signals.frame_layout import (
    TASK_SIZE_MAX,
    X86_PF_INSTR,
    X86_PF_PROT,
    X86_PF_USER,
    X86_PF_WRITE,
    X86_TRAP_BP,
    X86_TRAP_DB,
    X86_TRAP_DE,
    X86_TRAP_GP,
    X86_TRAP_MF,
    X86_TRAP_PF,
    X86_TRAP_UD,
)


def _record_trap(k, signo: int, code: int, addr: int, info: dict) -> None:
    """What the trap handlers of arch/x86/kernel/traps.c and mm/fault.c leave in
    current->thread before forcing the signal. Signals that no CPU exception raised (kill,
    a bad frame) leave the values of the last fault, as Linux does."""
    if info.get("software") or not info.get("synchronous", True):
        return
    task = k.current
    if signo == SIGSEGV and code in (signals.SEGV_MAPERR, signals.SEGV_ACCERR):
        # set_signal_archinfo(): trap 14, the #PF error code with the user bit, cr2
        error = _page_fault_error_code(k, code, addr)
        _set_trap_state(task, X86_TRAP_PF, error, addr)
        return
    trap = {signals.SIGFPE: X86_TRAP_DE if code == signals.FPE_INTDIV else X86_TRAP_MF,
            signals.SIGILL: X86_TRAP_UD,
            # int3 is #BP (do_int3_user); a single step (TRAP_TRACE) and icebp (TRAP_BRKPT)
            # are #DB, whose send_sigtrap sets trap_nr 1 and error code 0
            signals.SIGTRAP: X86_TRAP_BP if code == signals.SI_KERNEL else X86_TRAP_DB,
            SIGSEGV: X86_TRAP_GP}.get(signo)  # SI_KERNEL SIGSEGV: #GP(0), e.g. `hlt`
    if trap is not None:
        _set_trap_state(task, trap, 0, _trap_state(task)[2])


def _trap_state(task) -> tuple[int, int, int]:
    # Kept on the process as current->thread keeps them (not Process fields yet).
    return task.trap_nr, task.error_code, task.cr2


def _set_trap_state(task, trap_nr: int, error_code: int, cr2: int) -> None:
    task.trap_nr, task.error_code, task.cr2 = trap_nr, error_code, cr2


def _page_fault_error_code(k, code: int, addr: int) -> int:
    """The #PF error code the CPU pushed: present-but-forbidden (PROT), write, user (always:
    the fault came from user mode), instruction fetch. The machine layer does not say which
    access faulted, so the instruction at pc is decoded to tell."""
    m = k.machine
    pc = m.pc
    error = X86_PF_USER
    if code == signals.SEGV_ACCERR:
        error |= X86_PF_PROT
    if k.machine.arch.bits == 64 and addr >= TASK_SIZE_MAX:
        error |= X86_PF_PROT  # sanitize_error_code(): kernel addresses look protected
    if addr == pc:
        return error | X86_PF_INSTR
    if _instruction_writes(k, pc, addr):
        error |= X86_PF_WRITE
    return error


def _instruction_writes(k, pc: int, addr: int) -> bool:
    try:
        import capstone
        from capstone import x86 as cx
    except ImportError:  # pragma: no cover - capstone is a dependency
        return False
    m = k.machine
    try:
        code = m.read(pc, 15)
    except MemoryFault:
        try:
            code = m.read(pc, PAGE - (pc & (PAGE - 1)))
        except MemoryFault:
            return False
    mode = capstone.CS_MODE_64 if m.arch.bits == 64 else capstone.CS_MODE_32
    md = capstone.Cs(capstone.CS_ARCH_X86, mode)
    md.detail = True
    insn = next(md.disasm(code, pc, 1), None)
    if insn is None:
        return False
    mem = [op for op in insn.operands if op.type == cx.X86_OP_MEM]
    writes = [op for op in mem if op.access & capstone.CS_AC_WRITE]
    if insn.mnemonic.startswith(("push", "call")):
        return True  # the implicit store to the stack
    if not writes:
        return False
    if len(writes) < len(mem) and insn.mnemonic.startswith(("movs", "rep movs")):
        # movs reads [rsi] and writes [rdi]: which one faulted?
        dest = m.reg(R.RDI if m.arch.bits == 64 else R.EDI)
        return (dest & ~(PAGE - 1)) == (addr & ~(PAGE - 1))
    return True

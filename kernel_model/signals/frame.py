"""Signal frames, laid out byte for byte as Linux builds them (arch/x86/kernel/signal.c,
signal_64.c, signal_32.c; the structs of arch/x86/include/asm/sigframe.h and
include/uapi/asm/{sigcontext,ucontext,siginfo}.h), and the sigreturn that undoes them.

Delivering a signal to a handler means the kernel saves the interrupted context on the
user stack, points the CPU at the handler, and leaves a return address (`pretcode`) that
leads back into the kernel through rt_sigreturn (or i386's old sigreturn), which reloads
every register from the frame. The handler may edit the saved context: the program
continues wherever the frame says.

x86-64 (`struct rt_sigframe`, 440 bytes at rsp on handler entry):

    +0    pretcode         the SA_RESTORER trampoline (`mov eax, 15; syscall`)
    +8    struct ucontext  uc_flags, uc_link, uc_stack (24), uc_mcontext (sigcontext_64,
                           256), uc_sigmask (8)                              = 304 bytes
    +312  struct siginfo   128 bytes

i386 (the frames of signal_32.c, as a 64-bit kernel builds them for 32-bit processes):

    struct rt_sigframe_ia32 (SA_SIGINFO), 268 bytes:
    +0 pretcode  +4 sig  +8 pinfo  +12 puc  +16 siginfo (128)  +144 ucontext_ia32 (116)
    +260 retcode[8]
    struct sigframe_ia32 (no SA_SIGINFO), 732 bytes:
    +0 pretcode  +4 sig  +8 sigcontext_32 (88)  +96 fpstate_unused (624)  +720 extramask
    +724 retcode[8]

Simplifications, each said where it happens: no FPU/SSE state is saved (fpstate is 0, and
no xsave area is reserved below the frame), and sigreturn leaves cs/ss as they are.
"""

from __future__ import annotations

import struct
from dataclasses import replace

from unicorn import UcError
from unicorn import x86_const as X

from emu.machine import PAGE, PROT_READ, PROT_WRITE, MemoryFault
from kernel_model.signals import delivery as signals
from kernel_model.signals.delivery import SI_KERNEL, SIG_DFL, SIGKILL, SIGSEGV, SIGSTOP

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

_REGS_64 = tuple(getattr(X, f"UC_X86_REG_{n.upper()}") for n in SC64_FIELDS[:18])
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

_SEGS = {"gs": X.UC_X86_REG_GS, "fs": X.UC_X86_REG_FS, "es": X.UC_X86_REG_ES,
         "ds": X.UC_X86_REG_DS, "cs": X.UC_X86_REG_CS, "ss": X.UC_X86_REG_SS}
_GPRS_32 = ("edi", "esi", "ebp", "esp", "ebx", "edx", "ecx", "eax", "eip")
_REGS_32 = tuple(getattr(X, f"UC_X86_REG_{n.upper()}") for n in _GPRS_32) + (
    X.UC_X86_REG_EFLAGS,)
# The same registers of a 64-bit CPU, for a 64-bit process that enters through `int 0x80`
# (compat sigreturn): their low halves are what the i386 frame holds.
_REGS_32_ON_64 = tuple(getattr(X, f"UC_X86_REG_R{n[1:].upper()}") for n in _GPRS_32) + (
    X.UC_X86_REG_EFLAGS,)


class BadFrame(Exception):
    """The frame could not be written or read: the process gets SIGSEGV."""


# -- delivery ------------------------------------------------------------------------------
def setup_frame(k, signo: int, code: int, addr: int, action, info: dict) -> bool:
    """handle_signal(): build the frame for `signo` and enter the handler. Returns False
    (after forcing SIGSEGV, as force_sigsegv does) when the frame cannot be built."""
    process = k.process
    ka = replace(action)  # get_signal() hands handle_signal a copy of the disposition
    if ka.flags & SA_RESETHAND:  # SA_ONESHOT: the next one gets the default action
        process.sigactions[signo] = replace(action, handler=SIG_DFL)
    _record_trap(k, signo, code, addr, info)
    blocked = k.current.sigmask  # sigmask_to_save(): what sigreturn puts back
    try:
        if k.machine.arch.bits == 64:
            _setup_rt_frame_64(k, signo, code, addr, ka, info, blocked)
        elif ka.flags & SA_SIGINFO:
            _setup_rt_frame_ia32(k, signo, code, addr, ka, info, blocked)
        else:
            _setup_frame_ia32(k, signo, ka, blocked)
    except BadFrame:
        force_sigsegv(k, signo)
        return False
    # handle_signal: the handler starts with DF clear (the ABI) and RF, TF clear.
    m = k.machine
    m.set_reg(X.UC_X86_REG_EFLAGS, _eflags(m) & ~(EFLAGS_DF | EFLAGS_RF | EFLAGS_TF))
    # signal_delivered(): block sa_mask, and the signal itself unless SA_NODEFER.
    mask = blocked | ka.mask
    if not ka.flags & SA_NODEFER:
        mask |= 1 << (signo - 1)
    k.current.sigmask = mask & ~UNBLOCKABLE
    return True


def force_sigsegv(k, signo: int) -> None:
    """kernel/signal.c force_sigsegv(): a handler whose frame cannot be built. If that
    signal was SIGSEGV itself, the handler is dropped so the next SIGSEGV kills."""
    process = k.process
    if signo == SIGSEGV:
        act = process.sigactions.get(SIGSEGV)
        if act is not None:
            process.sigactions[SIGSEGV] = replace(act, handler=SIG_DFL)
    k.signals.force(SIGSEGV, SI_KERNEL, 0, software=True)


def _setup_rt_frame_64(k, signo, code, addr, ka, info, blocked) -> None:
    """x64_setup_rt_frame()."""
    m = k.machine
    task = k.current
    if not ka.flags & SA_RESTORER:
        # "x86-64 should always use SA_RESTORER": there is no stub to return through.
        raise BadFrame("no SA_RESTORER")
    regs = dict(zip(SC64_FIELDS[:18], m.regs(_REGS_64), strict=True))
    sp = regs["rsp"]
    frame = _get_sigframe(task, ka, sp, RT_SIGFRAME_64_SIZE, ia32=False)
    trap_nr, error_code, cr2 = _trap_state(task)
    regs["eflags"] &= 0xFFFFFFFF
    sc = dict(regs, cs=_seg(m, "cs"), gs=0, fs=0, ss=_seg(m, "ss"),
              err=error_code, trapno=trap_nr, oldmask=blocked, cr2=cr2,
              fpstate=0)  # simplification: no FPU/SSE state is saved, so no fpstate
    ss_sp, ss_flags, ss_size = _saved_altstack(task)
    uc = (UC64_FLAGS_LINK.pack(UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS, 0)
          + STACK_T_64.pack(ss_sp, _s32(ss_flags), ss_size)
          + SIGCONTEXT_64.pack(*(sc[f] & _mask_of(f) for f in SC64_FIELDS))
          + struct.pack("<Q", blocked))
    try:
        _write_user(k, frame, struct.pack("<Q", ka.restorer) + uc)
    finally:
        _reset_altstack(task)
    if ka.flags & SA_SIGINFO:  # without it the info area is left as the stack was
        _write_user(k, frame + RT64_INFO, _siginfo(signo, code, addr, info, 64))
    m.set_regs((X.UC_X86_REG_RDI, X.UC_X86_REG_RAX, X.UC_X86_REG_RSI, X.UC_X86_REG_RDX,
                X.UC_X86_REG_RIP, X.UC_X86_REG_RSP),
               (signo, 0, frame + RT64_INFO, frame + RT64_UC, ka.handler, frame))


def _setup_rt_frame_ia32(k, signo, code, addr, ka, info, blocked) -> None:
    """ia32_setup_rt_frame()."""
    task = k.current
    regs = _regs_32(k)
    frame = _get_sigframe(task, ka, regs["esp"], RT_SIGFRAME_32_SIZE, ia32=True)
    if ka.flags & SA_RESTORER:
        restorer = ka.restorer
    else:
        # Linux 6.x points at the vDSO's __kernel_rt_sigreturn unconditionally; without a
        # vDSO (none mapped here yet) the frame's own retcode is the only code that does
        # the same, so it stands in: it runs only if the stack is executable.
        restorer = _vdso_symbol(k, "__kernel_rt_sigreturn")
        if restorer is None:
            restorer = frame + RT32_RETCODE
    ss_sp, ss_flags, ss_size = _saved_altstack(task)
    head = struct.pack("<IiII", restorer & 0xFFFFFFFF, signo, (frame + RT32_INFO) & 0xFFFFFFFF,
                       (frame + RT32_UC) & 0xFFFFFFFF)
    uc = (struct.pack("<II", UC_FP_XSTATE, 0)
          + STACK_T_32.pack(ss_sp & 0xFFFFFFFF, _s32(ss_flags), ss_size & 0xFFFFFFFF)
          + _sigcontext_32(k, regs, blocked & 0xFFFFFFFF)
          + struct.pack("<Q", blocked))
    try:
        _write_user(k, frame, head + _siginfo(signo, code, addr, info, 32) + uc
                    + RETCODE_RT)
    finally:
        _reset_altstack(task)
    _enter_ia32_handler(k, frame, ka.handler, signo, frame + RT32_INFO, frame + RT32_UC)


def _setup_frame_ia32(k, signo, ka, blocked) -> None:
    """ia32_setup_frame(): the pre-SA_SIGINFO frame, for `signal()`-style handlers."""
    task = k.current
    regs = _regs_32(k)
    frame = _get_sigframe(task, ka, regs["esp"], SIGFRAME_32_SIZE, ia32=True)
    if ka.flags & SA_RESTORER:
        restorer = ka.restorer
    else:
        restorer = _vdso_symbol(k, "__kernel_sigreturn")
        if restorer is None:
            restorer = frame + SF32_RETCODE  # Linux's own fallback when there is no vDSO
    # ptr_to_compat(): the 32-bit frame's pointers are truncated (a frame at the top of
    # the address space is refused when written, below).
    data = (struct.pack("<Ii", restorer & 0xFFFFFFFF, signo)
            + _sigcontext_32(k, regs, blocked & 0xFFFFFFFF)
            + bytes(FPSTATE_32_SIZE)  # fpstate_unused: kept so extramask stays at +720
            + struct.pack("<I", (blocked >> 32) & 0xFFFFFFFF)
            + RETCODE)
    _write_user(k, frame, data)
    _enter_ia32_handler(k, frame, ka.handler, signo, 0, 0)


def _enter_ia32_handler(k, frame, handler, signo, edx, ecx) -> None:
    """The regparm(3) entry: eax = sig, edx = &info, ecx = &uc (0 for the old frame);
    ds and es reloaded with __USER_DS; cs and ss are already __USER32_CS, __USER_DS."""
    m = k.machine
    for seg in ("ds", "es"):
        if _seg(m, seg) != USER_DS:
            _load_segment(k, seg, USER_DS)
    m.set_regs((X.UC_X86_REG_EAX, X.UC_X86_REG_EDX, X.UC_X86_REG_ECX, X.UC_X86_REG_EIP,
                X.UC_X86_REG_ESP), (signo, edx, ecx, handler, frame))


def _regs_32(k) -> dict[str, int]:
    vals = k.machine.regs(_REGS_32)
    return {n: v & 0xFFFFFFFF for n, v in zip(_GPRS_32 + ("eflags",), vals, strict=True)}


def _seg(m, name: str) -> int:
    # Unicorn writes only the selector's two bytes into the 8-byte read buffer: mask.
    return m.reg(_SEGS[name]) & 0xFFFF


def _eflags(m) -> int:
    return m.reg(X.UC_X86_REG_EFLAGS) & 0xFFFFFFFF


def _sigcontext_32(k, regs: dict[str, int], oldmask: int) -> bytes:
    """__unsafe_setup_sigcontext32()."""
    m = k.machine
    trap_nr, error_code, cr2 = _trap_state(k.current)
    sc = dict(regs, gs=_seg(m, "gs"), fs=_seg(m, "fs"), es=_seg(m, "es"), ds=_seg(m, "ds"),
              cs=_seg(m, "cs"), ss=_seg(m, "ss"),
              trapno=trap_nr, err=error_code, sp_at_signal=regs["esp"],
              fpstate=0,  # simplification: no FPU state saved
              oldmask=oldmask, cr2=cr2)
    return SIGCONTEXT_32.pack(*(sc[f] & 0xFFFFFFFF for f in SC32_FIELDS))


def _get_sigframe(task, ka, sp: int, size: int, *, ia32: bool) -> int:
    """get_sigframe(): below the red zone, or at the top of the alternate stack."""
    nested = on_sig_stack(task, sp)
    entering = False
    if not ia32:
        sp -= 128  # the red zone a leaf function may use below rsp
    if ka.flags & SA_ONSTACK and sas_ss_flags(task, sp) == 0:
        ss_sp, _flags, ss_size = task.altstack
        sp = ss_sp + ss_size
        entering = True
    # fpu__alloc_mathframe() would reserve the xsave area here: skipped (no FPU state).
    sp -= size
    if ia32:
        sp = ((sp + 4) & -16) - 4  # i386 ABI: (sp + 4) % 16 == 0 on function entry
    else:
        sp = (sp & -16) - 8  # as if called: (sp + 8) % 16 == 0
    if (nested or entering) and not _within_altstack(task, sp):
        raise BadFrame("overflowed sigaltstack")
    return sp & (0xFFFFFFFF if ia32 else 0xFFFFFFFFFFFFFFFF)


def _within_altstack(task, sp: int) -> bool:
    """__on_sig_stack()."""
    ss_sp, _flags, ss_size = task.altstack
    return sp > ss_sp and sp - ss_sp <= ss_size


def on_sig_stack(task, sp: int) -> bool:
    if task.altstack[1] & SS_AUTODISARM:
        return False
    return _within_altstack(task, sp)


def sas_ss_flags(task, sp: int) -> int:
    if not task.altstack[2]:
        return SS_DISABLE
    return SS_ONSTACK if on_sig_stack(task, sp) else 0


def _saved_altstack(task) -> tuple[int, int, int]:
    """unsafe_save_altstack(): the task's raw sas_ss_sp, sas_ss_flags, sas_ss_size. A task
    that never called sigaltstack has flags 0 there (sigaltstack() itself reports
    SS_DISABLE for it, computed from the zero size); task.altstack keeps what sigaltstack
    reports, so its initial (0, SS_DISABLE, 0) is saved as Linux has it: all zero. (An
    explicit SS_DISABLE, which Linux would save as 2, looks the same here.)"""
    if task.altstack == (0, SS_DISABLE, 0):
        return (0, 0, 0)
    return task.altstack


def _reset_altstack(task) -> None:
    """SS_AUTODISARM: the alternate stack is disabled while the handler runs on it (its
    saved copy in uc_stack comes back with rt_sigreturn)."""
    if task.altstack[1] & SS_AUTODISARM:
        task.altstack = (0, SS_DISABLE, 0)


def _siginfo(signo: int, code: int, addr: int, info: dict, bits: int) -> bytes:
    """copy_siginfo_to_user(): si_signo, si_errno, si_code, then the union (at +16 on
    x86-64, +12 on i386), the rest zero, 128 bytes in all."""
    code = _s32(code)
    if code <= 0:  # SI_USER, SI_TKILL, SI_QUEUE: sent by a process (kill, tgkill)
        fields = struct.pack("<iI", info.get("pid", 0), info.get("uid", 0) & 0xFFFFFFFF)
    elif code == SI_KERNEL:  # force_sig(): SEND_SIG_PRIV, pid and uid 0
        fields = b""
    elif signo in (signals.SIGILL, signals.SIGFPE, SIGSEGV, signals.SIGBUS,
                   signals.SIGTRAP):  # _sigfault: the faulting address
        fields = struct.pack("<Q" if bits == 64 else "<I", addr & ((1 << bits) - 1))
    else:
        fields = b""
    head = struct.pack("<iii4x" if bits == 64 else "<iii", signo, 0, code)
    return (head + fields).ljust(SIGINFO_SIZE, b"\0")


# -- the fault that caused the signal: thread.trap_nr, error_code, cr2 -----------------------
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
            signals.SIGTRAP: X86_TRAP_BP,  # int3; a #DB single step would be 1
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
        dest = m.reg(X.UC_X86_REG_RDI if m.arch.bits == 64 else X.UC_X86_REG_EDI)
        return (dest & ~(PAGE - 1)) == (addr & ~(PAGE - 1))
    return True


# -- sigreturn -----------------------------------------------------------------------------
def restore_frame(k, rt: bool) -> None:
    """sys_rt_sigreturn / sys_sigreturn: reload the context saved in the frame. Returns
    None: the syscall path must not write a result, since the frame holds the value rax
    (eax) had when the signal arrived; a bad frame means SIGSEGV (signal_fault)."""
    m = k.machine
    compat = k.abi.bits == 32  # i386 numbers: the ia32 frame layouts
    sp = m.reg(X.UC_X86_REG_RSP if m.arch.bits == 64 else X.UC_X86_REG_ESP)
    try:
        if not compat:
            _rt_sigreturn_64(k, sp)
        elif rt:
            _rt_sigreturn_ia32(k, sp)
        else:
            _sigreturn_ia32(k, sp)
    except BadFrame:
        _signal_fault(k)
        return None
    k.signals.mask_changed()  # the restored mask may let a pending signal through
    return None


def sigreturn_mask(k, rt: bool) -> int | None:
    """The signal mask the pending (rt_)sigreturn will restore, read from the frame without
    side effects (what strace shows as `rt_sigreturn({mask=[...]})`); None if unreadable.
    Call it on entry, before restore_frame moves the stack pointer."""
    m = k.machine
    sp = _current_sp(k)
    try:
        if k.abi.bits == 64:
            return struct.unpack("<Q", m.read(sp - 8 + RT64_UC + UC64_SIGMASK, 8))[0]
        if rt:
            return struct.unpack("<Q", m.read(((sp - 4) & _sp_mask(k)) + RT32_UC
                                              + UC32_SIGMASK, 8))[0]
        frame = (sp - 8) & _sp_mask(k)
        sc = dict(zip(SC32_FIELDS, SIGCONTEXT_32.unpack(m.read(frame + SF32_SC,
                                                               SIGCONTEXT_32.size)),
                      strict=True))
        (extramask,) = struct.unpack("<I", m.read(frame + SF32_EXTRAMASK, 4))
        return sc["oldmask"] | (extramask << 32)
    except MemoryFault:
        return None


def _signal_fault(k) -> None:
    """signal_fault(): force_sig(SIGSEGV); the syscall returns 0."""
    m = k.machine
    m.set_reg(X.UC_X86_REG_RAX if m.arch.bits == 64 else X.UC_X86_REG_EAX, 0)
    k.signals.force(SIGSEGV, SI_KERNEL, 0, software=True)
    m.stop()  # deliver it before the next user instruction


def _set_current_blocked(task, mask: int) -> None:
    task.sigmask = mask & ~UNBLOCKABLE


def _rt_sigreturn_64(k, sp: int) -> None:
    m = k.machine
    task = k.current
    frame = (sp - 8) & 0xFFFFFFFFFFFFFFFF  # the handler's `ret` popped pretcode
    uc = _read_user(k, frame + RT64_UC, UCONTEXT_64_SIZE)
    _uc_flags, _link = UC64_FLAGS_LINK.unpack_from(uc)
    (mask,) = struct.unpack_from("<Q", uc, UC64_SIGMASK)
    _set_current_blocked(task, mask)
    ss_sp, ss_flags, ss_size = STACK_T_64.unpack_from(uc, UC64_STACK)
    _restore_altstack(task, sp, ss_sp, ss_flags, ss_size)
    sc = dict(zip(SC64_FIELDS, SIGCONTEXT_64.unpack_from(uc, UC64_MCONTEXT), strict=True))
    flags = _eflags(m)
    flags = (flags & ~FIX_EFLAGS) | (sc["eflags"] & FIX_EFLAGS)
    # sc.cs | 3 and sc.ss | 3 would be reloaded too: left as they are (a simplification;
    # a handler that edits them to switch to 32-bit code is not modelled).
    m.set_regs(_REGS_64, [sc[f] for f in _GPRS_64] + [flags])
    _resume_at(k, sc["rip"])


def _rt_sigreturn_ia32(k, sp: int) -> None:
    task = k.current
    frame = (sp - 4) & _sp_mask(k)  # the handler's `ret` popped pretcode
    uc = _read_user(k, frame + RT32_UC, UCONTEXT_32_SIZE)
    (mask,) = struct.unpack_from("<Q", uc, UC32_SIGMASK)
    _set_current_blocked(task, mask)
    _restore_sigcontext_32(k, uc[UC32_MCONTEXT:UC32_SIGMASK])
    ss_sp, ss_flags, ss_size = STACK_T_32.unpack_from(uc, UC32_STACK)
    # compat_restore_altstack() runs after the registers are back: it checks the restored
    # sp against the current alternate stack.
    _restore_altstack(task, _current_sp(k), ss_sp, ss_flags, ss_size)


def _sigreturn_ia32(k, sp: int) -> None:
    task = k.current
    # The retcode's `pop eax` took sig off the stack before `int 0x80`: pretcode and sig.
    frame = (sp - 8) & _sp_mask(k)
    sc = _read_user(k, frame + SF32_SC, SIGCONTEXT_32.size)
    (extramask,) = struct.unpack("<I", _read_user(k, frame + SF32_EXTRAMASK, 4))
    oldmask = dict(zip(SC32_FIELDS, SIGCONTEXT_32.unpack(sc), strict=True))["oldmask"]
    _set_current_blocked(task, oldmask | (extramask << 32))
    _restore_sigcontext_32(k, sc)


def _restore_sigcontext_32(k, data: bytes) -> None:
    """ia32_restore_sigcontext(): the eight general registers, eip, the user flags, and
    the data segments if the handler changed them (reload_segments)."""
    m = k.machine
    sc = dict(zip(SC32_FIELDS, SIGCONTEXT_32.unpack(data), strict=True))
    flags = _eflags(m)
    flags = (flags & ~FIX_EFLAGS) | (sc["eflags"] & FIX_EFLAGS)
    regs = _REGS_32 if m.arch.bits == 32 else _REGS_32_ON_64
    m.set_regs(regs, [sc[n] for n in _GPRS_32] + [flags])
    _resume_at(k, sc["eip"])
    if m.arch.bits == 32:
        for seg in ("gs", "fs", "ds", "es"):
            sel = _fixup_rpl(sc[seg] & 0xFFFF)
            if sel != _seg(m, seg):
                _load_segment(k, seg, sel)
    # cs | 3 and ss | 3: left as they are (see _rt_sigreturn_64).


def _resume_at(k, pc: int) -> None:
    """Continue at `pc` when the trap returns. sigreturn runs inside Unicorn's hook for the
    trap instruction, where setting the pc needs the kernel's entry-path-specific fix-up
    (Unicorn advances it past `syscall` and `sysenter` after their hooks)."""
    k.resume_at(pc)


def _fixup_rpl(sel: int) -> int:
    """Null selectors 0..3 stay as they are; others get RPL 3."""
    return sel if sel <= 3 else sel | 3


def _load_segment(k, seg: str, sel: int) -> None:
    """loadsegment(): a selector the CPU refuses loads as null instead (the kernel's
    exception fixup). The descriptor reads are the kernel's own (Gdt.kernel_access)."""
    m = k.machine
    with k.gdt.kernel_access():
        try:
            m.uc.reg_write(_SEGS[seg], sel)
        except UcError:
            m.uc.reg_write(_SEGS[seg], 0)


def _restore_altstack(task, sp: int, ss_sp: int, ss_flags: int, ss_size: int) -> None:
    """restore_altstack() -> do_sigaltstack(uss, NULL, sp, MINSIGSTKSZ), every error but
    EFAULT ignored: refused while running on the alternate stack, on bad flags, or when
    too small."""
    if on_sig_stack(task, sp):
        return  # -EPERM
    ss_flags &= 0xFFFFFFFF
    mode = ss_flags & ~SS_AUTODISARM
    if mode not in (0, SS_ONSTACK, SS_DISABLE):
        return  # -EINVAL
    if mode == SS_DISABLE:
        ss_sp, ss_size = 0, 0
    elif ss_size < MINSIGSTKSZ:
        return  # -ENOMEM
    task.altstack = (ss_sp, ss_flags, ss_size)


def _current_sp(k) -> int:
    m = k.machine
    return m.reg(X.UC_X86_REG_RSP if m.arch.bits == 64 else X.UC_X86_REG_ESP)


def _sp_mask(k) -> int:
    return 0xFFFFFFFFFFFFFFFF if k.machine.arch.bits == 64 else 0xFFFFFFFF


# -- user memory ---------------------------------------------------------------------------
def _write_user(k, addr: int, data: bytes) -> None:
    """The frame is written as the process: a page missing just below the stack grows it
    (as a fault in the kernel's copy would), anything else unwritable is a bad frame."""
    mm = k.process.mm
    if not mm.is_accessible(addr, len(data), PROT_WRITE):
        grow = getattr(k, "grow_stack", None)
        if grow is not None:
            grow(addr)
    if not mm.is_accessible(addr, len(data), PROT_WRITE):
        raise BadFrame(f"cannot write the frame at {addr:#x}")
    try:
        k.machine.write(addr, data)
    except MemoryFault:
        raise BadFrame(f"cannot write the frame at {addr:#x}") from None


def _read_user(k, addr: int, size: int) -> bytes:
    """Read through the kernel (copy_from_user), so a trace records what sigreturn read."""
    from kernel_model.kernel import GuestFault

    if not k.process.mm.is_accessible(addr, size, PROT_READ):
        raise BadFrame(f"cannot read the frame at {addr:#x}")
    try:
        return k.read(addr, size)
    except GuestFault:
        raise BadFrame(f"cannot read the frame at {addr:#x}") from None


def _vdso_symbol(k, name: str) -> int | None:
    """The address of a vDSO export, when the kernel model has mapped a vDSO that has it
    (kernel.vdso_symbols: name -> address)."""
    symbols = getattr(k, "vdso_symbols", None) or {}
    return symbols.get(name)


def _s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >> 31 else value


def _mask_of(field: str) -> int:
    return 0xFFFF if field in ("cs", "gs", "fs", "ss") else 0xFFFFFFFFFFFFFFFF

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

Below the frame, 64-byte aligned, the FPU/SSE state in the XSAVE layout (and, for i386, the
old fsave header before it), which uc_mcontext.fpstate points at: frame_fpu draws it.

cs and ss: kernel_model/signals/segments.py.

This module builds the frames and is the one the rest of the kernel calls; beside it:
frame_layout (the structs and constants), frame_access (user memory and registers),
altstack (sigaltstack as frames see it), trap_info (the fault behind the signal), and
sigreturn (undoing a frame), whose entry points are re-exported here.
"""

from __future__ import annotations

import struct
from dataclasses import replace

from emu import registers as R
from kernel_model.signals import delivery as signals
from kernel_model.signals import frame_fpu
from kernel_model.signals.altstack import (
    _reset_altstack,
    _saved_altstack,
    _within_altstack,
    on_sig_stack,
    sas_ss_flags,
)
from kernel_model.signals.delivery import SI_KERNEL, SIG_DFL, SIGSEGV
from kernel_model.signals.frame_access import (
    _eflags,
    _load_segment,
    _mask_of,
    _regs_32,
    _s32,
    _seg,
    _vdso_symbol,
    _write_user,
)
from kernel_model.signals.frame_layout import (
    _REGS_64,
    EFLAGS_DF,
    EFLAGS_RF,
    EFLAGS_TF,
    FPSTATE_32_SIZE,
    RETCODE,
    RETCODE_RT,
    RT32_INFO,
    RT32_RETCODE,
    RT32_UC,
    RT64_INFO,
    RT64_UC,
    RT_SIGFRAME_32_SIZE,
    RT_SIGFRAME_64_SIZE,
    SA_NODEFER,
    SA_ONSTACK,
    SA_RESETHAND,
    SA_RESTORER,
    SA_SIGINFO,
    SC32_FIELDS,
    SC64_FIELDS,
    SF32_RETCODE,
    SIGCONTEXT_32,
    SIGCONTEXT_64,
    SIGFRAME_32_SIZE,
    SIGINFO_SIZE,
    STACK_T_32,
    STACK_T_64,
    UC64_FLAGS_LINK,
    UC_FP_XSTATE,
    UC_SIGCONTEXT_SS,
    UC_STRICT_RESTORE_SS,
    UNBLOCKABLE,
    USER32_CS,
    USER_CS,
    USER_DS,
    BadFrame,
)
from kernel_model.signals.segments import force_valid_ss, handler_segments, user_64bit_mode
from kernel_model.signals.sigreturn import restore_frame, sigreturn_mask
from kernel_model.signals.trap_info import _record_trap, _trap_state

__all__ = ["force_sigsegv", "on_sig_stack", "restore_frame", "sas_ss_flags", "setup_frame",
           "sigreturn_mask"]


def setup_frame(k, signo: int, code: int, addr: int, action, info: dict) -> bool:
    """handle_signal(): build the frame for `signo` and enter the handler. Returns False
    (after forcing SIGSEGV, as force_sigsegv does) when the frame cannot be built."""
    process = k.process
    ka = replace(action)  # get_signal() hands handle_signal a copy of the disposition
    if ka.flags & SA_RESETHAND:  # SA_ONESHOT: the next one gets the default action
        process.sigactions[signo] = replace(action, handler=SIG_DFL)
    _record_trap(k, signo, code, addr, info)
    task = k.current
    # sigmask_to_save(): what sigreturn puts back; the mask from before a sigsuspend or a
    # ppoll when one of those waited with its own. The handler's mask starts from the one
    # in force (the temporary one), as signal_delivered() takes current->blocked.
    blocked = task.sigmask if task.saved_sigmask is None else task.saved_sigmask
    in_force = task.sigmask
    task.saved_sigmask = None
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
    # handle_signal: the handler starts with a clean FPU; sigreturn brings the saved back.
    frame_fpu.clear_user_states(k.machine)
    # handle_signal: the handler starts with DF clear (the ABI) and RF, TF clear.
    m = k.machine
    m.set_reg(R.EFLAGS, _eflags(m) & ~(EFLAGS_DF | EFLAGS_RF | EFLAGS_TF))
    # signal_delivered(): block sa_mask, and the signal itself unless SA_NODEFER.
    mask = in_force | ka.mask
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
    frame, fpstate = _get_sigframe(k, ka, sp, RT_SIGFRAME_64_SIZE, ia32=False)
    trap_nr, error_code, cr2 = _trap_state(task)
    regs["eflags"] &= 0xFFFFFFFF
    sc = dict(regs, cs=_seg(m, "cs"), gs=0, fs=0, ss=_seg(m, "ss"),
              err=error_code, trapno=trap_nr, oldmask=blocked, cr2=cr2,
              fpstate=fpstate)
    ss_sp, ss_flags, ss_size = _saved_altstack(task)
    strict = UC_STRICT_RESTORE_SS if user_64bit_mode(k) else 0  # frame_uc_flags()
    uc = (UC64_FLAGS_LINK.pack(UC_FP_XSTATE | UC_SIGCONTEXT_SS | strict, 0)
          + STACK_T_64.pack(ss_sp, _s32(ss_flags), ss_size)
          + SIGCONTEXT_64.pack(*(sc[f] & _mask_of(f) for f in SC64_FIELDS))
          + struct.pack("<Q", blocked))
    try:
        _write_user(k, frame, struct.pack("<Q", ka.restorer) + uc)
    finally:
        _reset_altstack(task)
    if ka.flags & SA_SIGINFO:  # without it the info area is left as the stack was
        _write_user(k, frame + RT64_INFO, _siginfo(signo, code, addr, info, 64))
    m.set_regs((R.RDI, R.RAX, R.RSI, R.RDX,
                R.RIP, R.RSP),
               (signo, 0, frame + RT64_INFO, frame + RT64_UC, ka.handler, frame))
    # The handler runs in 64-bit mode whatever was interrupted; ss stays if it is valid.
    ss = sc["ss"]
    handler_segments(k, USER_CS, ss if ss == USER_DS else force_valid_ss(k, ss))


def _setup_rt_frame_ia32(k, signo, code, addr, ka, info, blocked) -> None:
    """ia32_setup_rt_frame()."""
    task = k.current
    regs = _regs_32(k)
    frame, fpstate = _get_sigframe(k, ka, regs["esp"], RT_SIGFRAME_32_SIZE, ia32=True)
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
          + _sigcontext_32(k, regs, blocked & 0xFFFFFFFF, fpstate)
          + struct.pack("<Q", blocked))
    try:
        _write_user(k, frame, head + _siginfo(signo, code, addr, info, 32) + uc
                    + RETCODE_RT)
    finally:
        _reset_altstack(task)
    _enter_ia32_handler(k, frame, ka.handler, signo, frame + RT32_INFO, frame + RT32_UC)


def _setup_frame_ia32(k, signo, ka, blocked) -> None:
    """ia32_setup_frame(): the pre-SA_SIGINFO frame, for `signal()`-style handlers."""
    regs = _regs_32(k)
    frame, fpstate = _get_sigframe(k, ka, regs["esp"], SIGFRAME_32_SIZE, ia32=True)
    if ka.flags & SA_RESTORER:
        restorer = ka.restorer
    else:
        restorer = _vdso_symbol(k, "__kernel_sigreturn")
        if restorer is None:
            restorer = frame + SF32_RETCODE  # Linux's own fallback when there is no vDSO
    # ptr_to_compat(): the 32-bit frame's pointers are truncated (a frame at the top of
    # the address space is refused when written, below).
    data = (struct.pack("<Ii", restorer & 0xFFFFFFFF, signo)
            + _sigcontext_32(k, regs, blocked & 0xFFFFFFFF, fpstate)
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
    m.set_regs((R.EAX, R.EDX, R.ECX, R.EIP,
                R.ESP), (signo, edx, ecx, handler, frame))
    handler_segments(k, USER32_CS, USER_DS)


def _sigcontext_32(k, regs: dict[str, int], oldmask: int, fpstate: int) -> bytes:
    """__unsafe_setup_sigcontext32()."""
    m = k.machine
    trap_nr, error_code, cr2 = _trap_state(k.current)
    sc = dict(regs, gs=_seg(m, "gs"), fs=_seg(m, "fs"), es=_seg(m, "es"), ds=_seg(m, "ds"),
              cs=_seg(m, "cs"), ss=_seg(m, "ss"),
              trapno=trap_nr, err=error_code, sp_at_signal=regs["esp"],
              fpstate=fpstate,
              oldmask=oldmask, cr2=cr2)
    return SIGCONTEXT_32.pack(*(sc[f] & 0xFFFFFFFF for f in SC32_FIELDS))


def _get_sigframe(k, ka, sp: int, size: int, *, ia32: bool) -> tuple[int, int]:
    """get_sigframe(): below the red zone, or at the top of the alternate stack, below the
    FPU state, which it writes. Returns the frame's address and the FPU state's."""
    task = k.current
    nested = on_sig_stack(task, sp)
    entering = False
    if not ia32:
        sp -= 128  # the red zone a leaf function may use below rsp
    if ka.flags & SA_ONSTACK and sas_ss_flags(task, sp) == 0:
        ss_sp, _flags, ss_size = task.altstack
        sp = ss_sp + ss_size
        entering = True
    sp, _buf_fx = frame_fpu.alloc_mathframe(sp, ia32=ia32)
    fpstate = sp & (0xFFFFFFFF if ia32 else 0xFFFFFFFFFFFFFFFF)
    sp -= size
    if ia32:
        sp = ((sp + 4) & -16) - 4  # i386 ABI: (sp + 4) % 16 == 0 on function entry
    else:
        sp = (sp & -16) - 8  # as if called: (sp + 8) % 16 == 0
    if (nested or entering) and not _within_altstack(task, sp):
        raise BadFrame("overflowed sigaltstack")
    m = k.machine
    segs = {"cs": _seg(m, "cs"), "ds": _seg(m, "ds")} if ia32 else {}
    _write_user(k, fpstate, frame_fpu.fpstate_image(m, ia32=ia32, **segs))
    return sp & (0xFFFFFFFF if ia32 else 0xFFFFFFFFFFFFFFFF), fpstate


def _siginfo(signo: int, code: int, addr: int, info: dict, bits: int) -> bytes:
    """copy_siginfo_to_user(): si_signo, si_errno, si_code, then the union (at +16 on
    x86-64, +12 on i386), the rest zero, 128 bytes in all."""
    code = _s32(code)
    if code <= 0:  # SI_USER, SI_TKILL, SI_QUEUE: sent by a process (kill, tgkill)
        fields = struct.pack("<iI", info.get("pid", 0), info.get("uid", 0) & 0xFFFFFFFF)
    elif code == SI_KERNEL:  # force_sig(): SEND_SIG_PRIV, pid and uid 0
        fields = b""
    elif signo == signals.SIGCHLD:  # _sigchld: who, and its exit code or signal
        fields = struct.pack("<iIi4xqq" if bits == 64 else "<iIiii", info.get("pid", 0),
                             info.get("uid", 0) & 0xFFFFFFFF, info.get("status", 0) or 0,
                             info.get("utime", 0) or 0, info.get("stime", 0) or 0)
    elif signo in (signals.SIGILL, signals.SIGFPE, SIGSEGV, signals.SIGBUS,
                   signals.SIGTRAP):  # _sigfault: the faulting address
        fields = struct.pack("<Q" if bits == 64 else "<I", addr & ((1 << bits) - 1))
    else:
        fields = b""
    head = struct.pack("<iii4x" if bits == 64 else "<iii", signo, 0, code)
    return (head + fields).ljust(SIGINFO_SIZE, b"\0")

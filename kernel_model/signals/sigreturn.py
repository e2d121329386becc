"""sigreturn: reloading the context a signal frame saved, for x86-64's rt_sigreturn and
i386's rt_sigreturn and sigreturn (arch/x86/kernel/signal_64.c, signal_32.c), and the mask
the pending one will restore, for the trace."""

from __future__ import annotations

import struct

from emu import registers as R
from emu.machine import MemoryFault
from kernel_model.signals import frame_fpu
from kernel_model.signals.altstack import _restore_altstack
from kernel_model.signals.delivery import SI_KERNEL, SIGSEGV
from kernel_model.signals.frame_access import (
    _current_sp,
    _eflags,
    _fixup_rpl,
    _load_segment,
    _read_user,
    _resume_at,
    _seg,
    _sp_mask,
)
from kernel_model.signals.frame_layout import (
    _GPRS_32,
    _GPRS_64,
    _REGS_32,
    _REGS_32_ON_64,
    _REGS_64,
    FIX_EFLAGS,
    RT32_UC,
    RT64_UC,
    SC32_FIELDS,
    SC64_FIELDS,
    SF32_EXTRAMASK,
    SF32_SC,
    SIGCONTEXT_32,
    SIGCONTEXT_64,
    STACK_T_32,
    STACK_T_64,
    UC32_MCONTEXT,
    UC32_SIGMASK,
    UC32_STACK,
    UC64_FLAGS_LINK,
    UC64_MCONTEXT,
    UC64_SIGMASK,
    UC64_STACK,
    UC_STRICT_RESTORE_SS,
    UCONTEXT_32_SIZE,
    UCONTEXT_64_SIZE,
    UNBLOCKABLE,
    BadFrame,
)
from kernel_model.signals.segments import (
    force_valid_ss,
    sigreturn_segments,
    user_64bit_mode,
)


def restore_frame(k, rt: bool) -> None:
    """sys_rt_sigreturn / sys_sigreturn: reload the context saved in the frame. Returns
    None: the syscall path must not write a result, since the frame holds the value rax
    (eax) had when the signal arrived; a bad frame means SIGSEGV (signal_fault)."""
    m = k.machine
    compat = k.abi.bits == 32  # i386 numbers: the ia32 frame layouts
    sp = m.reg(R.RSP if m.arch.bits == 64 else R.ESP)
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
    m.set_reg(R.RAX if m.arch.bits == 64 else R.EAX, 0)
    k.signals.force(SIGSEGV, SI_KERNEL, 0, software=True)
    m.stop()  # deliver it before the next user instruction


def _set_current_blocked(task, mask: int) -> None:
    task.sigmask = mask & ~UNBLOCKABLE


def _rt_sigreturn_64(k, sp: int) -> None:
    m = k.machine
    task = k.current
    frame = (sp - 8) & 0xFFFFFFFFFFFFFFFF  # the handler's `ret` popped pretcode
    uc = _read_user(k, frame + RT64_UC, UCONTEXT_64_SIZE)
    uc_flags, _link = UC64_FLAGS_LINK.unpack_from(uc)
    (mask,) = struct.unpack_from("<Q", uc, UC64_SIGMASK)
    _set_current_blocked(task, mask)
    ss_sp, ss_flags, ss_size = STACK_T_64.unpack_from(uc, UC64_STACK)
    _restore_altstack(task, sp, ss_sp, ss_flags, ss_size)
    sc = dict(zip(SC64_FIELDS, SIGCONTEXT_64.unpack_from(uc, UC64_MCONTEXT), strict=True))
    flags = _eflags(m)
    flags = (flags & ~FIX_EFLAGS) | (sc["eflags"] & FIX_EFLAGS)
    m.set_regs(_REGS_64, [sc[f] for f in _GPRS_64] + [flags])
    _resume_at(k, sc["rip"])
    cs, ss = sc["cs"] | 3, sc["ss"] | 3
    if not uc_flags & UC_STRICT_RESTORE_SS and user_64bit_mode(k, cs):
        ss = force_valid_ss(k, ss)
    sigreturn_segments(k, sc["rip"], sc["rsp"], cs, ss)
    frame_fpu.restore(k, sc["fpstate"], ia32=False, read_user=_read_user)


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
    sigreturn_segments(k, sc["eip"], sc["esp"], sc["cs"], sc["ss"])
    frame_fpu.restore(k, sc["fpstate"], ia32=True, read_user=_read_user)

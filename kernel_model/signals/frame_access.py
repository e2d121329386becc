"""How the frame code reaches the process: user memory read and written as the kernel's
copy_to_user/copy_from_user would (a bad access is a BadFrame), segment and flag
registers, the stack pointer, resuming at a new pc, and vDSO symbols."""

from __future__ import annotations

from emu import registers as R
from emu.faults import MachineError
from emu.machine import PROT_READ, PROT_WRITE, MemoryFault
from kernel_model.signals.frame_layout import _GPRS_32, _REGS_32, _SEGS, BadFrame


def _regs_32(k) -> dict[str, int]:
    vals = k.machine.regs(_REGS_32)
    return {n: v & 0xFFFFFFFF for n, v in zip(_GPRS_32 + ("eflags",), vals, strict=True)}


def _seg(m, name: str) -> int:
    # cs and ss as the return to user mode will load them (pt_regs), when it is pending.
    pending = m.far_return
    if pending is not None and name in ("cs", "ss"):
        return pending[0] if name == "cs" else pending[1]
    # Unicorn writes only the selector's two bytes into the 8-byte read buffer: mask.
    return m.reg(_SEGS[name]) & 0xFFFF


def _eflags(m) -> int:
    return m.reg(R.EFLAGS) & 0xFFFFFFFF


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
        except MachineError:
            m.uc.reg_write(_SEGS[seg], 0)


def _current_sp(k) -> int:
    m = k.machine
    return m.reg(R.RSP if m.arch.bits == 64 else R.ESP)


def _sp_mask(k) -> int:
    return 0xFFFFFFFFFFFFFFFF if k.machine.arch.bits == 64 else 0xFFFFFFFF


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
    (the process's vdso_symbols: name -> address)."""
    return k.process.vdso_symbols.get(name)


def _s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >> 31 else value


def _mask_of(field: str) -> int:
    return 0xFFFF if field in ("cs", "gs", "fs", "ss") else 0xFFFFFFFFFFFFFFFF

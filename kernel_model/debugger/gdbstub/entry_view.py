"""The registers gdb sees at a syscall-entry stop, as Linux's ptrace shows them.

The stepping engine stops *before* the trap instruction (nothing has entered the kernel
yet, so going forward runs it once). On Linux the tracee is already inside the kernel at
that stop: pt_regs holds the return address, orig_rax the number and rax -ENOSYS, and the
entry instruction has done what it does (docs/kernel_facts.md §20):

- `syscall`: rip and rcx the next instruction, r11 the flags;
- `int 0x80` (also from 64-bit code): eip the next instruction;
- `sysenter` through __kernel_vsyscall: eip the landing pad after its `int $0x80` (where
  the return stop is too), ebp the caller's ebp read from the user stack (the kernel takes
  the sixth argument from there), esp unchanged.

Every other register is the one the trap reads, so gdb changing an argument (rdi, ...) or
orig_rax (the number) at this stop changes the call, as on Linux."""

from __future__ import annotations

ENOSYS = 38


def entry_registers(session, nr: int) -> dict[str, int]:
    """Overrides of the session's registers (names as in tdesc.LAYOUTS, "orig" for
    orig_rax/orig_eax) at a syscall-entry stop before the trap at pc; empty when pc
    is not at a trap."""
    up = session.upcoming()
    insn = session.insn_at(session.machine.pc)
    if up is None or insn is None or insn.kind != up[0]:
        return {}
    regs = session.regs()
    wide = session.bits == 64
    pc_name, ax = ("rip", "rax") if wide else ("eip", "eax")
    after = insn.address + insn.size
    mask = (1 << session.bits) - 1
    out = {ax: -ENOSYS & mask, "orig": nr}
    if up[0] == "sysenter":
        pad = getattr(session.kernel, "sysenter_landing_pad", None)
        out[pc_name] = pad if pad is not None else after
        try:
            out["ebp"] = session.machine.read_u32(regs["esp"])
        except Exception:  # the kernel reads 0 when the stack word is not there
            out["ebp"] = 0
    else:
        out[pc_name] = after
    if up[0] == "syscall" and wide:
        out["rcx"] = after
        out["r11"] = regs.get("eflags", 0)
    return out


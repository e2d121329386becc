"""x86 register ids by name: the vocabulary the kernel model uses to read and write guest
registers through `Machine.reg`/`regs`/`set_regs`, so that only emu/ speaks Unicorn.

The ids are Unicorn's own numbers (plain ints: the hot syscall path passes them straight
to the C library), named as Linux and the Intel manuals name the registers.
"""

from __future__ import annotations

from unicorn import x86_const as _X

# 64-bit general registers and the instruction pointer
RAX, RBX, RCX, RDX = _X.UC_X86_REG_RAX, _X.UC_X86_REG_RBX, _X.UC_X86_REG_RCX, _X.UC_X86_REG_RDX
RSI, RDI, RBP, RSP = _X.UC_X86_REG_RSI, _X.UC_X86_REG_RDI, _X.UC_X86_REG_RBP, _X.UC_X86_REG_RSP
R8, R9, R10, R11 = _X.UC_X86_REG_R8, _X.UC_X86_REG_R9, _X.UC_X86_REG_R10, _X.UC_X86_REG_R11
R12, R13, R14, R15 = _X.UC_X86_REG_R12, _X.UC_X86_REG_R13, _X.UC_X86_REG_R14, _X.UC_X86_REG_R15
RIP = _X.UC_X86_REG_RIP

# their 32-bit halves (the i386 registers)
EAX, EBX, ECX, EDX = _X.UC_X86_REG_EAX, _X.UC_X86_REG_EBX, _X.UC_X86_REG_ECX, _X.UC_X86_REG_EDX
ESI, EDI, EBP, ESP = _X.UC_X86_REG_ESI, _X.UC_X86_REG_EDI, _X.UC_X86_REG_EBP, _X.UC_X86_REG_ESP
EIP = _X.UC_X86_REG_EIP

EFLAGS = _X.UC_X86_REG_EFLAGS

# segment selectors, the fs/gs bases (arch_prctl) and the descriptor table register
CS, DS, ES, FS, GS, SS = (_X.UC_X86_REG_CS, _X.UC_X86_REG_DS, _X.UC_X86_REG_ES,
                          _X.UC_X86_REG_FS, _X.UC_X86_REG_GS, _X.UC_X86_REG_SS)
FS_BASE, GS_BASE = _X.UC_X86_REG_FS_BASE, _X.UC_X86_REG_GS_BASE
GDTR = _X.UC_X86_REG_GDTR
CR0 = _X.UC_X86_REG_CR0

# Every register name a user or a handler may ask for ("rax", "eflags", "xmm0"...).
REG_IDS: dict[str, int] = {
    name[len("UC_X86_REG_"):].lower(): value
    for name, value in vars(_X).items()
    if name.startswith("UC_X86_REG_") and isinstance(value, int)
}


def reg_id(name: str) -> int:
    """The id of the register called `name` (any case): KeyError for no such register."""
    return REG_IDS[name.lower()]

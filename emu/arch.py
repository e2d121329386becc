"""The two guest architectures and what differs between them."""

from __future__ import annotations

import unicorn
from unicorn import x86_const as X

from emu.records import Record
from emu.registers import REG_IDS


class Arch(Record):
    _fields = (
        "name", "bits", "uc_mode", "elf_machine", "elf_class", "pc_reg", "sp_reg", "platform",
        "gprs",
    )
    name: str  # "x86_64" or "i386", as `uname -m`-style names used on the command line
    bits: int
    uc_mode: int
    elf_machine: str  # pyelftools' e_machine name
    elf_class: int
    pc_reg: int
    sp_reg: int
    platform: str  # AT_PLATFORM string
    # register names in display order, with their Unicorn ids
    gprs: tuple[tuple[str, int], ...]

    def __init__(
            self, name: str, bits: int, uc_mode: int, elf_machine: str, elf_class: int,
            pc_reg: int, sp_reg: int, platform: str, gprs: tuple[tuple[str, int], ...],
    ) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "bits", bits)
        object.__setattr__(self, "uc_mode", uc_mode)
        object.__setattr__(self, "elf_machine", elf_machine)
        object.__setattr__(self, "elf_class", elf_class)
        object.__setattr__(self, "pc_reg", pc_reg)
        object.__setattr__(self, "sp_reg", sp_reg)
        object.__setattr__(self, "platform", platform)
        object.__setattr__(self, "gprs", gprs)

    @property
    def word(self) -> int:
        return self.bits // 8

    @property
    def mask(self) -> int:
        return (1 << self.bits) - 1

    @property
    def pc_name(self) -> str:
        return "rip" if self.bits == 64 else "eip"

    @property
    def sp_name(self) -> str:
        return "rsp" if self.bits == 64 else "esp"


X86_64 = Arch(
    name="x86_64",
    bits=64,
    uc_mode=unicorn.UC_MODE_64,
    elf_machine="EM_X86_64",
    elf_class=64,
    pc_reg=X.UC_X86_REG_RIP,
    sp_reg=X.UC_X86_REG_RSP,
    platform="x86_64",
    gprs=tuple(
        (n, REG_IDS[n])
        for n in (
            "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
            "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip",
        )
    ),
)

I386 = Arch(
    name="i386",
    bits=32,
    uc_mode=unicorn.UC_MODE_32,
    elf_machine="EM_386",
    elf_class=32,
    pc_reg=X.UC_X86_REG_EIP,
    sp_reg=X.UC_X86_REG_ESP,
    platform="i686",
    gprs=tuple(
        (n, REG_IDS[n])
        for n in ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "eip")
    ),
)

ARCHES = {"x86_64": X86_64, "i386": I386}


"""A syscall ABI: which table a trap indexes and which registers carry what.

Chosen by the entry path, not by the program: `int 0x80` from 64-bit code uses the i386
ABI, registers cut to their low 32 bits (docs/kernel_facts.md §1).
"""

from __future__ import annotations

from dataclasses import dataclass

from emu import registers as R
from kernel_model.tables import i386 as _i386_table
from kernel_model.tables import x86_64 as _x86_64_table


@dataclass(frozen=True)
class Abi:
    name: str  # "x86_64" or "i386": also the layout of structs and the word size
    table_name: str
    table: dict[int, str]
    nr_reg: tuple[str, int]
    arg_regs: tuple[tuple[str, int], ...]
    ret_reg: tuple[str, int]
    bits: int

    @property
    def word(self) -> int:
        return self.bits // 8

    @property
    def mask(self) -> int:
        return (1 << self.bits) - 1

    def signed(self, value: int) -> int:
        value &= self.mask
        return value - (1 << self.bits) if value >> (self.bits - 1) else value

    def number_of(self, name: str) -> int | None:
        return self._numbers().get(name)

    def _numbers(self) -> dict[str, int]:
        cache = self.__dict__.get("_by_name")
        if cache is None:
            cache = {n: nr for nr, n in self.table.items()}
            object.__setattr__(self, "_by_name", cache)
        return cache


def _regs(*names: str) -> tuple[tuple[str, int], ...]:
    return tuple((n, R.reg_id(n)) for n in names)


X86_64_ABI = Abi(
    name="x86_64",
    table_name="sys_call_table",
    table=_x86_64_table.SYSCALLS,
    nr_reg=("rax", R.RAX),
    arg_regs=_regs("rdi", "rsi", "rdx", "r10", "r8", "r9"),
    ret_reg=("rax", R.RAX),
    bits=64,
)

I386_ABI = Abi(
    name="i386",
    table_name="ia32_sys_call_table",
    table=_i386_table.SYSCALLS,
    nr_reg=("eax", R.EAX),
    arg_regs=_regs("ebx", "ecx", "edx", "esi", "edi", "ebp"),
    ret_reg=("eax", R.EAX),
    bits=32,
)

ABIS = {"x86_64": X86_64_ABI, "i386": I386_ABI}

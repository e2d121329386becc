"""A syscall ABI: which table a trap indexes and which registers carry what.

Chosen by the entry path, not by the program: `int 0x80` from 64-bit code uses the i386
ABI, registers cut to their low 32 bits (docs/kernel_facts.md §1).

Registers are named here; their Unicorn ids are looked up in `emu` only when asked for
(`nr_reg`, `arg_regs`, `ret_reg`), so reading an ABI (a replay, a panel) loads no CPU.
"""

from __future__ import annotations

from emu.records import Record
from kernel_model.entry.mechanism import Mechanism
from kernel_model.tables import i386 as _i386_table
from kernel_model.tables import x86_64 as _x86_64_table


def _with_id(name: str) -> tuple[str, int]:
    from emu.registers import REG_IDS

    return name, REG_IDS[name]


class Abi(Record):
    _fields = ("name", "table_name", "table", "nr_name", "arg_names", "ret_name", "bits")
    name: str  # "x86_64" or "i386": also the layout of structs and the word size
    table_name: str
    table: dict[int, str]
    nr_name: str
    arg_names: tuple[str, ...]
    ret_name: str
    bits: int

    def __init__(
            self, name: str, table_name: str, table: dict[int, str], nr_name: str,
            arg_names: tuple[str, ...], ret_name: str, bits: int,
    ) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "table_name", table_name)
        object.__setattr__(self, "table", table)
        object.__setattr__(self, "nr_name", nr_name)
        object.__setattr__(self, "arg_names", arg_names)
        object.__setattr__(self, "ret_name", ret_name)
        object.__setattr__(self, "bits", bits)

    @property
    def nr_reg(self) -> tuple[str, int]:
        return _with_id(self.nr_name)

    @property
    def arg_regs(self) -> tuple[tuple[str, int], ...]:
        return tuple(_with_id(n) for n in self.arg_names)

    @property
    def ret_reg(self) -> tuple[str, int]:
        return _with_id(self.ret_name)

    @property
    def word(self) -> int:
        return self.bits // 8

    @property
    def mask(self) -> int:
        return (1 << self.bits) - 1

    def signed(self, value: int) -> int:
        value &= self.mask
        return value - (1 << self.bits) if value >> (self.bits - 1) else value

    @staticmethod
    def number(value: int) -> int:
        """The syscall number the dispatcher indexes the table with, from the number
        register's value: an `int`, so only the low 32 bits count (do_syscall_64 gets
        `movslq %eax`; an i386 register has no more). Negative and x32 numbers (bit 30)
        fall outside the table: ENOSYS (docs/kernel_facts.md, "The syscall number")."""
        value &= 0xFFFFFFFF
        return value - (1 << 32) if value >> 31 else value

    def number_of(self, name: str) -> int | None:
        return self._numbers().get(name)

    def _numbers(self) -> dict[str, int]:
        cache = self.__dict__.get("_by_name")
        if cache is None:
            cache = {n: nr for nr, n in self.table.items()}
            object.__setattr__(self, "_by_name", cache)
        return cache


X86_64_ABI = Abi(
    name="x86_64",
    table_name="sys_call_table",
    table=_x86_64_table.SYSCALLS,
    nr_name="rax",
    arg_names=("rdi", "rsi", "rdx", "r10", "r8", "r9"),
    ret_name="rax",
    bits=64,
)

I386_ABI = Abi(
    name="i386",
    table_name="ia32_sys_call_table",
    table=_i386_table.SYSCALLS,
    nr_name="eax",
    arg_names=("ebx", "ecx", "edx", "esi", "edi", "ebp"),
    ret_name="eax",
    bits=32,
)

ABIS = {"x86_64": X86_64_ABI, "i386": I386_ABI}


def abi_of(mechanism: str) -> Abi:
    """The ABI a trap uses: `syscall` the x86-64 one; `int 0x80` and `sysenter` the i386
    one, whatever code makes them."""
    return X86_64_ABI if mechanism == Mechanism.SYSCALL else I386_ABI


class TrapPreview(Record):
    """What a trap at the pc is about to ask, read from the registers before it runs."""

    _fields = ("mechanism", "table_name", "nr_reg", "nr", "name", "args")
    mechanism: str
    table_name: str
    nr_reg: str  # the register as the program's code names it: rax from 64-bit code
    nr: int
    name: str | None  # None: no such entry in the table
    args: tuple[tuple[str, int], ...]  # (register as the ABI names it, value it gives)

    def __init__(
            self, mechanism: str, table_name: str, nr_reg: str, nr: int, name: str | None,
            args: tuple[tuple[str, int], ...],
    ) -> None:
        object.__setattr__(self, "mechanism", mechanism)
        object.__setattr__(self, "table_name", table_name)
        object.__setattr__(self, "nr_reg", nr_reg)
        object.__setattr__(self, "nr", nr)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "args", args)


def preview_trap(mechanism: str, regs: dict, bits: int) -> TrapPreview:
    """The trap's table row and arguments from the user registers `regs` (by name) of code
    running with `bits`-bit registers."""
    abi = abi_of(mechanism)
    nr_reg = "rax" if bits == 64 else "eax"
    nr = abi.number(regs.get(nr_reg, 0))
    args = []
    for reg in abi.arg_names:
        full = reg if bits == 32 else ("r" + reg[1:] if reg.startswith("e") else reg)
        value = regs.get(full, regs.get(reg, 0))
        args.append((reg, value & 0xFFFFFFFF if abi.bits == 32 else value))
    return TrapPreview(mechanism, abi.table_name, nr_reg, nr, abi.table.get(nr), tuple(args))

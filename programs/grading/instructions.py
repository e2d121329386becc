"""The instructions a solution contains, for the allow/forbid check.

This reads the program's text statically, not the instructions executed: every instruction
the source assembles to counts, reached or not (a forbidden `syscall` on a path the runs
never take still fails). For an assembly source each instruction keeps its source line;
for an ELF, the executable segments are disassembled linearly."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Insn:
    addr: int
    mnemonic: str
    op_str: str
    line: int | None  # the source line, for assembly sources

    @property
    def text(self) -> str:
        return f"{self.mnemonic} {self.op_str}".strip()


def program_instructions(program) -> list[Insn]:
    import capstone

    bits = program.image.arch.bits
    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64 if bits == 64
                     else capstone.CS_MODE_32)
    out: list[Insn] = []
    asm = program.assembled
    if asm is not None:
        for addr in sorted(asm.lines):
            code = _read(program.image, addr, asm.sizes.get(addr, 15))
            for _a, _size, mnemonic, op_str in cs.disasm_lite(code, addr, 1):
                out.append(Insn(addr, mnemonic, op_str, asm.lines[addr]))
        return out
    for seg in program.image.segments:
        if seg.flags & 1:  # PF_X
            for addr, _size, mnemonic, op_str in cs.disasm_lite(seg.data, seg.vaddr):
                out.append(Insn(addr, mnemonic, op_str, None))
    return out


def _read(image, addr: int, size: int) -> bytes:
    for seg in image.segments:
        if seg.vaddr <= addr < seg.vaddr + len(seg.data):
            off = addr - seg.vaddr
            return seg.data[off:off + size]
    return b""


def matches(insn: Insn, name: str) -> bool:
    """`name` is a mnemonic (`syscall`, `int`) or a mnemonic with its operands (`int 0x80`)."""
    name = " ".join(name.lower().split())
    return name == insn.mnemonic or name == insn.text.lower()

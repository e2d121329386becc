"""Counting executed instructions without a per-instruction hook: a block hook adds the
block's instruction count (decoded once with capstone and cached). Used only when a budget
is set; a plain run has no hook at all."""

from __future__ import annotations

from emu.machine import Machine, MemoryFault


class InstructionCounter:
    def __init__(self, machine: Machine, budget: int | None = None):
        self.machine = machine
        self.budget = budget
        self.count = 0
        self.exceeded = False
        self._sizes: dict[tuple[int, int], int] = {}
        self._last_block = (0, 0)
        import capstone  # only runs with a budget need it

        mode = capstone.CS_MODE_64 if machine.arch.bits == 64 else capstone.CS_MODE_32
        self._cs = capstone.Cs(capstone.CS_ARCH_X86, mode)
        self._cs.skipdata = False
        self.handle = machine.hook_block(self._on_block)

    def _insns_in(self, addr: int, size: int) -> int:
        key = (addr, size)
        n = self._sizes.get(key)
        if n is None:
            try:
                code = self.machine.read(addr, size)
            except MemoryFault:
                return 1
            n = sum(1 for _ in self._cs.disasm_lite(code, addr)) or 1
            self._sizes[key] = n
        return n

    def _on_block(self, uc, addr, size, _user_data) -> None:
        n = self._insns_in(addr, size)
        if self.budget is not None and self.count + n > self.budget:
            self.exceeded = True
            uc.emu_stop()
            return
        self.count += n
        self._last_block = (addr, size)

    def retract_from(self, pc: int) -> None:
        """A fault at `pc` stopped the block counted last: the faulting instruction and the
        ones after it never ran, so take them back (a block is counted before it runs)."""
        addr, size = self._last_block
        if not addr <= pc < addr + size:
            return
        try:
            code = self.machine.read(addr, size)
        except MemoryFault:
            return
        self.count -= sum(1 for insn in self._cs.disasm_lite(code, addr) if insn[0] >= pc)
        self._last_block = (0, 0)

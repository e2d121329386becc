"""Counting executed instructions without a per-instruction hook: a block hook adds the
block's instruction count (decoded once with capstone and cached). Used only when a budget
is set or the guest's clock is virtual; a plain run has no hook at all.

A block is counted when it is entered, before it runs. When a run stops inside the block
counted last (a fault, Unicorn's instruction count, a hook stopping before an instruction),
the instructions from the pc on did not run, and are taken back when the run returns, so
`count` is exact between runs. During a run, `executed()` gives the exact count at the pc
(for a hook that reads it, such as a trap or an rdtsc)."""

from __future__ import annotations

from emu.machine import Machine, MemoryFault


class InstructionCounter:
    def __init__(self, machine: Machine, budget: int | None = None, *,
                 on_exceeded=None, paused=None):
        """on_exceeded: called once when the budget is passed (default: stop the CPU);
        paused: a callable, true while blocks must not count (a debugger's replays)."""
        self.machine = machine
        self.budget = budget
        self.exceeded = False
        self._sizes: dict[tuple[int, int], int] = {}
        self._tails: dict[tuple[int, int, int], int] = {}
        import capstone  # only runs that count need it

        # One decoder per mode: a 64-bit process may run 32-bit (compatibility-mode) code,
        # where the same bytes are other instructions (0x48 is `dec eax`, not a prefix).
        self._decoders = {bits: capstone.Cs(capstone.CS_ARCH_X86, mode) for bits, mode in (
            (64, capstone.CS_MODE_64), (32, capstone.CS_MODE_32), (16, capstone.CS_MODE_16))}
        # The hook's state lives in one list the closure holds: [count, last block's
        # address, its size]; fewer attribute lookups on the hot path (~0.5 us a block).
        self._state = [0, 0, 0]
        self._on_exceeded = on_exceeded
        self._paused = paused
        self._handles: dict[int, tuple[Machine, int]] = {}
        self.handle = self._hook(machine)

    def attach(self, machine: Machine) -> None:
        """Count on another CPU too (a forked process's), into the same count: one budget
        for every process of the run. `follow` says which CPU runs."""
        self._hook(machine)

    def follow(self, machine: Machine) -> None:
        self.machine = machine

    def detach(self, machine: Machine) -> None:
        entry = self._handles.pop(id(machine), None)
        if entry is not None:
            machine.after_run.remove(self._settle)

    def _hook(self, machine: Machine) -> int:
        state = self._state
        sizes = self._sizes
        insns_in = self._insns_in
        budget = self.budget
        on_exceeded, paused = self._on_exceeded, self._paused

        def on_block(_handle, addr, size, _user_data):
            n = sizes.get((addr, size))
            state[0] += n if n is not None else insns_in(addr, size)
            state[1] = addr
            state[2] = size
            if budget is not None and state[0] > budget:
                # Counted as entered; the stop takes the whole block back (_settle).
                self.exceeded = True
                machine.stop()

        if on_exceeded is not None or paused is not None:
            stop = on_exceeded or machine.stop

            def on_block(_handle, addr, size, _user_data):  # noqa: F811  (the slower variant)
                if paused is not None and paused():
                    state[2] = 0  # nothing of this block is ours to take back
                    return
                n = sizes.get((addr, size))
                state[0] += n if n is not None else insns_in(addr, size)
                state[1] = addr
                state[2] = size
                if budget is not None and state[0] > budget and not self.exceeded:
                    self.exceeded = True
                    stop()

        handle = machine.hook_block_fast(on_block)
        machine.after_run.append(self._settle)
        self._handles[id(machine)] = (machine, handle)
        return handle

    def remove(self) -> None:
        """Take the hook off the machine (blocks already translated still call it until
        the translation cache is flushed)."""
        self.machine.unhook(self.handle)
        self.machine.after_run.remove(self._settle)

    def _insns_in(self, addr: int, size: int) -> int:
        key = (addr, size)
        n = self._sizes.get(key)
        if n is None:
            try:
                code = self.machine.read(addr, size)
            except MemoryFault:
                return 1
            n = sum(1 for _ in self._decoder().disasm_lite(code, addr)) or 1
            self._sizes[key] = n
        return n

    def _decoder(self):
        """The decoder for the code the CPU runs now (read only when a block is new)."""
        return self._decoders[self.machine.code_bits()]

    def _tail(self, addr: int, size: int, pc: int) -> int:
        """How many instructions of the block [addr, addr+size) are at pc or after it."""
        key = (addr, size, pc)
        n = self._tails.get(key)
        if n is None:
            try:
                code = self.machine.read(addr, size)
            except MemoryFault:
                # Code only the CPU can fetch (the vsyscall page's): one instruction, as
                # _insns_in counted it, not run when the stop is at its start.
                return 1 if pc == addr else 0
            n = sum(1 for insn in self._decoder().disasm_lite(code, addr) if insn[0] >= pc)
            if len(self._tails) > 100_000:
                self._tails.clear()
            self._tails[key] = n
        return n

    @property
    def count(self) -> int:
        """Instructions counted so far (exact between runs)."""
        return self._state[0]

    @count.setter
    def count(self, value: int) -> None:
        self._state[0] = value

    @property
    def _last_block(self) -> tuple[int, int]:
        return self._state[1], self._state[2]

    @_last_block.setter
    def _last_block(self, block: tuple[int, int]) -> None:
        self._state[1], self._state[2] = block

    def executed(self, pc: int | None = None) -> int:
        """Instructions executed before the one at `pc` (default: the machine's pc), exact
        even in the middle of a block."""
        addr, size = self._last_block
        if size:
            pc = self.machine.pc if pc is None else pc
            if addr <= pc < addr + size:
                return self.count - self._tail(addr, size, pc)
        return self.count

    def _settle(self) -> None:
        """A run returned: take back the instructions of the last block that never ran."""
        self.count = self.executed()
        self._last_block = (0, 0)

    def block_done(self) -> None:
        """The block counted last ran to its end, whatever the pc says: a single-step trap
        after one iteration of a `rep` instruction leaves the pc on it."""
        self._last_block = (0, 0)

    def retract_from(self, pc: int) -> None:
        """A fault at `pc` stopped the block counted last: the faulting instruction and the
        ones after it never ran (already taken back when the run returned)."""
        addr, size = self._last_block
        if addr <= pc < addr + size:
            self.count -= self._tail(addr, size, pc)
            self._last_block = (0, 0)

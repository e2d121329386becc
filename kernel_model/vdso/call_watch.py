"""Seeing calls into code the kernel put in user space (the vDSO, a native vsyscall page):
nothing traps, so the kernel model learns of a call only through a code hook on each entry
point and, per call site, one on the return address. The hooks cover those addresses only,
so all other code runs at full speed; they exist only while someone listens."""

from __future__ import annotations


class CallWatcher:
    """Subclasses call watch_entry(addr, key) for each entry point, and implement
    on_entry(key, pc) -> dict | None (the call's record) and on_return(call)."""

    def __init__(self, machine):
        self.machine = machine
        self.pending: list[dict] = []  # calls entered and not yet returned (innermost last)
        self._return_hooks: set[int] = set()

    def _hook(self, callback, addr: int) -> None:
        """A hook on one address. Unicorn decides at translation time whether a block calls
        hooks, so drop any block already translated there."""
        self.machine.hook_code(callback, addr, addr)
        self.machine.uc.ctl_remove_cache(addr, addr + 1)

    def watch_entry(self, addr: int, key) -> None:
        def entered(uc, address, size, _user_data):
            m = self.machine
            call = self.on_entry(key, address)
            if call is None:
                return
            call.setdefault("pc", address)
            call["return_pc"] = m.read_word(m.sp)
            self.pending.append(call)
            if call["return_pc"] not in self._return_hooks:
                # Kept for good: call sites are few, and a hook added later would miss
                # blocks Unicorn had already translated.
                self._return_hooks.add(call["return_pc"])
                self._hook(self._returned, call["return_pc"])

        self._hook(entered, addr)

    def _returned(self, uc, address, size, _user_data) -> None:
        if self.pending and self.pending[-1]["return_pc"] == address:
            self.on_return(self.pending.pop())

    def on_entry(self, key, pc: int) -> dict | None:
        raise NotImplementedError

    def on_return(self, call: dict) -> None:
        raise NotImplementedError

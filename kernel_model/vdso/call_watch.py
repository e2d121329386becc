"""Seeing calls into code the kernel put in user space (the vDSO, a native vsyscall page):
nothing traps, so the kernel model learns of a call only through a code hook on each entry
point and, per call site, one on the return address. The hooks cover those addresses only,
so all other code runs at full speed; they exist only while someone listens."""

from __future__ import annotations

from dataclasses import replace

from kernel_model.trace.user_calls import CallInProgress


class CallWatcher:
    """Subclasses call watch_entry(addr, key) for each entry point, and implement
    on_entry(key, pc) -> CallInProgress | None and on_return(call)."""

    def __init__(self, machine):
        self.machine = machine
        self.pending: list[CallInProgress] = []  # entered, not yet returned (innermost last)
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
            call.return_pc = m.read_word(m.sp)
            self.pending.append(call)
            self._watch_return(call.return_pc)

        self._hook(entered, addr)

    def _watch_return(self, return_pc: int) -> None:
        if return_pc not in self._return_hooks:
            # Kept for good: call sites are few, and a hook added later would miss blocks
            # Unicorn had already translated.
            self._return_hooks.add(return_pc)
            self._hook(self._returned, return_pc)

    def _returned(self, uc, address, size, _user_data) -> None:
        if self.pending and self.pending[-1].return_pc == address:
            self.on_return(self.pending.pop())

    def saved_calls(self) -> list[CallInProgress]:
        """The calls in progress, as copies a debugger can keep with a point in history."""
        return [replace(call) for call in self.pending]

    def restore_calls(self, calls: list[CallInProgress]) -> None:
        """Back to a point in history: these calls in progress, each return watched."""
        self.pending = [replace(call) for call in calls]
        for call in self.pending:
            self._watch_return(call.return_pc)

    def on_entry(self, key, pc: int) -> CallInProgress | None:
        raise NotImplementedError

    def on_return(self, call: CallInProgress) -> None:
        raise NotImplementedError

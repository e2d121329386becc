"""Watchpoints and caught syscall numbers, forward and backward: what a gdb remote stub
needs for Z2/Z3/Z4 and QCatchSyscalls.

How a watchpoint stops a run. Memory hooks (emu Machine.hook_data) exist only while
watchpoints do, each restricted to its range: Python is called only for an access to that
range, but Unicorn checks every data access against the hooks meanwhile (measured: a
session's free run of compute_loop.glibc-i386 takes 1.6 times as long with a watchpoint
nothing touches; without watchpoints there is no hook and no cost). A free run with
watchpoints logs the accesses it makes; when one touched a watched range, the run goes
back to where it started and runs again with a code hook on the accessing instruction,
which is then stepped alone each time it is reached until it makes the access: the stop is
right after it, as a hardware watchpoint reports. Every position stays one the history can
name (a hook hit or a count), so stepping back from a watch stop is exact. Going
backwards, a stretch is replayed twice: once to find the last accessing instruction, once
to count its executions; the stop is before that execution (where gdb's reverse-continue
shows a watchpoint).

Caught syscalls stop at the trap (entry: before it, the upcoming trap at pc) and where
the call returned to user mode: right after the trap, or, for a call that blocked, at the
context switch that resumes its task; exit never returns. Both come from the kernel's
own events (SyscallEntered, SyscallReturned), so going back finds the same points.

Only the CPU's own accesses count. The kernel model writes guest memory directly (a
read() filling a buffer), which no memory hook sees.

Part of the stepping session (session.DebugSession); see session.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from emu.arch import REG_IDS
from kernel_model.debugger.session_parts import SessionParts
from kernel_model.debugger.stepping import TRAP_KINDS, SessionStop
from kernel_model.debugger.timeline import Hit, Mark
from kernel_model.trace.events import SyscallEntered, SyscallReturned

WATCH_KINDS = ("write", "read", "access")
_WIDEST = 64  # the widest single access (AVX-512): an access may start this far before


@dataclass(frozen=True)
class Watchpoint:
    addr: int
    length: int
    kind: str  # "write" (Z2), "read" (Z3), "access" (Z4)

    def matches(self, is_write: bool, addr: int, size: int) -> bool:
        if self.kind == "write" and not is_write or self.kind == "read" and is_write:
            return False
        return addr < self.addr + self.length and self.addr < addr + size


@dataclass(frozen=True)
class Access:
    pc: int
    is_write: bool
    addr: int
    size: int
    value: int
    k: int  # executions of pc so far in the run (when pc has a code hook), else 0


class Watches(SessionParts):
    # -- the API -----------------------------------------------------------------------------
    def add_watchpoint(self, addr: int, length: int, kind: str) -> Watchpoint:
        """A watchpoint on [addr, addr+length): kind "write", "read" or "access"."""
        if kind not in WATCH_KINDS:
            raise ValueError(f"{kind}: not a watchpoint kind (write, read, access)")
        if length <= 0:
            raise ValueError("a watchpoint needs a length of at least 1")
        w = Watchpoint(addr, length, kind)
        self.watchpoints.append(w)
        self._arm_watches()
        return w

    def remove_watchpoint(self, addr: int, length: int, kind: str) -> bool:
        """Remove a watchpoint (gdb's z2/z3/z4); False if there was none."""
        w = Watchpoint(addr, length, kind)
        if w not in self.watchpoints:
            return False
        self.watchpoints.remove(w)
        self._arm_watches()
        return True

    def catch_syscalls(self, numbers: set[int] | None) -> None:
        """gdb's QCatchSyscalls: None catches every syscall, an empty set none. Numbers are
        in the process's ABI: the trap's eax for `int 0x80`/`sysenter`, rax for
        `syscall`. cont() then stops at each caught call's entry (reason
        "syscall_entry", before the trap) and return (reason "syscall_return", after the
        kernel ran it); reverse_continue at the previous one."""
        self.caught_numbers = None if numbers is None else frozenset(numbers)
        self._catching = numbers is None or bool(numbers)

    # -- memory hooks: only while watchpoints exist ----------------------------------------
    def _arm_watches(self) -> None:
        """Put the memory hooks the watchpoints need on the running CPU (and take them
        off every CPU when there are none)."""
        want = {(max(0, w.addr - _WIDEST + 1), w.addr + w.length - 1,
                 w.kind != "write", w.kind != "read") for w in self.watchpoints}
        m = self.machine
        for machine, hooks in list(self._data_hooks.items()):
            for key in [k for k in hooks if machine is not m or k not in want]:
                machine.unhook(hooks.pop(key))
            if not hooks:
                del self._data_hooks[machine]
        hooks = self._data_hooks.setdefault(m, {})
        for key in want - hooks.keys():
            begin, end, reads, writes = key
            hooks[key] = m.hook_data(self._on_data, begin, end, reads=reads, writes=writes)
        if not hooks:
            del self._data_hooks[m]
        # translated blocks made before the change would not call (or still call) them
        m.flush_translations()
        self._counting = False

    def data_hooks_installed(self) -> int:
        """How many memory hooks the session has on its CPUs (none without watchpoints)."""
        return sum(len(h) for h in self._data_hooks.values())

    def _on_data(self, is_write: bool, addr: int, size: int, value: int) -> None:
        if not any(w.matches(is_write, addr, size) for w in self.watchpoints):
            return
        pc = self.machine.pc
        self._watch_log.append(Access(pc, is_write, addr, size, value,
                                      self._hits.get(pc, 0)))

    def _watch_hit(self, access: Access) -> Watchpoint:
        return next(w for w in self.watchpoints
                    if w.matches(access.is_write, access.addr, access.size))

    def _watch_stop(self, access: Access, pc: int, backwards: bool = False) -> SessionStop:
        w = self._watch_hit(access)
        data = min(max(access.addr, w.addr), w.addr + w.length - 1)
        how = "wrote" if access.is_write else "read"
        where = " (going backwards)" if backwards else ""
        return SessionStop("watch", f"{w.kind} watchpoint {data:#x}: the instruction at "
                           f"{access.pc:#x} {how} {access.size} bytes at {access.addr:#x}"
                           f"{where}", pc, data_addr=data, watch_kind=w.kind,
                           access_pc=access.pc)

    # -- forward ---------------------------------------------------------------------------
    def _watched_step(self) -> SessionStop:
        """One step (as _step_one), stopping with a watch stop if it touched a watched
        range."""
        if not self.watchpoints:
            return self._step_one()
        self._watch_log = []
        stop = self._step_one()
        log, self._watch_log = self._watch_log, []
        if log and stop.reason in ("step", "crossed", "hook"):
            return self._watch_stop(log[0], self.machine.pc)
        return stop

    def _watched_free_run(self, policy, unchecked: bool) -> tuple[SessionStop, bool]:
        """A free run (as _free_run); with watchpoints, one that touched a watched range
        is run again from its start, stopping at the accessing instruction."""
        if not self.watchpoints:
            return self._free_run(policy, unchecked)
        if self.at_live_end() and self.pos[1] is None:
            self._freeze()  # a counted point to come back to
        start_mark, start_n = self.pos
        assert start_n is not None, "a counted point (frozen above if need be)"
        start_pc = self.machine.pc
        self._watch_log = []
        stop, after = self._free_run(policy, unchecked)
        log, self._watch_log = self._watch_log, []
        if not log or stop.reason == "interrupted":
            # (an interrupted run's end is no point history can replay to: the user
            # stopped it, and sees where)
            return stop, after
        pc = log[0].pc
        self._freeze()
        self._goto(start_mark, start_n)
        if pc == start_pc:  # the run's first instruction (stepped by a run, not hooked)
            return self._watched_step(), False
        self._hook(pc, "watch")
        self._watch_pcs.add(pc)
        return self._free_run(policy, unchecked)

    def _end_watch_run(self) -> None:
        for pc in self._watch_pcs:
            self._unhook(pc, "watch")
        self._watch_pcs = set()

    # -- caught syscalls, forward ----------------------------------------------------------
    def _trap_number(self) -> int:
        """The number the trap at pc is about to index its table with (Abi.number)."""
        from kernel_model.entry.abi import Abi

        return Abi.number(self.machine.reg(REG_IDS["rax" if self.bits == 64 else "eax"]))

    def _catches(self, nr: int) -> bool:
        return self._catching and (self.caught_numbers is None or nr in self.caught_numbers)

    def _catch_entry(self, up) -> SessionStop | None:
        """At a trap a caught syscall is about to make: the entry stop."""
        if not self._catching or up is None or up[0] not in TRAP_KINDS:
            return None
        nr = self._trap_number()
        if not self._catches(nr):
            return None
        return SessionStop("syscall_entry", f"syscall {nr} ({up[0]}): entry",
                           self.machine.pc, syscall_nr=nr)

    def _catch_return(self) -> SessionStop | None:
        """After a crossing: the return stop, if a caught call returned to user mode here.
        A call that blocked returns at the context switch that resumes its task (the
        kernel's SyscallReturned is kept there); exit never returns."""
        if not self._catching:
            return None
        mark, n = self.pos
        if n != 0:
            return None
        nr = self._return_number(mark)
        if nr is None or not self._catches(nr):
            return None
        return SessionStop("syscall_return", f"syscall {nr}: return", self.machine.pc,
                           syscall_nr=nr)

    # -- backward --------------------------------------------------------------------------
    def _last_access(self, mark: Mark, n: int) -> tuple[int, Access] | None:
        """The offset (< n) of the last instruction in the n after `mark` that touched a
        watched range, and its access."""
        if not self.watchpoints or n <= 0:
            return None
        log = self._replay_logged(mark, n)
        if not log:
            return None
        pc = log[-1].pc
        self._hook(pc, "watch")
        try:
            log = self._replay_logged(mark, n)
        finally:
            self._unhook(pc, "watch")
        last = [a for a in log if a.pc == pc][-1]
        self._goto(mark, 0)
        with self._hooked(pc):
            found, _ = self._locate(Hit(pc, last.k))
        self._machine_at = None  # (the machine is at `found`, not where _goto left it)
        return found, last

    def _replay_logged(self, mark: Mark, n: int) -> list[Access]:
        self._machine_at = None  # (a locate may have moved it unrecorded): from the mark
        self._goto(mark, 0)
        self._watch_log = []
        self._count_hits_replaying(n)
        log, self._watch_log = self._watch_log, []
        return log

    @staticmethod
    def _entry_number(mark: Mark) -> int | None:
        """The number of the syscall a crossing mark's trap entered (None: no trap)."""
        if not (mark.applied and mark.kind in TRAP_KINDS):
            return None
        e = next((e for e in mark.events if isinstance(e, SyscallEntered)), None)
        return e.nr if e is not None else None

    @staticmethod
    def _return_number(mark: Mark) -> int | None:
        """The number of the syscall that returned to user mode at a mark (None: none)."""
        if not mark.applied:
            return None
        e = next((e for e in mark.events
                  if isinstance(e, SyscallReturned) and e.ret is not None), None)
        return e.nr if e is not None else None

"""Code hooks and exits: the guards before every trap and rdtsc, breakpoints and
temporary stops, and the hook that decides whether a run stops at one.

Part of the stepping session (session.DebugSession); see session.py for how it runs
and goes back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from emu.machine import PROT_EXEC
from kernel_model.debugger import insn as insns
from kernel_model.debugger.session_parts import SessionParts
from kernel_model.debugger.stepping import VSYSCALL_ADDR


class Guards(SessionParts):
    # -- hooks: guards, breakpoints, temporary stops ----------------------------------------
    # Each process has its own CPU (a Machine): a hook is put on the running one, and on
    # another when a switch or a restore makes it run (_follow_machine). _handles maps a
    # machine to its hooks, address -> handle.
    def _hook(self, addr: int, kind: str) -> None:
        kinds = self._kinds.setdefault(addr, set())
        kinds.add(kind)
        handles = self._handles.setdefault(self.machine, {})
        if addr not in handles:
            handles[addr] = self.machine.hook_code(self._on_hook, addr, addr)

    def _unhook(self, addr: int, kind: str) -> None:
        kinds = self._kinds.get(addr)
        if not kinds:
            return
        kinds.discard(kind)
        if not kinds:
            del self._kinds[addr]
            for machine, handles in self._handles.items():
                handle = handles.pop(addr, None)
                if handle is not None:
                    machine.unhook(handle)

    def _follow_machine(self) -> None:
        """Another CPU may run now (a context switch, a restored state on another task, an
        exec that gives the process a new one): give it the hooks the session has
        (breakpoints, vDSO entries, temporary stops) and its guards. Unicorn's counting
        hooks are per CPU: after a change of CPU the next counted run flushes."""
        m = self.machine
        handles = self._handles.setdefault(m, {})
        for addr in self._kinds:
            if addr not in handles:
                handles[addr] = m.hook_code(self._on_hook, addr, addr)
        if m is not self._guarded:
            self._counting = False
        if self.watchpoints and m not in self._data_hooks:
            self._arm_watches()
        self._scan_guards()

    def _scan_guards(self) -> None:
        """Guard every trap and rdtsc in executable memory. Guards are Unicorn "exits":
        the CPU stops before such an instruction, checked in translated code, with no
        Python call and no slowdown (even in counted runs, where every code hook costs on
        every instruction). A pattern that matches inside another instruction is simply
        never reached."""
        m = self.machine
        regions = tuple(r for r in m.regions() if r[2] & PROT_EXEC)
        if regions == self._exec_regions and self._guarded is m:
            return
        known = self._guard_cache.get(m)
        if known is not None and known[0] == regions:
            guards = known[1]  # back on a CPU scanned before, its code unchanged
        else:
            patterns: dict[bytes, str] = dict(insns.TRAPS)
            if self.bits == 32:
                del patterns[b"\x0f\x05"]  # not a trap in 32-bit code: a #UD (insn._make)
            patterns.update(insns.TSC_READS)
            guards = set()
            for begin, end, _prot in regions:
                data = m.read(begin, end - begin + 1)
                for off, _name in insns.find_patterns(data, patterns):
                    guards.add(begin + off)
            self._guard_cache[m] = (regions, guards)
        self._exec_regions = regions
        self._guarded = m
        self._guards = guards
        self._set_exits()

    def _set_exits(self, skip: int | None = None) -> None:
        self.machine.set_exits(self._guards - {skip} if skip is not None else self._guards)

    def _at_guard(self) -> int | None:
        """The guard the last run stopped at, if it stopped at one (not by a hook)."""
        pc = self.machine.pc
        return pc if self._stopped_by is None and pc in self._guards else None

    def _hook_vdso_entries(self) -> None:
        vdso = self.system.vdso
        if vdso is not None:
            for name, off in vdso.image.symbols.items():
                if name.startswith("__vdso_") or name in ("gettimeofday", "time",
                                                          "clock_gettime", "getcpu"):
                    self._hook(vdso.base + off, "vdso")
        if self.system.vsyscall_mode == "native":
            for off in (0, 0x400, 0x800):
                self._hook(VSYSCALL_ADDR + off, "vdso")

    def _on_hook(self, uc, addr, size, _user_data) -> None:
        mode = self._hook_mode
        if mode is None:
            return
        k = self._hits.get(addr, 0) + 1
        self._hits[addr] = k
        if mode == "count":
            self._seq += 1
            self._last_seq[addr] = self._seq
            if self._target == (addr, k):
                self.machine.stop()  # never run past what is being looked for (a trap, say)
            return
        if mode == "target":
            if self._target == (addr, k):
                self._stopped_by = addr
                self.machine.stop()
            return
        if self._policy_stops(addr, self._kinds.get(addr, ())):
            self._stopped_by = addr
            self.machine.stop()

    def _policy_stops(self, addr: int, kinds) -> bool:
        p = self._policy
        if "bp" in kinds and p.breakpoints:
            pid = self.kernel.process.pid
            if any(b.address == addr and b.applies_to(pid) for b in self.breakpoints):
                return True
        if "temp" in kinds and addr in p.temp:
            want_sp = p.temp[addr]
            if want_sp is None or self.machine.sp == want_sp:
                return True
        if "watch" in kinds and addr in self._watch_pcs:
            return True  # an instruction that touched a watched range (step_watch.py)
        if "vreturn" in kinds and self._vreturns.get(addr) == self.machine.sp:
            return self._hook_mode == "live"
        if "vdso" in kinds:
            # Live runs stop at every call into the vDSO (its return is then watched, so the
            # call's event gets a place in history); replays only when asked to.
            return self._hook_mode == "live" or p.transitions
        return False

    @contextmanager
    def _hooked(self, addr: int) -> Iterator[None]:
        """A hook on `addr` for the time of a replay: the stop a path was recorded at may
        have been a temporary one (a return address, a deleted breakpoint)."""
        if addr in self._guards:
            yield
            return
        self._hook(addr, "replay")
        try:
            yield
        finally:
            self._unhook(addr, "replay")

    def _live_hook(self, addr: int) -> None:
        """What the live end keeps of a hook a run stopped at: a vDSO call's return gets a
        mark (the watcher's event is placed there), a call into the vDSO a mark at its entry
        and a watch on its return."""
        kinds = self._kinds.get(addr, set())
        if "vreturn" in kinds and self._vreturns.get(addr) == self.machine.sp:
            del self._vreturns[addr]
            self._unhook(addr, "vreturn")
            self._add_mark(self._snapshot("vdso", self._path, applied=False))
            self.pos[0].events.extend(self._take_events())
        elif "vdso" in kinds:
            self._add_mark(self._snapshot("vdso-call", self._path, applied=False))
            self._watch_return()

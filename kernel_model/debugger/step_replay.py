"""Replays: run recorded paths of user code again (never the kernel), count a free run by
replaying it (chunks, then bisection), and keep a virtual clock's instruction count exact.

Part of the stepping session (session.DebugSession); see session.py for how it runs
and goes back.
"""

from __future__ import annotations

from kernel_model.debugger.session_parts import SessionParts
from kernel_model.debugger.stepping import (
    COUNT_REPLAY_MAX,
    FAULT,
    LOCATE_CHUNKS,
    ReplayDiverged,
    instructions_of,
)
from kernel_model.debugger.timeline import Hit, Mark, Offset, known_length
from kernel_model.run import loop
from kernel_model.run.causes import KERNEL_WORK, StopCause


class Replay(SessionParts):
    # -- running: the primitives -------------------------------------------------------------
    def _run(self, count: int = 0) -> StopCause:
        """One step of the run loop (loop.resume) from the current pc, with the hooks as
        the caller set them; returns its StopCause."""
        self.system.cpu_faults.forget()  # any cause left by an earlier run
        self._stopped_by = None
        if count and not self._counting:
            # Unicorn 2.1 counts instructions with a hook compiled into each translated
            # block, and a block translated during a free run has none: without this flush
            # a counted run through such a block would run past its count.
            self.machine.flush_translations()
        self._counting = bool(count)
        return loop.resume(self.system, count, interrupted=self._interrupt.is_set)

    def _run_guarded(self, count: int) -> StopCause:
        """Run the instruction at a guard itself (an exit would stop the CPU before it)."""
        pc = self.machine.pc
        if pc not in self._guards:
            return self._run(count=count)
        self._set_exits(skip=pc)
        try:
            return self._run(count=count)
        finally:
            self._set_exits()

    @staticmethod
    def _faulted(cause: StopCause) -> StopCause | None:
        """The cause, if it is one the kernel must handle (a fault, a vsyscall fetch)."""
        return cause if isinstance(cause, KERNEL_WORK) else None

    def _clear_fault(self) -> None:
        self.system.cpu_faults.forget()

    def _replay_path(self, path) -> None:
        """Run a recorded path from the current state: user code only, never the kernel."""
        if path is None:
            raise ReplayDiverged("this part of history was not recorded step by step")
        self._replaying = True
        try:
            for step in path:
                if isinstance(step, Offset):
                    if step.n:
                        self._hook_mode = None
                        stop = self._run(count=step.n)
                        if self._faulted(stop):
                            raise ReplayDiverged(f"fault during replay at {self.machine.pc:#x}")
                elif isinstance(step, Hit):
                    self._hits = {}
                    self._target = (step.pc, step.k)
                    self._hook_mode = "target"
                    with self._hooked(step.pc):
                        self._run()
                    self._hook_mode = None
                    if self._stopped_by is None and self._at_guard() != step.pc:
                        raise ReplayDiverged(f"replay missed {step.pc:#x} (hit {step.k})")
                else:  # FAULT: run until the recorded fault
                    self._hook_mode = None
                    stop = self._run()
                    if self._faulted(stop) is None:
                        raise ReplayDiverged("replay did not fault where recorded")
                if self._diverged is not None:
                    event, self._diverged = self._diverged, None
                    raise ReplayDiverged(f"replay entered the kernel: {event}")
        finally:
            self._hook_mode = None
            self._replaying = False
            self._target = None
            self._clear_fault()

    def gap_length(self, mark: Mark) -> int | None:
        """Instructions from the previous mark to the point just before `mark`. A stretch
        that was run freely is counted now, by replay, leaving index points on the way."""
        if mark.arrive is None:
            return None
        n = mark.length
        if n is not None:
            return n
        prev = self.timeline.prev(mark)
        assert prev is not None, "the start mark's arrive is None"
        if all(isinstance(step, (Offset, Hit)) for step in mark.arrive):
            # A short stretch (most: the user code between two syscalls) is counted by one
            # replay with a block-counting hook, not by bisection's dozen restores.
            n = self._replay_counting(prev, mark.arrive, limit=LOCATE_CHUNKS[-1])
            self._machine_at = None
            if n is not None:
                mark.arrive = (Offset(n),)
                return n
        self._materialize(prev)
        self._machine_at = None
        total = 0
        points: list[tuple[int, Mark]] = []
        for step in mark.arrive:
            if isinstance(step, Offset):
                if step.n:
                    self._replay_path((step,))
                total += step.n
            else:
                found, chunk_points = self._locate(step, mark.pc)  # leaves the machine there
                points.extend((total + off, p) for off, p in chunk_points)
                total += found
        # Index points make later steps back into this stretch cheap.
        anchor, at = prev, 0
        for off, point in points:
            if off <= at or off >= total:
                continue
            point.arrive = (Offset(off - at),)
            self.timeline.insert_after(anchor, point)
            anchor, at = point, off
        mark.arrive = (Offset(total - at),)
        if self.timeline.over_budget():
            self.timeline.thin(keep_after=self.pos[0])
        return mark.length

    def _locate(self, step, fault_pc: int | None = None) -> tuple[int, list]:
        if isinstance(step, Hit):
            with self._hooked(step.pc):
                return self._locate_hooked(step, fault_pc)
        return self._locate_hooked(step, fault_pc)

    def _locate_hooked(self, step, fault_pc: int | None = None) -> tuple[int, list]:
        """How many instructions `step` (a Hit, or FAULT) runs from the current state.

        Counted runs sweep forward in chunks of 1M instructions, then 64k, then 4k inside
        the chunk where the step ends, keeping a point before each chunk; the last 4k are
        bisected. Returns (count, index points worth keeping) and leaves the machine at the
        end of the step. A fault is reached once the faulting instruction is tried, which
        for a fetch fault can be before Unicorn counts it: `fault_pc` settles which."""
        self._replaying = True
        keep: list[tuple[int, Mark]] = []
        self._target = (step.pc, step.k) if isinstance(step, Hit) else None
        # A guard stops a counted run *at* it (an exit), where a hook's count includes it.
        at_exit = isinstance(step, Hit) and step.pc in self._guards
        try:
            self._hits = {}
            base = 0
            if at_exit and self.machine.pc == step.pc:
                return 0, keep
            point = self._point()
            for level, size in enumerate(LOCATE_CHUNKS):
                while True:
                    self._hook_mode = "count"
                    stop = self._run(count=size)
                    self._hook_mode = None
                    if self._reached(step, stop):
                        break
                    fault = self._faulted(stop)
                    self._clear_fault()
                    if fault is not None or self._diverged is not None or self._exited() \
                            or self._at_guard() is not None:
                        self._diverged = None
                        raise ReplayDiverged("indexing ran into a fault or a crossing "
                                             "before the point it looks for")
                    base += size
                    point = self._point()
                    if level < len(LOCATE_CHUNKS) - 1:
                        keep.append((base, point))
                self._load_point(point)
            lo, hi = 1, LOCATE_CHUNKS[-1]  # the smallest m with the step ended after m
            while lo < hi:
                mid = (lo + hi) // 2
                self._load_point(point)
                self._hook_mode = "count"
                stop = self._run(count=mid)
                self._hook_mode = None
                if self._reached(step, stop):
                    hi = mid
                else:
                    lo = mid + 1
            found = lo if at_exit else lo - 1
            if step == FAULT and fault_pc is not None:
                self._load_point(point)
                if found:
                    self._run(count=found)
                if self.machine.pc != fault_pc:
                    found = lo
            self._load_point(point)
            if found:
                self._hook_mode = "count"
                self._run(count=found)
                self._hook_mode = None
            return base + found, keep
        finally:
            self._hook_mode = None
            self._replaying = False
            self._target = None
            self._clear_fault()

    def _reached(self, step, stop) -> bool:
        if isinstance(step, Hit):
            if step.pc in self._guards:
                return self.machine.pc == step.pc
            return self._hits.get(step.pc, 0) >= step.k
        reached = self._faulted(stop) is not None
        self._clear_fault()
        return reached

    # -- the virtual clock's instruction count ---------------------------------------------
    def _sync_insns(self, extra: int = 0) -> None:
        """Make the instruction count exact at the live position, before something reads
        the time there (a time syscall, rdtsc, an emulated vsyscall). Free runs since the
        last counted mark are counted by replay (as stepping back into them would), so the
        reading is the same however the user got here: stepping, or running freely.
        Elsewhere the clock keeps the count of its last reading (plus each crossing's
        modelled cost). `extra`: instructions of the trap itself the hooked count of
        `run --clock virtual` includes at that point."""
        if self._insns is None:
            return
        mark, path = self.pos[0], self._path
        moved = "insns" not in mark.extra
        base = self._insns_at(mark)  # may replay earlier stretches: the machine moves
        n = known_length(path)
        if n is None:
            n = self._replay_counting(mark, path)  # ends at the live end again
            if n is None:  # too long for the hook: by bisection, from a mark kept here
                self._materialize(mark)
                self._replay_path(path)
                self._freeze()
                base, n = self._insns_at(self.pos[0]), 0
                self._ensure()
        elif moved:
            self._materialize(mark)  # back to the live end
            self._replay_path(path)
        # Never backwards, even where history was dropped before anything counted it.
        self._insns.count = max(self._insns.count, base + n + extra)

    def _replay_counting(self, mark: Mark, path, limit: int = COUNT_REPLAY_MAX) -> int | None:
        """The length of `path` from `mark`, by replaying it once with a block-counting
        hook: cheap for the short runs between two time reads, and it leaves no mark
        behind. None (the machine then somewhere on the path) when it is longer than
        COUNT_REPLAY_MAX; the caller counts it by bisection, at Unicorn's full speed."""
        from emu.counter import InstructionCounter

        self._materialize(mark)
        counter = InstructionCounter(self.machine, budget=limit)
        self.machine.flush_translations()  # blocks translated before the hook would not call it
        try:
            self._replay_path(path)
        except ReplayDiverged:
            if not counter.exceeded:
                raise
        finally:
            counter.remove()
            self.machine.flush_translations()  # free runs keep full speed
        return None if counter.exceeded else counter.count

    def _insns_at(self, mark: Mark) -> int:
        """Instructions executed from the start to `mark`'s state, counting stretches that
        were run freely by replay (the machine then moves). An interrupted run (Esc) cannot
        be counted: its instructions are left out."""
        while True:
            chain, known = [], mark
            while "insns" not in known.extra:
                prev = self.timeline.prev(known)
                if prev is None:
                    break
                chain.append(known)
                known = prev
            count = known.extra.get("insns", 0)
            prev = known
            for m in reversed(chain):
                n = m.length
                if n is None and m.arrive is not None:
                    n = self._replay_counting(prev, m.arrive)
                    self._machine_at = None
                    if n is None:
                        # Counted by bisection, which leaves index points before `m`:
                        # walk the chain again, through them.
                        self.gap_length(m)
                        break
                count += (n or 0) + instructions_of(m)
                m.extra["insns"] = count
                prev = m
            else:
                return count

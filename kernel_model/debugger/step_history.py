"""Saved states and positions in history: capture the machine, the kernel model and the
host files as a mark; put them back; move to a point n instructions after a mark.

Part of the stepping session (session.DebugSession); see session.py for how it runs
and goes back.
"""

from __future__ import annotations

from kernel_model.debugger.session_parts import SessionParts
from kernel_model.debugger.state import (
    Spaces,
    capture_io,
    capture_spaces,
    restore_io,
    restore_spaces,
)
from kernel_model.debugger.stepping import (
    INDEX_CHUNK,
    ReplayDiverged,
    instructions_of,
)
from kernel_model.debugger.timeline import Mark, Offset, known_length


class History(SessionParts):
    # -- capturing and restoring --------------------------------------------------------
    def _kernel_fingerprint(self):
        s = self.system
        k = self.kernel
        return (self._event_count, tuple(s.mm.vmas), s.mm.brk, len(s.signals.pending),
                k.current.tid, k.sched.switches,
                tuple((t.tid, t.state, t.blocked is not None) for t in k.processes.tasks()))

    def _machines(self) -> list:
        """Every live address space (each once: threads and CLONE_VM share one), the
        running task's first."""
        k = self.kernel
        out = [k.machine]
        for p in k.processes:
            m = p.machine
            if not p.exited and m is not None and all(m is not x for x in out):
                out.append(m)
        return out

    def _capture_spaces(self, writable_only: bool) -> Spaces:
        spaces = capture_spaces(self._machines(), self.machine, self._live_memory,
                                writable_only=writable_only)
        self._live_memory = spaces
        return spaces

    def _capture_kernel(self):
        fp = self._kernel_fingerprint()
        if fp != self._kernel_fp or self._last_kernel is None:
            self._last_kernel = self.kstate.capture()
            self._kernel_fp = fp
        return self._last_kernel

    def _watchers(self):
        """The kernel model's call watchers (vDSO, native vsyscall page): objects whose
        code hooks follow calls in user mode, with the calls in progress in `pending`."""
        for name in ("vdso_watcher", "vsyscall_watcher"):
            w = getattr(self.system, name, None)
            if w is not None and hasattr(w, "pending"):
                yield name, w
        # forked processes' CPUs have their own watchers: named by the CPU they watch
        for w in getattr(self.system, "watchers", ()):
            if hasattr(w, "pending"):
                yield f"{type(w).__name__}@{id(w.machine):x}", w

    def _watcher_state(self) -> dict:
        return {name: w.saved_calls() for name, w in self._watchers()}

    def _restore_watcher(self, state: dict | None) -> None:
        state = state or {}
        for name, w in self._watchers():
            w.restore_calls(state.get(name, []))

    def _snapshot(self, kind: str, arrive, *, applied: bool, full: bool = False,
                  memory: bool = True) -> Mark:
        """A mark of the machine as it is now. Without `full`, pages of read-only regions
        are taken from the last capture (only user code ran since, and it cannot write
        them)."""
        m = self.machine
        mem = None
        if memory:
            mem = self._capture_spaces(writable_only=not full)
        kernel = self._capture_kernel()
        self._live_kernel = kernel
        io = self._current_io if self._replaying else capture_io(self.io.fds)
        assert io is not None, "a replay starts by loading a mark, which sets _current_io"
        mark = Mark(kind=kind, arrive=arrive, applied=applied, ctx=m.save_context(), pc=m.pc,
                    kernel=kernel, io=io, memory=mem)
        mark.extra["watcher"] = self._watcher_state()
        mark.extra["regs"] = self.regs()
        mark.extra["clock"] = self.system.clock.state()
        mark.extra["pid"] = self.kernel.process.pid
        mark.extra["tid"] = self.kernel.current.tid
        mark.extra["slice"] = self._slice
        return mark

    def _add_mark(self, mark: Mark) -> Mark:
        """Append a mark at the live end; it becomes the current position."""
        last = self.timeline.last if len(self.timeline) else None
        if last is not None and "insns" in last.extra and mark.arrive is not None:
            n = known_length(mark.arrive)
            if n is not None:  # instructions since the start, when known without a replay
                mark.extra["insns"] = last.extra["insns"] + n + instructions_of(mark)
        if last is not None and "task_insns" in last.extra and mark.arrive is not None:
            n = known_length(mark.arrive)
            if n is not None:  # each task's own count: the stretch ran the task at `last`
                counts = dict(last.extra["task_insns"])
                tid = last.extra.get("tid")
                counts[tid] = counts.get(tid, 0) + n + instructions_of(mark)
                mark.extra["task_insns"] = counts
        self.timeline.append(mark)
        self._path = ()
        self.pos = (mark, 0)
        self._machine_at = self.pos
        if self.timeline.over_budget():
            self.timeline.thin(keep_after=mark)
        return mark

    def _load(self, mark: Mark) -> None:
        """Make the machine exactly `mark` (which holds its memory)."""
        assert mark.memory is not None, "only marks that hold their memory are loaded"
        restore_spaces(mark.memory, self._live_memory)
        self._live_memory = mark.memory
        self._apply(mark)

    def _apply(self, mark: Mark) -> None:
        """A mark's CPU, kernel and host-file state (its memory is already in place). The
        kernel comes first: it says which task runs, so on which machine the CPU context
        goes."""
        # User code changes the kernel too (a fault that grows the stack): the live state
        # may have moved on from the image it was last restored from.
        before = self.machine
        if mark.kernel is not self._live_kernel or \
                self._kernel_fingerprint() != self._kernel_fp:
            self.kstate.restore(mark.kernel)
            self._live_kernel = mark.kernel
            self._last_kernel = mark.kernel
            self._kernel_fp = self._kernel_fingerprint()
        self.machine.restore_context(mark.ctx)
        if self.machine is not before:
            self._follow_machine()
        restore_io(mark.io)
        self._current_io = mark.io  # replays never write: the same all along the stretch
        if "clock" in mark.extra:  # the guest's time there (a virtual one: its progress)
            self.system.clock.restore(mark.extra["clock"])
        self._restore_watcher(mark.extra.get("watcher"))
        self.system.cpu_faults.forget()  # any cause left by an earlier run
        self._scan_guards()

    def _materialize(self, mark: Mark) -> None:
        """Put the machine in `mark`'s state, replaying from an earlier mark when this one
        keeps no memory of its own."""
        chain = [mark]
        while chain[-1].memory is None:
            prev = self.timeline.prev(chain[-1])
            if prev is None:
                raise ReplayDiverged("no saved memory to start a replay from")
            chain.append(prev)
        self._load(chain.pop())
        while chain:
            m = chain.pop()
            self._replay_path(m.arrive)
            if m.applied:
                self._apply(m)
            if self.machine.pc != m.pc:
                raise ReplayDiverged(f"replay reached {self.machine.pc:#x}, "
                                     f"recorded {m.pc:#x}")

    def _point(self) -> Mark:
        """An index point: a plain mark made during a replay (no kernel work since the
        stretch began, so read-only memory and host files are as at its start)."""
        m = self.machine
        mem = self._capture_spaces(writable_only=True)
        assert self._current_io is not None, "set by the mark the replay started from"
        point = Mark(kind="index", arrive=None, applied=False, ctx=m.save_context(), pc=m.pc,
                     kernel=self._capture_kernel(), io=self._current_io, memory=mem)
        self._live_kernel = point.kernel
        point.extra["watcher"] = self._watcher_state()
        point.extra["hits"] = dict(self._hits)
        point.extra["clock"] = self.system.clock.state()
        point.extra["pid"] = self.kernel.process.pid
        point.extra["tid"] = self.kernel.current.tid
        return point

    def _load_point(self, point: Mark) -> None:
        assert point.memory is not None, "an index point holds its memory (see _point)"
        restore_spaces(point.memory, self._live_memory)
        self._live_memory = point.memory
        self._apply(point)
        self._hits = dict(point.extra.get("hits", {}))

    # -- positions -----------------------------------------------------------------------------
    def _normalize(self, mark: Mark, n: int) -> tuple[Mark, int]:
        """The same point, counted from the last plain mark (an index point) before it."""
        while True:
            nxt = self.timeline.next(mark)
            if nxt is None or nxt.applied or nxt.length is None or nxt.length > n:
                return mark, n
            n -= nxt.length
            mark = nxt

    def _stretch_ahead(self) -> Mark | None:
        """Normalize the current position and count the stretch from it to the next mark;
        returns that mark (see _counted)."""
        here = self.pos
        mark, n = here
        if n is None:
            assert self.timeline.next(mark) is None, "only the live end may be uncounted"
            return None
        mark, n, nxt = self._counted(mark, n)
        self.pos = (mark, n)
        if self._machine_at == here:
            self._machine_at = self.pos
        return nxt

    def _counted(self, mark: Mark, n: int) -> tuple[Mark, int, Mark | None]:
        """A position normalized, with the stretch from it to the next mark counted, and
        that mark (None after the last mark; its `arrive` None when the stretch was not
        recorded step by step). Normalizing comes first: it may move the position past a
        plain mark at this very point, into the stretch after that mark, which is the one
        to count (a free run, say, from a stop at a breakpoint)."""
        while True:
            mark, n = self._normalize(mark, n)
            nxt = self.timeline.next(mark)
            if nxt is None or nxt.arrive is None or nxt.length is not None:
                return mark, n, nxt
            self.gap_length(nxt)  # may insert index points: normalize again

    def _goto(self, mark: Mark, n: int) -> None:
        """Move to n instructions after `mark` (within the stretch that follows it)."""
        mark, n = self._normalize(mark, n)
        at = self._machine_at
        here = None  # where the machine is, normalized (an uncounted live end: unknown)
        if at is not None and self.timeline.holds(at[0]) and at[1] is not None:
            here = self._normalize(at[0], at[1])
        if here is not None and here[0] is mark and here[1] <= n and (
                n - here[1] <= INDEX_CHUNK or mark.memory is None):
            ahead = n - here[1]  # already on the way: just run forward
        else:
            self._materialize(mark)
            ahead = n
        if ahead:
            self._replay_path((Offset(ahead),))
        self.pos = (mark, n)
        self._path = ()
        self._machine_at = self.pos
        nxt = self.timeline.next(mark)
        if n == 0 and nxt is not None and nxt.kind == "edit" and nxt.arrive == ():
            self._goto(nxt, 0)  # an edit made at this point belongs to it: arriving shows it

    def _live_again(self) -> bool:
        """Make the current point the live end of history, forgetting the points after it,
        when they hold nothing the kernel did: plain stops, index points, a fetch from the
        vsyscall page not yet emulated. (A run that found a call into the vDSO or the
        vsyscall page at its target went one instruction past where `t` stops; that
        instruction, the call, is all there is to undo.) False, and nothing changed, when
        anything else lies ahead."""
        mark, n = self.pos
        t = self.timeline
        ahead = t.marks[t.index(mark) + 1:]
        if n is None or not ahead or any(
                m.kind not in ("stop", "index", "fault") or m.applied or m.events
                for m in ahead):
            return False
        for _ in ahead:
            t.drop_last()
        self._path = (Offset(n),) if n else ()
        return True

    def _ensure(self) -> None:
        """Bring the machine back to the current position (indexing moves it around)."""
        if self._machine_at is None or self._machine_at[0] is not self.pos[0] or \
                self._machine_at[1] != self.pos[1]:
            mark, n = self.pos
            assert n is not None, "a command starts and ends at a counted point"
            self._goto(mark, n)

    def at_live_end(self) -> bool:
        """Whether the current position is the live end of history, where the kernel runs
        for real."""
        mark, n = self.pos
        if n is not None:  # a run that stopped at the end of a stretch, not yet normalized
            mark, n = self._normalize(mark, n)
        return mark is self.timeline.last and (bool(self._path) or n == 0)

    def record_edit(self) -> None:
        """After the state at the live end was changed from outside (a debugger's register
        or memory write; call _freeze before making it): the edited state becomes a point
        of its own, an applied mark right at the point before it (no instruction between),
        so a replay that arrives there loads it instead of recomputing the unedited state
        (_goto), and a step back from it goes to the instruction before (_reverse_one)."""
        self._add_mark(self._snapshot("edit", (), applied=True, full=True))

    def _freeze(self) -> None:
        """Before leaving the live end of history, keep it as a mark (a plain stop)."""
        if self.at_live_end() and self._path:
            self._add_mark(self._snapshot("stop", self._path, applied=False))

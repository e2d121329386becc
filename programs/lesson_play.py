"""Playing a lesson through a DebugSession, with no screen: the lesson mode of the TUI and
the tests both drive it.

Going to a stop runs the session there (a breakpoint, a caught syscall, the next transition,
a phase of a transition...). Going back, or going on after the user wandered off with the
stepping keys, replays the lesson from the start of the recorded history: replays never
cross into the kernel again (the session loads each crossing's recorded outcome), so every
stop is found exactly where it was the first time.
"""

from __future__ import annotations

import contextlib
import re

from programs.lesson import _MEM, Lesson, LessonError, aliases


def make_session(lesson: Lesson, *, budget: int | None = None):
    """A fresh DebugSession on the lesson's program, with its arguments and run options."""
    from kernel_model.debugger.session import DebugSession
    from programs.options import UsageError, parse_run_line, resolve_program, run_options

    name = lesson.program_path()
    try:
        args = parse_run_line([*lesson.options, name, *lesson.args])
        program = resolve_program(args.program, args.arch)
    except UsageError as e:
        raise lesson.error(None, "program", str(e)) from None
    kwargs = {"budget": budget} if budget else {}
    return DebugSession.create(program, [lesson.program, *lesson.args], run_options(args),
                               **kwargs)


class LessonPlayer:
    def __init__(self, lesson: Lesson, session):
        self.lesson = lesson
        self.session = session
        self.index = -1  # the stop reached last (-1: none yet)
        self._fingerprint = None
        self._aliases = None
        # stop -> (a history mark where it starts, the phase walked to there or None, and
        # the fingerprint it had): how to come back to a stop already reached
        self._anchors: dict[int, tuple] = {}

    # -- where we are -----------------------------------------------------------------------
    @property
    def stop(self):
        return self.lesson.stops[self.index] if self.index >= 0 else None

    def _here(self):
        s = self.session
        walk = s.walk
        return (tuple(sorted(s.regs().items())), s.kernel.seq,
                None if walk is None else (walk.transition.kind, walk.transition.title,
                                           walk.phase))

    def at_stop(self) -> bool:
        """Whether the session is still exactly at the last stop reached (the user may have
        stepped away with the ordinary keys)."""
        return self.index >= 0 and self._fingerprint == self._here()

    # -- moving ---------------------------------------------------------------------------------
    def forward(self):
        """To the next stop (or back onto the current one, if the user wandered off)."""
        if self.index >= 0 and not self.at_stop():
            return self.goto(self.index)
        return self.goto(min(self.index + 1, len(self.lesson.stops) - 1))

    def back(self):
        """To the previous stop (or back onto the current one, if the user wandered off)."""
        if self.index >= 0 and not self.at_stop():
            return self.goto(self.index)
        return self.goto(max(self.index - 1, 0))

    def goto(self, k: int):
        """Run the session to stop k. Returns the session's last Stop (None if it did not
        move). LessonError, at the stop's line, when a stop cannot be reached.

        A stop reached before is found again at the history mark it started from; any
        other way (its mark thinned out of the history) replays the lesson from the start.
        """
        if not 0 <= k < len(self.lesson.stops):
            raise IndexError(k)
        if k == self.index and self.at_stop():
            return None
        before = self.index
        with self._lesson_breakpoints_only():
            result = self._jump(k)
            if result is not None:
                return result
            if not (k == self.index + 1 and (self.index < 0 or self.at_stop())):
                self.session.goto_start()
                self.index = -1
            try:
                while self.index < k:
                    result = self._move(self.index + 1)
                    self.index += 1
                    self._keep_anchor()
            except LessonError:
                self._return_to(before)
                raise
        self._fingerprint = self._here()
        return result

    def _keep_anchor(self) -> None:
        """Remember how to come back to the stop just reached: a history mark and how many
        instructions after it (while walking a transition: the point before it, and the
        phase)."""
        s = self.session
        self._fingerprint = self._here()
        if s.walk is not None:
            mark, n = s.walk.before_pos
            phase = s.walk.phase
        else:
            mark, n = s.pos
            phase = None
        self._anchors[self.index] = (mark, n, phase, self._fingerprint)

    def _jump(self, k: int):
        """Back to stop k by its anchor; None when it has none or it no longer leads there
        (then the lesson is replayed from the start)."""
        anchor = self._anchors.get(k)
        s = self.session
        if anchor is None or anchor[0] not in s.timeline.marks:
            return None
        mark, n, phase, fingerprint = anchor
        stop = s.goto((mark, n))
        if phase is not None:
            stop = s.step()
            self._walk_to(phase)
        if self._here() != fingerprint:
            return None
        self.index = k
        self._fingerprint = fingerprint
        return stop

    def _return_to(self, k: int) -> None:
        """After a stop could not be reached: back onto stop k (where the student was)."""
        if k >= 0 and self._jump(k) is not None:
            return
        self.session.goto_start()
        self.index = -1
        try:
            while self.index < k:
                self._move(self.index + 1)
                self.index += 1
        except LessonError:
            pass
        self._fingerprint = self._here()

    @contextlib.contextmanager
    def _lesson_breakpoints_only(self):
        """The user's own breakpoints must not stop a lesson's moves."""
        saved = [(b, b.enabled) for b in self.session.breakpoints]
        for b, _ in saved:
            b.enabled = False
        try:
            yield
        finally:
            for b, enabled in saved:
                b.enabled = enabled

    def _fail(self, i: int, message: str) -> LessonError:
        s = self.lesson.stops[i]
        return self.lesson.error(i, "at", f"stop {i + 1} (`at = \"{s.at}\"`): {message}")

    def _move(self, i: int):
        """From the current point to stop i."""
        s = self.session
        w = self.lesson.stops[i].where
        if w.kind == "start":
            return None
        if w.kind == "break":
            spec = self._spec(w.arg)
            addr = s.resolve(spec)
            if addr is None:
                raise self._fail(i, f"`{w.arg}`: no such address, label or symbol")
            if i == 0 and s.machine.pc == addr and s.walk is None and self.index < 0:
                return None  # already there: the program starts at this very label
            b = s.add_breakpoint(spec)
            try:
                stop = s.cont()
            finally:
                s.remove_breakpoint(b)
            return self._expect(i, stop, ("breakpoint",), f"`{w.arg}` was never reached")
        if w.kind == "syscall":
            stop = s.run_to_syscall(w.arg)
            return self._expect(i, stop, ("syscall",), f"no `{w.arg}` syscall came")
        if w.kind == "transition":
            stop = s.run_to_transition()
            return self._expect(i, stop, ("transition",), "no transition came")
        if w.kind == "phase":
            return self._phase(i, w.arg)
        if w.kind in ("step", "next"):
            self._leave_walk()
            stop = None
            for _ in range(w.count):
                stop = getattr(s, w.kind)()
                if stop.reason == "exited":
                    raise self._fail(i, "the program exited first")
            return stop
        if w.kind == "finish":
            self._leave_walk()
            stop = s.finish()
            if stop.message and "no return address" in stop.message:
                raise self._fail(i, stop.message)
            return stop
        if w.kind == "exit":
            for _ in range(100):  # faults with handlers and the like stop `cont` on the way
                stop = s.cont()
                if stop.reason == "exited":
                    return stop
            raise self._fail(i, "the program did not exit")
        raise self._fail(i, f"unknown kind of stop {w.kind}")

    def _spec(self, spec: str) -> str:
        """A breakpoint spec the session resolves: the program's own alias of a symbol
        (libc's `gettimeofday`) becomes the name the session knows, before the vDSO's
        symbol of the same name could be taken."""
        name, plus, off = spec.partition("+")
        if self._aliases is None:
            self._aliases = aliases(self.session.program) if self.session.program else {}
        known = self._aliases.get(name.strip())
        return known + plus + off if known else spec

    def _leave_walk(self) -> None:
        """Stepping instructions after a transition's phases starts from the end of it (the
        machine is already there while the phases are shown)."""
        if self.session.walk is not None:
            self.session.goto(self.session.pos)

    def _expect(self, i, stop, reasons, why):
        if stop is None or stop.reason not in reasons:
            got = f" (the program {stop.message or stop.reason})" if stop is not None else ""
            raise self._fail(i, why + got)
        return stop

    def _phase(self, i: int, target: str):
        """A phase of the transition being walked (if it comes later), else of the next
        transition."""
        s = self.session
        if s.walk is not None:
            idx = self._phase_index(i, target, s.walk.transition)
            if idx > s.walk.phase:
                return self._walk_to(idx)
        if s.walk is not None or s.upcoming() is None:
            stop = s.run_to_transition()
            self._expect(i, stop, ("transition",), "no transition came")
        stop = s.step()  # into it
        if s.walk is None:
            raise self._fail(i, f"the transition could not be entered ({stop.reason})")
        idx = self._phase_index(i, target, s.walk.transition)
        return self._walk_to(idx) or stop

    def _phase_index(self, i: int, target: str, transition) -> int:
        keys = [p.key for p in transition.phases]
        if target.isdigit():
            if int(target) < len(keys):
                return int(target)
        elif target in keys:
            return keys.index(target)
        listed = ", ".join(f"{n} {k}" for n, k in enumerate(keys))
        raise self._fail(i, f"this {transition.kind} transition has no phase `{target}` "
                         f"(its phases: {listed})")

    def _walk_to(self, idx: int):
        s = self.session
        stop = None
        while s.walk is not None and s.walk.phase < idx:
            stop = s.step()
        while s.walk is not None and s.walk.phase > idx:
            stop = s.reverse_step()
        return stop

    # -- what the stop points at ------------------------------------------------------------------
    def point_lines(self) -> list[str]:
        """The registers and memory the current stop points at, with their values as the
        screen shows them (while a transition's phases run, the user registers at the trap;
        at its last phase, the registers after it)."""
        st = self.stop
        if st is None:
            return []
        regs = self._shown_regs()
        changed = self._walk_changes()
        out = []
        for p in st.points:
            if p.lower() in changed:
                before, after, phase = changed[p.lower()]
                out.append(f"{p}: {before} -> {after}  ({phase})")
            else:
                out.append(self._point_text(p, regs))
        return out

    def _walk_changes(self) -> dict:
        """Registers the transition being walked has changed so far (by the shown phase):
        the CPU's rcx and r11, the kernel's esp, the result in rax..."""
        w = self.session.walk
        if w is None or w.phase >= len(w.transition.phases) - 1:
            return {}
        out = {}
        for phase in w.transition.phases[:w.phase + 1]:
            for c in phase.changes:
                out[c.what.lower()] = (c.before, c.after, phase.title)
        return out

    def _meaning(self, value: int) -> str:
        """What a value probably is: an address in a mapping (named), else a number (in
        decimal, negative for an error code)."""
        bits = self.session.bits
        signed = value - (1 << bits) if value >> (bits - 1) else value
        if -4096 < signed < 0:
            return f" ({signed})"
        vma = self.session.system.mm.find(value) if value >= 0x10000 else None
        if vma is not None:
            name = vma.name.rsplit("/", 1)[-1] if vma.name else "anonymous memory"
            return f" (in {name})"
        return f" ({signed})" if signed >= 10 else ""

    def _shown_regs(self) -> dict:
        s = self.session
        w = s.walk
        if w is not None and w.phase < len(w.transition.phases) - 1:
            return dict(w.before.regs)
        return s.regs()

    def _point_text(self, p: str, regs: dict) -> str:
        m = _MEM.match(p)
        if not m:
            name = {"rflags": "eflags", "flags": "eflags"}.get(p.lower(), p.lower())
            value = regs.get(name)
            if value is None and name.startswith("e") and "r" + name[1:] in regs:
                value = regs["r" + name[1:]] & 0xFFFFFFFF
            if value is None:
                return f"{p}: not a register of this program"
            return f"{p} = {value:#x}" + self._meaning(value)
        base, sign, off = m.group(1), m.group(2), m.group(3)
        addr = regs.get(base.lower())
        if addr is None:
            addr = self.session.resolve(base)
        if addr is None:
            return f"{p}: `{base}` is unknown here"
        if off:
            addr += int(off, 0) * (-1 if sign == "-" else 1)
        word = self.session.machine.arch.word
        try:
            data = self.session.machine.read(addr, 16)
        except Exception:
            return f"{p}: nothing mapped at {addr:#x}"
        value = int.from_bytes(data[:word], "little")
        text = data.split(b"\0")[0] if b"\0" in data else data
        shown = re.sub(r"[^\x20-\x7e]", ".", text.decode("latin-1"))
        more = "" if b"\0" in data else "..."
        return f"{p} = {value:#x}  (at {addr:#x}: \"{shown}\"{more})"


def play(lesson: Lesson, session=None):
    """Play every stop in order, headless; yields (stop index, player) at each."""
    own = session is None
    session = session or make_session(lesson)
    player = LessonPlayer(lesson, session)
    try:
        for k in range(len(lesson.stops)):
            player.goto(k)
            yield k, player
    finally:
        if own:
            session.close()


def check(lesson: Lesson, out=None) -> int:
    """`syscall-lab lesson --check`: play the lesson headless and say which stop fails, at
    its line. 0 when every stop is reached."""
    import sys

    out = out or sys.stdout
    try:
        for k, _ in play(lesson):
            print(f"stop {k + 1}/{len(lesson.stops)}  {lesson.stops[k].at}: reached", file=out)
    except LessonError as e:
        print(f"syscall-lab: {e}", file=sys.stderr)
        return 1
    print(f"{lesson.path}: all {len(lesson.stops)} stops reached", file=out)
    return 0

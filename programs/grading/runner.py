"""One graded run: draw the run's inputs from its template, run the solution in a fresh
System with a timeout and an instruction cap, and keep what the checks look at (status,
output, the event stream)."""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from programs.grading.capture import Capture
from programs.grading.spec import (
    DEFAULT_CLOCK,
    RUNAWAY_CAP,
    RUNAWAY_CAP_WITH_BUDGET,
    Exercise,
    RunTemplate,
    SpecError,
)
from programs.grading.templates import TemplateError, draw, expand, expand_int, expand_value

BASE_ENV = ["HOME=/", "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]
STRING_LIMIT = 4096  # whole strings in the transcript, not strace's 32 bytes


@dataclass
class RunInputs:
    index: int  # 1-based
    argv: list[str]
    stdin: str
    env: list[str]
    files: dict[str, str]
    clock: str
    seed: int
    names: dict  # every template variable of this run
    template: RunTemplate

    def describe(self) -> str:
        parts = ["argv [" + ", ".join(_short(a) for a in self.argv) + "]"]
        if self.stdin:
            parts.append(f"stdin {_short(self.stdin)}")
        extra = [e for e in self.env if e not in BASE_ENV]
        if extra:
            parts.append("env " + " ".join(_short(e) for e in extra))
        if self.files:
            parts.append("files " + ", ".join(
                f"{self.template.mount}/{p}" for p in self.files))
        if self.template.clock != DEFAULT_CLOCK:
            parts.append(f"clock {self.clock}")
        parts.append(f"seed {self.seed}")
        return ", ".join(parts)

    def to_json(self) -> dict:
        return {"run": self.index, "argv": self.argv, "stdin": self.stdin, "env": self.env,
                "files": {f"{self.template.mount}/{p}": c for p, c in self.files.items()},
                "clock": self.clock, "seed": self.seed}


def _short(text: str, limit: int = 40) -> str:
    r = repr(text)
    return r if len(r) <= limit else r[:limit - 4] + "...'"


@dataclass
class RunOutcome:
    inputs: RunInputs
    status: int
    code: int | None  # the exit code, None when killed or stopped
    signal: int | None
    stopped: str | None  # "max-insns" or "timeout" when the grader stopped the guest
    stdout: bytes
    stderr: bytes
    events: list
    instructions: int
    error: str | None = None  # the emulator itself failed (a syscall-lab bug)
    lines: list = field(default_factory=list)  # (normalized strace line, event)
    system: object = None  # for diagnoses (the vDSO's range, the vsyscall mode)
    written: tuple[int, int] = (0, 0)  # bytes written to stdout, stderr (kept: the first MiB)


def draw_inputs(exercise: Exercise, template: RunTemplate, index: int,
                rng: random.Random) -> RunInputs:
    try:
        names: dict = {"run": index}
        for name, spec in exercise.vars.items():
            names[name] = draw(name, spec, rng, names)
        for name, spec in template.vars.items():
            names[name] = draw(name, spec, rng, names)
        argv0 = "./" + exercise.name
        args = template.argv
        # A string is a command line split at spaces, so the number of arguments can vary.
        args = expand(args, names).split() if isinstance(args, str) else \
            expand_value(args, names)
        argv = [argv0, *args]
        names.update(argv=argv, argc=len(argv), mount=template.mount)
        for i, a in enumerate(argv):
            names[f"argv{i}"] = a
        stdin = expand(template.stdin, names)
        env = template.env
        env = BASE_ENV + (expand(env, names).split() if isinstance(env, str) else
                          expand_value(env, names))
        files = {expand(p, names): expand(c, names) for p, c in template.files.items()}
        clock = expand(template.clock, names)
        seed = (expand_int(template.seed, names) if template.seed is not None
                else rng.randrange(1 << 31))
        names.update(stdin=stdin, env=dict(e.split("=", 1) for e in env if "=" in e),
                     seed=seed)
        if clock.startswith("frozen:"):
            names.setdefault("epoch", int(float(clock[len("frozen:"):])))
    except TemplateError as e:
        raise SpecError(f"{exercise.path}: run {index}: {e}") from None
    except ValueError as e:
        raise SpecError(f"{exercise.path}: run {index}: clock: {e}") from None
    return RunInputs(index, argv, stdin, env, files, clock, seed, names, template)


def run(exercise: Exercise, program, inputs: RunInputs) -> RunOutcome:
    """Run `program` (emu.program.Program) once, in a private temp directory."""
    from kernel_model.system import Mount, RunOptions, System
    from kernel_model.trace.events import (
        ProcessExited,
        ProcessForked,
        ProcessStarted,
        RunStopped,
        SignalDelivered,
        SyscallBlocked,
        SyscallReturned,
        TaskSwitched,
    )
    from programs.grading.transcript import normalize, rejoin, split_pid

    t = inputs.template
    # The cap only stops a runaway: the budget is judged on the count afterwards, so a
    # program a little over it still runs to its own end (its crash or its exit).
    budget = exercise.checks.budget
    cap = max(RUNAWAY_CAP_WITH_BUDGET, 4 * budget) if budget else RUNAWAY_CAP
    with tempfile.TemporaryDirectory(prefix="syscall-lab-check-") as tmp:
        share = Path(tmp) / "share"
        share.mkdir()
        for rel, content in inputs.files.items():
            target = share / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        (Path(tmp) / "stdin").write_text(inputs.stdin)
        out, err = Capture(), Capture()
        try:
            with open(Path(tmp) / "stdin", "rb") as fin:
                options = RunOptions(
                    seed=inputs.seed, clock=inputs.clock,
                    mounts=[Mount(str(share), t.mount, t.writable)],
                    max_insns=cap, timeout=exercise.timeout, string_limit=STRING_LIMIT,
                    env=inputs.env, stdin_fd=fin.fileno(), stdout_fd=out.fd,
                    stderr_fd=err.fd, vsyscall=t.vsyscall, vdso=t.vdso)
                if t.kernel is not None:
                    options.kernel = t.kernel
                events: list = []
                error = None
                try:
                    system = System(program.image, program.path, inputs.argv, options,
                                    symbols=program.symbols)
                except ValueError as e:
                    raise SpecError(f"{exercise.path}: run {inputs.index}: {e}") from None
                system.kernel.attach(events.append)
                try:
                    status = system.run()
                except (KeyboardInterrupt, MemoryError):
                    raise  # the host's limit, not a model bug: the grader says which
                except Exception as e:  # noqa: BLE001  (a model bug must not look like a crash)
                    status, error = 2, f"{type(e).__name__}: {e}"
        finally:
            stdout, stderr = out.close(), err.close()
    outcome = RunOutcome(inputs, status, None, None, None, stdout, stderr, events,
                         system.counter.count if system.counter else 0, error, system=system,
                         written=(out.total, err.total))
    # A run with more than one task names the task of every line, as strace -f does once
    # there are several: `[pid N] ` (N the thread id), from its first line to its last.
    many = any(isinstance(e, ProcessForked) for e in events)
    first, tid = None, 0
    waited: dict[int, str] = {}  # a blocked call's seq -> its `<unfinished ...>` line
    for e in events:
        if isinstance(e, ProcessStarted):
            if first is None:  # (an execve may start another image later, in any task)
                first = tid = e.pid
        elif isinstance(e, TaskSwitched):
            tid = e.tid
        elif isinstance(e, ProcessExited):
            if e.pid in (0, first):  # the status a shell sees: the first process's
                outcome.code, outcome.signal = e.code, e.signal
        elif isinstance(e, RunStopped):
            outcome.stopped = e.reason
        elif isinstance(e, SyscallBlocked):
            waited[e.seq] = e.text
        elif isinstance(e, (SyscallReturned, SignalDelivered)):
            text = e.text.strip()
            # (a text that names its task already keeps its own prefix)
            prefix = f"[pid {tid}] " if many and not split_pid(text)[0] else ""
            if isinstance(e, SyscallReturned):
                # A call that waited is one line here, as it would be had it not waited.
                if e.resumed_from and e.resumed_from in waited:
                    text = rejoin(waited.pop(e.resumed_from), text)
                text = normalize(text)
            outcome.lines.append((prefix + text, e))
    if outcome.stopped is not None:
        outcome.code = None
    return outcome

"""Grading a solution: assemble it once, run it on every randomized run, apply every check,
then place the feedback (run-wide notes, cross-run observations, the spec's hints) under
the checks that failed, and score."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from programs.grading import checks as C
from programs.grading import diagnose, hints, unsolved
from programs.grading.checks import CheckResult
from programs.grading.runner import RunInputs, RunOutcome, draw_inputs, run
from programs.grading.spec import Exercise, SpecError


@dataclass
class GradedRun:
    inputs: RunInputs
    outcome: RunOutcome
    checks: list[CheckResult]


@dataclass
class Report:
    exercise: Exercise
    solution: str
    seed: int
    static: list[CheckResult]
    runs: list[GradedRun] = field(default_factory=list)

    def check_names(self) -> list[str]:
        names = [c.name for c in self.static]
        for r in self.runs:
            for c in r.checks:
                if c.name not in names:
                    names.append(c.name)
        return names

    def verdicts(self) -> dict[str, bool]:
        """Each check passes when it passed on every run."""
        out = {c.name: c.passed for c in self.static}
        for r in self.runs:
            for c in r.checks:
                out[c.name] = out.get(c.name, True) and c.passed
        return out

    @property
    def exited(self) -> int:
        """How many runs reached their own exit (not killed, not stopped, no emulator error)."""
        return sum(1 for r in self.runs if r.outcome.code is not None and not r.outcome.error)

    @property
    def score(self) -> float:
        """The weighted share of the checks that passed on every run. Passing the gates
        (assemble, arch) earns nothing; a solution that never reached its exit (killed by a
        signal or stopped in every run) earns nothing either, whatever else it passed."""
        if not self.runs or not self.exited:
            return 0.0
        v = self.verdicts()
        weights = {n: self.exercise.weight(n) for n in v}
        total = sum(weights.values())
        if total == 0:
            return 1.0 if self.passed else 0.0
        return round(sum(w for n, w in weights.items() if v[n]) / total, 4)

    def zero_reason(self) -> str | None:
        """Why the score is 0 though some checks passed, in words for the summary line."""
        if not self.runs or self.exited or not any(self.verdicts().values()):
            return None
        how = " or ".join(dict.fromkeys(_ended(r.outcome) for r in self.runs))
        return f"no run reached its exit ({how} every time), so no check earns points"

    @property
    def passed(self) -> bool:
        return bool(self.runs) and all(self.verdicts().values())


def _ended(outcome) -> str:
    from kernel_model.uapi.constants import signal_name

    if outcome.error:
        return "an emulator failure"
    if outcome.signal is not None:
        return f"killed by {signal_name(outcome.signal) or outcome.signal}"
    if outcome.stopped == "max-insns":
        return "stopped by the grader's instruction limit"
    if outcome.stopped == "deadlock":
        return "stopped in a deadlock"
    return "stopped by the grader's time limit"


def grade(exercise: Exercise, solution: str, seed: int | None = None,
          isolate: bool = False) -> Report:
    """Raises SpecError for a broken exercise; a broken solution is a failed check.
    `isolate`: assemble and run each run in a child process with hard memory and time
    limits (programs.grading.isolate), so nothing a solution does stops the grader."""
    from emu.elf import BadProgram
    from emu.program import load_program
    from programs.grading import isolate as iso
    from programs.grading.instructions import program_instructions

    if seed is None:
        seed = random.SystemRandom().randrange(1 << 31)
    rng = random.Random(seed)
    report = Report(exercise, solution, seed, [])
    try:
        if isolate:
            program = iso.call(load_program, solution, exercise.bits,
                               seconds=iso.ASSEMBLE_SECONDS, doing="assembling this solution")
            if isinstance(program, iso.GraderStopped):
                report.static.append(CheckResult("assemble", False, program.words,
                                                 ["nothing ran"]))
                return report
        else:
            program = load_program(solution, exercise.bits)
    except BadProgram as e:
        line = unsolved.unsolved_line(solution, str(e))
        if line is not None:  # the starter as given: say where to write, not "line 1"
            report.static.append(CheckResult(
                "assemble", False, unsolved.message(line),
                [f"{solution} has no instructions yet, so nothing ran"]))
            return report
        report.static.append(CheckResult(
            "assemble", False, str(e),
            ["the program did not assemble or load, so nothing ran; fix this line first"]))
        return report
    arch = program.image.arch.name
    insns = program_instructions(program)
    if program.assembled is not None:
        report.static.append(CheckResult("assemble", True, f"{len(insns)} "
                                         f"instructions ({arch})"))
    else:
        report.static.append(CheckResult("assemble", True, f"a static ELF ({arch})"))
    if arch != exercise.arch:
        how = (f"start the file with `bits {exercise.bits}`" if program.assembled is not None
               else f"build it for {exercise.arch}")
        report.static.append(CheckResult(
            "arch", False, f"your program is {arch}, this exercise is {exercise.arch}",
            [f"{how}; the registers, the syscall numbers and the entry instruction all differ"],
            exercise.arch, arch))
        return report
    checks = exercise.checks
    if checks.instructions_allow or checks.instructions_forbid:
        result = C.check_instructions(insns, checks)
        if not result.passed:
            for h in exercise.hints:
                if h.check == "instructions" and set(h.when) <= {"instruction"} and \
                        hints.applies(h.when, None, insns):
                    result.feedback.append("hint: " + h.say.strip())
        report.static.append(result)
    ctx = diagnose.Context(program, exercise.bits, checks.budget, exercise.timeout,
                           expected_calls(checks), checks.trace is not None and
                           all(line.strip() != "..." for line in checks.trace.splitlines()))
    for inputs in draw_runs(exercise, rng):
        if isolate:
            graded = iso.call(_graded_run, exercise, program, inputs, ctx, insns, True,
                              seconds=exercise.timeout + iso.EXTRA_SECONDS)
            if isinstance(graded, iso.GraderStopped):
                graded = _stopped_run(inputs, graded)
        else:
            graded = _graded_run(exercise, program, inputs, ctx, insns)
        report.runs.append(graded)
    _same_every_run(report)
    return report


def _graded_run(exercise: Exercise, program, inputs: RunInputs, ctx, insns,
                detach: bool = False) -> GradedRun:
    outcome = run(exercise, program, inputs)
    try:
        results = _run_checks(exercise, outcome, ctx, inputs.names)
    except SpecError as e:
        raise SpecError(f"{exercise.path}: run {inputs.index}: {e}") from None
    _place_notes(results, diagnose.notes(outcome, ctx))
    hints.place(exercise, results, outcome, insns, inputs.names)
    if detach:  # sent back from a child: the machine stays there
        outcome.system = None
    return GradedRun(inputs, outcome, results)


def _stopped_run(inputs: RunInputs, stopped) -> GradedRun:
    """A run whose process a hard limit ended: its exit check fails, saying which limit."""
    outcome = RunOutcome(inputs, 2, None, None, None, b"", b"", [], 0, error=stopped.words)
    check = CheckResult("exit", False, stopped.words, [
        "the run's process was ended from outside, so nothing it did was kept"],
        observed=f"stopped by the grader ({stopped.reason})")
    return GradedRun(inputs, outcome, [check])


def draw_runs(exercise: Exercise, rng: random.Random) -> list[RunInputs]:
    """Every run's inputs, template by template; within a template no two runs expect the
    same answer when its variables allow it (see _draw_distinct)."""
    out: list[RunInputs] = []
    for template in exercise.runs:
        answers: set = set()
        seen: set = set()
        for _ in range(template.repeat):
            out.append(_draw_distinct(exercise, template, len(out) + 1, rng, answers, seen))
    return out


DRAW_ATTEMPTS = 64  # (3/7)**64: exit-argc's 4th run repeating one of 7 counts never happens


def _draw_distinct(exercise: Exercise, template, index: int, rng: random.Random,
                   answers: set, seen: set) -> RunInputs:
    """The run's inputs, drawn until the answer they expect (exit status, output,
    transcript) differs from every earlier run of this template, so that no seed gives two
    runs one answer and a hard-coded answer always fails. When the template's variables
    cannot give a new answer (exit-42 has none), at least new inputs; else the last draw."""
    fallback = None
    for _ in range(DRAW_ATTEMPTS):
        inputs = draw_inputs(exercise, template, index, rng)
        answer, given = _expected_answer(exercise, inputs), _given(inputs)
        if answer not in answers:
            break
        if fallback is None and given not in seen:
            fallback = inputs
    else:
        inputs = fallback or inputs
        answer, given = _expected_answer(exercise, inputs), _given(inputs)
    answers.add(answer)
    seen.add(given)
    return inputs


def _given(inputs: RunInputs) -> tuple:
    return (tuple(inputs.argv), inputs.stdin, tuple(inputs.env),
            tuple(sorted(inputs.files.items())), inputs.clock)


def _expected_answer(exercise: Exercise, inputs: RunInputs) -> tuple:
    from programs.grading.templates import TemplateError, expand
    from programs.grading.transcript import TranscriptError, parse

    c, names = exercise.checks, inputs.names
    out = []
    for value in (c.exit, c.stdout, c.stdout_regex, c.stderr, c.stderr_regex,
                  *c.trace_where.values()):
        try:
            out.append(expand(str(value), names) if value is not None else None)
        except TemplateError:  # reported by its check, with the spec's key
            out.append(None)
    if c.trace is not None:
        try:
            out.append(tuple(repr(line.pieces) for line in parse(c.trace, names)))
        except TranscriptError:
            out.append(None)
    return tuple(out)


def expected_calls(checks) -> tuple[str, ...]:
    """The syscalls the transcript names (`write(`, `<_:exit|exit_group>(`), in order, and
    the required ones: a call outside them is the first thing feedback looks at."""
    import re

    out: list[str] = []
    for line in (checks.trace or "").splitlines():
        m = re.match(r"\s*(?:<_:(\w+(?:\|\w+)*)>|([A-Za-z_]\w*))\(", line)
        if m:
            out += (m.group(1) or m.group(2)).split("|")
    return tuple(dict.fromkeys(out + list(checks.syscalls_require)))


def _run_checks(exercise: Exercise, outcome, ctx, names: dict) -> list[CheckResult]:
    c = exercise.checks
    out = [C.check_exit(outcome, c, ctx, names)]
    if c.stdout is not None or c.stdout_regex is not None:
        out.append(C.check_stream(outcome, 1, c.stdout, c.stdout_regex, ctx, names))
    if c.stderr is not None or c.stderr_regex is not None:
        out.append(C.check_stream(outcome, 2, c.stderr, c.stderr_regex, ctx, names))
    if c.trace is not None:
        out.append(C.check_trace(outcome, c, ctx, names))
    if c.syscalls_require or c.syscalls_forbid:
        out.append(C.check_syscalls(outcome, c, ctx))
    if c.mechanisms_require or c.mechanisms_forbid:
        out.append(C.check_mechanisms(outcome, c, ctx))
    if c.budget is not None:
        out.append(C.check_budget(outcome, c))
    return out


def _place_notes(results: list[CheckResult], notes: list[tuple[str, str | None]]) -> None:
    for note, prefer in notes:
        target = next((r for r in results if r.name == prefer and not r.passed), None) \
            or C.first_failed(results)
        if target is not None and note not in target.feedback:
            # before the observed trace's window, which stays last
            at = next((i for i, f in enumerate(target.feedback)
                       if f.startswith("observed trace:")), len(target.feedback))
            target.feedback.insert(at, note)


def _same_every_run(report: Report) -> None:
    """A hard-coded answer: the same output (or status) in every run while the expected one
    changes with the input."""
    if len(report.runs) < 2:
        return
    for name in ("stdout", "exit"):
        results = [next((c for c in r.checks if c.name == name), None) for r in report.runs]
        if any(r is None for r in results):
            continue
        observed = {repr(r.observed) for r in results}
        expected = {repr(r.expected) for r in results}
        clean = all(r.outcome.code is not None for r in report.runs)
        if clean and len(observed) == 1 and len(expected) > 1 and \
                not all(r.passed for r in results):
            what = "output" if name == "stdout" else "exit status"
            note = (f"your {what} is the same in every run, though the expected one changes "
                    "with the run's input: is one run's answer written into the program instead "
                    "of computed from the input (argv, stdin, the environment, files, clock)?")
            for r in results:
                if not r.passed and len(r.feedback) <= 1:  # nothing better to say
                    r.feedback.append(note)

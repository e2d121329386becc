"""Grading a solution: assemble it once, run it on every randomized run, apply every check,
then place the feedback (run-wide notes, cross-run observations, the spec's hints) under
the checks that failed, and score."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from kernel_model.grading import checks as C
from kernel_model.grading import diagnose, hints
from kernel_model.grading.checks import CheckResult
from kernel_model.grading.runner import RunInputs, RunOutcome, draw_inputs, run
from kernel_model.grading.spec import Exercise, SpecError


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
    def score(self) -> float:
        if not self.runs:  # did not assemble, or the wrong architecture
            return 0.0
        v = self.verdicts()
        return round(sum(v.values()) / len(v), 4)

    @property
    def passed(self) -> bool:
        return bool(self.runs) and all(self.verdicts().values())


def grade(exercise: Exercise, solution: str, seed: int | None = None) -> Report:
    """Raises SpecError for a broken exercise; a broken solution is a failed check."""
    from emu.elf import BadProgram
    from emu.program import load_program
    from kernel_model.grading.instructions import program_instructions

    if seed is None:
        seed = random.SystemRandom().randrange(1 << 31)
    rng = random.Random(seed)
    report = Report(exercise, solution, seed, [])
    try:
        program = load_program(solution, exercise.bits)
    except BadProgram as e:
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
    ctx = diagnose.Context(program, exercise.bits, checks.budget, exercise.timeout)
    index = 0
    for template in exercise.runs:
        for _ in range(template.repeat):
            index += 1
            inputs = draw_inputs(exercise, template, index, rng)
            outcome = run(exercise, program, inputs)
            try:
                results = _run_checks(exercise, outcome, ctx, inputs.names)
            except SpecError as e:
                raise SpecError(f"{exercise.path}: run {index}: {e}") from None
            _place_notes(results, diagnose.notes(outcome, ctx))
            hints.place(exercise, results, outcome, insns, inputs.names)
            report.runs.append(GradedRun(inputs, outcome, results))
    _same_every_run(report)
    return report


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
            target.feedback.append(note)


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

"""The checks: each compares one thing a run did with what the exercise expects and says
so in a sentence, with the diagnosis attached when it fails. Static checks (assembly,
architecture, instructions) look at the solution once; the others at every run."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from programs.grading import diagnose
from programs.grading.diagnose import Context
from programs.grading.spec import Checks, SpecError
from programs.grading.templates import TemplateError, expand, expand_int


@dataclass
class CheckResult:
    name: str  # one of spec.CHECK_NAMES
    passed: bool
    summary: str  # one line: what was checked and what was seen
    feedback: list[str] = field(default_factory=list)  # why it failed, hints
    expected: object = None
    observed: object = None

    def to_json(self) -> dict:
        return {"name": self.name, "passed": self.passed, "summary": self.summary,
                "feedback": self.feedback, "expected": self.expected,
                "observed": self.observed}


# Where a run-wide note goes: under the first of these checks that failed.
NOTE_ORDER = ("trace", "stdout", "stderr", "exit", "syscalls", "mechanisms", "budget")


def first_failed(results: list[CheckResult], order=NOTE_ORDER) -> CheckResult | None:
    failed = {r.name: r for r in results if not r.passed}
    return next((failed[n] for n in order if n in failed), None)


# -- static ------------------------------------------------------------------------------
def check_instructions(insns, checks: Checks) -> CheckResult:
    from programs.grading.instructions import matches

    bad = []
    for insn in insns:
        forbidden = next((f for f in checks.instructions_forbid if matches(insn, f)), None)
        if forbidden is not None:
            bad.append((insn, f"this exercise forbids `{forbidden}`"))
        elif checks.instructions_allow and not any(matches(insn, a)
                                                   for a in checks.instructions_allow):
            bad.append((insn, "not among the allowed instructions ("
                        + ", ".join(f"`{a}`" for a in checks.instructions_allow) + ")"))
    rules = []
    if checks.instructions_forbid:
        rules.append("forbidden: " + ", ".join(checks.instructions_forbid))
    if checks.instructions_allow:
        rules.append("allowed: " + ", ".join(checks.instructions_allow))
    if not bad:
        return CheckResult("instructions", True, f"{len(insns)} instructions, none "
                           f"disallowed ({'; '.join(rules)})",
                           expected=rules, observed=[])
    feedback = [f"{'line ' + str(i.line) if i.line else hex(i.addr)}: `{i.text}`: {why}"
                for i, why in bad[:8]]
    if len(bad) > 8:
        feedback.append(f"... and {len(bad) - 8} more")
    return CheckResult("instructions", False, f"{len(bad)} disallowed instruction(s)",
                       feedback, expected=rules, observed=[i.text for i, _ in bad])


# -- per run -----------------------------------------------------------------------------
def check_exit(outcome, checks: Checks, ctx: Context, names: dict) -> CheckResult:
    expected = None
    if checks.exit is not None:
        try:
            expected = expand_int(checks.exit, names)
        except TemplateError as e:
            raise SpecError(f"checks.exit: {e}") from None
    want = "any exit status" if expected is None else f"exit status {expected}"
    if outcome.code is None:
        return CheckResult("exit", False, f"{_ending(outcome)}, expected {want}",
                           diagnose.death(outcome, ctx), expected, None)
    if expected is None or outcome.code == expected:
        return CheckResult("exit", True, f"exit status {outcome.code}", [], expected,
                           outcome.code)
    return CheckResult("exit", False, f"exit status {outcome.code}, expected {expected}",
                       diagnose.wrong_status(outcome, ctx, expected), expected, outcome.code)


def _ending(outcome) -> str:
    from kernel_model.uapi.constants import signal_name

    if outcome.error:
        return "the emulator failed"
    if outcome.stopped == "max-insns":
        return f"stopped after {outcome.instructions} instructions"
    if outcome.stopped == "deadlock":
        return "stopped: every process waits for another (a deadlock)"
    if outcome.stopped:
        return "stopped: out of time"
    if outcome.signal is not None:
        return f"killed by {signal_name(outcome.signal) or outcome.signal}"
    return "did not exit"


def check_stream(outcome, fd: int, exact: str | None, regex: str | None, ctx: Context,
                 names: dict) -> CheckResult:
    name = "stdout" if fd == 1 else "stderr"
    observed = outcome.stdout if fd == 1 else outcome.stderr
    shown = diagnose.quote_output(observed)
    try:
        if exact is not None:
            want = expand(exact, names).encode()
        else:
            pattern = expand(regex, names, escape=re.escape)
    except TemplateError as e:
        raise SpecError(f"checks.{name}{'' if exact is not None else '_regex'}: {e}") from None
    if exact is not None:
        if observed == want:
            return CheckResult(name, True, shown, [], want.decode(errors="replace"),
                               observed.decode(errors="replace"))
        feedback = diagnose.output_diff(want, observed, fd, outcome, ctx)
        total = outcome.written[fd - 1]
        if total > len(observed):
            feedback.append(f"the program wrote {total} bytes to {name}; the grader kept the "
                            f"first {len(observed)}")
        return CheckResult(name, False, f"expected {diagnose.quote_output(want)}, got "
                           f"{shown}", feedback, want.decode(errors="replace"),
                           observed.decode(errors="replace"))
    try:
        ok = re.fullmatch(pattern, observed.decode(errors="replace"), re.S) is not None
    except re.error as e:
        raise SpecError(f"checks.{name}_regex: bad regex ({e})") from None
    if ok:
        return CheckResult(name, True, f"{shown} matches /{regex}/", [], regex,
                           observed.decode(errors="replace"))
    feedback = [] if observed else diagnose.output_diff(b"?", b"", fd, outcome, ctx)
    return CheckResult(name, False, f"{shown} does not match /{pattern}/", feedback,
                       pattern, observed.decode(errors="replace"))


def check_trace(outcome, checks: Checks, ctx: Context, names: dict) -> CheckResult:
    from programs.grading import transcript

    try:
        pattern = transcript.parse(checks.trace, names)
        bound = {k: expand(v, names) for k, v in checks.trace_where.items()}
    except (transcript.TranscriptError, TemplateError) as e:
        raise SpecError(f"checks.trace: {e}") from None
    lines = [text for text, _ in outcome.lines]
    result = transcript.match(pattern, lines, bound)
    shown = {k: v for k, v in result.bindings.items() if k not in bound}
    if result.ok:
        got = ", ".join(f"{k} = {v}" for k, v in shown.items())
        return CheckResult("trace", True, f"matches the transcript ({len(lines)} "
                           f"line{'s' if len(lines) != 1 else ''}{'; ' + got if got else ''})",
                           [], checks.trace, lines)
    mm = result.mismatch
    feedback = _trace_feedback(mm, outcome, ctx)
    feedback += _window(lines, mm.index)
    if mm.kind == "extra":
        summary = f"unexpected line {mm.index + 1} after the transcript's end"
    elif mm.kind == "ended":
        summary = "the trace ended before the transcript did"
    elif mm.kind == "missing":
        summary = f"no line matches `{shorten(mm.shown, 80)}`"
    else:
        summary = f"line {mm.index + 1} differs from the transcript"
    return CheckResult("trace", False, summary, feedback, checks.trace, lines)


def _trace_feedback(mm, outcome, ctx: Context) -> list[str]:
    from programs.grading.transcript import call_name

    lines = outcome.lines
    if mm.kind == "extra":
        text, event = lines[mm.index]
        at = f" at {diagnose.where(ctx, event.pc, outcome.system)}" if hasattr(event, "pc") \
            else ""
        return [f"unexpected line after the expected end: {shorten(text)}{at}"]
    if mm.kind == "ended":
        out = [f"the trace ended before: {shorten(mm.shown)}"]
        if outcome.code is None:
            out.append("(the run did not end with exit: see the exit check)")
        return out
    if mm.kind == "differs":
        text, event = lines[mm.index]
        name = call_name(text)
        shown = mm.pattern.human(mm.bindings, call=name)
        out = [f"expected: {shorten(shown)}", f"got:      {shorten(text)}"]
        expected = mm.pattern.render(mm.bindings, call=name if name in
                                     mm.pattern.call_names() else None)
        out += diagnose.arg_diff(expected, text, _entry_of(outcome, event), ctx)
        return out
    # missing: after a `...` gap nothing matched; show the closest line of the same call.
    want = mm.pattern.call_names() if mm.pattern is not None else set()
    out = [f"expected a line: {shorten(mm.shown)}" + (f" (after line {mm.index})"
                                                         if mm.index else "")]
    candidates = [(i, t, e) for i, (t, e) in enumerate(lines) if i >= mm.index and
                  call_name(t) in want]
    if candidates:
        i, text, event = candidates[0]
        out.append(f"closest, line {i + 1}: {shorten(text)}")
        expected = mm.pattern.render(mm.bindings, call=call_name(text))
        out += diagnose.arg_diff(expected, text, _entry_of(outcome, event), ctx)
    elif want:
        calls = " or ".join(sorted(want))
        out.append(f"no {calls} call {'after line ' + str(mm.index) if mm.index else 'at all'}")
    if mm.index >= len(lines) and outcome.code is None:
        out.append("(the run did not end with exit: see the exit check)")
    return out


def shorten(line: str, limit: int = 160) -> str:
    """A trace line for the screen: long strings cut (the JSON keeps them whole)."""
    return line if len(line) <= limit else line[:limit - 5] + "[...]"


def _entry_of(outcome, event):
    from kernel_model.trace.events import SyscallEntered

    seq = getattr(event, "seq", None)
    if seq is None:
        return None
    return next((e for e in outcome.events if isinstance(e, SyscallEntered) and e.seq == seq),
                None)


def _window(lines: list[str], index: int, before: int = 4, after: int = 3) -> list[str]:
    if not lines:
        return ["(the trace is empty: no syscall was made)"]
    lo, hi = max(0, index - before), min(len(lines), index + after + 1)
    out = ["observed trace:" + (f" (lines {lo + 1}-{hi} of {len(lines)})"
                                if (lo, hi) != (0, len(lines)) else "")]
    for i in range(lo, hi):
        out.append(f"{'>' if i == index else ' '} {i + 1:3d}  {shorten(lines[i])}")
    return out


MECH_ADVICE = {
    "syscall": "make the crossing another way (`int 0x80` with the i386 numbers, or the vDSO)",
    "int 0x80": "use the entry this exercise is about instead",
    "sysenter": "use the entry this exercise is about instead",
    "vdso": "make the call without the vDSO",
    "vsyscall": "make the call without the vsyscall page",
}
MECH_HOWTO = {
    "syscall": "the `syscall` instruction (x86-64 numbers in rax, arguments in rdi rsi rdx)",
    "int 0x80": "`int 0x80` (i386 numbers in eax, arguments in ebx ecx edx)",
    "sysenter": "`sysenter`, reached by calling __kernel_vsyscall, whose address is "
                "AT_SYSINFO (32) in the auxiliary vector",
    "vdso": "a call into the vDSO: find its ELF header through AT_SYSINFO_EHDR (33) in the "
            "auxiliary vector, then the symbol in its dynamic symbol table",
    "vsyscall": "a call to the vsyscall page's fixed address (0xffffffffff600000 + 0x000 "
                "gettimeofday, 0x400 time, 0x800 getcpu)",
}


def crossings(outcome) -> list[tuple[str, str, int]]:
    """(mechanism, call name, pc) of every crossing and user-mode kernel call, in order."""
    from kernel_model.trace.events import SyscallReturned, VdsoCalled, VsyscallCalled

    out = []
    for e in outcome.events:
        if isinstance(e, SyscallReturned):
            out.append((e.mechanism, e.name or str(e.nr), e.pc))
        elif isinstance(e, VdsoCalled):
            out.append(("vdso", e.name, e.pc))
        elif isinstance(e, VsyscallCalled):
            out.append(("vsyscall", e.name, e.pc))
    return out


def check_mechanisms(outcome, checks: Checks, ctx: Context) -> CheckResult:
    """Each `require` entry used at least once, no `forbid` entry ever. An entry may name
    the functions that count (`vdso:__vdso_time|__vdso_gettimeofday`): calling the vDSO's
    getcpu does not read the time."""
    from programs.grading.spec import mechanism_entry

    seen = crossings(outcome)
    counts: dict[str, int] = {}
    for mech, _, _ in seen:
        counts[mech] = counts.get(mech, 0) + 1
    used = ", ".join(f"`{m}` x{n}" for m, n in counts.items()) or "nothing"

    def hits(mech: str, functions: tuple[str, ...]) -> list[tuple[str, int]]:
        return [(n, pc) for m, n, pc in seen if m == mech and (not functions or n in functions)]

    expected = {"require": checks.mechanisms_require, "forbid": checks.mechanisms_forbid}
    feedback = []
    for entry in checks.mechanisms_forbid:
        mech, functions = mechanism_entry(entry)
        found = hits(mech, functions)
        if found:
            name, pc = found[0]
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            feedback.append(f"used `{mech}` for {name} at "
                            f"{diagnose.where(ctx, pc, outcome.system, code=False)}"
                            f"{more}: this exercise forbids it; {MECH_ADVICE[mech]}")
    for entry in checks.mechanisms_require:
        mech, functions = mechanism_entry(entry)
        if hits(mech, functions):
            continue
        if not functions or mech not in counts:
            feedback.append(f"never used {MECH_HOWTO[mech]}; this exercise requires it "
                            f"(used: {used})")
            continue
        called = ", ".join(dict.fromkeys(n for m, n, _ in seen if m == mech))
        wanted = " or ".join(functions)
        feedback.append(f"called {called} through `{mech}`, never {wanted}: this exercise "
                        f"requires {wanted}, the function that gives the answer")
    if not feedback:
        return CheckResult("mechanisms", True, f"used {used}", [], expected, counts)
    return CheckResult("mechanisms", False, f"used {used}", feedback, expected,
                       counts)


def check_syscalls(outcome, checks: Checks, ctx: Context) -> CheckResult:
    from kernel_model.trace.events import SyscallReturned

    calls = [e for e in outcome.events if isinstance(e, SyscallReturned)]
    made = sorted({e.name or str(e.nr) for e in calls})
    expected = {"require": checks.syscalls_require, "forbid": checks.syscalls_forbid}
    feedback = []
    for name in checks.syscalls_forbid:
        hits = [e for e in calls if e.name == name]
        if hits:
            e = hits[0]
            at = diagnose.where(ctx, e.pc, outcome.system, code=False)
            feedback.append(f"{name} went through the kernel (`{e.mechanism}` at {at}): this "
                            "exercise forbids that syscall")
    for name in checks.syscalls_require:
        if not any(e.name == name for e in calls):
            feedback.append(f"no {name} syscall was made; this exercise requires one")
    summary = "made: " + (", ".join(made) or "none")
    return CheckResult("syscalls", not feedback, summary, feedback, expected, made)


def check_budget(outcome, checks: Checks) -> CheckResult:
    n = outcome.instructions
    if outcome.stopped != "max-insns" and n <= checks.budget:
        return CheckResult("budget", True, f"{n} instructions (budget {checks.budget})", [],
                           checks.budget, n)
    if outcome.stopped == "max-insns":
        summary = f"stopped by the grader after {n} instructions (budget {checks.budget})"
    else:
        summary = f"{n} instructions, over the budget of {checks.budget}"
    feedback = []
    if outcome.code is not None:  # a run that ended well but slowly: the budget's own advice
        feedback.append("the count is every instruction executed in user mode (the vDSO's "
                        "too); look for a loop that runs more often than it must")
    return CheckResult("budget", False, summary, feedback, checks.budget, n)

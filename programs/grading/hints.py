"""The spec's own feedback: `[[hint]]` entries, each a sentence shown under a failed check
when its conditions (a syscall made, an errno, a signal, the status, a mechanism, an
instruction, the output) hold in that run."""

from __future__ import annotations

import re

from programs.grading.checks import crossings, first_failed
from programs.grading.spec import SpecError
from programs.grading.templates import TemplateError, expand


def place(exercise, results, outcome, insns, names: dict) -> None:
    """Each hint whose conditions hold goes under its check (or the first failed one)."""
    for h in exercise.hints:
        if h.check == "instructions":
            continue  # given once, with the static check
        target = (next((r for r in results if r.name == h.check and not r.passed), None)
                  if h.check else first_failed(results))
        try:
            if target is None or not applies(h.when, outcome, insns, names):
                continue
            text = expand(h.say.strip(), names)
        except TemplateError as e:
            raise SpecError(f"{exercise.path}: hint: {e}") from None
        target.feedback.append("hint: " + text)


def applies(when: dict, outcome, insns, names: dict | None = None) -> bool:
    from kernel_model.trace.events import SignalDelivered, SyscallReturned
    from kernel_model.uapi.errnos import ERRNOS

    def listed(v):
        return [v] if isinstance(v, (str, int)) else list(v)

    for key, value in when.items():
        if key == "syscall":
            called = {e.name for e in outcome.events if isinstance(e, SyscallReturned)}
            if not called & set(listed(value)):
                return False
        elif key == "mechanism":
            if not {m for m, _, _ in crossings(outcome)} & set(listed(value)):
                return False
        elif key == "signal":
            sigs = {e.name for e in outcome.events if isinstance(e, SignalDelivered)}
            if not sigs & set(listed(value)):
                return False
        elif key == "status":
            if outcome.code not in listed(value):
                return False
        elif key == "errno":
            errs = {ERRNOS.get(-e.ret, ("?",))[0] for e in outcome.events
                    if isinstance(e, SyscallReturned) and e.ret is not None and e.ret < 0}
            if not errs & set(listed(value)):
                return False
        elif key == "stdout_regex":
            pattern = expand(value, names or {}, escape=re.escape)
            if re.search(pattern, outcome.stdout.decode(errors="replace")) is None:
                return False
        elif key == "instruction":
            from programs.grading.instructions import matches

            if not any(matches(i, w) for i in insns for w in listed(value)):
                return False
    return True

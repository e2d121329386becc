"""What one browser tab of `syscall-lab serve` runs, and what a page's URL may open.

The server starts `python -m tui.web_session KIND [NAME] [--notice TEXT] [--kept]` for each
tab (one process, one guest, one Textual app), in its own working directory: the tab's empty
one, or with --kept the student's directory under the server's --workdir, which outlives the
tab (an exercise's NAME.s is there after a reload). KIND is one of
CHOICES; NAME has already been checked against the bundled catalogs by `choose`, and is
checked again here: the command line comes from a URL, so nothing in it is trusted.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass

CHOICES = ("landing", "demo", "lesson", "exercise", "program")
# A bundled name: no path separators, no leading dot or dash (never a path, never an option).
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Item:
    kind: str  # demo, lesson, exercise, program
    name: str  # "" for the demo
    title: str

    @property
    def url(self) -> str:
        """The page that opens it (what an instructor puts on a slide)."""
        return "/?demo" if self.kind == "demo" else f"/?{self.kind}={self.name}"


def lessons() -> list[Item]:
    from programs import lesson

    out = []
    for name, path in lesson.bundled().items():
        try:
            title = str(tomllib.loads(path.read_text()).get("title", "")).strip()
        except (OSError, tomllib.TOMLDecodeError):
            title = "(this lesson's file does not read)"
        out.append(Item("lesson", name, title))
    return out


def exercises() -> list[Item]:
    from programs.grading.catalog import ordered

    return [Item("exercise", e.name, e.title) for e in ordered()]


def bundled_programs() -> list[Item]:
    import programs

    out = []
    for family, group in programs.families().items():
        b = group[0]
        title = b.title.removesuffix(f" ({b.build})") if b.build else b.title
        out.append(Item("program", family, f"{title} — {b.shows}"))
    return out


def items() -> list[Item]:
    """Everything a tab can open, in the order the landing screen lists it."""
    from tui.launch import DEMO

    return [Item("demo", "", f"{DEMO}: the time read three ways"), *lessons(),
            *bundled_programs(), *exercises()]


def known(kind: str, name: str) -> bool:
    if kind == "demo":
        return name == ""
    if not NAME.fullmatch(name):
        return False
    if kind == "lesson":
        from programs import lesson

        return name in lesson.bundled()
    if kind == "exercise":
        from programs.grading.catalog import names

        return name in names()
    if kind == "program":
        import programs

        # A family's name or one build's (hello-c.static): both are catalog keys.
        return name in programs.catalog() or name in programs.families()
    return False


def shown(text: str) -> str:
    """Untrusted text as it may appear in a message: printable ASCII, short."""
    text = "".join(c for c in text if c.isascii() and c.isprintable())
    return text if len(text) <= 40 else text[:39] + "…"


@dataclass(frozen=True)
class Choice:
    kind: str  # one of CHOICES
    name: str = ""
    notice: str = ""  # for the landing screen: why the URL did not open what it named

    def argv(self) -> list[str]:
        """The arguments after `python -m tui.web_session`."""
        out = [self.kind] + ([self.name] if self.name else [])
        return out + (["--notice", self.notice] if self.notice else [])


# textual-serve's own parameters (the font size; the start button and its ping)
SERVER_PARAMS = {"fontsize", "delay", "ping"}


def choose(query: dict[str, str] | list[tuple[str, str]]) -> Choice:
    """What a page's query string opens: at most one of demo, lesson=, exercise=, program=.
    Anything else opens the landing screen with a one-line notice saying what was wrong."""
    pairs = list(query.items()) if isinstance(query, dict) else list(query)
    asked = [(k, v) for k, v in pairs if k not in SERVER_PARAMS]
    if not asked:
        return Choice("landing")
    kinds = [k for k, _ in asked if k in ("demo", "lesson", "exercise", "program")]
    if len(asked) > 1:
        return Choice("landing", notice="the address names more than one thing to open: "
                      f"{shown(', '.join(k for k, _ in asked))}; pick one below")
    kind, name = asked[0]
    if not kinds:
        return Choice("landing", notice=f"the address asks for {shown(kind)!r}, which is "
                      "not demo, lesson, exercise or program; pick one below")
    if kind == "demo":
        return Choice("demo")
    if not name:
        return Choice("landing", notice=f"which {kind}? the address names none; pick one "
                      "below")
    if not known(kind, name):
        return Choice("landing", notice=f"there is no {kind} named {shown(name)!r}; pick one "
                      "below")
    return Choice(kind, name)


# -- the session process ----------------------------------------------------------------------
@dataclass(frozen=True)
class RunLimits:
    """What one key's run may take (c, a run to the next transition...), set by the server:
    a free run of `jmp $` is stopped as Esc stops it, saying which limit it met."""

    timeout: float | None = None  # seconds
    max_insns: int | None = None


def limit_runs(app, limits: RunLimits) -> None:
    """Arm `limits` around each session command the app runs on its worker thread (the
    commands that may run on; a single step runs on the app's thread, unarmed)."""
    import threading

    from kernel_model.debugger.limits import SessionLimits

    if limits.timeout is None and limits.max_insns is None:
        return
    call = app._call

    def limited(command, args):
        session = app.session
        if threading.current_thread() is threading.main_thread() \
                or not hasattr(session, "machine"):
            return call(command, args)
        with SessionLimits(session, timeout=limits.timeout,
                           max_insns=limits.max_insns) as armed:
            stop, view, error, walking = call(command, args)
        if armed.stopped and not error:
            error = "the server's limit for one run: " + armed.text.replace(" (--", " (")
        return stop, view, error, walking

    app._call = limited


def parse(argv: list[str]) -> tuple[Choice, RunLimits, bool]:
    """The tab's choice, its run limits, and whether its directory is kept (--kept)."""
    from programs.options import positive_int, seconds

    p = argparse.ArgumentParser(prog="python -m tui.web_session")
    p.add_argument("kind", choices=CHOICES)
    p.add_argument("name", nargs="?", default="")
    p.add_argument("--notice", default="")
    p.add_argument("--timeout", type=seconds)
    p.add_argument("--max-insns", type=positive_int)
    p.add_argument("--kept", action="store_true")
    a = p.parse_args(argv)
    limits = RunLimits(a.timeout, a.max_insns)
    if a.kind not in ("landing", "demo") and not known(a.kind, a.name):
        return (Choice("landing", notice=f"there is no {a.kind} named {shown(a.name)!r}"),
                limits, a.kept)
    # The server wrote the notice (its untrusted parts already through shown()).
    notice = "".join(c for c in a.notice if c.isprintable())[:200]
    return Choice(a.kind, a.name, notice), limits, a.kept


def make_app(choice: Choice, kept: bool = False):
    """The Textual app for one tab (the working directory is the tab's own, or with `kept`
    the student's, kept across reloads)."""
    if choice.kind == "landing":
        from tui.landing import LandingApp

        return LandingApp(items(), notice=choice.notice, kept=kept)
    if choice.kind == "lesson":
        from programs import lesson
        from tui.lesson import make_lesson_app

        return make_lesson_app(lesson.find(choice.name))
    if choice.kind == "exercise":
        from programs.grading import find
        from tui.exercise import starter_copy
        from tui.web_exercise import WebExerciseApp

        exercise = find(choice.name)
        # NAME.s in the working directory: the one a reload finds again when it is kept
        solution, _ = starter_copy(exercise)
        return WebExerciseApp(exercise, solution, kept=kept)
    from tui.app import make_app as make_stepping_app
    from tui.cli import build_parser
    from tui.launch import session_factory

    args = build_parser().parse_args(["tui", *([choice.name] if choice.name else [])])
    factory, name = session_factory(args)
    return make_stepping_app(factory, program=name)


def main(argv: list[str] | None = None) -> int:
    choice, limits, kept = parse(sys.argv[1:] if argv is None else argv)
    app = make_app(choice, kept)
    if choice.kind != "landing":
        limit_runs(app, limits)
    app.run()
    session = getattr(app, "session", None)
    if session is not None:
        session.close()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())

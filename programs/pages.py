"""What `syscall-lab list` and `syscall-lab show NAME` print: pure functions of the catalog
(returning lines), so the tests read the same text a user does."""

from __future__ import annotations

import signal
import textwrap

import programs
from programs import expect

WIDTH = 88
TOPICS = programs.HERE / "topics"  # longer pages that are not one program's: NAME.md


def list_lines(*, every_build: bool = False) -> list[str]:
    """One line per program: name, arch, title and what it demonstrates. C programs show
    once, with their builds named in a note (or each on its line with every_build)."""
    out = []
    if every_build:
        for name, b in programs.catalog().items():
            out.append(f"{name:31} {b.arch:7} {b.title}")
        return out
    builds: list[str] = []
    for family, group in programs.families().items():
        b = group[0]
        arch = " ".join(dict.fromkeys(x.arch for x in group))
        title = b.title.removesuffix(f" ({b.build})") if b.build else b.title
        out.append(f"{family:23}{arch:12}{title} — {b.shows}")
        if b.build and not builds:
            builds = [x.build for x in group]
    if builds:
        out.append("")
        out.append(f"C programs come in builds: NAME.{', NAME.'.join(builds)};")
        out.append(f"NAME alone is NAME.{builds[0]}, and `list --all` names every build.")
    out.append("`syscall-lab show NAME` prints a program's page.")
    for name, title in topics().items():
        out.append(f"`syscall-lab show {name}`: {title}.")
    return out


def topics() -> dict[str, str]:
    """The topic pages by name, with their titles (each file's first line, a heading)."""
    out = {}
    for path in sorted(TOPICS.glob("*.md")):
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        out[path.stem] = first.lstrip("#").strip()
    return out


def topic_lines(name: str) -> list[str] | None:
    """A topic page as written (Markdown meant to be read as plain text), or None."""
    if name not in topics():
        return None
    return (TOPICS / f"{name}.md").read_text(encoding="utf-8").rstrip("\n").split("\n")


def page_lines(name: str) -> list[str] | None:
    """A program's page (or a topic's), or None when there is no such program."""
    b = programs.find(name)
    if b is None:
        return topic_lines(name)
    src = b.source or b.path
    try:
        src_text = str(src.relative_to(programs.HERE.parent))
    except ValueError:
        src_text = str(src)
    out = [b.title, f"{b.name} · {b.arch} · {src_text}", ""]
    out += textwrap.wrap(b.description, WIDTH)
    out += ["", "Run it:"]
    runs = [(b.command("run"), ""),
            (b.command("run", "-s", "--events"), "with the trace, each call's entry path"),
            (b.command("tui"), "step through it, forward and back")]
    col = max(len(c) for c, _ in runs) + 3
    out += [f"  {c:{col}}{why}".rstrip() for c, why in runs]
    out += ["", "Expected output:"]
    if b.stdout:
        out += [f"  | {line}" for line in b.stdout.removesuffix("\n").split("\n")]
        used = expect.placeholders_in(b.stdout)
        if used:
            out.append(f"  ({', '.join(used)}: what changes from run to run)")
    else:
        out.append("  (nothing on stdout)")
    out += ["", f"Exit status: {status_text(b.status)}", "", "Points to notice:"]
    for p in b.points:
        out += textwrap.wrap(p, WIDTH, initial_indent="  - ", subsequent_indent="    ")
    group = programs.families().get(b.family, [])
    if len(group) > 1:
        out += ["", "Builds: " + ", ".join(x.name for x in group)]
    used = lessons_using(b)
    if used:
        out += ["", "Lessons: " + ", ".join(f"syscall-lab lesson {n}" for n in used)]
    return out


def status_text(status: int) -> str:
    if status > 128:
        try:
            sig = signal.Signals(status - 128).name
        except ValueError:
            return str(status)
        return f"{status} (killed by {sig}: 128 + {status - 128})"
    return str(status)


def lessons_using(b: programs.Bundled) -> list[str]:
    """The bundled lessons that play this program (any of its builds)."""
    try:
        from programs import lesson
    except ImportError:  # pragma: no cover - lessons are optional for the catalog
        return []
    out = []
    for name, info in lesson.bundled_programs().items():
        if info in (b.name, b.family):
            out.append(name)
    return out


def lessons_lines() -> list[str]:
    """`syscall-lab lessons`: each bundled lesson's name, title, program and summary."""
    from programs import lesson

    out = []
    for name, path in lesson.bundled().items():
        try:
            les = lesson.load(path, name)
        except lesson.LessonError as e:
            out.append(f"{name:24} (broken: {e})")
            continue
        out.append(f"{name:24} {les.title}  [{les.program}, {len(les.stops)} stops]")
        if les.summary:
            out += textwrap.wrap(les.summary, WIDTH, initial_indent=" " * 25,
                                 subsequent_indent=" " * 25)
    out += ["", "`syscall-lab lesson NAME` opens one (or `syscall-lab lesson FILE.toml`, "
            "your own: see programs/README.md)."]
    return out

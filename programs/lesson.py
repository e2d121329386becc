"""The lesson file format: a program and a sequence of stops, each with its narration.

A lesson is one TOML file (programs/lessons/NAME.toml, or any path); programs/README.md
("Writing a lesson") is its documentation. This module reads one and checks everything that
can be checked without running the program; each error names the file and the line of the
offending key, as a compiler would. Playing a lesson is programs.lesson_play's job.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent / "lessons"

LESSON_KEYS = {"title", "program", "args", "options", "summary", "stop"}
STOP_KEYS = {"at", "title", "point", "narration"}
MOVES = ("start", "transition", "next transition", "exit", "finish")
_REG = re.compile(r"^(?:[re]?[abcd]x|[re]?[sd]i|[re]?[sb]p|r(?:[89]|1[0-5])d?|[re]?ip|"
                  r"[re]?flags|cs|ss|ds|es|fs|gs|fs_base|gs_base)$")
_MEM = re.compile(r"^\[\s*([A-Za-z_.$@][\w.$@]*|0x[0-9a-fA-F]+|[0-9]+)\s*"
                  r"(?:([+-])\s*(0x[0-9a-fA-F]+|[0-9]+))?\s*\]$")


class LessonError(Exception):
    """A mistake in a lesson file, at a line (0 when the whole file is concerned)."""

    def __init__(self, path, line: int, message: str):
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        self.path = path
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Where:
    """Where a stop is, parsed from its `at`."""

    kind: str  # start, transition, syscall, phase, step, next, finish, exit, break
    arg: str = ""  # the syscall name, the phase (a number or a key), the breakpoint spec
    count: int = 1  # for step and next


@dataclass(frozen=True)
class LessonStop:
    at: str
    where: Where
    narration: str
    title: str = ""
    points: tuple[str, ...] = ()  # registers or memory ("[rsp]", "[msg]") to point at
    line: int = 0  # the line of its `at` key


@dataclass(frozen=True)
class Lesson:
    name: str
    path: Path
    title: str
    program: str  # a bundled program's name, or a path (relative to the lesson file)
    args: tuple[str, ...]
    options: tuple[str, ...]
    summary: str
    stops: tuple[LessonStop, ...]

    def error(self, stop: int | None, key: str, message: str) -> LessonError:
        """An error about stop `stop`'s `key` (or a lesson-level key), at its line."""
        return LessonError(self.path, key_line(self.path.read_text(), stop, key), message)

    def program_path(self) -> str:
        """What `syscall-lab run` takes: the bundled name, or the file's path."""
        import programs

        if programs.find(self.program) is not None:
            return self.program
        return str((self.path.parent / self.program).resolve())


def parse_where(at: str) -> Where:
    """`at` to a Where; ValueError when malformed."""
    text = " ".join(at.split())
    word, _, rest = text.partition(" ")
    low = word.lower()
    if not text:
        raise ValueError("`at` is empty")
    if text.lower() in MOVES:
        kind = text.lower()
        return Where("transition" if kind == "next transition" else kind)
    if low in ("syscall", "catch"):
        if not rest:
            raise ValueError(f"`at = \"{text}\"` needs a syscall name")
        return Where("syscall", rest)
    if low == "phase":
        if not rest or " " in rest:
            raise ValueError("`at = \"phase N\"` needs one phase: a number or a key "
                             "(user, cpu, table, handler, return, ...)")
        return Where("phase", rest)
    if low in ("step", "next"):
        if not rest:
            return Where(low)
        if not rest.isdigit() or int(rest) < 1:
            raise ValueError(f"`at = \"{text}\"`: {low} takes a count of 1 or more")
        return Where(low, count=int(rest))
    if low == "break":
        if not rest:
            raise ValueError("`at = \"break\"` needs an address, a label or a symbol")
        return Where("break", rest)
    if " " in text:
        raise ValueError(f"`at = \"{text}\"`: not a stop. Use an address, a label or a "
                         "symbol, `syscall NAME`, `transition`, `phase N`, `step N`, "
                         "`next N`, `finish`, `exit` or `start`")
    return Where("break", text)


def parse_point(text: str) -> str:
    """A register name or a memory reference in brackets; ValueError otherwise."""
    t = text.strip()
    if _REG.match(t.lower()) or _MEM.match(t):
        return t
    raise ValueError(f"`point = \"{text}\"`: a register (rax, ecx, rip...) or memory in "
                     "brackets ([rsp], [rsp+8], [msg], [0x402000])")


def load(path: str | Path, name: str | None = None) -> Lesson:
    """Read and check a lesson file. LessonError (with its line) on any mistake."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise LessonError(path, 0, f"cannot read: {e.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        line = int(m.group(1)) if m else 0
        raise LessonError(path, line, f"not valid TOML: {str(e).split(' (at line')[0]}") \
            from None

    def err(stop, key, message):
        return LessonError(path, key_line(text, stop, key), message)

    for key in data:
        if key not in LESSON_KEYS:
            raise err(None, key, f"unknown key `{key}` (a lesson has: "
                      f"{', '.join(sorted(LESSON_KEYS))})")
    for key in ("title", "program"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise err(None, key if key in data else None, f"the lesson needs a `{key}`")
    for key in ("args", "options"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise err(None, key, f"`{key}` is a list of strings")
    raw_stops = data.get("stop")
    if not isinstance(raw_stops, list) or not raw_stops:
        raise err(None, None, "the lesson has no stops: add [[stop]] tables")
    stops = []
    for i, s in enumerate(raw_stops):
        for key in s:
            if key not in STOP_KEYS:
                raise err(i, key, f"stop {i + 1}: unknown key `{key}` (a stop has: "
                          f"{', '.join(sorted(STOP_KEYS))})")
        at = s.get("at")
        if not isinstance(at, str):
            raise err(i, "at" if "at" in s else None, f"stop {i + 1} needs `at`: where "
                      "it is (a label, `syscall NAME`, `transition`, `phase N`...)")
        try:
            where = parse_where(at)
        except ValueError as e:
            raise err(i, "at", f"stop {i + 1}: {e}") from None
        if where.kind == "start" and i != 0:
            raise err(i, "at", f"stop {i + 1}: `start` can only be the first stop")
        narration = s.get("narration")
        if not isinstance(narration, str) or not narration.strip():
            raise err(i, "narration" if "narration" in s else "at",
                      f"stop {i + 1} needs a `narration`: what to notice here")
        point = s.get("point", [])
        points = [point] if isinstance(point, str) else point
        if not isinstance(points, list) or not all(isinstance(p, str) for p in points):
            raise err(i, "point", f"stop {i + 1}: `point` is a register or a list of them")
        try:
            points = [parse_point(p) for p in points]
        except ValueError as e:
            raise err(i, "point", f"stop {i + 1}: {e}") from None
        stops.append(LessonStop(at, where, _paragraphs(narration), str(s.get("title", "")),
                          tuple(points), key_line(text, i, "at")))
    lesson = Lesson(name or path.stem, path, data["title"].strip(), data["program"].strip(),
                    tuple(data.get("args", [])), tuple(data.get("options", [])),
                    " ".join(str(data.get("summary", "")).split()), tuple(stops))
    check_statically(lesson)
    return lesson


def _paragraphs(text: str) -> str:
    """Narration as written, with each paragraph's line breaks joined (blank lines kept)."""
    paras = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(p.split()) for p in paras)


def check_statically(lesson: Lesson) -> None:
    """What can be checked without running: the program exists and loads, the options parse,
    syscall names are in a table, labels and symbols exist."""
    import programs
    from programs.options import UsageError, parse_run_line, resolve_program

    prog_name = lesson.program_path()
    if programs.find(lesson.program) is None and not Path(prog_name).exists():
        raise lesson.error(None, "program", f"program `{lesson.program}`: not a bundled "
                           "program (see `syscall-lab list`) nor a file next to the lesson")
    try:
        args = parse_run_line([*lesson.options, prog_name, *lesson.args])
    except UsageError as e:
        raise lesson.error(None, "options", f"options: {e}") from None
    try:
        program = resolve_program(args.program, args.arch)
    except UsageError as e:
        raise lesson.error(None, "program", str(e)) from None
    names = symbol_names(program)
    from kernel_model.entry.abi import ABIS

    for i, s in enumerate(lesson.stops):
        w = s.where
        if w.kind == "syscall" and not any(a.number_of(w.arg) is not None
                                           for a in ABIS.values()):
            raise lesson.error(i, "at", f"stop {i + 1}: `{w.arg}` is not a syscall name")
        if w.kind == "break" and not _resolvable(w.arg, names):
            raise lesson.error(i, "at", f"stop {i + 1}: `{w.arg}` is not an address, nor a "
                               f"label or symbol of {lesson.program}")
        for p in s.points:
            m = _MEM.match(p)
            if m and not _resolvable(m.group(1), names) and not _REG.match(m.group(1).lower()):
                raise lesson.error(i, "point", f"stop {i + 1}: `{m.group(1)}` is not a "
                                   f"register, address, label or symbol of {lesson.program}")


def symbol_names(program) -> set[str]:
    """Labels and symbols a breakpoint may name, aliases included (the vDSO's are known only
    at run time, so names of its kind are accepted here and checked when played)."""
    names = set(program.symbols.values()) if program.symbols else set()
    if program.assembled is not None:
        names |= set(program.assembled.labels)
    return names | set(aliases(program))


def aliases(program) -> dict[str, str]:
    """Other names of the program's symbols (libc's `gettimeofday` is `__gettimeofday`, `write`
    is `__libc_write`): the alias -> the name the session knows the address by."""
    if program.assembled is not None or not program.symbols:
        return {}
    from elftools.elf.elffile import ELFFile

    out = {}
    try:
        with open(program.path, "rb") as f:
            tab = ELFFile(f).get_section_by_name(".symtab")
            for sym in tab.iter_symbols() if tab is not None else ():
                known = program.symbols.get(sym["st_value"])
                if known and sym.name and sym.name != known and \
                        sym["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT"):
                    out.setdefault(sym.name, known)
    except Exception:  # no aliases only means fewer names to break at
        return {}
    return out


def _resolvable(spec: str, names: set[str]) -> bool:
    name, _, off = spec.partition("+")
    name = name.strip()
    try:
        int(name, 0)
        return True
    except ValueError:
        pass
    if off:
        try:
            int(off.strip(), 0)
        except ValueError:
            return False
    return name in names or name.startswith(("__vdso_", "__kernel_"))


# -- finding the line of a key -------------------------------------------------------------------
_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")


def key_line(text: str, stop: int | None, key: str | None) -> int:
    """The line (1-based) of `key` in the lesson's top level (stop None) or in its stop-th
    [[stop]] table; the table's header line when the key is missing; 0 if not found."""
    table: str | None = ""  # "" the top level, "stop" inside a [[stop]], None elsewhere
    index = -1
    header_line = 0
    in_string = False
    for n, line in enumerate(text.splitlines(), 1):
        if in_string:  # inside a multi-line string: no keys, no headers
            if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
                in_string = False
            continue
        m = _HEADER.match(line)
        if m and not line.lstrip().startswith("#"):
            name = m.group(1).strip()
            if name == "stop" and line.lstrip().startswith("[["):
                index += 1
                table = "stop"
                if stop is not None and index == stop:
                    header_line = n
            else:
                table = None
            continue
        here = (stop is None and table == "") or (table == "stop" and index == stop)
        k = re.match(r'^\s*"?([A-Za-z0-9_-]+)"?\s*=', line)
        if k and here and key is not None and k.group(1) == key:
            return n
        if k and (line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1):
            in_string = True
    return header_line


# -- the bundled lessons ------------------------------------------------------------------------
def bundled() -> dict[str, Path]:
    """The lessons shipped in programs/lessons, by name, in the order of the story (their
    file names start with a number)."""
    return {_name(p): p for p in sorted(HERE.glob("*.toml"))}


def _name(path: Path) -> str:
    return re.sub(r"^\d+[-_]", "", path.stem)


def find(name_or_path: str) -> Lesson:
    """A bundled lesson by name, or a lesson file by path. LessonError if neither."""
    lessons = bundled()
    if name_or_path in lessons:
        return load(lessons[name_or_path], name_or_path)
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        return load(p)
    known = ", ".join(lessons) or "none"
    raise LessonError(name_or_path, 0, f"no such lesson (bundled: {known}) and no such file")


def bundled_programs() -> dict[str, str]:
    """Each bundled lesson's program (read without the full check: for the catalog pages)."""
    out = {}
    for name, path in bundled().items():
        try:
            out[name] = tomllib.loads(path.read_text()).get("program", "")
        except (OSError, tomllib.TOMLDecodeError):
            continue
    return out

"""Reading an exercise spec (exercise.toml) into plain dataclasses, with every mistake in
the spec reported as one line naming the file and the key (unknown keys included: a typo
would otherwise silently drop a check). The format is documented in programs/README.md."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from kernel_model.entry.mechanism import MECHANISMS

ARCHES = {"x86_64": 64, "i386": 32}
# The functions a `vdso:` or `vsyscall:` entry may name (`vdso:__vdso_time|__vdso_gettimeofday`):
# the vDSO's symbols the model watches (kernel_model.vdso.watch), the vsyscall page's entries.
MECHANISM_FUNCTIONS = {
    "vdso": ("__vdso_clock_gettime", "__vdso_clock_gettime64", "__vdso_clock_getres",
             "__vdso_gettimeofday", "__vdso_time", "__vdso_getcpu", "__vdso_getrandom"),
    "vsyscall": ("gettimeofday", "time", "getcpu"),
}


def mechanism_entry(entry: str) -> tuple[str, tuple[str, ...]]:
    """`vdso:__vdso_time|__vdso_clock_gettime` -> ("vdso", (the functions)); a bare
    mechanism names no function (any call through it)."""
    mech, _, names = entry.partition(":")
    return mech.strip(), tuple(n.strip() for n in names.split("|")) if names else ()
DEFAULT_REPEAT = 3
DEFAULT_MOUNT = "/data"
DEFAULT_CLOCK = "frozen:1700000000"  # reproducible; time exercises draw their own epoch
DEFAULT_TIMEOUT = 5.0  # seconds of host time per run
# Instructions before a run is stopped as runaway (~1 s of a tight loop): with a budget,
# a few times the budget, so a program a little over it still reaches its own end.
RUNAWAY_CAP = 1_000_000
RUNAWAY_CAP_WITH_BUDGET = 100_000


class SpecError(ValueError):
    """A spec that cannot be used; str() is 'path: key: message'."""


@dataclass
class RunTemplate:
    argv: list[str] | str = field(default_factory=list)  # after argv[0]; a str is split
    stdin: str = ""
    env: list[str] | str = field(default_factory=list)  # after a small fixed environment
    files: dict[str, str] = field(default_factory=dict)  # path under the mount -> content
    vars: dict = field(default_factory=dict)
    clock: str = DEFAULT_CLOCK
    seed: int | str | None = None  # None: drawn by the grader
    vsyscall: str | None = None
    vdso: bool | None = None
    kernel: str | None = None
    mount: str = DEFAULT_MOUNT
    writable: bool = False
    repeat: int = DEFAULT_REPEAT


@dataclass
class Hint:
    say: str
    check: str | None = None  # shown under this check when it fails (None: any failing check)
    when: dict = field(default_factory=dict)


@dataclass
class Checks:
    exit: int | str | None = None
    stdout: str | None = None
    stdout_regex: str | None = None
    stderr: str | None = None
    stderr_regex: str | None = None
    trace: str | None = None
    trace_where: dict[str, str] = field(default_factory=dict)
    mechanisms_require: list[str] = field(default_factory=list)
    mechanisms_forbid: list[str] = field(default_factory=list)
    instructions_allow: list[str] = field(default_factory=list)
    instructions_forbid: list[str] = field(default_factory=list)
    syscalls_require: list[str] = field(default_factory=list)
    syscalls_forbid: list[str] = field(default_factory=list)
    budget: int | None = None


@dataclass
class Exercise:
    name: str
    path: Path  # the exercise.toml
    title: str
    statement: str
    arch: str
    starter: Path | None
    vars: dict
    runs: list[RunTemplate]
    checks: Checks
    hints: list[Hint]
    timeout: float = DEFAULT_TIMEOUT
    weights: dict[str, float] = field(default_factory=dict)  # [weights]; others weigh 1

    def weight(self, check: str) -> float:
        """A check's share of the score: gates (assemble, arch) earn nothing by passing."""
        return 0.0 if check in GATES else self.weights.get(check, 1.0)

    @property
    def bits(self) -> int:
        return ARCHES[self.arch]

    @property
    def run_count(self) -> int:
        return sum(r.repeat for r in self.runs)


_TOP = {"title", "statement", "arch", "starter", "vars", "run", "checks", "hint", "timeout",
        "weights"}
_RUN = {"argv", "stdin", "env", "files", "vars", "clock", "seed", "vsyscall", "vdso", "kernel",
        "mount", "writable", "repeat"}
_CHECKS = {"exit", "stdout", "stdout_regex", "stderr", "stderr_regex", "trace", "trace_where",
           "mechanisms", "instructions", "syscalls", "budget"}
_HINT = {"say", "check", "when"}
HINT_CONDITIONS = {"syscall", "mechanism", "signal", "status", "errno", "stdout_regex",
                   "instruction"}
CHECK_NAMES = ("assemble", "arch", "instructions", "exit", "stdout", "stderr", "trace",
               "syscalls", "mechanisms", "budget")
# Checks that only let the others run: passing them is worth nothing by itself.
GATES = ("assemble", "arch")


def load(path: str | Path) -> Exercise:
    path = Path(path)
    if path.is_dir():
        path = path / "exercise.toml"
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise SpecError(f"{path}: cannot read ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: not valid TOML ({e})") from None
    return _Reader(path).exercise(data)


class _Reader:
    def __init__(self, path: Path):
        self.path = path

    def error(self, key: str, message: str) -> SpecError:
        return SpecError(f"{self.path}: {key}: {message}")

    def keys(self, where: str, table: dict, allowed: set) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.error(where or unknown[0], f"unknown key {unknown[0]!r} "
                             f"(allowed: {', '.join(sorted(allowed))})")

    def typed(self, key: str, value, kinds, what: str):
        if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple)
                                                    else (kinds,)):
            raise self.error(key, f"expected {what}, got {value!r}")
        if not isinstance(value, kinds):
            raise self.error(key, f"expected {what}, got {value!r}")
        return value

    def strings(self, key: str, value) -> list[str]:
        self.typed(key, value, list, "a list of strings")
        for v in value:
            self.typed(key, v, str, "a list of strings")
        return list(value)

    def exercise(self, data: dict) -> Exercise:
        self.keys("", data, _TOP)
        for required in ("title", "statement", "arch"):
            if required not in data:
                raise self.error(required, "missing")
        title = self.typed("title", data["title"], str, "a string")
        statement = self.typed("statement", data["statement"], str, "a string (markdown)")
        arch = self.typed("arch", data["arch"], str, "x86_64 or i386")
        if arch not in ARCHES:
            raise self.error("arch", f"{arch!r}: use x86_64 or i386")
        starter = None
        if "starter" in data:
            starter = self.path.parent / self.typed("starter", data["starter"], str, "a file")
            if not starter.is_file():
                raise self.error("starter", f"{starter}: no such file")
        vars_ = self.typed("vars", data.get("vars", {}), dict, "a table")
        runs_data = data.get("run", [{}])
        self.typed("run", runs_data, list, "an array of tables ([[run]])")
        runs = [self.run(f"run[{i}]", r) for i, r in enumerate(runs_data)]
        checks = self.checks(self.typed("checks", data.get("checks", {}), dict, "a table"))
        hints = [self.hint(f"hint[{i}]", h) for i, h in
                 enumerate(self.typed("hint", data.get("hint", []), list, "[[hint]] tables"))]
        timeout = self.typed("timeout", data.get("timeout", DEFAULT_TIMEOUT), (int, float),
                             "seconds")
        weights = self.weights(self.typed("weights", data.get("weights", {}), dict,
                                          "a table check = weight"))
        name = self.path.parent.name
        return Exercise(name, self.path, title, statement, arch, starter, vars_, runs, checks,
                        hints, float(timeout), weights)

    def weights(self, data: dict) -> dict[str, float]:
        scored = [n for n in CHECK_NAMES if n not in GATES]
        out = {}
        for name, value in data.items():
            if name in GATES:
                raise self.error(f"weights.{name}", "a gate, not scored: a solution that does "
                                 "not assemble (or is of the other architecture) scores 0")
            if name not in scored:
                raise self.error(f"weights.{name}", f"not a check (one of {', '.join(scored)})")
            self.typed(f"weights.{name}", value, (int, float), "a number")
            if value < 0:
                raise self.error(f"weights.{name}", "at least 0")
            out[name] = float(value)
        return out

    def run(self, key: str, data) -> RunTemplate:
        self.typed(key, data, dict, "a table")
        self.keys(key, data, _RUN)
        r = RunTemplate()
        if "argv" in data:
            r.argv = data["argv"] if isinstance(data["argv"], str) else \
                self.strings(f"{key}.argv", data["argv"])
        if "env" in data:
            r.env = data["env"] if isinstance(data["env"], str) else \
                self.strings(f"{key}.env", data["env"])
        for name in ("stdin", "clock", "mount", "vsyscall", "kernel"):
            if name in data:
                setattr(r, name, self.typed(f"{key}.{name}", data[name], str, "a string"))
        if "files" in data:
            files = self.typed(f"{key}.files", data["files"], dict, "a table path = content")
            for p, content in files.items():
                self.typed(f"{key}.files.{p}", content, str, "the file's content (a string)")
                if p.startswith("/") or ".." in Path(p).parts:
                    raise self.error(f"{key}.files", f"{p!r}: a path relative to the mount")
            r.files = dict(files)
        if "vars" in data:
            r.vars = self.typed(f"{key}.vars", data["vars"], dict, "a table")
        if "seed" in data:
            r.seed = self.typed(f"{key}.seed", data["seed"], (int, str), "a number")
        if "vdso" in data:
            r.vdso = self.typed(f"{key}.vdso", data["vdso"], bool, "true or false")
        if "writable" in data:
            r.writable = self.typed(f"{key}.writable", data["writable"], bool, "true or false")
        if "repeat" in data:
            r.repeat = self.typed(f"{key}.repeat", data["repeat"], int, "a number of runs")
            if r.repeat < 1:
                raise self.error(f"{key}.repeat", "at least 1")
        if r.vsyscall not in (None, "native", "emulate", "xonly", "none"):
            raise self.error(f"{key}.vsyscall", f"{r.vsyscall!r}: native, emulate, xonly or "
                             "none")
        if not r.mount.startswith("/"):
            raise self.error(f"{key}.mount", "an absolute guest path")
        return r

    def checks(self, data: dict) -> Checks:
        self.keys("checks", data, _CHECKS)
        c = Checks()
        if "exit" in data:
            c.exit = self.typed("checks.exit", data["exit"], (int, str),
                                "a status or a template")
        for name in ("stdout", "stdout_regex", "stderr", "stderr_regex", "trace"):
            if name in data:
                setattr(c, name, self.typed(f"checks.{name}", data[name], str, "a string"))
        for stream in ("stdout", "stderr"):
            if getattr(c, stream) is not None and getattr(c, stream + "_regex") is not None:
                raise self.error(f"checks.{stream}", f"{stream} or {stream}_regex, not both")
        if "trace_where" in data:
            where = self.typed("checks.trace_where", data["trace_where"], dict,
                               "a table name = template")
            for k, v in where.items():
                self.typed(f"checks.trace_where.{k}", v, str, "a template string")
            c.trace_where = dict(where)
            if c.trace is None:
                raise self.error("checks.trace_where", "needs checks.trace")
        if "mechanisms" in data:
            m = self.typed("checks.mechanisms", data["mechanisms"], dict,
                           "a table {require = [...], forbid = [...]}")
            self.keys("checks.mechanisms", m, {"require", "forbid"})
            c.mechanisms_require = self.strings("checks.mechanisms.require",
                                                m.get("require", []))
            c.mechanisms_forbid = self.strings("checks.mechanisms.forbid", m.get("forbid", []))
            for name in c.mechanisms_require + c.mechanisms_forbid:
                mech, functions = mechanism_entry(name)
                if mech not in MECHANISMS:
                    raise self.error("checks.mechanisms", f"{name!r}: one of "
                                     f"{', '.join(MECHANISMS)}")
                known = MECHANISM_FUNCTIONS.get(mech, ())
                for f in functions:
                    if f not in known:
                        raise self.error("checks.mechanisms", f"{name!r}: {f!r} is not a "
                                         f"function of {mech}" + (
                                             f" (one of {', '.join(known)})" if known else
                                             ": only vdso and vsyscall name functions"))
        if "instructions" in data:
            i = self.typed("checks.instructions", data["instructions"], dict,
                           "a table {allow = [...], forbid = [...]}")
            self.keys("checks.instructions", i, {"allow", "forbid"})
            c.instructions_allow = [s.lower() for s in
                                    self.strings("checks.instructions.allow",
                                                 i.get("allow", []))]
            c.instructions_forbid = [s.lower() for s in
                                     self.strings("checks.instructions.forbid",
                                                  i.get("forbid", []))]
        if "syscalls" in data:
            sc = self.typed("checks.syscalls", data["syscalls"], dict,
                            "a table {require = [...], forbid = [...]}")
            self.keys("checks.syscalls", sc, {"require", "forbid"})
            c.syscalls_require = self.strings("checks.syscalls.require", sc.get("require", []))
            c.syscalls_forbid = self.strings("checks.syscalls.forbid", sc.get("forbid", []))
        if "budget" in data:
            c.budget = self.typed("checks.budget", data["budget"], int, "instructions")
            if c.budget < 1:
                raise self.error("checks.budget", "at least 1")
        return c

    def hint(self, key: str, data) -> Hint:
        self.typed(key, data, dict, "a table")
        self.keys(key, data, _HINT)
        if "say" not in data:
            raise self.error(f"{key}.say", "missing")
        h = Hint(self.typed(f"{key}.say", data["say"], str, "a string"))
        if "check" in data:
            h.check = self.typed(f"{key}.check", data["check"], str, "a check name")
            if h.check not in CHECK_NAMES:
                raise self.error(f"{key}.check", f"{h.check!r}: one of {', '.join(CHECK_NAMES)}")
        if "when" in data:
            h.when = self.typed(f"{key}.when", data["when"], dict, "a table of conditions")
            self.keys(f"{key}.when", h.when, HINT_CONDITIONS)
        return h

"""The bundled guest programs and their catalog (catalog.toml).

An entry describes one program, or one C program built several ways (`builds`): it then
stands for one program per build, named NAME.BUILD (`seed.glibc-i386`), with the file's
`{build}` filled in and the build's own table (`[program.NAME.build.BUILD]`) overriding
anything that differs for it, such as the expected output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Bundled:
    name: str
    path: Path
    arch: str
    title: str
    description: str
    args: tuple[str, ...] = ()
    family: str = ""  # the catalog entry's name (seed for seed.glibc-i386)
    build: str = ""  # glibc-x86_64, glibc-i386, musl-x86_64 ("" for assembly programs)
    shows: str = ""  # what it demonstrates, a few words for `syscall-lab list`
    source: Path | None = None  # the .s or .c a student reads
    options: tuple[str, ...] = ()  # run options, as typed on the command line
    points: tuple[str, ...] = ()  # the points to notice
    stdout: str | None = None  # the expected output (programs.expect placeholders)
    status: int = 0  # the expected exit status

    def command(self, verb: str = "run", *extra: str) -> str:
        """How to run it, as one would type it."""
        words = ["syscall-lab", verb, *extra, *self.options, self.name, *self.args]
        return " ".join(_quote(w) for w in words)


def _quote(word: str) -> str:
    import shlex

    return shlex.quote(word)


def _arch_of(build: str) -> str:
    return "i386" if build.endswith("i386") else "x86_64"


def _entry(name: str, family: str, build: str, e: dict) -> Bundled:
    expect = e.get("expect", {})
    source = e.get("source") or (e["file"] if e["file"].endswith((".s", ".asm")) else None)
    title = e["title"] + (f" ({build})" if build else "")
    return Bundled(
        name=name, path=HERE / e["file"].replace("{build}", build),
        arch=e.get("arch") or _arch_of(build), title=title,
        description=" ".join(e.get("description", "").split()),
        args=tuple(e.get("args", ())), family=family, build=build, shows=e.get("shows", ""),
        source=HERE / source if source else None, options=tuple(e.get("options", ())),
        points=tuple(" ".join(p.split()) for p in e.get("points", ())),
        stdout=expect.get("stdout"), status=int(expect.get("status", 0)))


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and \
            isinstance(out.get(key), dict) else value
    return out


def entries() -> dict[str, dict]:
    """The catalog's entries as written (one per program or C program). Parsed once per
    version of the file and kept in the cache: tomllib, pure Python, took `run NAME` about
    20 ms of its start-up at every run."""
    from kernel_model.vdso import cache

    text = (HERE / "catalog.toml").read_bytes()
    key = cache.key_of(text)
    parsed = cache.load("catalog", key)
    if parsed is None:
        import tomllib

        parsed = tomllib.loads(text.decode("utf-8"))["program"]
        cache.store("catalog", key, parsed)
    return parsed


def catalog() -> dict[str, Bundled]:
    """Every runnable program by name, in the catalog's order (the order of the story)."""
    out = {}
    for family, e in entries().items():
        builds = e.get("builds")
        if not builds:
            out[family] = _entry(family, family, "", e)
            continue
        for build in builds:
            out[f"{family}.{build}"] = _built(family, build, e)
    return out


def _built(family: str, build: str, e: dict) -> Bundled:
    """One build of a C program: its entry with the build's own table over it."""
    merged = _merge({k: v for k, v in e.items() if k != "build"},
                    e.get("build", {}).get(build, {}))
    return _entry(f"{family}.{build}", family, build, merged)


def families() -> dict[str, list[Bundled]]:
    """The programs grouped by catalog entry: a C program's builds together."""
    out: dict[str, list[Bundled]] = {}
    for b in catalog().values():
        out.setdefault(b.family, []).append(b)
    return out


def find(name: str) -> Bundled | None:
    """A program by name; a C program's bare name gives its first build. Only the entry
    named is built: building the whole catalog cost `run NAME` about 10 ms of its start."""
    table = entries()
    found = None
    for family, e in table.items():  # as catalog(): a later name wins
        builds = e.get("builds")
        if not builds:
            if name == family:
                found = (family, "", e)
        else:
            for build in builds:
                if name == f"{family}.{build}":
                    found = (family, build, e)
    if found is None:  # a C program's bare name: its first build
        e = table.get(name)
        if e is None or not e.get("builds"):
            return None
        found = (name, e["builds"][0], e)
    family, build, e = found
    return _built(family, build, e) if build else _entry(family, family, "", e)

"""The bundled exercises: programs/exercises/<name>/exercise.toml."""

from __future__ import annotations

from pathlib import Path

from programs.grading.spec import Exercise, SpecError, load


def exercises_dir() -> Path:
    import programs

    return Path(programs.__file__).parent / "exercises"


def names() -> list[str]:
    d = exercises_dir()
    if not d.is_dir():
        return []
    return sorted(p.parent.name for p in d.glob("*/exercise.toml"))


def ordered() -> list[Exercise]:
    """Every bundled exercise, in the order of the course (the `order` file, then the rest)."""
    specs = {n: load(exercises_dir() / n) for n in names()}
    order_file = exercises_dir() / "order"
    first = []
    if order_file.is_file():
        first = [n.strip() for n in order_file.read_text().splitlines()
                 if n.strip() and not n.startswith("#") and n.strip() in specs]
    rest = sorted(n for n in specs if n not in first)
    return [specs[n] for n in first + rest]


def find(name_or_path: str) -> Exercise:
    """A bundled exercise's name, or a path to an exercise.toml (or its directory)."""
    path = Path(name_or_path)
    if path.is_file() or (path.is_dir() and (path / "exercise.toml").is_file()):
        return load(path)
    bundled = exercises_dir() / name_or_path / "exercise.toml"
    if bundled.is_file():
        return load(bundled)
    raise SpecError(f"{name_or_path}: no such exercise (bundled: {', '.join(names())}) and no "
                    "exercise.toml at that path")

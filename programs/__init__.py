"""The bundled guest programs and their catalog (catalog.toml)."""

from __future__ import annotations

import tomllib
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


def catalog() -> dict[str, Bundled]:
    data = tomllib.loads((HERE / "catalog.toml").read_text())
    out = {}
    for name, entry in data["program"].items():
        out[name] = Bundled(name, HERE / entry["file"], entry["arch"], entry["title"],
                            entry.get("description", ""), tuple(entry.get("args", ())))
    return out


def find(name: str) -> Bundled | None:
    return catalog().get(name)

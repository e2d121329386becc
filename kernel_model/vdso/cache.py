"""A small on-disk cache for what is costly to compute at every start and never changes
between runs: the assembled vDSO images (keyed by their sources), the TSC frequency
(keyed by the host's boot id), and the parsed program catalog (keyed by catalog.toml's
text; programs/__init__.py). Without a writable cache directory everything still works,
only slower."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

# The built-in module, as random.py takes _sha512: hashlib's import loads OpenSSL, which
# cost ~2.5 ms of every start.
try:
    from _sha256 import sha256  # type: ignore[import-not-found]
except ImportError:  # Python 3.12 on (_sha2), or a build without it
    from hashlib import sha256


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "syscall-lab"


def key_of(*parts: str | bytes) -> str:
    h = sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:32]


def load(kind: str, key: str):
    try:
        with open(cache_dir() / f"{kind}-{key}.pickle", "rb") as f:
            return pickle.load(f)
    except Exception:  # missing, unreadable or from another version: rebuild
        return None


def store(kind: str, key: str, value) -> None:
    try:
        d = cache_dir()
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f".{kind}-{key}.{os.getpid()}"
        with open(tmp, "wb") as f:
            pickle.dump(value, f)
        os.replace(tmp, d / f"{kind}-{key}.pickle")
    except OSError:
        pass


def boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None

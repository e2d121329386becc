"""Test suites written elsewhere, run natively and under syscall-lab (tests/public_suites.py):
every binary listed in tests/public_suites_expected.txt gave Linux's result under syscall-lab
when the list was made, and must go on giving it.

Linux's selftests (vDSO and x86, 64- and 32-bit) run when their source tree is there
(`bash tests/fetch_linux_selftests.sh`, which CI runs; or SYSCALL_LAB_LINUX_SRC). musl's
libc-test runs when SYSCALL_LAB_LIBC_TEST names its source tarball (the project's corpora
hold one: `../shared/corpora/libc-test-src.tar.xz`); it is not in CI, which has no copy,
and takes about ten minutes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import public_suites as suites
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = Path(__file__).with_name("public_suites_expected.txt")
LINUX = Path(os.environ.get("SYSCALL_LAB_LINUX_SRC")
             or ROOT.parent / "linux-src" / "linux-source-6.12")
LIBC_TEST = os.environ.get("SYSCALL_LAB_LIBC_TEST")


def _expected() -> list[tuple[str, str, str]]:
    rows = []
    for line in EXPECTED.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            suite, build, name = line.split()
            rows.append((suite, build, name))
    return rows


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("public-suites")
    log: list[str] = []
    if (LINUX / "tools" / "testing" / "selftests" / "x86").is_dir() and shutil.which("gcc"):
        suites.build_selftests(LINUX, out, log)
    if LIBC_TEST and Path(LIBC_TEST).is_file():
        suites.build_libc_test(Path(LIBC_TEST), out, log)
    return out


def _binary(out: Path, suite: str, build: str, name: str) -> Path:
    if suite == "libc-test":
        return out / "libc-test" / build / name
    return out / "selftests" / f"{suite.split('/')[1]}.{name}"


@pytest.mark.parametrize("suite,build,name", _expected(),
                         ids=[f"{s}/{b}/{n}" for s, b, n in _expected()])
def test_gives_linuxs_result(built: Path, suite: str, build: str, name: str):
    if suite == "libc-test" and not LIBC_TEST:
        pytest.skip("musl's libc-test: set SYSCALL_LAB_LIBC_TEST to its source tarball")
    exe = _binary(built, suite, build, name)
    if not exe.exists():
        pytest.skip(f"{exe.name} was not built (no source tree or no toolchain here)")
    r = suites._run_one(exe, suite, build)
    assert r.matches, (f"native status {r.native}, syscall-lab {r.lab}\n--- native:\n"
                       f"{r.native_out[-1500:]}\n--- syscall-lab:\n{r.lab_out[-1500:]}")

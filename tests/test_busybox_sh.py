"""Debian's static busybox `sh` runs the scripts of tests/guests/sh (pipelines, $(...),
redirections, & and wait, $?, while-read loops, exec, subshells, traps) under syscall-lab
with the same stdout and exit status as natively, for x86-64 (/bin/busybox, from
busybox-static) and i386 (bookworm's i386 busybox-static, fetched by
tests/guests/sh/fetch_busybox_i386.sh; skipped when it cannot be fetched).

Both runs see the same layout: a directory holding busybox under every applet name as /bin
(PATH=/bin), the scripts, and an empty working directory. The scripts' temporary files go
to /tmp (the host's natively, syscall-lab's in-memory one in the guest)."""

from __future__ import annotations

import pytest
from guest_harness import (
    SCRIPTS,
    busybox_bin_dir,
    busybox_for,
    differences,
    lab_run_args,
    run_lab,
    run_native,
)

SCRIPT_NAMES = sorted(p.name for p in SCRIPTS.glob("*.sh") if not p.name.startswith("fetch_"))
ARCHES = ("x86_64", "i386")


@pytest.fixture(scope="session")
def busybox_bins(tmp_path_factory):
    """arch -> the applet directory for that arch's busybox (built once per session), or
    the reason there is none."""
    made: dict[str, object] = {}

    def get(arch: str):
        if arch not in made:
            busybox = busybox_for(arch)
            made[arch] = busybox if isinstance(busybox, str) else \
                busybox_bin_dir(busybox, tmp_path_factory.mktemp(f"bin-{arch}"))
        return made[arch]

    return get


def test_there_are_scripts():
    assert len(SCRIPT_NAMES) >= 8, SCRIPT_NAMES


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("script", SCRIPT_NAMES)
def test_busybox_sh_same_as_linux(script, arch, busybox_bins, tmp_path):
    bin_dir = busybox_bins(arch)
    if isinstance(bin_dir, str):
        pytest.skip(bin_dir)
    native_cwd, lab_cwd = tmp_path / "native", tmp_path / "lab"
    native_cwd.mkdir()
    lab_cwd.mkdir()
    native = run_native([str(bin_dir / "sh"), str(SCRIPTS / script)], cwd=native_cwd,
                        env={"HOME": "/", "PATH": str(bin_dir)})
    lab = run_lab(*lab_run_args(), "-E", "HOME=/", "-E", "PATH=/bin",
                  "--mount", f"{bin_dir}:/bin", "--mount", f"{SCRIPTS}:/scripts",
                  "--mount", f"{lab_cwd}:/work:rw", "--cwd", "/work",
                  str(bin_dir / "sh"), f"/scripts/{script}")
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)

"""Linux's own vDSO selftests (tools/testing/selftests/vDSO of linux-source-6.12), built
statically for x86-64 and i386 as their Makefile does, run natively and under syscall-lab.
They need the kernel source (Debian's `apt-get download linux-source-6.12`, unpacked):
SYSCALL_LAB_LINUX_SRC names the tree, else ../linux-src/linux-source-6.12 beside the
checkout; and gcc-multilib. Without them the tests skip. What Linux passes, syscall-lab
must pass, except the parts it does not model (listed with the reason)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from guest_harness import ROOT, lab_run_args, run_lab, run_native

pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64",
                                reason="the native runs need an x86-64 Linux host")
SRC = Path(os.environ.get("SYSCALL_LAB_LINUX_SRC")
           or ROOT.parent / "linux-src" / "linux-source-6.12")
VDSO = SRC / "tools" / "testing" / "selftests" / "vDSO"
PROGRAMS = {
    # name: (sources, extra flags)
    "vdso_test_gettimeofday": (["parse_vdso.c", "vdso_test_gettimeofday.c"], []),
    "vdso_test_getcpu": (["parse_vdso.c", "vdso_test_getcpu.c"], []),
    "vdso_test_abi": (["parse_vdso.c", "vdso_test_abi.c"], []),
    "vdso_test_clock_getres": (["vdso_test_clock_getres.c"], []),
    "vdso_standalone_test_x86": (["vdso_standalone_test_x86.c", "parse_vdso.c"],
                                 ["-nostdlib", "-fno-asynchronous-unwind-tables",
                                  "-fno-stack-protector"]),
    "vdso_test_correctness": (["vdso_test_correctness.c"], ["-ldl"]),
    "vdso_test_getrandom": (["parse_vdso.c", "vdso_test_getrandom.c"],
                            ["-isystem", str(SRC / "tools" / "include"),
                             "-isystem", str(SRC / "include" / "uapi")]),
}
# TAP lines and [OK]/[FAIL]/[PASS] verdicts, with the numbers (times, CPUs) taken out.
VERDICT = re.compile(rb"^(ok \d+ .*|not ok \d+ .*|\[(?:OK|FAIL|PASS|SKIP)\].*)$", re.M)
# Verdicts Linux gives and syscall-lab does not, and why.
NOT_MODELLED = {
    # unshare(CLONE_NEWTIME) and ptrace: no time namespaces, no ptrace in the model.
    b"ok 2 getrandom timens: PASS",
    # The host VM has no RTC, so Linux refuses the alarm clocks; the model serves them
    # as a machine with an RTC does.
    b"[OK] No such clock.",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    if not VDSO.is_dir():
        pytest.skip(f"no Linux source at {SRC} (set SYSCALL_LAB_LINUX_SRC)")
    if shutil.which("gcc") is None:
        pytest.skip("no gcc")
    out = tmp_path_factory.mktemp("vdso-selftests")
    for bits in (64, 32):
        for name, (sources, extra) in PROGRAMS.items():
            cmd = ["gcc", f"-m{bits}", "-std=gnu99", "-O2", "-static", "-D_GNU_SOURCE=",
                   *sources, *extra, "-o", str(out / f"{name}.{bits}")]
            r = subprocess.run(cmd, cwd=VDSO, capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                pytest.skip(f"cannot build {name} -m{bits}: {r.stderr.strip()[-300:]}")
    return out


def verdicts(stdout: bytes) -> list[bytes]:
    lines = [re.sub(rb"\d+", b"N", m) for m in VERDICT.findall(stdout)]
    return [b" ".join(line.split()) for line in lines]


@pytest.mark.parametrize("bits", [64, 32])
@pytest.mark.parametrize("name", PROGRAMS)
def test_passes_what_linux_passes(built, name, bits):
    binary = str(built / f"{name}.{bits}")
    native = run_native([binary])
    lab = run_lab(*lab_run_args(timeout=300), binary)
    want = [v for v in verdicts(native.stdout)
            if re.sub(rb"\d+", b"N", v) not in {re.sub(rb"\d+", b"N", n) for n in NOT_MODELLED}]
    got = verdicts(lab.stdout)
    missing = [v for v in want if v not in got]
    assert not missing, (missing, lab.stdout.decode(errors="replace")[-2000:])
    assert not [v for v in got if v.startswith((b"not ok", b"[FAIL]"))]
    if not NOT_MODELLED & set(verdicts(native.stdout)) and name != "vdso_test_getrandom":
        assert lab.status == native.status, lab.stderr.decode(errors="replace")[-2000:]

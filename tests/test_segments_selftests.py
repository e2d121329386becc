"""Linux's own x86 selftests for segments, run natively and under syscall-lab:
tools/testing/selftests/x86/ldt_gdt.c (modify_ldt, set_thread_area, LDT and GDT
selectors in segment registers and far calls) and sigreturn.c (cs and ss through
sigreturn: 64-bit, 32-bit and 16-bit code, bad selectors). Built as their Makefile builds
them, statically, 64- and 32-bit. The sources come from Debian's linux-source-6.12 package
(`apt-get download linux-source-6.12`, unpacked): SYSCALL_LAB_LINUX_SRC names the tree,
else ../linux-src/linux-source-6.12 beside the checkout; without it the tests skip.

The outputs must be the same line for line, except where README's Simplifications say
the model differs: one CPU (ldt_gdt's cross-CPU test skips, as on a one-CPU machine), and
the kernel addresses espfix64 leaves in the top of rsp after a return to a 16-bit stack
(sigreturn_64 prints them as notes)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from guest_harness import ROOT, lab_run_args, run_lab, run_native

pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64",
                                reason="the native runs need an x86-64 Linux host")


def _selftests_dir() -> Path | None:
    for tree in (os.environ.get("SYSCALL_LAB_LINUX_SRC"),
                 ROOT.parent / "linux-src" / "linux-source-6.12"):
        if tree:
            d = Path(tree) / "tools" / "testing" / "selftests" / "x86"
            if (d / "ldt_gdt.c").is_file():
                return d
    return None


def _build(tmp: Path, name: str, bits: int) -> Path:
    src = _selftests_dir()
    if src is None:
        pytest.skip("no Linux source tree (set SYSCALL_LAB_LINUX_SRC)")
    out = tmp / f"{name}_{bits}"
    cmd = ["gcc", f"-m{bits}", "-static", "-O2", "-g", "-std=gnu99", "-pthread", "-no-pie",
           "-DCAN_BUILD_32", "-DCAN_BUILD_64", "-o", str(out), str(src / f"{name}.c"),
           "-lrt", "-ldl", "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot build {name}_{bits}: {r.stderr[-300:]}")
    return out


_CROSS_CPU = re.compile(rb"\[RUN\]\tCross-CPU LDT invalidation\n\[OK\]\tAll 5 iterations "
                        rb"succeeded\n")
_ESPFIX_NOTE = re.compile(rb"\[NOTE\]\tSP: 8badf00d5aadc0de -> ffffff[0-9a-f]{10}\n")


def _documented(native: bytes) -> bytes:
    native = _CROSS_CPU.sub(b"[SKIP]\tCannot set affinity to CPU 1\n", native)
    return _ESPFIX_NOTE.sub(b"", native)


@pytest.mark.parametrize("bits", [64, 32])
@pytest.mark.parametrize("name", ["ldt_gdt", "sigreturn"])
def test_selftest_same_as_linux(tmp_path, name, bits):
    binary = _build(tmp_path, name, bits)
    native = run_native([str(binary)])
    lab = run_lab(*lab_run_args(timeout=120), str(binary))
    assert lab.status == native.status == 0, lab.stderr[-2000:]
    expected = _documented(native.stdout)
    assert lab.stdout.decode() == expected.decode()
    assert b"[FAIL]" not in lab.stdout
    assert lab.stdout.count(b"[OK]") >= (16 if name == "sigreturn" else 60)

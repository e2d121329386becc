"""The wheel carries the data files the program needs at run time (a missing .s, .toml,
.tcss or guest binary only shows on a fresh install)."""

import subprocess
import sys
import zipfile

from conftest import ROOT

NEEDED = [
    "kernel_model/vdso/vdso64.s",
    "kernel_model/vdso/vdso32.s",
    "kernel_model/vsyscall/native.s",
    "programs/catalog.toml",
    "programs/asm/time_three_ways.s",
    "programs/bin/hello.glibc-x86_64",
    "programs/bin/hello.glibc-i386",
    "programs/exercises/order",
    "programs/lessons/",
    "programs/topics/before-main.md",
    "programs/bin/hello_dynamic.glibc-x86_64",
    "tui/app.tcss",
]


def test_wheel_contains_the_data_files(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                        str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    wheel = next(tmp_path.glob("syscall_lab-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    missing = [n for n in NEEDED if not any(name.startswith(n) for name in names)]
    assert missing == []

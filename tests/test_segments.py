"""Segments and modes, against the host kernel: far jumps between the 64-bit (0x33) and
compat (0x23) code segments, modify_ldt and LDT selectors, set_thread_area through
int 0x80 (from 64-bit code too), lar/lsl on every GDT selector, and segment registers
that read 0 once their entry is cleared. Each guest in tests/guests/segments is built
here (gcc -static, -m32, nasm), run natively and under syscall-lab, and the two outputs
and statuses must be the same."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from guest_harness import GUESTS, differences, lab_run_args, run_lab, run_native

SEGMENTS = GUESTS / "segments"

pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64",
                                reason="the native runs need an x86-64 Linux host")


def _build(tmp: Path, source: str, bits: int) -> Path | str:
    """The guest built for `bits`, or why it cannot be (a str, for pytest.skip)."""
    src = SEGMENTS / source
    out = tmp / f"{src.stem}.{bits}"
    try:
        if src.suffix == ".asm":
            if not (shutil.which("nasm") and shutil.which("ld")):
                return "nasm and ld are needed"
            fmt, emul = ("elf64", "elf_x86_64") if bits == 64 else ("elf32", "elf_i386")
            subprocess.run(["nasm", "-f", fmt, "-o", f"{out}.o", src], check=True,
                           capture_output=True)
            subprocess.run(["ld", "-m", emul, "-o", out, f"{out}.o"], check=True,
                           capture_output=True)
        else:
            flags = ["-m32"] if bits == 32 else []
            subprocess.run(["gcc", "-static", "-O2", *flags, "-o", out, src], check=True,
                           capture_output=True)
    except (subprocess.CalledProcessError, OSError) as e:
        return f"cannot build {source} for {bits}-bit: {e}"
    return out


def _same_as_linux(tmp_path: Path, source: str, bits: int) -> str:
    binary = _build(tmp_path, source, bits)
    if isinstance(binary, str):
        pytest.skip(binary)
    # On CPU 0: the per-CPU GDT entry's limit (lsl 0x7b) is the CPU's number, and the
    # model's one CPU is 0.
    argv = ["taskset", "-c", "0", str(binary)] if shutil.which("taskset") else [str(binary)]
    native = run_native(argv)
    lab = run_lab(*lab_run_args(), str(binary))
    assert not differences(native, lab), differences(native, lab)
    return lab.stdout.decode()


def test_far_jumps_to_compat_mode_and_back(tmp_path):
    out = _same_as_linux(tmp_path, "farjump64.asm", 64)
    # 32-bit decoding (0x48 is `dec eax` there), back to cs 0x33, the far call's result
    assert "in compat mode: eax=0x000000ff" in out
    assert "back in 64-bit mode: cs=0x33, r12 kept: y" in out


@pytest.mark.parametrize("bits", [64, 32])
def test_gdt_access_rights_as_linux(tmp_path, bits):
    out = _same_as_linux(tmp_path, "gdt_rights.c", bits)
    assert "0x33 lar=1:0x00a0fb00" in out  # 64-bit code, accessed bit set
    assert "0x7b lar=1:0x0040f500 lsl=1:0000000000" in out  # the per-CPU entry


@pytest.mark.parametrize("bits", [64, 32])
def test_ldt_and_tls_descriptors_as_linux(tmp_path, bits):
    out = _same_as_linux(tmp_path, "descriptors.c", bits)
    # int 0x80's set_thread_area picks the first free TLS entry: 12 from 64-bit code (13
    # in i386, where glibc took 12)
    assert f"set_thread_area: 0 entry {12 if bits == 64 else 13}" in out
    # es loaded with LDT entry 0 (read through it in 32-bit code), 0 once it is cleared
    through = " read through it 0x55555555," if bits == 32 else ","
    assert f"es 0x7{through} after clearing its LDT entry 0\n" in out

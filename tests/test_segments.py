"""Segments and modes, against the host kernel: far jumps between the 64-bit (0x33) and
compat (0x23) code segments, modify_ldt and LDT selectors, set_thread_area through
int 0x80 (from 64-bit code too), lar/lsl on every GDT selector, and segment registers
that read 0 once their entry is cleared. Each guest in tests/guests/segments is built
here (gcc -static, -m32, nasm), run natively and under syscall-lab, and the two outputs
and statuses must be the same."""

from __future__ import annotations

import os
import re
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
            subprocess.run(["gcc", "-static", "-O2", "-pthread", *flags, "-o", out, src],
                           check=True, capture_output=True)
    except (subprocess.CalledProcessError, OSError) as e:
        return f"cannot build {source} for {bits}-bit: {e}"
    return out


def _same_as_linux(tmp_path: Path, source: str, bits: int, documented=None) -> str:
    """The guest's output and status under syscall-lab, checked against Linux's.
    `documented(native_stdout) -> bytes`: Linux's output changed where README's
    Simplifications say the model differs."""
    binary = _build(tmp_path, source, bits)
    if isinstance(binary, str):
        pytest.skip(binary)
    # On CPU 0: the per-CPU GDT entry's limit (lsl 0x7b) is the CPU's number, and the
    # model's one CPU is 0.
    argv = ["taskset", "-c", "0", str(binary)] if shutil.which("taskset") else [str(binary)]
    native = run_native(argv)
    if documented is not None:
        native.stdout = documented(native.stdout)
    lab = run_lab(*lab_run_args(), str(binary))
    assert not differences(native, lab), differences(native, lab)
    return lab.stdout.decode()


def test_far_jumps_to_compat_mode_and_back(tmp_path):
    out = _same_as_linux(tmp_path, "farjump64.asm", 64)
    # 32-bit decoding (0x48 is `dec eax` there), back to cs 0x33, the far call's result
    assert "in compat mode: eax=0x000000ff" in out
    assert "back in 64-bit mode: cs=0x33, r12 kept: y" in out


def _i386_cs64_not_present(native: bytes) -> bytes:
    # An i386 process's CPU is a 32-bit one here: 0x33 is marked not present (lar's bit
    # 15), so a far jump to it faults instead of running 16-bit code (README).
    return re.sub(rb"(0x3[0-3] lar=1:0x00a0)f(b00)", rb"\g<1>7\g<2>", native)


@pytest.mark.parametrize("bits", [64, 32])
def test_gdt_access_rights_as_linux(tmp_path, bits):
    out = _same_as_linux(tmp_path, "gdt_rights.c", bits,
                         documented=_i386_cs64_not_present if bits == 32 else None)
    if bits == 64:
        assert "0x33 lar=1:0x00a0fb00" in out  # 64-bit code, accessed bit set
    assert "0x23 lar=1:0x00c0fb00" in out  # 32-bit code
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


def test_signals_in_and_into_compat_mode(tmp_path):
    out = _same_as_linux(tmp_path, "sigcompat64.asm", 64)
    # the int3 in 32-bit code: its frame holds cs 0x23, the handler runs in cs 0x33, and
    # sigreturn goes back to 32-bit code (0x107 - 1); a handler that writes cs 0x23 into
    # its frame sends the program into 32-bit code (0x41 - 1)
    assert out == "trap frame cs=0x23 handler cs=0x33 after=0x06 usr1 result=0x40\n"


@pytest.mark.parametrize("selectors", [
    ("0x33",), ("0x2b",), ("0x13",), ("0x0",), ("0x7b",), ("0x33", "0x0"), ("0x33", "0x23"),
    ("0x33", "0x63")])
def test_sigreturn_checks_cs_and_ss_as_linux(tmp_path, selectors):
    """A handler writes cs (and ss) into its frame: a code segment of DPL 3 returns; a data
    segment, a kernel one, a null or missing one, or a code segment as ss make the
    `iret` fault: SIGSEGV with si_code SI_KERNEL, trap 13 and the selector as error code,
    the frame showing the selectors that failed."""
    binary = _build(tmp_path, "badcs.c", 64)
    if isinstance(binary, str):
        pytest.skip(binary)
    native = run_native([str(binary), *selectors])
    lab = run_lab(*lab_run_args(), str(binary), *selectors)
    assert not differences(native, lab), differences(native, lab)
    if selectors[0] == "0x33" and selectors[1:] in ((), ("0x0",)):
        assert b"returned, cs ok" in lab.stdout
    else:
        assert b"SIGSEGV code 128 addr (nil)" in lab.stdout and b"trapno 13" in lab.stdout


@pytest.mark.parametrize("traced", [False, True])
def test_syscall_in_compat_mode_is_sigill_as_on_intel(tmp_path, traced):
    """The model's CPU is an Intel one (README): no native comparison on an AMD host, where
    the same instruction enters the kernel's compat syscall path."""
    binary = _build(tmp_path, "syscall_compat.asm", 64)
    if isinstance(binary, str):
        pytest.skip(binary)
    lab = run_lab(*lab_run_args(), *(["-s"] if traced else []), str(binary))
    assert lab.status == 128 + 4, lab.stderr[-2000:]
    if traced:
        assert b"--- SIGILL {si_signo=SIGILL, si_code=ILL_ILLOPN" in lab.stderr


def test_heavens_gate_in_an_i386_process_is_a_clean_sigsegv(tmp_path):
    """Linux runs 64-bit code after an i386 program's far jump to 0x33; the model's CPU for
    i386 processes cannot, and says so (README, Simplifications): SIGSEGV, never 64-bit
    code run as 16-bit code."""
    binary = _build(tmp_path, "heavens_gate32.asm", 32)
    if isinstance(binary, str):
        pytest.skip(binary)
    assert run_native([str(binary)]).status == 0x11
    lab = run_lab(*lab_run_args(), "--events", str(binary))
    assert lab.status == 128 + 11
    assert b"far jump to cs 0x33 in an i386 process" in lab.stderr


def test_an_ldt_entry_cleared_by_another_thread_empties_fs_after_a_switch(tmp_path):
    out = _same_as_linux(tmp_path, "ldt_threads.c", 32)
    assert out.endswith("cleared by the other thread (1): fs 0\n")

"""Differential test: each bundled binary under the real kernel (strace) and under
syscall-lab must make the same syscalls with the same decoded arguments, modulo addresses,
times, ids and random bytes."""

import difflib
import re
import shutil
import subprocess

import pytest
from conftest import PROGRAMS, cli

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")

BIN = PROGRAMS / "bin"
# (binary, args): programs whose syscalls do not depend on the vDSO (time loops come with it).
CASES = [
    ("hello.glibc-x86_64", []),
    ("hello.glibc-i386", []),
    ("hello.musl-x86_64", []),
    ("hello.glibc-x86_64-pie", []),
    ("getpid_loop.glibc-x86_64", ["5"]),
    ("getpid_loop.glibc-i386", ["5"]),
    ("getpid_loop.musl-x86_64", ["5"]),
    ("compute_loop.glibc-x86_64", ["1000"]),
    ("compute_loop.musl-x86_64", ["1000"]),
    ("maps.glibc-x86_64", []),
    ("maps.musl-x86_64", []),
    ("maps.glibc-i386", []),
]

LINE = re.compile(r"^(?P<name>\w+)\((?P<args>.*)\)\s+= (?P<ret>.*)$")


def normalize(line: str) -> str | None:
    """One strace line in a comparable form, or None for lines that are not syscalls."""
    line = line.strip()
    if line.startswith(("+++", "---", "[")):
        return None
    m = LINE.match(line)
    if not m:
        return None
    name, args, ret = m["name"], m["args"], m["ret"]
    if name == "execve":
        return None
    if name == "readlink" and args.startswith('"/proc/self/exe"'):
        # Linux shows the host path; syscall-lab the program's guest path, on purpose
        # (README "What the guest sees"): the call, not the path, is compared.
        args = re.sub(r'^("/proc/self/exe", )".*?"(\.\.\.)?', r"\1EXE", args)
        ret = re.sub(r"^\d+$", "N", ret)
    if name == "getrandom":
        args = re.sub(r'^".*?"(\.\.\.)?', "BUF", args)
    if name == "read":  # file contents (e.g. /proc/self/maps) differ between the two kernels
        args = re.sub(r'".*"(\.\.\.)?', "BUF", args)
        ret = "N" if not ret.startswith("-1") else ret
    if name in ("write", "writev"):
        # Output carries pids and addresses that differ: compare its shape, not its digits.
        args = re.sub(r'"[^"]*"', lambda m: re.sub(r"[0-9a-f]{8,}|\d+", "N", m.group(0)), args)
        args = re.sub(r"(, )\d+$", r"\1N", args)
        ret = re.sub(r"^\d+$", "N", ret)
    args = re.sub(r"\{[^{}]*(\{[^{}]*\}[^{}]*)*\}", "{...}", args)  # structs: values differ
    args = re.sub(r"0x[0-9a-f]+", "ADDR", args)
    ret = re.sub(r"0x[0-9a-f]+", "ADDR", ret)
    ret = re.sub(r"^\d+$", "N", ret) if name in ("set_tid_address", "getpid", "gettid") else ret
    return f"{name}({args}) = {ret}"


def native(binary: str, args: list[str], tmp_path) -> list[str]:
    out = tmp_path / "native.trace"
    subprocess.run(["strace", "-qq", "-o", str(out), str(BIN / binary), *args],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True, timeout=60)
    return [n for n in map(normalize, out.read_text().splitlines()) if n]


def emulated(binary: str, args: list[str], tmp_path) -> list[str]:
    out = tmp_path / "lab.trace"
    r = cli("run", "-o", str(out), str(BIN / binary), *args)
    assert r.returncode == 0, r.stderr.decode()
    return [n for n in map(normalize, out.read_text().splitlines()) if n]


@pytest.mark.parametrize("binary, args", CASES)
def test_same_syscalls_as_linux(binary, args, tmp_path):
    expected = native(binary, args, tmp_path)
    got = emulated(binary, args, tmp_path)
    diff = "\n".join(difflib.unified_diff(expected, got, "linux", "syscall-lab", lineterm=""))
    assert got == expected, diff

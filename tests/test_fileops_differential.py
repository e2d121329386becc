"""Differential tests of file operations and credentials: the guests of tests/guests/fileops
(rename, link, symlink, chmod, chown, utimensat, truncate, fallocate, statfs, sync,
sendfile, copy_file_range; the uid/gid calls and the permission checks a non-root user
meets), for glibc x86-64, glibc i386 and musl x86-64, run natively and under syscall-lab;
stdout and exit status must be identical.

Where each runs:
- a tmpfs: natively a fresh directory in /dev/shm (a tmpfs, mode 1777 like /tmp), under
  syscall-lab the guest's own /tmp;
- a shared host directory: natively a fresh directory, under syscall-lab the same kind of
  directory shared with --mount DIR:/w:rw;
- as root and as uid 1000 with no supplementary groups: natively under `setpriv`, under
  syscall-lab with --user."""

from __future__ import annotations

import difflib
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from guest_harness import (
    GUESTS,
    TARGETS,
    busybox_bin_dir,
    busybox_for,
    differences,
    lab_run_args,
    run_lab,
    run_native,
)

FILEOPS = GUESTS / "fileops"
BIN = FILEOPS / "bin"
PROGRAMS = sorted(p.stem for p in FILEOPS.glob("*.c"))
SHM = Path("/dev/shm")

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the native runs switch users "
                                "with setpriv, which needs root")
needs_setpriv = pytest.mark.skipif(shutil.which("setpriv") is None, reason="no setpriv")


def test_every_guest_is_built_for_every_target():
    missing = [f"{name}.{target}" for name in PROGRAMS for target in TARGETS
               if not (BIN / f"{name}.{target}").is_file()]
    assert not missing, f"run tests/guests/fileops/build.sh: missing {missing}"


def _as(uid: int) -> list[str]:
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


def _shm_dir():
    if not SHM.is_dir():
        pytest.skip("no /dev/shm tmpfs on this host")
    d = Path(tempfile.mkdtemp(dir=SHM))
    d.chmod(0o1777)  # as the guest's /tmp
    return d


@needs_root
@needs_setpriv
@pytest.mark.parametrize("target", TARGETS)
def test_fileops_on_tmpfs_as_linux(target):
    binary = BIN / f"fileops.{target}"
    where = _shm_dir()
    try:
        native = run_native([*_as(0), str(binary), str(where), "tmp"])
    finally:
        shutil.rmtree(where)
    lab = run_lab(*lab_run_args(), str(binary), "/tmp", "tmp")
    assert native.status == 0, native.stderr
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)


@needs_root
@needs_setpriv
@pytest.mark.parametrize("target", TARGETS)
def test_fileops_in_a_shared_directory_as_linux(target, tmp_path):
    binary = BIN / f"fileops.{target}"
    native_dir, lab_dir = tmp_path / "native", tmp_path / "lab"
    native_dir.mkdir()
    lab_dir.mkdir()
    native = run_native([*_as(0), str(binary), str(native_dir)])
    lab = run_lab(*lab_run_args(), "--mount", f"{lab_dir}:/w:rw", str(binary), "/w")
    assert native.status == 0, native.stderr
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)
    # the guest cleaned up after itself, as the native run did, and left nothing outside
    assert sorted(os.listdir(lab_dir)) == sorted(os.listdir(native_dir))
    assert sorted(os.listdir(tmp_path)) == ["lab", "native"]


@needs_root
@needs_setpriv
@pytest.mark.parametrize("uid", [0, 1000])
@pytest.mark.parametrize("target", TARGETS)
def test_credentials_and_permissions_as_linux(target, uid):
    binary = BIN / f"creds.{target}"
    where = _shm_dir()
    try:
        native = run_native([*_as(uid), str(binary), str(where)])
    finally:
        shutil.rmtree(where)
    lab = run_lab(*lab_run_args(), "--user", f"{uid}:{uid}", str(binary), "/tmp")
    assert native.status == 0, native.stderr
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)


# What a statfs line may differ in: the file system's id (a boot's, or the model's device
# number) and the mount's flags (how this host mounted /proc: nosuid, nodev...).
MOUNT_SPECIFIC = re.compile(r"f_fsid=\{val=\[[^]]*\]\}|f_flags=[A-Z_|]+")


def _from_first_file(trace: str) -> list[str]:
    """The lines from the guest's creation of "f" on (the start-up before it differs
    between a native run and syscall-lab's, chdir's path too), less the exit lines."""
    lines = trace.splitlines()
    first = next(i for i, line in enumerate(lines) if '"f", O_RDWR|O_CREAT' in line)
    return [MOUNT_SPECIFIC.sub(lambda m: m[0].split("=")[0] + "=...", line)
            for line in lines[first:] if not line.startswith(("exit_group", "+++"))]


@needs_root
@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
@pytest.mark.parametrize("target", TARGETS)
def test_trace_lines_as_strace_prints_them(target, tmp_path):
    """renameat2(AT_FDCWD, "h", AT_FDCWD, "f", RENAME_EXCHANGE), utimensat's
    [UTIME_NOW, UTIME_OMIT] and dates, getgroups(2, [5, 6]), sendfile's [2] => [5],
    i386's setuid32 and fallocate's joined 64-bit words...: line for line as strace."""
    binary = BIN / f"trace_calls.{target}"
    native_trace, lab_trace = tmp_path / "native.trace", tmp_path / "lab.trace"
    where = _shm_dir()
    try:
        # one task: plain strace, whose lines carry no pid
        native = run_native(["strace", "-qq", "-o", str(native_trace), str(binary),
                             str(where)])
    finally:
        shutil.rmtree(where)
    lab = run_lab(*lab_run_args(), "-s", "-o", str(lab_trace), str(binary), "/tmp")
    assert native.status == lab.status == 0, lab.stderr
    expected = _from_first_file(native_trace.read_text())
    got = _from_first_file(lab_trace.read_text())
    assert len(expected) > 40
    assert got == expected, "\n".join(difflib.unified_diff(expected, got, "strace",
                                                           "syscall-lab", lineterm=""))


@pytest.mark.parametrize("target", TARGETS)
def test_sendfile_into_a_pipe_that_fills_as_linux(target):
    binary = BIN / f"sendfile_pipe.{target}"
    where = _shm_dir()
    try:
        native = run_native([str(binary), str(where)])
    finally:
        shutil.rmtree(where)
    lab = run_lab(*lab_run_args(), str(binary), "/tmp")
    assert native.status == 0 and b"child read 200000" in native.stdout
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)


@needs_root
@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_busybox_file_tools_as_linux(arch, tmp_path):
    """mv, ln, ln -s, chmod -R, chown, touch -d/-r, truncate, cp -p, sync, stat -f: the
    tools a student tries first, with busybox's sh, on a tmpfs (coreutils.sh)."""
    busybox = busybox_for(arch)
    if isinstance(busybox, str):
        pytest.skip(busybox)
    bin_dir = busybox_bin_dir(busybox, tmp_path / "bin")
    where = _shm_dir()
    try:
        native = run_native([str(bin_dir / "sh"), str(FILEOPS / "coreutils.sh")], cwd=where,
                            env={"HOME": "/", "PATH": str(bin_dir)})
    finally:
        shutil.rmtree(where)
    lab = run_lab(*lab_run_args(), "-E", "HOME=/", "-E", "PATH=/bin",
                  "--mount", f"{bin_dir}:/bin", "--mount", f"{FILEOPS}:/scripts",
                  "--cwd", "/tmp", str(bin_dir / "sh"), "/scripts/coreutils.sh")
    assert native.status == 0, native.stdout + native.stderr
    assert b"cp -p kept the time" in native.stdout
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)

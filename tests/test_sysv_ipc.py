"""Differential tests of System V IPC: each guest of tests/guests/ipc (message-queue
ping-pong between a parent and its child, a semaphore-protected counter with SEM_UNDO,
a shared memory segment across fork and exec, every call's edge cases), for glibc x86-64,
glibc i386 (which reaches every call through ipc(2)) and musl x86-64, runs natively and
under syscall-lab; stdout and exit status must be identical.

Natively each guest runs in an IPC namespace of its own (`unshare --ipc`), as under
syscall-lab, whose run is one namespace: no object of the host's can meet it."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from guest_harness import GUESTS, TARGETS, differences, lab_run_args, run_lab, run_native

IPC = GUESTS / "ipc"
IPC_BIN = IPC / "bin"
SYSV = ["ipc_calls", "ipc_ids", "msg_pingpong", "sem_counter", "shm_fork"]  # sysvipc_proc: below


def native_argv(binary) -> list[str]:
    """The guest in a fresh IPC namespace when the host lets us make one."""
    if shutil.which("unshare") and subprocess.run(
            ["unshare", "--ipc", "true"], capture_output=True).returncode == 0:
        return ["unshare", "--ipc", str(binary)]
    pytest.skip("no IPC namespace for the native run (unshare --ipc needs root)")
    return []


def binaries(names: list[str]) -> list[tuple[str, str]]:
    return [(n, t) for n in names for t in TARGETS] + [("ipc_mux", "glibc-i386")]


def test_every_guest_is_built():
    names = [p.stem for p in IPC.glob("*.c")]
    missing = [f"{n}.{t}" for n in names for t in TARGETS
               if n != "ipc_mux" and not (IPC_BIN / f"{n}.{t}").is_file()]
    assert not missing, f"run tests/guests/ipc/build.sh: missing {missing}"


@pytest.mark.parametrize(("name", "target"), binaries(SYSV))
def test_same_output_and_status_as_linux(name, target):
    binary = IPC_BIN / f"{name}.{target}"
    native = run_native(native_argv(binary))
    assert native.status == 0, native.stderr
    lab = run_lab(*lab_run_args(), str(binary))
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)


# The columns of /proc/sysvipc/* that hold pids and times (0-based, split on blanks).
_PROC_VARYING = {"msqid": (5, 6, 11, 12, 13), "semid": (8, 9), "shmid": (4, 5, 11, 12, 13)}


def _masked_sysvipc(text: bytes) -> list[list[str]]:
    rows, varying = [], ()
    for line in text.decode().splitlines():
        cols = line.split()
        if cols[:1] == ["key"]:
            varying = _PROC_VARYING[cols[1]]
            rows.append(cols)
            continue
        rows.append(["*" if i in varying and c != "0" else c for i, c in enumerate(cols)])
    return rows


@pytest.mark.parametrize("target", TARGETS)
def test_proc_sysvipc_as_linux(target):
    """Linux's columns and widths; every object, its mode (SHM_DEST shown), sizes, counts,
    uids and the segment's resident bytes."""
    binary = IPC_BIN / f"sysvipc_proc.{target}"
    native = run_native(native_argv(binary))
    lab = run_lab(*lab_run_args(), str(binary))
    assert (native.status, lab.status) == (0, 0), lab.stderr
    assert len(native.stdout.splitlines()) == 7
    assert [len(x) for x in native.stdout.splitlines()] == \
        [len(x) for x in lab.stdout.splitlines()]
    assert _masked_sysvipc(lab.stdout) == _masked_sysvipc(native.stdout)

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
SYSV = ["ipc_calls", "msg_pingpong", "sem_counter", "shm_fork"]


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

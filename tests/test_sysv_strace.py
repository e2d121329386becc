"""The strace lines of every System V IPC call, against strace itself: ipc_calls (every
call and its edge cases) for each target, and i386's raw ipc(2) calls, which strace shows
as the calls they make. Both runs start in an empty IPC namespace, so the ids agree; what
legitimately differs (times, pids, addresses) is masked."""

from __future__ import annotations

import re
import shutil

import pytest
from guest_harness import (
    GUESTS,
    TARGETS,
    differences,
    lab_run_args,
    run_lab,
    run_native,
    strace_native,
)
from test_sysv_ipc import native_argv

BIN = GUESTS / "ipc" / "bin"
IPC_CALLS = {"msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop",
             "semctl", "shmget", "shmat", "shmdt", "shmctl", "ipc"}
_MASKS = [
    (re.compile(r"time=\d+"), "time=T"),
    (re.compile(r"pid=\d+"), "pid=P"),
    (re.compile(r"(GETPID, \S+\)\s+= )\d+"), r"\1P"),
    (re.compile(r"0x[0-9a-f]{5,}"), "ADDR"),
]


# strace decodes the i386 old structs (a *ctl command without IPC_64 through ipc(2)) as
# ipc64 ones (its own TODO says so): the "mode" it shows is then part of a time.
_OLD_STAT = re.compile(r"^(msg|sem|shm)ctl\(\d+, (\d+, )?IPC_STAT, ")


def ipc_lines(text: str, old_structs: bool = False) -> list[str]:
    """The IPC calls' lines, masked; `old_structs`: the trace has i386 old-struct calls."""
    out = []
    for line in text.splitlines():
        line = re.sub(r"^\d+\s+", "", line)
        m = re.match(r"(\w+)\(", line)
        if m is None or m[1] not in IPC_CALLS:
            continue
        line = re.sub(r"\s+= ", " = ", line)
        for pattern, repl in _MASKS:
            line = pattern.sub(repl, line)
        if old_structs and _OLD_STAT.match(line):
            line = re.sub(r"mode=\d+", "mode=M", line)
        out.append(line)
    return out


CASES = [("ipc_calls", t) for t in TARGETS] + [("ipc_mux", "glibc-i386")]


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
@pytest.mark.parametrize(("name", "target"), CASES)
def test_same_ipc_lines_as_strace(name, target, tmp_path):
    binary = BIN / f"{name}.{target}"
    native_trace, lab_trace = tmp_path / "native.trace", tmp_path / "lab.trace"
    native = strace_native(native_argv(binary), native_trace)
    lab = run_lab(*lab_run_args(), "-o", str(lab_trace), str(binary))
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)
    old = name == "ipc_mux"
    want = ipc_lines(native_trace.read_text(), old)
    got = ipc_lines(lab_trace.read_text(), old)
    assert len(want) > 10
    assert got == want


def test_a_waiting_ipc_call_resumes_under_its_own_name(tmp_path):
    """i386 glibc's msgrcv is ipc(2) underneath: strace -f's `<unfinished ...>` and
    `<... msgrcv resumed>` lines name the call it makes, as strace does."""
    trace = tmp_path / "lab.trace"
    binary = BIN / "msg_pingpong.glibc-i386"
    lab = run_lab(*lab_run_args(), "-f", "-o", str(trace), str(binary))
    assert lab.status == 0, lab.stderr
    lines = [re.sub(r"^\d+\s+", "", line) for line in trace.read_text().splitlines()]
    assert "msgrcv(0,  <unfinished ...>" in lines
    resumed = [line for line in lines if line.startswith("<... msgrcv resumed>{mtype=2, ")]
    assert len(resumed) >= 1
    assert not any("ipc(" in line for line in lines)


def _count_rows(text: str) -> dict[str, tuple[int, int]]:
    """strace -c's rows for the IPC calls: name -> (calls, errors)."""
    rows = {}
    for line in text.splitlines():
        cols = line.split()
        if len(cols) >= 5 and cols[-1] in IPC_CALLS:
            errors = int(cols[4]) if len(cols) == 6 else 0
            rows[cols[-1]] = (int(cols[3]), errors)
    return rows


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
def test_strace_c_counts_ipc_subcalls_by_name(tmp_path):
    """strace -c counts i386's ipc(2) calls under the names of the calls they make."""
    binary = BIN / "ipc_calls.glibc-i386"
    native = run_native(["strace", "-c", "-o", str(tmp_path / "native"), *native_argv(binary)])
    lab = run_lab(*lab_run_args(), "-c", "-o", str(tmp_path / "lab"), str(binary))
    assert (native.status, lab.status) == (0, 0), lab.stderr
    want = _count_rows((tmp_path / "native").read_text())
    assert "msgrcv" in want and "ipc" not in want
    assert _count_rows((tmp_path / "lab").read_text()) == want

"""Differential tests of processes and threads: each guest of tests/guests/procs (fork,
wait, pipes, exec, popen, system, posix_spawn, pthreads), for glibc x86-64, glibc i386 and
musl x86-64, runs natively and under syscall-lab; stdout and exit status must be identical.
A second family compares `strace -f` with syscall-lab's `run -f` trace, task by task.

The guests' output is deterministic by construction (no pids or addresses; whatever the
scheduler may reorder is sorted or serialized), so any difference is syscall-lab's."""

from __future__ import annotations

import difflib
import shutil

import pytest
from guest_harness import (
    PROCS,
    PROCS_BIN,
    TARGETS,
    busybox_bin_dir,
    busybox_for,
    differences,
    lab_run_args,
    run_lab,
    run_native,
    strace_native,
    task_sequences,
)

PROGRAMS = sorted(p.stem for p in PROCS.glob("*.c"))
# These run /bin/sh (popen, system) or might fall back to it (posix_spawn): under
# syscall-lab a directory holding busybox as sh is shared at /bin; natively the host's.
NEEDS_SH = {"popen_read", "system_status", "posix_spawn"}
TRACED = ["fork_wait", "pipe_child", "threads_join"]


def test_every_guest_is_built_for_every_target():
    missing = [f"{name}.{target}" for name in PROGRAMS for target in TARGETS
               if not (PROCS_BIN / f"{name}.{target}").is_file()]
    assert not missing, f"run tests/guests/procs/build.sh: missing {missing}"


@pytest.fixture(scope="session")
def sh_mount(tmp_path_factory) -> list[str]:
    """--mount arguments sharing busybox as /bin/sh (and its other applets) at /bin."""
    busybox = busybox_for("x86_64")
    if isinstance(busybox, str):
        pytest.skip(busybox)
    where = busybox_bin_dir(busybox, tmp_path_factory.mktemp("bin-x86_64"))
    return ["--mount", f"{where}:/bin"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", PROGRAMS)
def test_same_output_and_status_as_linux(name, target, request):
    binary = PROCS_BIN / f"{name}.{target}"
    mounts = request.getfixturevalue("sh_mount") if name in NEEDS_SH else []
    native = run_native([str(binary)])
    lab = run_lab(*lab_run_args(), *mounts, str(binary))
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", TRACED)
def test_same_syscalls_per_task_as_strace_f(name, target, tmp_path):
    binary = PROCS_BIN / f"{name}.{target}"
    native_trace, lab_trace = tmp_path / "native.trace", tmp_path / "lab.trace"
    native = strace_native([str(binary)], native_trace)
    lab = run_lab(*lab_run_args(), "-f", "-o", str(lab_trace), str(binary))
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)
    expected = task_sequences(native_trace.read_text())
    got = task_sequences(lab_trace.read_text())
    report = []
    for task in sorted(set(expected) | set(got)):
        want, have = expected.get(task, []), got.get(task, [])
        if want != have:
            report.append(f"task {task}:")
            report.extend(difflib.unified_diff(want, have, "strace -f", "syscall-lab -f",
                                               lineterm="", n=2))
    if report:
        pytest.fail("\n".join(report), pytrace=False)

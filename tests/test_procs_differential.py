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


# The same run as strace -f -o FILE writes it (a bare pid before every line) and as a
# terminal shows it ("[pid N] " once there are two tasks), with other pids, another
# interleaving and a contended futex more: the per-task sequences must not tell them apart.
STRACE_O_FILE = """\
100  execve("./prog", ["./prog"], 0x7ffd /* 3 vars */) = 0
100  brk(NULL)                         = 0x1000
100  clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD, child_tidptr=0x2) = 101
101  set_robust_list(0x3, 24 <unfinished ...>
100  clone3({flags=CLONE_VM|CLONE_THREAD, exit_signal=0} <unfinished ...>
101  <... set_robust_list resumed>)    = 0
102  rseq(0x4, 0x20, 0, 0x53053053)    = 0
100  <... clone3 resumed> => {parent_tid=[102]}, 88) = 102
101  exit_group(7)                     = ?
100  --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=101, si_status=7} ---
102  exit(0)                           = ?
100  wait4(101, [{WIFEXITED(s) && WEXITSTATUS(s) == 7}], 0, NULL) = 101
100  exit_group(0)                     = ?
"""
TERMINAL = """\
brk(NULL)                               = 0x5000
clone(0x1200011, 0, 0, 0x6, 0)          = 4243
[pid  4243] set_robust_list(0x7, 24)    = 0
[pid  4243] exit_group(7)               = ?
[pid  4243] +++ exited with 7 +++
[pid  4242] --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=4243} ---
[pid  4242] clone3({flags=CLONE_VM|CLONE_THREAD, exit_signal=0}, 88) = 4244
[pid  4242] futex(0x8, FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME, 4244, NULL <unfinished ...>
[pid  4244] rseq(0x9, 0x20, 0, 0x53053053) = 0
[pid  4244] exit(0)                     = ?
[pid  4242] <... futex resumed>)        = 0
wait4(4243, [{WIFEXITED(s) && WEXITSTATUS(s) == 7}], 0, NULL) = 4243
exit_group(0)                           = ?
+++ exited with 0 +++
"""


def test_task_sequences_ignore_pids_interleaving_and_contention():
    expected = {"main": ["brk", "clone", "clone3", "wait4", "exit_group"],
                "main/1": ["set_robust_list", "exit_group"],
                "main/2": ["rseq", "exit"]}
    assert task_sequences(STRACE_O_FILE) == expected
    assert task_sequences(TERMINAL) == expected

"""Running one guest two ways, natively (Linux is the oracle) and under syscall-lab, for the
differential tests of processes, threads and the busybox shell; and reducing `strace -f`
output to what the scheduler cannot legitimately change."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUESTS = ROOT / "tests" / "guests"
PROCS = GUESTS / "procs"
PROCS_BIN = PROCS / "bin"
SCRIPTS = GUESTS / "sh"
TARGETS = ("glibc-x86_64", "glibc-i386", "musl-x86_64")
# The guest's default environment under syscall-lab (kernel_model.system.default_env, less
# TERM): the native run gets the same, so nothing that depends on it can differ.
ENV = {"HOME": "/", "PATH": "/usr/local/bin:/usr/bin:/bin"}
NATIVE_TIMEOUT = 30
# A guest stuck under syscall-lab ends at --timeout with its own message; the subprocess
# timeout above it only catches syscall-lab itself hanging.
LAB_TIMEOUT = 120


@dataclass
class Outcome:
    status: int  # as a shell's $? shows it: 128 + N for a death by signal N
    stdout: bytes
    stderr: bytes


def shell_status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def run_native(argv: list[str], cwd: Path | str | None = None,
               env: dict[str, str] | None = None) -> Outcome:
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, cwd=cwd,
                       env=env if env is not None else ENV, timeout=NATIVE_TIMEOUT)
    return Outcome(shell_status(r.returncode), r.stdout, r.stderr)


def run_lab(*args: str, cwd: Path | str = ROOT) -> Outcome:
    """`syscall-lab ARGS...` as a user would run it (a subprocess), stdin empty."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "tui.cli", *args], stdin=subprocess.DEVNULL,
                       capture_output=True, cwd=cwd, env=env, timeout=LAB_TIMEOUT)
    return Outcome(r.returncode, r.stdout, r.stderr)


def lab_run_args(seed: int = 1, timeout: int = 60) -> list[str]:
    return ["run", "--seed", str(seed), "--timeout", str(timeout)]


def differences(native: Outcome, lab: Outcome) -> str:
    """A readable account of how two runs differ (empty when stdout and status agree)."""
    lines = []
    if native.status != lab.status:
        lines.append(f"exit status: native {native.status}, syscall-lab {lab.status}")
    if native.stdout != lab.stdout:
        lines.append("stdout differs:\n--- native\n" + native.stdout.decode(errors="replace")
                     + "--- syscall-lab\n" + lab.stdout.decode(errors="replace"))
    if lines:
        lines.append("syscall-lab's stderr (last 2000 bytes):\n"
                     + lab.stderr[-2000:].decode(errors="replace"))
    return "\n".join(lines)


# --- busybox ---------------------------------------------------------------------------

BUSYBOX_X86_64 = Path("/bin/busybox")


def busybox_for(arch: str) -> Path | str:
    """The static busybox for arch, or the reason there is none (a str, for pytest.skip).
    The i386 one comes from fetch_busybox_i386.sh's cache (downloaded on first use)."""
    if arch == "x86_64":
        if not BUSYBOX_X86_64.exists():
            return "no /bin/busybox (apt-get install busybox-static)"
        return BUSYBOX_X86_64
    fetch = SCRIPTS / "fetch_busybox_i386.sh"
    try:
        r = subprocess.run(["bash", str(fetch)], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return "fetching the i386 busybox timed out"
    if r.returncode != 0:
        return "no i386 busybox: " + (r.stderr.strip().splitlines() or ["fetch failed"])[-1]
    return Path(r.stdout.strip())


def busybox_bin_dir(busybox: Path, where: Path) -> Path:
    """A directory holding busybox under each of its applet names (sh among them), as
    busybox --install would lay out /bin. Copies, not symlinks into the host's /bin: a
    shared directory must hold its own files. The applets are hard links to one copy."""
    where.mkdir(parents=True, exist_ok=True)
    main = where / "busybox"
    if not main.exists():
        shutil.copy2(busybox, main)
        main.chmod(0o755)
    names = subprocess.run([str(main), "--list"], capture_output=True, text=True,
                           check=True, timeout=NATIVE_TIMEOUT).stdout.split()
    for name in names:
        link = where / name
        if not link.exists():
            os.link(main, link)
    return where


# --- strace -f traces -------------------------------------------------------------------

# strace -f -o FILE puts "PID  " before every line; on a terminal (and in syscall-lab's
# trace, following it) "[pid N] " marks lines once there is more than one task.
_PREFIX = re.compile(r"^(?:\[pid\s+(?P<bracketed>\d+)\]\s|(?P<bare>\d+)\s+)")
_CALL = re.compile(r"^(?P<name>\w+)\(")
_RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>")
_RETURN = re.compile(r"\)\s+=\s+(?P<ret>-?\d+)\b[^=]*$")
CREATORS = frozenset({"clone", "clone3", "fork", "vfork"})
# Whether a futex call happens at all depends on whether a lock or a join found the other
# thread still running: the scheduler's business, not the program's. Leave them out.
CONTENTION = frozenset({"futex"})


def _returned_pid(line: str) -> int | None:
    m = _RETURN.search(line)
    if m is None:
        return None
    value = int(m["ret"])
    return value if value > 0 else None


def task_sequences(text: str) -> dict[str, list[str]]:
    """Per task, the names of its syscalls in order, with tasks named by who created them
    rather than by pid: "main" is the first, "main/2" the task its second clone/fork made,
    "main/2/1" that one's first, and so on. Pids, addresses, arguments, and the interleaving
    of lines from different tasks all drop out; calls that only contention decides (futex)
    are left out; the first execve (strace shows the one that started the program,
    syscall-lab does not) is dropped."""
    # (pid or None, syscall name, resumed?, unfinished?, child pid if a creator returned one)
    entries: list[tuple[int | None, str, bool, bool, int | None]] = []
    for raw in text.splitlines():
        m = _PREFIX.match(raw)
        pid = int(m["bracketed"] or m["bare"]) if m else None
        line = (raw[m.end():] if m else raw).strip()
        resumed = _RESUMED.match(line)
        call = resumed or _CALL.match(line)
        if call is None:  # "--- SIGCHLD ...", "+++ exited ...", strace's own remarks
            continue
        name = call["name"]
        child = _returned_pid(line) if name in CREATORS else None
        entries.append((pid, name, bool(resumed), line.endswith("<unfinished ...>"), child))

    # Unprefixed lines come from the only task traced at the time: before the first fork
    # (and, with strace's rule, after the last other task is gone) that is the first task,
    # the one pid no creator returned.
    children = {child for *_, child in entries if child is not None}
    prefixed = [pid for pid, *_ in entries if pid is not None]
    roots = [pid for pid in dict.fromkeys(prefixed) if pid not in children]
    root = roots[0] if roots else None

    calls: dict[int | None, list[str]] = {}
    creations: dict[int | None, list[tuple[int, int]]] = {}  # task -> (call index, child)
    pending: dict[int | None, int] = {}  # task -> index of its unfinished call
    for pid, name, resumed, unfinished, child in entries:
        task = root if pid is None else pid
        seq = calls.setdefault(task, [])
        made = creations.setdefault(task, [])
        if resumed:
            index = pending.pop(task, len(seq) - 1)
        else:
            seq.append(name)
            index = len(seq) - 1
            if unfinished:
                pending[task] = index
        if child is not None:
            made.append((index, child))

    names: dict[int | None, str] = {}

    def name_tree(task: int | None, label: str) -> None:
        names[task] = label
        for k, (_, child) in enumerate(sorted(creations.get(task, [])), 1):
            if child in calls and child not in names:
                name_tree(child, f"{label}/{k}")

    name_tree(root, "main")
    for k, other in enumerate(roots[1:], 1):  # tasks whose creation the trace did not show
        name_tree(other, f"unrooted-{k}")
    result: dict[str, list[str]] = {}
    for task, seq in calls.items():
        seq = [n for n in seq if n not in CONTENTION]
        label = names.get(task, f"unknown-pid-{task}")
        if label == "main" and seq[:1] == ["execve"]:
            seq = seq[1:]
        result[label] = seq
    return result


def strace_native(argv: list[str], out: Path, env: dict[str, str] | None = None) -> Outcome:
    """argv under `strace -f -qq -o out` (its trace in out)."""
    return run_native(["strace", "-f", "-qq", "-o", str(out), *argv], env=env)

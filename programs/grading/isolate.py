"""Hard limits around one piece of grading (assembling a solution, one graded run): it runs
in a forked child with an address-space limit (RLIMIT_AS) and a wall-clock limit, so a
solution that makes the assembler or the emulator take all the host's memory, run forever
or crash the process (Unicorn aborting) costs that piece only: the grader reports it as a
failed check and carries on.

os.fork and a pipe, not multiprocessing: batch grading already runs each submission in a
daemonic multiprocessing child, which may not start multiprocessing children of its own."""

from __future__ import annotations

import faulthandler
import os
import pickle
import resource
import signal
import time
from dataclasses import dataclass

from kernel_model.memory.mm import DEFAULT_MEMORY_LIMIT
from kernel_model.proc.wait import ready_fds

# What one graded run may add to the grader's address space: the guest's memory, and
# Unicorn's translation buffer, 128 MiB per machine (emu/machine.py TCG_BUFFER), for each
# process the run forks or execs.
HOST_MARGIN = 2 << 30
MEMORY_LIMIT = DEFAULT_MEMORY_LIMIT + HOST_MARGIN
EXTRA_SECONDS = 10.0  # beyond a run's own --timeout before its process is killed
ASSEMBLE_SECONDS = 30.0

# A test hook: child_hook(fn) is called in the child before fn (a test makes it abort).
child_hook = None


@dataclass
class GraderStopped:
    """The child did not return a result: why, in words a teacher understands."""

    reason: str  # "memory", "time" or "crash"
    words: str


def _mapped() -> int:
    """This process's address space now, in bytes (VmSize)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _size(n: int) -> str:
    return f"{n / (1 << 30):g} GiB" if n >= 1 << 30 else f"{n >> 20} MiB"


def call(fn, *args, seconds: float, memory: int | None = None, doing: str = "this run"):
    """fn(*args) in a child process; its return value, or the exception it raised (re-raised
    here: SpecError and the like travel back), or a GraderStopped when a limit ended it."""
    memory = MEMORY_LIMIT if memory is None else memory
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        status = 0
        try:
            faulthandler.disable()  # a crash here is reported by the parent, in its words
            # on top of what the grader's process already maps (a batch worker or a
            # warmed-up grader keeps earlier machines' reservations)
            total = _mapped() + memory
            resource.setrlimit(resource.RLIMIT_AS, (total, total))
            try:
                if child_hook is not None:
                    child_hook(fn)
                result = ("ok", fn(*args))
            except MemoryError:
                result = ("memory", None)
            except Exception as e:  # noqa: BLE001  (sent back and raised in the parent)
                result = ("raise", e)
            try:
                data = pickle.dumps(result)
            except MemoryError:
                data = pickle.dumps(("memory", None))
            except Exception as e:  # noqa: BLE001
                data = pickle.dumps(("raise", RuntimeError(f"{type(e).__name__}: {e}")))
            with os.fdopen(write, "wb") as f:
                f.write(data)
        except BaseException:  # noqa: BLE001
            status = 70
        finally:
            os._exit(status)
    os.close(write)
    chunks = []
    deadline = time.monotonic() + seconds
    timed_out = False
    with os.fdopen(read, "rb", buffering=0) as f:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _ = ready_fds([f.fileno()], (), left)
            if ready:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if timed_out:
        return GraderStopped("time",
                             f"the grader stopped {doing}: it ran longer than {seconds:g} s")
    try:
        kind, value = pickle.loads(b"".join(chunks))
    except Exception:  # noqa: BLE001  (nothing or half a result: the child died)
        kind, value = "died", None
    if kind == "ok":
        return value
    if kind == "raise":
        raise value
    if kind == "memory":
        return GraderStopped("memory", f"the grader stopped {doing}: it used more than "
                                       f"{_size(memory)} of memory")
    how = (signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else
           f"exit status {os.WEXITSTATUS(status)}")
    return GraderStopped("crash", f"the grader stopped {doing}: it crashed the emulator "
                                  f"({how}); this is a syscall-lab bug, the rest of the "
                                  "grading went on")

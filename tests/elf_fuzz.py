"""The mutated-ELF fuzzer: seeded mutations of the bundled static programs, run through
`syscall-lab run` (the same `main()` the command calls) in a worker process that the
caller can kill if a case hangs past its limits.

`python tests/elf_fuzz.py` is the worker: it reads one JSON argv list a line on stdin,
runs `main(argv)` with fds 1 and 2 sent to files, and answers one JSON line a case on its
real stdout: {"status", "stderr", "escaped"} ("escaped": an exception got out of main)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from elfmut import (  # noqa: E402
    EHDR32,
    EHDR64,
    PHDR32,
    PHDR64,
    header,
    is64,
    phdr,
    set_header,
    set_phdr,
)

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "programs" / "bin"
PAGE = 0x1000
TASK_SIZE = 0x7FFFFFFFF000
# Values at the edges the loader checks: TASK_SIZE (and the model's GDT page there), the
# vsyscall page, 2^31/2^32/2^63/2^64 and the guest memory cap.
EDGES = [0, 1, PAGE - 1, PAGE, 0x10000, 0x400000, 0x8048000, 0x7FFFFFFF, 0x80000000,
         0xFFFFE000, 0xFFFFFFFF, 1 << 32, 1 << 30, 2 << 30, TASK_SIZE - PAGE, TASK_SIZE,
         TASK_SIZE + PAGE, 0xFFFFFFFFFF600000, (1 << 63) - PAGE, 1 << 63, (1 << 64) - PAGE,
         (1 << 64) - 1]
PT_TYPES = [0, 1, 2, 3, 4, 6, 7, 0x6474E550, 0x6474E551, 0x6474E552, 0x70000000]
LIMIT_ARGS = ["--max-insns", "300000", "--timeout", "3", "--seed", "1"]


@dataclass
class Case:
    index: int
    source: str
    mutations: list[str]
    data: bytes


def programs() -> list[Path]:
    return sorted(p for p in BIN.iterdir() if p.is_file())


def _value(rng: random.Random, current: int, width: int) -> int:
    mask = (1 << width) - 1
    pick = rng.random()
    if pick < 0.35:
        value = rng.choice(EDGES)
    elif pick < 0.55:
        value = current ^ (1 << rng.randrange(width))
    elif pick < 0.75:
        value = current + rng.choice([-1, 1]) * rng.choice([1, 8, PAGE, 0x10000, 1 << 20])
    elif pick < 0.85:
        value = (current & ~(PAGE - 1)) + rng.randrange(PAGE) if rng.random() < 0.5 \
            else current * rng.choice([2, 16, 256])
    else:
        value = rng.getrandbits(width)
    return value & mask


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, list[str]]:
    out = bytearray(data)
    done: list[str] = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        kind = rng.random()
        phnum = header(out, "e_phnum")
        wide = is64(out)
        if kind < 0.55 and phnum:
            i = rng.randrange(min(phnum, 16))
            field = rng.choice(["p_type", "p_flags", "p_offset", "p_vaddr", "p_filesz",
                                "p_memsz", "p_align"])
            fmt = (PHDR64 if wide else PHDR32)[field][1]
            try:
                current = phdr(out, i, field)
            except Exception:  # noqa: BLE001  (the table may already point past the end)
                continue
            width = 32 if fmt == "I" else 64
            if field == "p_type":
                value = rng.choice(PT_TYPES) if rng.random() < 0.8 else rng.getrandbits(32)
            elif field == "p_flags":
                value = rng.randrange(8) if rng.random() < 0.8 else rng.getrandbits(32)
            else:
                value = _value(rng, current, width)
            try:
                set_phdr(out, i, field, value)
            except Exception:  # noqa: BLE001
                continue
            done.append(f"phdr[{i}].{field}={value:#x}")
        elif kind < 0.65:
            width = 64 if wide else 32
            value = _value(rng, header(out, "e_entry"), width)
            set_header(out, "e_entry", value)
            done.append(f"e_entry={value:#x}")
        elif kind < 0.75:
            field = rng.choice(["e_phnum", "e_phoff", "e_phentsize"])
            fmt = (EHDR64 if wide else EHDR32)[field][1]
            width = 16 if fmt == "H" else (64 if fmt == "Q" else 32)
            value = _value(rng, header(out, field), width) if rng.random() < 0.5 else \
                rng.randrange(0, 64)
            set_header(out, field, value)
            done.append(f"{field}={value:#x}")
        elif kind < 0.85:
            cut = rng.randrange(len(out))
            del out[cut:]
            done.append(f"truncated at {cut}")
            break
        else:
            span = 0x200 if rng.random() < 0.7 else len(out)
            for _ in range(rng.randrange(1, 17)):
                at = rng.randrange(min(span, len(out)))
                out[at] = rng.randrange(256)
            done.append(f"random bytes in the first {span:#x}")
    return bytes(out), done


def cases(seed: int, count: int):
    progs = programs()
    for index in range(count):
        rng = random.Random(f"{seed}:{index}")
        source = rng.choice(progs)
        data, muts = mutate(source.read_bytes(), rng)
        yield Case(index, source.name, muts, data)


def check(status: int | None, stderr: str, escaped: str | None) -> str | None:
    """What is wrong with one outcome, or None: the rules of `syscall-lab run` (a guest's
    own status or 128+signal, or status 2 with exactly one line of ours, or, when execve
    itself fails (a PT_INTERP naming no loader), a shell's line and status: 127 for ENOENT,
    126 otherwise; never a traceback, never an internal error)."""
    if escaped:
        return f"an exception escaped main(): {escaped}"
    if status is None:
        return "no status (the run hung past its limits)"
    if "Traceback" in stderr:
        return "a traceback"
    if "internal error" in stderr:
        return "an internal error: " + stderr.strip().splitlines()[-1]
    if not 0 <= status <= 255:
        return f"status {status}"
    ours = [ln for ln in stderr.splitlines() if ln.startswith("syscall-lab:")]
    if len(ours) > 1:
        return f"{len(ours)} lines of ours on stderr"
    cannot_execute = ours and ": cannot execute: " in ours[0] and status in (126, 127)
    if ours and status != 2 and not cannot_execute:
        return f"our line with status {status}: {ours[0]}"
    return None


class Worker:
    """The worker process: `run(argv)` returns (status, stderr, escaped), or None after
    killing it when it has not answered within `limit` seconds."""

    def __init__(self):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)

    def run(self, argv: list[str], limit: float):
        import select

        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(argv) + "\n")
        self.proc.stdin.flush()
        poller = select.poll()  # not select(): the test process may hold fds past 1024
        poller.register(self.proc.stdout, select.POLLIN)
        ready = poller.poll(limit * 1000)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.close()
            return None
        answer = json.loads(line)
        return answer["status"], answer["stderr"], answer["escaped"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def fuzz(seed: int, count: int, workdir: Path, limit: float = 30.0):
    """Run `count` cases; yields (case, problem) for each case that broke a rule."""
    worker = Worker()
    try:
        for case in cases(seed, count):
            path = workdir / f"case{case.index}-{case.source}"
            path.write_bytes(case.data)
            answer = worker.run(["run", *LIMIT_ARGS, str(path)], limit)
            if answer is None:
                yield case, f"no answer within {limit:g} s (a hang past --timeout)"
                worker = Worker()
                continue
            problem = check(*answer)
            if problem is None:
                path.unlink()
            else:
                yield case, problem
    finally:
        worker.close()


def _serve() -> None:
    """The worker's loop (see the module's docstring)."""
    from tui.cli import main

    real_out = os.fdopen(os.dup(1), "w")
    commands = os.fdopen(os.dup(0), "r")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # the guests' stdin: never the command pipe
    os.close(null)
    for line in commands:
        argv = json.loads(line)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            saved = os.dup(1), os.dup(2)
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            escaped = None
            status = None
            try:
                status = main(argv)
            except SystemExit as e:
                status = e.code if isinstance(e.code, int) else 2
            except BaseException as e:  # noqa: BLE001  (what the test reports)
                escaped = f"{type(e).__name__}: {e}"
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0])
                os.close(saved[1])
            err.seek(0)
            text = err.read().decode(errors="replace")
        real_out.write(json.dumps({"status": status, "stderr": text, "escaped": escaped})
                       + "\n")
        real_out.flush()


if __name__ == "__main__":
    if len(sys.argv) > 1:  # by hand: elf_fuzz.py SEED COUNT [DIR]
        seed, count = int(sys.argv[1]), int(sys.argv[2])
        where = Path(sys.argv[3]) if len(sys.argv) > 3 else Path(tempfile.mkdtemp())
        start = time.monotonic()
        bad = 0
        for c, problem in fuzz(seed, count, where):
            bad += 1
            print(f"case {c.index} ({c.source}: {'; '.join(c.mutations)}): {problem}",
                  flush=True)
        print(f"{count} cases, {bad} problems, {time.monotonic() - start:.0f} s; failing "
              f"files kept in {where}")
    else:
        _serve()

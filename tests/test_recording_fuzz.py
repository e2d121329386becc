"""Damaged recordings never break a replay: valid recordings of two bundled programs (x86-64
and i386), corrupted at random (wrong types, missing keys, walks that refer to themselves
or go round, indexes out of range, huge numbers, deep nesting, truncation, bytes that are not
UTF-8), then loaded and replayed headless. Each either replays cleanly (every stop drawn by
every panel) or is refused in one line with status 2; never a traceback or a hang.

Seeded and bounded (a few seconds); `SYSCALL_LAB_FUZZ=N` runs N corruptions (by hand, for
thousands), `SYSCALL_LAB_FUZZ_SEED=S` another seed."""

import copy
import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kernel_model.debugger.recording import MAX_BYTES, RecordedSession, RecordingError, load
from tui import cli
from tui.panels import (
    code_lines,
    event_lines,
    history_lines,
    maps_lines,
    output_lines,
    plain,
    register_lines,
    stack_lines,
    status_line,
    transition_lines,
)
from tui.panels.registers import registers_at

ROOT = Path(__file__).resolve().parent.parent
CASES = int(os.environ.get("SYSCALL_LAB_FUZZ", "0")) or None
BUDGET_S = 8.0  # the default run: as many cases as fit, at least MIN_CASES
MIN_CASES = 60
SEED = int(os.environ.get("SYSCALL_LAB_FUZZ_SEED", "9"))
HANG_S = 10  # one case that takes longer has hung


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    docs = []
    for program in ("hello-syscall", "hello-sysenter"):
        out = d / f"{program}.json"
        assert cli.main(["run", "--record", str(out), "--seed", "1", program]) == 0
        docs.append(json.loads(out.read_text()))
    return docs


def draw_everything(path: str) -> int:
    """Replay headless: every stop, every panel, and the moves between stops."""
    rec = load(path)
    session = RecordedSession(rec)
    session.goto_start()
    for i in range(len(rec.views)):
        session._go(i)
        v = session.view()
        plain(code_lines(v, width=100, height=40))
        plain(transition_lines(v, width=60))
        plain(transition_lines(v, width=20, compare=False))
        plain([status_line(v, rec.stops[i].get("reason", ""), rec.stops[i].get("message", ""))])
        plain(history_lines(v))
        plain(code_lines(v, att=True, width=30, height=5))
        plain(register_lines(*registers_at(v)[:2]))
        for panel in (stack_lines, maps_lines, output_lines, event_lines):
            plain(panel(v))
    for move in (session.goto_start, session.next, session.run_to_transition, session.cont,
                 session.goto_end, session.reverse_to_transition, session.reverse_continue,
                 session.reverse_step, session.step):
        move()
    session.run_to_syscall("write")
    session.goto_mark(0)
    return len(rec.views)


# -- corruptions -----------------------------------------------------------------------------

def nested(depth: int):
    v: list = []
    for _ in range(depth):
        v = [v]
    return v


def junk(rng: random.Random, sizes: tuple[int, int]):
    return rng.choice([
        "x", "", "0x401000", "\u202e\x00", "two\nlines",
        -1, 0, 1, 7, 2**63, 2**64, -2**64, 10**40, 1.5, -1e-300, 1e19,
        float(10**300), True, False, None, [], {}, [1, 2], {"a": 1}, nested(rng.choice([5, 40])),
        sizes[0], sizes[0] - 1, sizes[1] + 3,
    ])


def places(doc):
    """Every (container, key) in the document, down to a depth (a nest an earlier
    corruption made is not walked to its bottom)."""
    out, todo = [], [(doc, 0)]
    while todo:
        value, depth = todo.pop()
        items = value.items() if isinstance(value, dict) else \
            enumerate(value) if isinstance(value, list) else ()
        for k, v in items:
            out.append((value, k))
            if depth < 12:
                todo.append((v, depth + 1))
    return out


def corrupt_doc(rng: random.Random, doc: dict) -> dict:
    sizes = (len(doc["views"]), len(doc["insns"]))  # indexes just past two tables
    doc = copy.deepcopy(doc)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        how = rng.random()
        views = doc.get("views") if isinstance(doc.get("views"), list) else []
        walked = [i for i, v in enumerate(views)
                  if isinstance(v, dict) and isinstance(v.get("walk"), dict)]
        if how < 0.1 and walked:  # a walk back to itself, or round two views
            i = rng.choice(walked)
            j = rng.choice(walked) if rng.random() < 0.5 else i
            views[i]["walk"]["before"] = j
            views[j]["walk"]["before"] = i
            continue
        if how < 0.15:  # a whole top-level key gone
            if doc:
                doc.pop(rng.choice(sorted(doc)))
            continue
        spots = list(places(doc))
        if not spots:
            break
        box, key = rng.choice(spots)
        if how < 0.35 and isinstance(box, dict):
            del box[key]
        elif how < 0.45 and isinstance(box, list):
            del box[key:]  # truncate a list (a table, a row)
        elif how < 0.55 and isinstance(box[key], int) and not isinstance(box[key], bool):
            box[key] = box[key] + rng.choice([1, -1, 2**64, -2**70, len(views)])
        else:
            box[key] = junk(rng, sizes) if rng.random() < 0.9 else nested(900)
    return doc


def corrupt_bytes(rng: random.Random, text: bytes) -> bytes:
    how = rng.randrange(5)
    at = rng.randrange(len(text))
    if how == 0:
        return text[:at]  # truncated
    if how == 1:
        return text[:at] + bytes([0xff, 0xfe, 0x80]) + text[at:]  # not UTF-8
    if how == 2:
        return text[:at] + b"[" * 100_000 + text[at:]  # nested past any reader
    if how == 3:  # a number of more digits than Python converts
        return text.replace(b'"pc":', b'"pc":' + b"9" * 5000, 1)
    return gzip.compress(text)[:at // 8 + 10]  # a damaged gzip


def check_case(path: Path, capsys) -> str:
    """'replayed' or 'refused' (one line, status 2); anything else fails the test."""
    def hung(*_):
        raise TimeoutError(f"{path.name}: the case ran past {HANG_S} s")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(HANG_S)
    try:
        try:
            draw_everything(str(path))
            return "replayed"
        except RecordingError as e:
            assert "\n" not in str(e), str(e)
        assert cli.main(["replay", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("syscall-lab: ") and err.count("\n") == 1, err
        return "refused"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_corrupted_recordings_replay_or_are_refused_in_one_line(recordings, tmp_path,
                                                                capsys):
    rng = random.Random(SEED)
    start = time.monotonic()
    seen = {"replayed": 0, "refused": 0}
    n = 0
    while (n < CASES) if CASES else (n < MIN_CASES or time.monotonic() - start < BUDGET_S):
        good = rng.choice(recordings)
        path = tmp_path / f"case{n % 50}.json"
        if rng.random() < 0.15:
            path.write_bytes(corrupt_bytes(rng, json.dumps(good).encode()))
        else:
            path.write_text(json.dumps(corrupt_doc(rng, good)))
        try:
            seen[check_case(path, capsys)] += 1
        except BaseException:
            os.replace(path, tmp_path / "failed.json")  # keep it to look at
            print(f"seed {SEED}, case {n}: {tmp_path / 'failed.json'}")
            raise
        n += 1
    assert seen["refused"] > n // 4  # the corruptions reach the checks...
    assert seen["replayed"] > 0  # ...and a harmless edit (a message's text) still replays


def test_the_examples_from_the_issue_are_refused_saying_where(recordings, tmp_path, capsys):
    """A self-referencing walk, a string where an address belongs, an int where a cost
    string belongs, no stops: one line naming the place, status 2."""
    good = recordings[0]
    walked = next(i for i, v in enumerate(good["views"]) if v.get("walk"))
    cycle = next(i for i, v in enumerate(good["views"]) if v.get("walk") and i != walked)

    def edit(fn):
        doc = copy.deepcopy(good)
        fn(doc)
        return doc

    def two_round(d):
        d["views"][walked]["walk"]["before"] = cycle
        d["views"][cycle]["walk"]["before"] = walked

    cases = {
        f"views[{walked}].walk.before refers to itself":
            edit(lambda d: d["views"][walked]["walk"].update(before=walked)),
        "goes round in a cycle": edit(two_round),
        "views[0].pc: a string where an integer belongs":
            edit(lambda d: d["views"][0].update(pc="0x401000")),
        "transitions[0].cost_source: an integer where a string belongs":
            edit(lambda d: d["transitions"][0].update(cost_source=7)),
        "stops: missing": edit(lambda d: d.pop("stops")),
        "stops[1].view: index 99999 is outside views":
            edit(lambda d: d["stops"][1].update(view=99999)),
        "views[0].upcoming: a vdso call without its target address":
            edit(lambda d: d["views"][0].update(upcoming=["vdso", None])),
        f"views[{walked}].walk.phase: 99 is past the transition's":
            edit(lambda d: d["views"][walked]["walk"].update(phase=99)),
        "insns[0][0]: 18446744073709551616 is out of range":
            edit(lambda d: d["insns"][0].__setitem__(0, 2**64)),
    }
    for words, doc in cases.items():
        path = tmp_path / "class.json"
        path.write_text(json.dumps(doc))
        assert cli.main(["replay", str(path)]) == 2
        err = capsys.readouterr().err
        assert err == (f"syscall-lab: error: {path}: not a recording syscall-lab can replay: "
                       f"{err.split('replay: ', 1)[1]}") and words in err, err
        assert err.count("\n") == 1, err


def test_a_huge_file_or_a_gzip_bomb_is_refused_without_filling_memory(tmp_path):
    """A recording larger than the limit, plain (sparse: nothing to write) or compressed,
    is refused in one line under an address-space limit a full read would break."""
    big = tmp_path / "huge.json"
    with open(big, "wb") as f:
        f.write(b'{"format": "syscall-lab-recording", "version": 1, "x": "')
        f.truncate(4 * MAX_BYTES)
    bomb = tmp_path / "bomb.json.gz"
    with gzip.open(bomb, "wb", compresslevel=1) as f:
        chunk = b" " * (1 << 20)
        for _ in range(2 * MAX_BYTES >> 20):
            f.write(chunk)
    limit = 3 * MAX_BYTES + (400 << 20)  # the interpreter, one capped read and its copy
    code = ("import resource, sys\n"
            f"resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))\n"
            "from tui import cli\n"
            "sys.exit(cli.main(['replay', sys.argv[1]]))\n")
    for path in (big, bomb):
        r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                           text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                           timeout=60)
        assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
        assert "larger than" in r.stderr

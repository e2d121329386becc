"""Differential tests of dynamically linked programs through the real ld.so (issue 13).

The guests of tests/guests/dynamic are built here, at test time, with the host's compilers
(gcc, gcc -no-pie, gcc -m32, g++, musl-gcc: each missing one skips its tests with the
reason), once per session into a temporary directory. Each runs natively (Linux is the
oracle) and under syscall-lab with the same environment and nothing shared but the
directories the loader is told about: the libraries come from the host's /lib, /usr/lib...
that syscall-lab shows by default. Compared: stdout and exit status; `run -s` against
`strace` line by line (addresses, pids and random bytes left out); the loader's own
messages (LD_DEBUG, errors) on stderr."""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from guest_harness import (
    ENV,
    GUESTS,
    Outcome,
    differences,
    lab_run_args,
    run_lab,
    run_native,
)

DYNAMIC = GUESTS / "dynamic"
CFLAGS = ["-O2", "-Wall"]

# The five builds a student makes: (compiler and its options, source).
BUILDS = {
    "gcc": (["gcc"], "loader_tour.c"),  # a dynamic PIE, gcc's default
    "gcc-no-pie": (["gcc", "-no-pie"], "loader_tour.c"),
    "gcc-m32": (["gcc", "-m32"], "loader_tour.c"),
    "g++": (["g++"], "iostream_tour.cc"),
    "musl-gcc": (["musl-gcc"], "loader_tour.c"),
}
# The libraries of the LD_* tests, per C library and architecture.
TARGETS = {"glibc-x86_64": ["gcc"], "glibc-i386": ["gcc", "-m32"], "musl-x86_64": ["musl-gcc"]}
TIME_SYSCALLS = frozenset({"clock_gettime", "clock_gettime64", "gettimeofday", "time",
                           "clock_getres", "clock_getres_time64"})


# --- building -------------------------------------------------------------------------------

class Builder:
    """Compiles on demand into one directory, remembering each result: a path, or the
    reason there is none (a str, for pytest.skip)."""

    def __init__(self, where: Path):
        self.where = where
        self.done: dict[str, Path | str] = {}

    def __call__(self, name: str, cc: list[str], sources: list[str], *extra: str,
                 subdir: str = "bin") -> Path | str:
        key = f"{subdir}/{name}"
        if key not in self.done:
            self.done[key] = self._compile(self.where / subdir / name, cc, sources, extra)
        return self.done[key]

    @staticmethod
    def _compile(out: Path, cc: list[str], sources: list[str], extra) -> Path | str:
        if shutil.which(cc[0]) is None:
            return f"{cc[0]} is not installed"
        out.parent.mkdir(parents=True, exist_ok=True)
        argv = [*cc, *CFLAGS, *(str(DYNAMIC / s) for s in sources), *extra, "-o", str(out)]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["failed"])[-1]
            hint = " (gcc-multilib missing?)" if "-m32" in cc else ""
            return f"{' '.join(cc)} cannot build {out.name}{hint}: {last}"
        return out


@pytest.fixture(scope="session")
def build(tmp_path_factory) -> Builder:
    return Builder(tmp_path_factory.mktemp("dynamic"))


def built(result: Path | str) -> Path:
    if isinstance(result, str):
        pytest.skip(result)
    return result


def lib_dir(build: Builder, target: str, source: str = "libgreet.c",
            name: str = "libgreet.so") -> Path:
    """A directory of its own holding one shared library built for target."""
    return built(build(name, TARGETS[target], [source], "-shared", "-fPIC",
                       subdir=f"lib-{target}-{Path(source).stem}")).parent


def greet_program(build: Builder, target: str, *extra: str, name: str = "") -> Path:
    """greet.c linked against libgreet.so, with no rpath: only LD_LIBRARY_PATH finds it."""
    libs = lib_dir(build, target)
    return built(build(name or f"greet.{target}", TARGETS[target], ["greet.c"],
                       f"-L{libs}", "-lgreet", *extra))


# --- running --------------------------------------------------------------------------------

def env_args(env: dict[str, str]) -> list[str]:
    return [arg for k, v in env.items() for arg in ("-E", f"{k}={v}")]


def both(program: Path, env: dict[str, str] | None = None, mounts: tuple[Path, ...] = (),
         lab_extra: tuple[str, ...] = ()) -> tuple[Outcome, Outcome]:
    """program natively (env -i ENV...) and under syscall-lab with the same environment,
    the given host directories shared at their own paths."""
    env = {**ENV, **(env or {})}
    native = run_native([str(program)], env=env)
    shares = [a for m in mounts for a in ("--mount", str(m))]
    lab = run_lab(*lab_run_args(), *env_args(env), *shares, *lab_extra, str(program))
    return native, lab


@dataclass
class TracedRun:
    native: Outcome
    native_trace: str
    lab: Outcome
    lab_trace: str


@pytest.fixture(scope="session")
def traced(build, tmp_path_factory):
    """Per build of BUILDS, one native run under strace and one `syscall-lab run -s -o`:
    the output tests and the trace tests share them."""
    cache: dict[str, TracedRun] = {}

    def get(variant: str) -> TracedRun:
        if variant not in cache:
            cc, source = BUILDS[variant]
            program = built(build(f"{Path(source).stem}.{variant}", cc, [source]))
            where = tmp_path_factory.mktemp(f"trace-{variant}")
            native_trace, lab_trace = where / "native.trace", where / "lab.trace"
            native = run_native(["strace", "-qq", "-o", str(native_trace), str(program)])
            lab = run_lab(*lab_run_args(), *env_args(ENV), "-s", "-o", str(lab_trace),
                          str(program))
            cache[variant] = TracedRun(native, native_trace.read_text(), lab,
                                       lab_trace.read_text() if lab_trace.exists() else "")
        return cache[variant]

    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    return get


# --- 1. same output and status ---------------------------------------------------------------

@pytest.mark.parametrize("variant", BUILDS)
def test_same_output_and_status_as_linux(variant, traced):
    run = traced(variant)
    if diff := differences(run.native, run.lab):
        pytest.fail(diff, pytrace=False)
    assert run.native.status in (3, 5), run.native.stderr  # the guests' own exit status


# --- 2. the same system calls as strace -----------------------------------------------------

_GETRANDOM = re.compile(r'^getrandom\("(?:\\x[0-9a-f]{2})*"')
_HEX = re.compile(r"0x[0-9a-f]+")
_PID_CALLS = ("set_tid_address(", "getpid(", "gettid(")
_RETURN = re.compile(r"=\s+(-?\d+)$")
_HWCAPS = re.compile(r"/glibc-hwcaps/(x86-64-v\d)\b")


def trace_lines(text: str) -> list[str]:
    """The syscall lines of a trace, each with what differs between two honest runs made
    the same: addresses (ASLR), the pid, getrandom's bytes. Signal and exit lines, and the
    execve that strace shows starting the program (syscall-lab starts it without one), are
    left out; the alignment padding before " = " is made one space."""
    lines = [ln for ln in text.splitlines() if re.match(r"\w+\(", ln)]
    if lines and lines[0].startswith("execve("):
        lines = lines[1:]
    pids = {m[1] for ln in lines if ln.startswith(_PID_CALLS)
            for m in [_RETURN.search(ln)] if m}
    out = []
    for ln in lines:
        ln = re.sub(r"\)\s+= ", ") = ", ln)
        ln = _GETRANDOM.sub('getrandom("RANDOM"', ln)
        ln = _HEX.sub("ADDR", ln)
        for pid in pids:
            ln = re.sub(rf"\b{pid}\b", "PID", ln)
        out.append(ln)
    return out


def hwcaps_levels(lines: list[str]) -> list[str]:
    """The glibc-hwcaps subdirectories (x86-64-v3, -v2...) the loader searched, in order."""
    return list(dict.fromkeys(m[1] for ln in lines for m in _HWCAPS.finditer(ln)))


def without_cpu_levels(native: list[str], lab: list[str]) -> tuple[list[str], list[str]]:
    """The loader searches glibc-hwcaps/x86-64-vN for every level the CPU supports, best
    first: the host's CPU may have more (v3 with AVX2) than the emulated one. Only that
    may differ: one list of levels must end the other. The levels only one CPU has are
    taken out of both texts (search paths and the lines that try them)."""
    n, s = hwcaps_levels(native), hwcaps_levels(lab)
    short, long = sorted((n, s), key=len)
    assert long[len(long) - len(short):] == short, (
        f"the glibc-hwcaps levels searched differ beyond the CPU: native {n}, lab {s}")
    extra = set(long) - set(short)

    def strip(lines: list[str]) -> list[str]:
        kept = []
        for ln in lines:
            if any(re.search(rf"/glibc-hwcaps/{lv}/", ln) or
                   re.search(rf"/glibc-hwcaps/{lv}\"", ln) for lv in extra):
                continue  # a try of that level's directory (openat, newfstatat, LD_DEBUG)
            for lv in extra:  # a search path listing it
                ln = re.sub(rf"[^:=\s]*/glibc-hwcaps/{lv}:", "", ln)
            kept.append(ln)
        return kept

    return strip(native), strip(lab)


def unified(native: list[str], lab: list[str], what: str) -> str:
    return "\n".join(difflib.unified_diff(native, lab, f"native {what}",
                                          f"syscall-lab {what}", lineterm="", n=2))


@pytest.mark.parametrize("variant", BUILDS)
def test_run_s_matches_strace(variant, traced):
    run = traced(variant)
    if diff := differences(run.native, run.lab):
        pytest.fail(diff, pytrace=False)
    native, lab = without_cpu_levels(trace_lines(run.native_trace),
                                     trace_lines(run.lab_trace))
    if variant != "musl-gcc":  # musl's loader has no cache: it walks its path file
        assert any("ld.so.cache" in ln for ln in native), "glibc's loader reads its cache"
    if native != lab:
        pytest.fail(unified(native, lab, "strace"), pytrace=False)


def test_trace_lines_leave_out_only_what_runs_may_change():
    native = """\
execve("./a", ["./a"], 0x7ffd2 /* 2 vars */) = 0
brk(NULL)                               = 0x5641e6337000
set_tid_address(0x7fdf5f319a10)         = 10899
getrandom("\\x86\\x8c\\xdf\\xa6", 4, GRND_NONBLOCK) = 4
openat(AT_FDCWD, "/d/glibc-hwcaps/x86-64-v3/libg.so", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No s
newfstatat(AT_FDCWD, "/d/glibc-hwcaps/x86-64-v3", 0x7ffe0, 0) = -1 ENOENT (No such file or d
openat(AT_FDCWD, "/d/glibc-hwcaps/x86-64-v2/libg.so", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No s
write(1, "10899\\n", 6)                   = 6
+++ exited with 0 +++
"""
    lab = """\
brk(NULL) = 0x55c5930d0000
set_tid_address(0x7fde03a02a10)         = 4242
getrandom("\\xd4\\x5a\\xad\\x63", 4, GRND_NONBLOCK) = 4
openat(AT_FDCWD, "/d/glibc-hwcaps/x86-64-v2/libg.so", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No s
write(1, "4242\\n", 5)                   = 5
"""
    n, s = without_cpu_levels(trace_lines(native), trace_lines(lab))
    assert n[:3] == s[:3]
    assert len(n) == len(s) == 5
    assert n[4] != s[4]  # the pid's length shows in write's count: not hidden
    # A level the CPU has must still be searched: dropping v2 is a difference.
    with pytest.raises(AssertionError, match="hwcaps"):
        without_cpu_levels(trace_lines(native), trace_lines(lab.replace("-v2", "-v1")))


# --- 3. no time syscalls ---------------------------------------------------------------------

ROUNDS = 200  # time_loop.c's


@pytest.mark.parametrize("target", TARGETS)
def test_time_functions_make_no_syscalls(target, build, tmp_path):
    program = built(build(f"time_loop.{target}", TARGETS[target], ["time_loop.c"]))
    table = tmp_path / "table"
    native = run_native([str(program)])
    lab = run_lab(*lab_run_args(), *env_args(ENV), "-c", "-o", str(table), str(program))
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)
    out = lab.stdout.decode()
    assert "monotonic went backwards: 0 times" in out and "elapsed >= 0: yes" in out
    assert "disagreed: 0 times" in out and "after 2020: yes" in out
    text = table.read_text()
    rows = [ln.split() for ln in text.splitlines()]
    called = {r[-1] for r in rows if len(r) >= 5 and r[0][0].isdigit() and r[-1] != "total"}
    assert called, text  # the table has rows: the loader's calls at least
    assert not called & TIME_SYSCALLS, text
    # ... because the calls went to the vDSO (4 a round, 2 more around the loop).
    vdso = re.search(r"^\[vdso\]\s+(\d+)", text, re.M)
    assert vdso and int(vdso[1]) >= 4 * ROUNDS + 2, text


# --- 4. the loader's environment -------------------------------------------------------------

def debug_lines(stderr: bytes) -> list[str]:
    """LD_DEBUG's lines without the pid each starts with."""
    return [re.sub(r"^\s*\d+:\s?", "", _HEX.sub("ADDR", ln))
            for ln in stderr.decode(errors="replace").splitlines()]


@pytest.mark.parametrize("target", TARGETS)
def test_ld_library_path_finds_the_library(target, build):
    program = greet_program(build, target)
    libs = lib_dir(build, target)
    native, lab = both(program, {"LD_LIBRARY_PATH": str(libs)}, mounts=(libs,))
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)
    assert native.stdout == b"hello from libgreet.so\n"


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
@pytest.mark.parametrize("target", TARGETS)
def test_ld_library_path_search_matches_strace(target, build, tmp_path):
    """The loader's walk of LD_LIBRARY_PATH (each hwcaps and platform subdirectory tried,
    openat then newfstatat) is the same syscall for syscall."""
    program = greet_program(build, target)
    libs = lib_dir(build, target)
    env = {**ENV, "LD_LIBRARY_PATH": str(libs)}
    native_trace, lab_trace = tmp_path / "native.trace", tmp_path / "lab.trace"
    native = run_native(["strace", "-qq", "-o", str(native_trace), str(program)], env=env)
    lab = run_lab(*lab_run_args(), *env_args(env), "--mount", str(libs), "-s", "-o",
                  str(lab_trace), str(program))
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)
    want, got = without_cpu_levels(trace_lines(native_trace.read_text()),
                                   trace_lines(lab_trace.read_text()))
    assert any(f"{libs}/libgreet.so" in ln for ln in want)
    if want != got:
        pytest.fail(unified(want, got, "strace"), pytrace=False)


@pytest.mark.parametrize("target", TARGETS)
def test_ld_preload_overrides_a_function(target, build):
    program = greet_program(build, target)
    libs = lib_dir(build, target)
    preload = lib_dir(build, target, "greet_override.c", "libgreet_override.so")
    env = {"LD_LIBRARY_PATH": str(libs), "LD_PRELOAD": str(preload / "libgreet_override.so")}
    native, lab = both(program, env, mounts=(libs, preload))
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)
    assert native.stdout == b"hello from the preloaded library\n"


@pytest.mark.parametrize("target", ["glibc-x86_64", "glibc-i386"])
@pytest.mark.parametrize("bind_now", [False, True], ids=["lazy", "LD_BIND_NOW"])
def test_ld_debug_libs_and_bindings(target, bind_now, build):
    """LD_DEBUG=libs,bindings: the search for each library and every symbol binding, on
    the guest's stderr as on Linux; with LD_BIND_NOW=1 the program's own bindings all come
    before control is transferred to it."""
    program = greet_program(build, target)
    libs = lib_dir(build, target)
    env = {"LD_LIBRARY_PATH": str(libs), "LD_DEBUG": "libs,bindings"}
    if bind_now:
        env["LD_BIND_NOW"] = "1"
    native, lab = both(program, env, mounts=(libs,))
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)
    want, got = without_cpu_levels(debug_lines(native.stderr), debug_lines(lab.stderr))
    assert any("binding file" in ln for ln in want) and any("find library" in ln
                                                            for ln in want), want[:5]
    if want != got:
        pytest.fail(unified(want, got, "LD_DEBUG"), pytrace=False)
    own = [i for i, ln in enumerate(want) if ln.startswith(f"binding file {program} ")]
    control = next(i for i, ln in enumerate(want) if ln.startswith("transferring control"))
    assert own and (max(own) < control) == bind_now


# --- 5. bad input ----------------------------------------------------------------------------

def same_failure(native: Outcome, lab: Outcome, expected: str) -> None:
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)
    assert native.status == 127
    assert expected in native.stderr.decode(), native.stderr
    assert lab.stderr == native.stderr, (native.stderr, lab.stderr)


def test_missing_library(build):
    program = greet_program(build, "glibc-x86_64")
    native, lab = both(program)
    same_failure(native, lab, "error while loading shared libraries: libgreet.so: "
                              "cannot open shared object file: No such file or directory")


# The library the loader finds in place of libgreet.so, made from the real one, and the
# loader's message (dl-load.c: open_verify's and _dl_map_object_from_fd's).
CORRUPT = {
    "shorter-than-a-header": (lambda good: good[:40], "file too short"),
    "truncated-program-headers": (lambda good: good[:200], "cannot read file data"),
    "garbage": (lambda good: bytes((i * 97 + 13) & 0xFF for i in range(len(good))),
                "invalid ELF header"),
}


@pytest.mark.parametrize("kind", CORRUPT)
def test_corrupt_library(kind, build, tmp_path):
    program = greet_program(build, "glibc-x86_64")
    good = (lib_dir(build, "glibc-x86_64") / "libgreet.so").read_bytes()
    make, message = CORRUPT[kind]
    (tmp_path / "libgreet.so").write_bytes(make(good))
    native, lab = both(program, {"LD_LIBRARY_PATH": str(tmp_path)}, mounts=(tmp_path,))
    same_failure(native, lab, f"{tmp_path}/libgreet.so: {message}")


@pytest.mark.xfail(strict=True, reason="syscall-lab maps the pages of a file mapping past "
                   "the end of the file, where Linux raises SIGBUS on access: the guest "
                   "dies of SIGSEGV instead (reported to the lead)")
def test_library_cut_in_its_segments_dies_of_sigbus(build, tmp_path):
    """Half a library: the headers are whole, so the loader maps the segments, and the
    first touch of a page past the end of the file raises SIGBUS (status 135)."""
    program = greet_program(build, "glibc-x86_64")
    good = (lib_dir(build, "glibc-x86_64") / "libgreet.so").read_bytes()
    (tmp_path / "libgreet.so").write_bytes(good[:len(good) // 2])
    native, lab = both(program, {"LD_LIBRARY_PATH": str(tmp_path)}, mounts=(tmp_path,))
    assert native.status == 128 + 7
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)


def test_library_for_the_wrong_architecture(build):
    """A 32-bit libgreet.so where a 64-bit program looks: the loader skips it, finds no
    other, and says why it could not use the one it saw."""
    program = greet_program(build, "glibc-x86_64")
    wrong = lib_dir(build, "glibc-i386")
    native, lab = both(program, {"LD_LIBRARY_PATH": str(wrong)}, mounts=(wrong,))
    same_failure(native, lab, "error while loading shared libraries: libgreet.so: "
                              "wrong ELF class: ELFCLASS32")


def test_missing_interpreter(build):
    """PT_INTERP names a loader that does not exist: execve fails with ENOENT, which a shell
    (bash 5.1+) reports as "cannot execute: required file not found", status 127.
    syscall-lab, the shell of its first exec, says the same in one line."""
    program = greet_program(build, "glibc-x86_64", "-Wl,--dynamic-linker=/nope/ld.so",
                            name="greet.no-interpreter")
    lab = run_lab(*lab_run_args(), *env_args(ENV), str(program))
    expected = f"{program}: cannot execute: required file not found"
    assert lab.status == 127 and lab.stdout == b""
    assert lab.stderr.decode().count("\n") == 1 and expected in lab.stderr.decode(), lab.stderr
    with pytest.raises(FileNotFoundError):  # Linux's answer: execve fails with ENOENT
        run_native([str(program)])
    if shutil.which("bash") is None:
        pytest.skip("no bash to compare the message with")
    native = run_native(["bash", "-c", str(program)])
    assert native.status == 127
    assert native.stderr.decode().count("\n") == 1 and expected in native.stderr.decode()

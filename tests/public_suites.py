"""Public test suites written elsewhere, run natively and under syscall-lab side by side:
musl's libc-test (functional and regression tests, built statically with musl-gcc, with
gcc (glibc) and with gcc -m32) and Linux's own selftests (tools/testing/selftests/vDSO and
x86, 64- and 32-bit, static). Linux is the oracle: a test "matches" when syscall-lab gives
the same exit status as the native run (and, for libc-test, whose tests print only their
failures, the same output).

    python tests/public_suites.py build --libc-test TARBALL --linux-src DIR --out DIR
    python tests/public_suites.py run --out DIR [--only REGEX] [--jobs N] [--json FILE]

`build` skips what its toolchain cannot build (a line says so); `run` prints one line per
binary that differs, then the counts per suite and build."""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NATIVE_TIMEOUT = 20
LAB_TIMEOUT = 60  # the guest's own --timeout; the host's limit sits above it

# libc-test: the toolchains, and the tests that need a shared object (dlopen, *_dso) or
# that are not tests (the makefile fragments): static builds cannot run them.
LIBC_BUILDS = {
    "musl-x86_64": ["musl-gcc", "-static"],
    "glibc-x86_64": ["gcc", "-static"],
    "glibc-i386": ["gcc", "-m32", "-static"],
}
LIBC_CFLAGS = ["-pipe", "-std=c99", "-D_POSIX_C_SOURCE=200809L", "-Wno-unused-function",
               "-Wno-missing-braces", "-Wno-unused", "-Wno-overflow", "-fno-builtin",
               "-frounding-math", "-g", "-D_FILE_OFFSET_BITS=64", "-w"]
LIBC_LIBS = ["-lpthread", "-lm", "-lrt"]
GLIBC_LIBS = ["-lcrypt", "-ldl", "-lresolv", "-lutil"]
LIBC_DIRS = ("functional", "regression")
NEEDS_DSO = re.compile(r"(dlopen|_dso|^tls_align$)")

# Linux's selftests, as their makefiles build them (tools/testing/selftests/x86/Makefile
# and vDSO/Makefile), made static.
X86_BOTH = ["single_step_syscall", "sysret_ss_attrs", "syscall_nt", "test_mremap_vdso",
            "check_initial_reg_state", "sigreturn", "iopl", "ioperm", "test_vsyscall",
            "mov_ss_trap", "sigtrap_loop", "syscall_arg_fault", "fsgsbase_restore",
            "sigaltstack", "nx_stack", "ldt_gdt", "ptrace_syscall"]
X86_32_ONLY = ["entry_from_vm86", "test_syscall_vdso", "unwind_vdso", "test_FCMOV",
               "test_FCOMI", "test_FISTTP", "vdso_restorer"]
X86_64_ONLY = ["fsgsbase", "sysret_rip", "syscall_numbering", "corrupt_xstate_header",
               "amx", "lam", "test_shadow_stack"]
X86_EXTRA = {"sysret_ss_attrs_64": ["thunks.S"], "ptrace_syscall_32": ["raw_syscall_helper_32.S"],
             "test_syscall_vdso_32": ["thunks_32.S"],
             "fsgsbase_restore_64": ["clang_helpers_64.S"],
             "fsgsbase_restore_32": ["clang_helpers_32.S"],
             "sysret_rip_64": ["clang_helpers_64.S"]}
X86_FLAGS = {"check_initial_reg_state": ["-Wl,-ereal_start"],
             "nx_stack": ["-Wl,-z,noexecstack"]}
VDSO_TESTS = {"vdso_test_gettimeofday": ["parse_vdso.c"], "vdso_test_getcpu": ["parse_vdso.c"],
              "vdso_test_abi": ["parse_vdso.c"], "vdso_test_clock_getres": [],
              "vdso_test_correctness": [], "vdso_test_getrandom": ["parse_vdso.c"],
              "vdso_standalone_test_x86": ["parse_vdso.c"]}


@dataclass
class Result:
    suite: str
    build: str
    name: str
    native: int
    lab: int
    native_out: str
    lab_out: str

    @property
    def matches(self) -> bool:
        if self.native != self.lab:
            return False
        # libc-test prints only failures: its output must match too. The selftests print
        # addresses and times: their verdict is the status.
        return self.suite != "libc-test" or self.native_out == self.lab_out

    @property
    def passes_natively(self) -> bool:
        return self.native == 0


def _cc(argv: list[str], log: list[str]) -> bool:
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        log.append(" ".join(argv) + "\n" + r.stderr[-2000:])
    return r.returncode == 0


def build_libc_test(tarball: Path, out: Path, log: list[str]) -> int:
    src = out / "libc-test-src"
    if not src.exists():
        with tarfile.open(tarball) as tar:
            tar.extractall(out / "unpack", filter="data")
        shutil.move(str(next((out / "unpack").iterdir())), src)
    built = 0
    for build, cc in LIBC_BUILDS.items():
        if shutil.which(cc[0]) is None:
            print(f"libc-test {build}: no {cc[0]}, skipped")
            continue
        bdir = out / "libc-test" / build
        (bdir / "obj").mkdir(parents=True, exist_ok=True)
        common = src / "src" / "common"
        objs = []
        for c in sorted(common.glob("*.c")):
            if c.name == "runtest.c":
                continue
            o = bdir / "obj" / (c.stem + ".o")
            if o.exists() or _cc([*cc, *LIBC_CFLAGS, f"-I{common}", "-c", str(c), "-o", str(o)],
                                 log):
                objs.append(str(o))
        lib = bdir / "libtest.a"
        if not lib.exists():
            subprocess.run(["ar", "rcs", str(lib), *objs], check=True)
        libs = LIBC_LIBS + (GLIBC_LIBS if cc[0] == "gcc" else [])
        if "-m32" in cc:  # Debian has no i386 libcrypt.a; only crypt.c needs it
            libs = [x for x in libs if x != "-lcrypt"]
        for d in LIBC_DIRS:
            for c in sorted((src / "src" / d).glob("*.c")):
                if NEEDS_DSO.search(c.stem):
                    continue
                exe = bdir / d / c.stem
                exe.parent.mkdir(exist_ok=True)
                if exe.exists() or _cc([*cc, *LIBC_CFLAGS, f"-I{common}", str(c), str(lib),
                                        *libs, "-o", str(exe)], log):
                    built += 1
    return built


def build_selftests(linux: Path, out: Path, log: list[str]) -> int:
    st = linux / "tools" / "testing" / "selftests"
    x86, vdso = st / "x86", st / "vDSO"
    built = 0
    bdir = out / "selftests"
    bdir.mkdir(parents=True, exist_ok=True)
    base = ["gcc", "-static", "-O2", "-g", "-std=gnu99", "-pthread", "-w",
            f"-I{linux / 'tools' / 'include'}", f"-isystem{linux / 'usr' / 'include'}"]
    for bits, names in ((64, X86_BOTH + X86_64_ONLY), (32, X86_BOTH + X86_32_ONLY)):
        for name in names:
            exe = bdir / f"x86.{name}_{bits}"
            extra = [str(x86 / f) for f in X86_EXTRA.get(f"{name}_{bits}", [])]
            argv = [*base, f"-m{bits}", *X86_FLAGS.get(name, []), str(x86 / f"{name}.c"),
                    *extra, "-lrt", "-ldl", *(["-lm"] if bits == 32 else []), "-o", str(exe)]
            if exe.exists() or _cc(argv, log):
                built += 1
    for bits in (64, 32):
        for name, extra in VDSO_TESTS.items():
            exe = bdir / f"vDSO.{name}_{bits}"
            flags = [f"-isystem{linux / 'include' / 'uapi'}"]
            if name == "vdso_standalone_test_x86":
                flags += ["-nostdlib", "-fno-asynchronous-unwind-tables", "-fno-stack-protector"]
            argv = [*base, f"-m{bits}", *flags, str(vdso / f"{name}.c"),
                    *[str(vdso / e) for e in extra], "-o", str(exe)]
            if exe.exists() or _cc(argv, log):
                built += 1
    return built


def _native(exe: Path, cwd: Path) -> tuple[int, str]:
    try:
        r = subprocess.run([str(exe)], cwd=cwd, capture_output=True, timeout=NATIVE_TIMEOUT,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return -1000, "(native run timed out)"
    status = 128 - r.returncode if r.returncode < 0 else r.returncode
    return status, r.stdout.decode(errors="replace")


def _lab(exe: Path, cwd: Path) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-m", "tui.cli", "run", "--seed", "1", "--timeout",
            str(LAB_TIMEOUT), "--mount", f"{cwd}:/work:rw", "--cwd", "/work", str(exe)]
    try:
        r = subprocess.run(argv, cwd=cwd, capture_output=True, timeout=LAB_TIMEOUT + 60,
                           stdin=subprocess.DEVNULL, env=env)
    except subprocess.TimeoutExpired:
        return -1000, "(syscall-lab itself hung)"
    return r.returncode, r.stdout.decode(errors="replace")


def _run_one(exe: Path, suite: str, build: str) -> Result:
    with tempfile.TemporaryDirectory(prefix="suite-native-") as a, \
            tempfile.TemporaryDirectory(prefix="suite-lab-") as b:
        native, native_out = _native(exe, Path(a))
        lab, lab_out = _lab(exe, Path(b))
    return Result(suite, build, exe.name if suite != "libc-test" else
                  f"{exe.parent.name}/{exe.name}", native, lab, native_out, lab_out)


def binaries(out: Path) -> list[tuple[Path, str, str]]:
    found = []
    for build in LIBC_BUILDS:
        for d in LIBC_DIRS:
            for exe in sorted((out / "libc-test" / build / d).glob("*")):
                found.append((exe, "libc-test", build))
    for exe in sorted((out / "selftests").glob("*_*")):
        suite, _, rest = exe.name.partition(".")
        found.append((exe, f"selftests/{suite}", "x86_64" if rest.endswith("_64") else "i386"))
    return found


def summarize(results: list[Result]) -> str:
    lines = []
    for r in results:
        if not r.matches:
            lines.append(f"DIFFERS {r.suite} {r.build} {r.name}: native {r.native}, "
                         f"syscall-lab {r.lab}: {r.lab_out.strip()[-150:]!r}")
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        groups.setdefault((r.suite, r.build), []).append(r)
    lines.append(f"{'suite':18} {'build':13} {'tests':>5} {'pass natively':>13} "
                 f"{'pass in lab':>11} {'same result':>11}")
    totals = [0, 0, 0, 0]
    for (suite, build), rs in sorted(groups.items()):
        row = [len(rs), sum(r.passes_natively for r in rs), sum(r.lab == 0 and r.matches
                                                                 for r in rs),
               sum(r.matches for r in rs)]
        totals = [t + v for t, v in zip(totals, row, strict=True)]
        lines.append(f"{suite:18} {build:13} {row[0]:5} {row[1]:13} {row[2]:11} {row[3]:11}")
    lines.append(f"{'all':18} {'':13} {totals[0]:5} {totals[1]:13} {totals[2]:11} "
                 f"{totals[3]:11}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--libc-test", type=Path)
    b.add_argument("--linux-src", type=Path)
    b.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("run")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--only", default="")
    r.add_argument("--jobs", type=int, default=2)
    r.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    if a.cmd == "build":
        log: list[str] = []
        n = 0
        if a.libc_test:
            n += build_libc_test(a.libc_test, a.out, log)
        if a.linux_src:
            n += build_selftests(a.linux_src, a.out, log)
        (a.out / "build.log").write_text("\n\n".join(log))
        print(f"{n} binaries built, {len(log)} failed to build (see {a.out / 'build.log'})")
        return 0
    todo = [t for t in binaries(a.out) if re.search(a.only, f"{t[1]}/{t[2]}/{t[0].name}")]
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        results = list(pool.map(lambda t: _run_one(*t), todo))
    if a.json:
        a.json.write_text("\n".join(json.dumps(asdict(r)) for r in results))
    print(summarize(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

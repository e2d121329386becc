"""Every bundled program runs to the output and exit status its catalog page promises, with
the catalog's own arguments and run options (as `syscall-lab run` would parse them)."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

import programs
from programs import expect

CATALOG = programs.catalog()


def run_bundled(b: programs.Bundled, seed: int = 1) -> tuple[int, str]:
    """Run it in-process exactly as its page says to, stdout captured."""
    from kernel_model.system import System
    from tui.cli import build_parser, resolve_program, run_options

    args = build_parser().parse_args(["run", "--seed", str(seed), *b.options, b.name,
                                      *b.args])
    program = resolve_program(args.program, args.arch)
    with tempfile.TemporaryFile() as out:
        options = replace(run_options(args), stdout_fd=out.fileno())
        system = System(program.image, program.path, [b.name, *b.args], options,
                        symbols=program.symbols)
        status = system.run()
        out.seek(0)
        return status, out.read().decode()


def test_there_are_at_least_fifteen_programs_and_each_has_a_page():
    assert len(programs.families()) >= 15
    for b in CATALOG.values():
        assert b.path.exists(), b.name
        assert b.title and b.shows and b.description, b.name
        assert 2 <= len(b.points) <= 5, b.name
        assert b.stdout is not None, f"{b.name}: no expected output"
        assert b.source is not None and b.source.exists(), b.name
        expect.to_regex(b.stdout)  # no unknown placeholder


@pytest.mark.parametrize("name", list(CATALOG))
def test_program_runs_to_its_expected_output_and_status(name):
    b = CATALOG[name]
    status, stdout = run_bundled(b)
    assert expect.matches(b.stdout, stdout), (
        f"{name}: {expect.first_difference(b.stdout, stdout)}\n--- got:\n{stdout}")
    assert status == b.status, f"{name}: exit status {status}, expected {b.status}"


def test_a_c_programs_bare_name_runs_its_first_build():
    assert programs.find("errno-enoent").name == "errno-enoent.glibc-x86_64"
    assert programs.find("no-such-program") is None


def test_placeholders_match_what_varies_and_nothing_else():
    assert expect.matches("at {hex}, {int} s\n", "at 0x7f00, -3 s\n")
    assert not expect.matches("at {hex}\n", "at 7f00\n")
    assert expect.matches("{lines}{...}[stack]\n{lines}", "a\nb\n7ff-800 rw-p [stack]\nz\n")
    assert expect.matches("{{literal}}", "{literal}")
    with pytest.raises(ValueError, match="unknown placeholder"):
        expect.to_regex("{nope}")
    assert "line 2" in expect.first_difference("a\nb {int}\n", "a\nb x\n")


def test_vdso_dump_writes_an_elf_file_into_a_shared_directory():
    """The page's --mount recipe: the file reaches the host and is the vDSO's image."""
    b = CATALOG["vdso-dump.glibc-x86_64"]
    with tempfile.TemporaryDirectory() as host:
        b2 = replace(b, options=("--mount", f"{host}:/out:rw"), args=("/out/vdso.so",))
        status, stdout = run_bundled(b2)
        assert status == 0, stdout
        data = (Path(host) / "vdso.so").read_bytes()
    assert len(data) == 8192 and data[:4] == b"\x7fELF"
    assert b"__vdso_clock_gettime" in data


def test_list_shows_each_program_once_with_its_arch_and_what_it_shows():
    from conftest import cli

    r = cli("list")
    assert r.returncode == 0
    lines = r.stdout.decode().splitlines()
    seed = next(line for line in lines if line.startswith("seed "))
    assert "x86_64 i386" in seed and "only the raw one enters the kernel" in seed
    assert any(line.startswith("hello-sysenter") and " i386 " in line for line in lines)
    assert not any(line.startswith("seed.glibc-i386") for line in lines)
    assert max(len(line) for line in lines) <= 120
    every = cli("list", "--all").stdout.decode()
    assert all(name in every for name in CATALOG)


def test_show_prints_a_programs_page():
    from conftest import cli

    r = cli("show", "forgot-exit")
    assert r.returncode == 0
    page = r.stdout.decode()
    assert page.startswith("The program that forgets to exit\n")
    assert "programs/asm/forgot_exit.s" in page
    assert "syscall-lab run forgot-exit" in page
    assert "  | about to fall off the end" in page
    assert "Exit status: 139 (killed by SIGSEGV: 128 + 11)" in page
    assert "Points to notice:" in page and "0x1a" in page
    page = cli("show", "vsyscall-none").stdout.decode()
    assert "syscall-lab run --vsyscall none vsyscall-none" in page
    page = cli("show", "seed").stdout.decode()
    assert "Builds: seed.glibc-x86_64, seed.glibc-i386, seed.musl-x86_64" in page
    assert "{time}: what changes from run to run" in page
    assert "Lessons: syscall-lab lesson libc-wrapper" in page  # it plays this very build
    assert "libc-wrapper" not in cli("show", "seed.glibc-i386").stdout.decode()
    r = cli("show", "no-such-thing")
    assert r.returncode == 2 and "no such bundled program" in r.stderr.decode()

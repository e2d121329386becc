"""Bad input: one clear line on stderr, status 2, never a traceback."""

import os
import shutil

import pytest
from conftest import PROGRAMS, cli


def one_line_error(r, *words):
    err = r.stderr.decode()
    assert r.returncode == 2, (r.returncode, err)
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], lines[0]


def test_missing_file():
    one_line_error(cli("run", "/nonexistent/prog"), "no such file")


def test_directory(tmp_path):
    one_line_error(cli("run", str(tmp_path)), "directory")


def test_not_an_elf(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello\n")
    one_line_error(cli("run", str(p)), "not an ELF")


def test_truncated_elf(tmp_path):
    data = (PROGRAMS / "bin" / "hello.musl-x86_64").read_bytes()
    p = tmp_path / "cut"
    p.write_bytes(data[:3000])
    one_line_error(cli("run", str(p)), "truncated")


def test_elf_for_another_machine(tmp_path):
    data = bytearray((PROGRAMS / "bin" / "hello.musl-x86_64").read_bytes())
    data[18:20] = (183).to_bytes(2, "little")  # EM_AARCH64
    p = tmp_path / "arm"
    p.write_bytes(bytes(data))
    one_line_error(cli("run", str(p)), "AARCH64")


@pytest.mark.skipif(not os.path.exists("/bin/true"), reason="needs a dynamic host binary")
def test_a_hosts_dynamically_linked_program_runs_through_its_loader():
    """The host's own /usr/bin/true and false: dynamically linked, they run through the
    host's ld.so and libc, which the guest sees read-only, with their native status."""
    for name, status in (("true", 0), ("false", 1)):
        r = cli("run", os.path.realpath(shutil.which(name)))
        assert r.returncode == status and not r.stderr, r.stderr


def test_assembly_error_names_file_and_line(tmp_path):
    p = tmp_path / "bad.s"
    p.write_text("bits 64\n_start:\n    mov eax, 1\n    frobnicate rax\n")
    one_line_error(cli("run", str(p)), f"{p}:4:")


def test_unknown_bundled_name_lists_the_names():
    one_line_error(cli("run", "no-such-program"), "hello-syscall", "int80-from-64")


@pytest.mark.parametrize("args, word", [
    (["run", "--seed", "x", "hello-syscall"], "--seed"),
    (["run", "--max-insns", "-5", "hello-syscall"], "positive"),
    (["run", "--timeout", "soon", "hello-syscall"], "seconds"),
    (["run", "--clock", "frozen:noon", "hello-syscall"], "clock"),
    (["run", "--mount", "/nonexistent-dir", "hello-syscall"], "not a directory"),
    (["table", "--arch", "arm"], "arch"),
    (["table", "no_such_call"], "not in the"),
])
def test_bad_option_values(args, word):
    one_line_error(cli(*args), word)


def test_runaway_guest_is_stopped(tmp_path):
    p = tmp_path / "spin.s"
    p.write_text("bits 64\n_start:\n    jmp _start\n")
    r = cli("run", "--timeout", "0.5", str(p))
    assert r.returncode == 2
    assert "timeout" in r.stderr.decode() and "Traceback" not in r.stderr.decode()
    r = cli("run", "--max-insns", "1000", str(p))
    assert r.returncode == 2
    assert "--max-insns" in r.stderr.decode()


def test_table_knows_what_is_implemented():
    r = cli("table", "--arch", "i386", "write")
    assert r.returncode == 0
    assert r.stdout.decode().splitlines()[1].split()[:3] == ["4", "write", "implemented"]
    r = cli("table", "reboot")
    assert r.stdout.decode().splitlines()[1].split()[:3] == ["169", "reboot", "ENOSYS"]


def test_output_into_a_closed_pipe_is_quiet():
    import subprocess
    import sys

    from conftest import ROOT

    p = subprocess.run(f"{sys.executable} -m tui.cli list | head -1", shell=True, cwd=ROOT,
                       capture_output=True)
    assert p.returncode == 0 and "Traceback" not in p.stderr.decode()

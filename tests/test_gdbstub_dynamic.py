"""The real gdb on dynamically linked guests through `syscall-lab run --gdb`: the loader's
list of libraries reaches gdb (qXfer:libraries-svr4:read), so a PIE's `break main`, libc's
symbols, a backtrace out of libc, `finish`, a syscall catchpoint and reverse-stepi work as
they do natively.

The guests are built here, at test time, with the host's compilers (gcc, gcc -m32,
musl-gcc; a missing one skips its tests with the reason): a glibc PIE for x86-64 and for
i386, and a musl PIE."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from tests.test_gdbstub import ASM, GDB, Client, Stub, needs_gdb, reg, registers_block

SOURCE = r"""
#include <stdio.h>
#include <unistd.h>

static int twice(int x) { return 2 * x; }

int main(void)
{
    puts("hello from main");
    write(1, "raw write\n", 10);
    return twice(1) + 1;
}
"""
# name: (compiler and options, bits, the object holding puts and write, write's number,
# the vDSO's name in the loader's list: musl gives it none)
TARGETS = {
    "glibc-x86_64": (["gcc"], 64, "libc.so.6", 1, "linux-vdso.so.1"),
    "glibc-i386": (["gcc", "-m32"], 32, "libc.so.6", 4, "linux-gate.so.1"),
    "musl-x86_64": (["musl-gcc"], 64, "ld-musl-x86_64.so.1", 1, None),
}


def debug(program: Path, *commands: str, options: list[str] | None = None
          ) -> tuple[str, int, bytes, bytes]:
    """As test_gdbstub.debug, with gdb's stdout and stderr in one stream in the order
    written (`monitor` output and some stop lines go to stderr, between the `echo`
    markers this file splits at)."""
    stub = Stub(program, options=options)
    try:
        args = [GDB, "-batch", "-nx", "-ex", f"target remote 127.0.0.1:{stub.port}"]
        for c in commands:
            args += ["-ex", c]
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=300)
        status, stdout, err = stub.finish()
    finally:
        stub.kill()
    return r.stdout, status, stdout, err


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    where = tmp_path_factory.mktemp("gdb-dynamic")
    (where / "dyn.c").write_text(SOURCE)
    done: dict[str, Path | str] = {}

    def make(target: str) -> Path:
        if target not in done:
            cc = TARGETS[target][0]
            out = where / f"dyn-{target}"
            if shutil.which(cc[0]) is None:
                done[target] = f"{cc[0]} is not installed"
            else:
                r = subprocess.run([*cc, "-g", "-O0", "-fPIE", "-pie", str(where / "dyn.c"),
                                    "-o", str(out)], capture_output=True, text=True,
                                   timeout=120)
                last = (r.stderr.strip().splitlines() or ["failed"])[-1]
                hint = " (gcc-multilib missing?)" if "-m32" in cc else ""
                done[target] = out if r.returncode == 0 else \
                    f"{' '.join(cc)} cannot build a PIE{hint}: {last}"
        result = done[target]
        if isinstance(result, str):
            pytest.skip(result)
        return result

    return make


def symbol_value(program: Path, name: str) -> int:
    with open(program, "rb") as f:
        sym = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)[0]
        return sym["st_value"]


def maps_span(out: str, name: str) -> tuple[int, int]:
    """The lowest start and highest end of `monitor maps` lines of the file `name` (a
    path, or a base name when it has no slash)."""
    spans = [(int(a, 16), int(b, 16)) for a, b, path in
             re.findall(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s+(\S+)$", out, re.M)
             if path == name or path.rsplit("/", 1)[-1] == name]
    assert spans, f"no maps line of {name}: {out}"
    return min(a for a, _ in spans), max(b for _, b in spans)


def sharedlibrary(out: str, basename: str) -> tuple[int, int, str]:
    """From, To and the file of `info sharedlibrary`'s line for `basename`."""
    m = re.search(rf"^(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+Yes.*\s(\S*/{re.escape(basename)})$",
                  out, re.M)
    assert m, f"info sharedlibrary has no {basename} with symbols read: {out}"
    # (read through the target, gdb names it target:PATH, as with gdbserver)
    return int(m.group(1), 16), int(m.group(2), 16), m.group(3).removeprefix("target:")


@needs_gdb
@pytest.mark.parametrize("target", list(TARGETS))
def test_gdb_debugs_a_dynamic_pie(build, target):
    program = build(target)
    _, bits, libc, nr_write, vdso = TARGETS[target]
    pc, ax = ("rip", "rax") if bits == 64 else ("eip", "eax")
    out, status, stdout, err = debug(
        program,
        "break main", "continue", "p &main", "p $pc",
        "echo @libs@\\n", "info sharedlibrary", "echo @maps@\\n", "monitor maps",
        "echo @puts@\\n", "break puts", "continue", "info symbol $pc", "bt",
        "finish", "echo @catch@\\n",
        "catch syscall write", "continue", "continue",
        f"info registers {pc}", f"p $orig_{ax}", f"p ${ax}", "bt",
        "delete", "reverse-stepi", "x/i $pc",
        "echo @before@\\n", "info registers", "echo @x@\\n",
        "stepi", "reverse-stepi",
        "echo @after@\\n", "info registers", "echo @y@\\n",
        "continue")
    # break main on a PIE: at main as loaded (its link-time address plus the load bias,
    # which the maps' first line of the program gives: a PIE is linked at 0)
    base, _ = maps_span(out.split("@maps@", 1)[1], program.name)
    m = re.search(r"^\$1 = \(int \(\*\)\(void\)\) (0x[0-9a-f]+) <main>", out, re.M)
    assert m and int(m.group(1), 16) == base + symbol_value(program, "main"), out
    assert re.search(r"Breakpoint 1, main \(\) at .*dyn\.c:\d+", out), out
    assert re.search(r"^\$2 = \(void \(\*\)\(\)\) 0x[0-9a-f]+ <main\+\d+>", out, re.M), out
    # the library holding puts is listed, with its text inside its maps lines
    libs = out.split("@libs@", 1)[1].split("@maps@", 1)[0]
    assert "while parsing target library list" not in out, out
    lo, hi, path = sharedlibrary(libs, libc)
    # the maps name the file the symlinks lead to (/lib -> /usr/lib, musl's ld.so -> libc.so)
    map_lo, map_hi = maps_span(out.split("@maps@", 1)[1], os.path.realpath(path))
    assert map_lo <= lo < hi <= map_hi, out
    # the vDSO is not in the list, as natively: gdb knows its range from the guest's maps
    # (read through vFile) and takes its symbols from memory ("system-supplied DSO")
    if vdso is not None:
        assert vdso not in libs, out
    # break puts: in that library's puts, called from main, and finish returns to main
    at_puts = out.split("@puts@", 1)[1].split("@catch@", 1)[0]
    assert re.search(rf"^(_IO_)?puts( \+ \d+)? in section \.text of \S*/{re.escape(libc)}$",
                     at_puts, re.M), out
    assert re.search(r"^#1\s+0x[0-9a-f]+ in main \(\) at .*dyn\.c:\d+", at_puts, re.M), out
    # where finish ends (mid-line when puts has no debug information)
    assert re.search(r"^(0x[0-9a-f]+ in )?main \(\) at .*dyn\.c:\d+", at_puts, re.M), out
    # catch syscall write: the entry, then the return with the call's number in orig_ax
    # (the process's own table: 4 for i386) and the bytes written in ax, as natively
    at_catch = out.split("@catch@", 1)[1]
    assert re.search(r"Catchpoint 3 \(call to syscall write\)", at_catch), out
    assert re.search(r"Catchpoint 3 \(returned from syscall write\)", at_catch), out
    assert re.search(rf"^\$\d+ = {nr_write}\n\$\d+ = 10$", at_catch, re.M), out
    # bt there unwinds to main (on i386 through the vDSO's __kernel_vsyscall). musl's
    # syscall code has no unwind information: gdb stops short natively too (the test
    # against native gdb below compares those frames).
    if target.startswith("glibc"):
        assert re.search(r"^#\d+\s+0x[0-9a-f]+ in main \(\) at .*dyn\.c:\d+", at_catch,
                         re.M), out
    returned_at = reg(at_catch, pc)
    # reverse-stepi from the return: back before the trap instruction; forward over it
    # again (replayed, not re-run) and back once more: every register as it was
    assert re.search(r"=> 0x[0-9a-f]+.*:\s+(syscall|sysenter|int\s+\$0x80)", at_catch), out
    before = registers_block(out, "before")
    assert reg(before, pc) < returned_at, out
    assert registers_block(out, "after") == before, out
    native = subprocess.run([str(program)], capture_output=True, timeout=60)
    assert f"exited with code {native.returncode:02}" in out, out
    assert status == native.returncode, err
    assert stdout == native.stdout, stdout  # each write ran once, live
    assert b"Traceback" not in err and b"internal error" not in err, err


@needs_gdb
def test_libraries_before_the_loader_ran(build):
    """At the first instruction (ld.so's _start) the loader has not filled in DT_DEBUG:
    gdb knows only the interpreter (from PT_INTERP and AT_BASE), as natively."""
    program = build("glibc-x86_64")
    out, status, _, err = debug(program, "info sharedlibrary", "kill")
    assert re.search(r"^0x[0-9a-f]+ in _start \(\) from \S*/ld-linux-x86-64\.so\.2$", out,
                     re.M), out
    assert "ld-linux-x86-64.so.2" in out and "libc.so.6" not in out, out
    assert b"Traceback" not in err, err


def test_the_packet_before_the_loader_and_for_a_static_program(build):
    """By hand: before ld.so has filled in DT_DEBUG the list is empty, in gdbserver's
    words; a static program has no DT_DEBUG at all, an error (gdb then looks no further)."""
    for program, want in ((build("glibc-x86_64"),
                           b'l<library-list-svr4 version="1.0"></library-list-svr4>'),
                          (ASM / "hello_syscall.s", b"E01")):
        stub = Stub(program)
        try:
            c = Client(stub.port)
            assert b"qXfer:libraries-svr4:read+" in c.ask(b"qSupported:swbreak+")
            assert c.ask(b"qXfer:libraries-svr4:read::0,fff") == want
            c.close()
        finally:
            stub.kill()


def untarget(text: str) -> str:
    """gdb's output with the files it read through the target (vFile) named as native gdb
    names them: target:/lib/... -> /lib/... (gdbserver's users see target: too)."""
    return text.replace("target:/", "/")


def native_gdb(program: Path, *commands: str) -> str | None:
    """gdb running `program` itself (ptrace), or None where ptrace is not allowed."""
    args = [GDB, "-batch", "-nx", str(program)]
    for c in commands:
        args += ["-ex", c]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    if "ptrace" in out and ("not permitted" in out or "Operation" in out):
        return None
    return out


@needs_gdb
@pytest.mark.parametrize("target", list(TARGETS))
def test_the_puts_stop_names_what_native_gdb_names(build, target):
    """The symbol and object gdb names at `break puts`, and the frames of `bt` there and at
    the return from write (on i386 in the vDSO's __kernel_vsyscall), against gdb debugging
    the same program natively."""
    program = build(target)
    commands = ("break puts", "continue", "info symbol $pc", "bt", "delete",
                "catch syscall write", "continue", "continue", "bt", "kill")
    native = native_gdb(program, "break main", "run", *commands)
    if native is None:
        pytest.skip("ptrace is not permitted here: no native gdb to compare with")
    ours, *_ = debug(program, "break main", "continue", *commands)

    def seen(text: str) -> list[str]:
        sym = re.findall(r"^(.+?) in section (\S+) of \S*/([^/\s]+)$", text, re.M)
        frames = re.findall(r"^#(\d+)\s+(?:0x[0-9a-f]+ in )?(\w+) \(", text, re.M)
        return [*map(str, sym), *map(str, frames)]

    assert seen(native) and seen(ours) == seen(native), (ours, native)


@needs_gdb
def test_a_library_path_that_needs_xml_escapes(tmp_path):
    """A library in a directory whose name holds XML's special characters: gdb gets the
    name back intact (it is an attribute of the stub's XML) and loads its symbols."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    where = tmp_path / 'we&"ird <lib\'s> dir'
    where.mkdir()
    (tmp_path / "lib.c").write_text("int twice_it(int x) { return 2 * x; }\n")
    (tmp_path / "main.c").write_text("int twice_it(int);\n"
                                     "int main(void) { return twice_it(2); }\n")
    lib = where / "libtwice.so"
    program = tmp_path / "uses-twice"
    for argv in (["gcc", "-shared", "-fPIC", str(tmp_path / "lib.c"), "-o", str(lib)],
                 ["gcc", str(tmp_path / "main.c"), f"-L{where}", "-ltwice",
                  f"-Wl,-rpath,{where}", "-o", str(program)]):
        subprocess.run(argv, check=True, capture_output=True, timeout=120)
    out, status, _, err = debug(program, "break main", "continue", "break twice_it",
                                "continue", "info sharedlibrary", "continue",
                                options=["--mount", str(tmp_path)])
    # gdb read the stub's list (a malformed one it would warn of, then walk memory itself)
    assert "while parsing target library list" not in out, out
    listed = rf"^0x[0-9a-f]+\s+0x[0-9a-f]+\s+Yes.*\s(?:target:)?{re.escape(str(lib))}$"
    assert re.search(listed, out, re.M), out
    assert re.search(rf"in twice_it \(\) from (?:target:)?{re.escape(str(lib))}$", out, re.M), out
    assert "exited with code 04" in out and status == 4, (out, err)


@needs_gdb
def test_the_catch_syscall_entry_stop_as_natively(build):
    program = build("glibc-x86_64")
    commands = ("catch syscall write", "continue", "p $orig_rax", "p $rax",
                "info symbol $pc", "kill")
    native = native_gdb(program, "break main", "run", *commands)
    if native is None:
        pytest.skip("ptrace is not permitted here: no native gdb to compare with")
    ours, *_ = debug(program, "break main", "continue", *commands)

    def seen(text: str) -> list[str]:
        return re.findall(r"^(\$\d+ = .*|.+ in section .*)$", untarget(text), re.M)

    assert seen(native) and seen(ours) == seen(native), (ours, native)


@needs_gdb
@pytest.mark.parametrize("target", ["glibc-x86_64", "glibc-i386"])
def test_dlopen_and_dlclose_reach_gdb(tmp_path, target):
    """tests/guests/dynamic/loader_tour.c dlopens libm and dlcloses it: gdb hears of both
    at the loader's breakpoint (r_brk) and asks for the list again."""
    cc = TARGETS[target][0]
    if shutil.which(cc[0]) is None:
        pytest.skip(f"{cc[0]} is not installed")
    program = tmp_path / "loader_tour"
    source = Path(__file__).parent / "guests" / "dynamic" / "loader_tour.c"
    r = subprocess.run([*cc, "-O2", str(source), "-o", str(program), "-ldl"],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        pytest.skip(f"{' '.join(cc)} cannot build loader_tour: {r.stderr.strip()[-200:]}")
    out, status, _, err = debug(program, "break dlclose", "continue", "echo @open@\\n",
                                "info sharedlibrary", "echo @closed@\\n", "delete",
                                "break _exit", "continue", "info sharedlibrary", "continue")
    opened = out.split("@open@", 1)[1].split("@closed@", 1)[0]
    closed = out.split("@closed@", 1)[1]
    assert sharedlibrary(opened, "libm.so.6"), out
    assert "libm.so.6" not in closed and sharedlibrary(closed, "libc.so.6"), out
    assert status == 3, err

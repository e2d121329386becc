"""emu.elf reads the ELF header and program headers with struct: what it reads must be what
pyelftools (the reference it replaced on the run path) reads, for every bundled program and
for the headers it refuses, with the same one-line messages."""

from __future__ import annotations

import io

import pytest
from conftest import PROGRAMS
from elftools.elf.elffile import ELFFile

from emu.elf import BadProgram, read_elf

BINARIES = sorted(p for p in (PROGRAMS / "bin").iterdir() if p.is_file())


def reference(data: bytes) -> dict:
    """The loader's view of the file through pyelftools."""
    elf = ELFFile(io.BytesIO(data))
    loads = [ph for ph in elf.iter_segments() if ph["p_type"] == "PT_LOAD"]
    interp = [ph for ph in elf.iter_segments() if ph["p_type"] == "PT_INTERP"]
    return {
        "machine": elf["e_machine"], "pie": elf["e_type"] == "ET_DYN", "entry": elf["e_entry"],
        "phoff": elf["e_phoff"], "phentsize": elf["e_phentsize"], "phnum": elf["e_phnum"],
        "segments": [(ph["p_vaddr"], ph["p_memsz"], ph["p_filesz"], ph["p_offset"],
                      ph["p_flags"], ph.data()) for ph in loads],
        "align": max((ph["p_align"] for ph in loads), default=0),
        "interp": interp[0].get_interp_name() if interp else None,
    }


@pytest.mark.parametrize("path", BINARIES, ids=lambda p: p.name)
def test_bundled_program_reads_as_pyelftools_reads_it(path):
    data = path.read_bytes()
    image = read_elf(data, path.name)
    assert {
        "machine": image.arch.elf_machine, "pie": image.is_pie, "entry": image.entry,
        "phoff": image.phoff, "phentsize": image.phentsize, "phnum": image.phnum,
        "segments": [(s.vaddr, s.memsz, s.filesz, s.offset, s.flags, s.data)
                     for s in image.segments],
        "align": image.align, "interp": image.interp,
    } == reference(data)


def test_symbols_are_the_symbol_tables_functions_and_objects():
    data = (PROGRAMS / "bin" / "hello.glibc-x86_64").read_bytes()
    symbols = read_elf(data).symbols
    elf = ELFFile(io.BytesIO(data))
    main = next(s for s in elf.get_section_by_name(".symtab").iter_symbols()
                if s.name == "main")
    assert symbols[main["st_value"]] == "main"


def edited(name: str, offset: int, value: bytes) -> bytes:
    data = bytearray((PROGRAMS / "bin" / name).read_bytes())
    data[offset:offset + len(value)] = value
    return bytes(data)


@pytest.mark.parametrize("data, message", [
    (b"\x7fELF", "truncated or malformed ELF (Invalid EI_CLASS b'')"),
    (b"\x7fELF\x03\x01", "truncated or malformed ELF (Invalid EI_CLASS b'\\x03')"),
    (b"\x7fELF\x02\x07", "truncated or malformed ELF (Invalid EI_DATA b'\\x07')"),
    (edited("hello.glibc-x86_64", 0, b"")[:20], "truncated or malformed ELF (expected 4, "
                                                "found 0)"),
    (edited("hello.glibc-i386", 18, b"\x28\x00"), "an ELF for EM_ARM, not x86-64 or i386"),
    (edited("hello.glibc-i386", 18, b"\x99\x99"), "an ELF for 39321, not x86-64 or i386"),
    (edited("hello.glibc-x86_64", 5, b"\x02"), "an ELF for 15872, not x86-64 or i386"),
    (edited("hello.glibc-x86_64", 4, b"\x01"), "ELF class 32 does not match EM_X86_64"),
    (edited("hello.glibc-x86_64", 16, b"\x01\x00"), "ET_REL is not an executable"),
    (edited("hello.glibc-x86_64", 16, b"\x77\x00"), "119 is not an executable"),
])
def test_refused_headers_say_what_they_said(data, message):
    with pytest.raises(BadProgram) as e:
        read_elf(data, "x")
    assert str(e.value) == f"x: {message}"


@pytest.mark.parametrize("name", ["hello.glibc-x86_64-pie", "hello_dynamic.glibc-x86_64"])
def test_a_file_cut_before_its_section_headers_runs_as_on_linux(tmp_path, name):
    """load_elf_binary never reads the section headers: a program whose section table is
    cut off runs. (pyelftools read them for a PT_DYNAMIC segment, and the file was refused.)"""
    import struct

    from conftest import cli
    from elfmut import native_status

    data = (PROGRAMS / "bin" / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[:struct.unpack_from("<Q", data, 0x28)[0]])  # e_shoff
    r = cli("run", str(path))
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.startswith(b"Hello"), r.stdout
    native = native_status(str(path))
    if native is not None:
        assert native == r.returncode

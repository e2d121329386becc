"""Damaged ELF files end as they end on Linux (the process killed by SIGSEGV at its entry, or
execve failing past its point of no return, which kills it with SIGSEGV too), or with one
line and status 2 where syscall-lab's own memory cap refuses them: never a traceback."""

from __future__ import annotations

import pytest
from conftest import PROGRAMS, cli, run_guest
from elfmut import (
    PT_TLS,
    loads,
    native_status,
    phdr,
    set_header,
    set_phdr,
    text_index,
)

from kernel_model.trace.events import KernelNote, ProcessExited, SignalDelivered

BIN = PROGRAMS / "bin"
SIGSEGV = 11
TASK_SIZE = 0x7FFFFFFFF000


def mutated(tmp_path, name: str, edit) -> str:
    data = bytearray((BIN / name).read_bytes())
    edit(data)
    path = tmp_path / f"{name}.bad"
    path.write_bytes(bytes(data))
    return str(path)


def move_segment(data: bytearray, index: int, vaddr: int) -> None:
    """Put a PT_LOAD at `vaddr`, keeping p_offset congruent with it (as mmap requires)."""
    set_phdr(data, index, "p_vaddr", vaddr + phdr(data, index, "p_offset") % 0x1000)


def killed_at_exec(run) -> str:
    """The process never ran an instruction: killed by SIGSEGV with no signal delivered
    (force_fatal_sig: a tracer sees no signal stop), and the kernel's note says why."""
    assert run.status == 128 + SIGSEGV
    assert not [e for e in run.events if isinstance(e, SignalDelivered)]
    exited = [e for e in run.events if isinstance(e, ProcessExited)]
    assert exited and exited[0].signal == SIGSEGV
    notes = [e.text for e in run.events if isinstance(e, KernelNote)]
    assert any("point of no return" in n for n in notes), notes
    return " ".join(notes)


def assert_native(path: str, status: int) -> None:
    native = native_status(path)
    if native is not None:
        assert native == status, f"Linux gives {native}, the model {status}"


@pytest.mark.parametrize("name", ["hello.musl-x86_64", "hello.glibc-i386"])
def test_text_turned_into_pt_tls_faults_at_the_entry(tmp_path, name):
    def edit(data):
        set_phdr(data, text_index(data), "p_type", PT_TLS)

    path = mutated(tmp_path, name, edit)
    run = run_guest(path)
    assert run.status == 128 + SIGSEGV
    signal = [e for e in run.events if isinstance(e, SignalDelivered)]
    entry = run.system.entry
    assert [(s.signo, s.code_name, s.addr, s.pc) for s in signal] == [
        (SIGSEGV, "SEGV_MAPERR", entry, entry)]
    assert_native(path, run.status)


def test_text_without_execute_permission_faults_with_accerr(tmp_path):
    def edit(data):
        set_phdr(data, text_index(data), "p_flags", 4)  # PF_R only

    path = mutated(tmp_path, "hello.musl-x86_64", edit)
    run = run_guest(path)
    signal = [e for e in run.events if isinstance(e, SignalDelivered)]
    assert [(s.signo, s.code_name) for s in signal] == [(SIGSEGV, "SEGV_ACCERR")]
    assert_native(path, run.status)


@pytest.mark.parametrize("vaddr, words", [
    (TASK_SIZE, ["TASK_SIZE"]),  # the page above user space, where the model keeps its GDT
    (0xFFFFFFFFFF600000, ["TASK_SIZE"]),  # the vsyscall page
    (0x7FFFFFFFFFFFF000, ["TASK_SIZE"]),  # near 2^63
])
def test_pt_load_beyond_task_size_kills_at_exec(tmp_path, vaddr, words):
    def edit(data):
        move_segment(data, loads(data)[-1], vaddr)

    path = mutated(tmp_path, "hello.musl-x86_64", edit)
    note = killed_at_exec(run_guest(path))
    for w in words:
        assert w in note
    assert_native(path, 128 + SIGSEGV)


def test_pt_load_at_the_i386_gdt_page_kills_at_exec(tmp_path):
    def edit(data):
        move_segment(data, loads(data)[-1], 0xFFFFE000)

    path = mutated(tmp_path, "hello.glibc-i386", edit)
    assert "TASK_SIZE" in killed_at_exec(run_guest(path))
    assert_native(path, 128 + SIGSEGV)


def test_static_pie_segment_near_2_63_kills_at_exec(tmp_path):
    def edit(data):
        move_segment(data, loads(data)[-1], 0x7FFFFFFFFFFF0000)

    path = mutated(tmp_path, "hello.glibc-x86_64-pie", edit)
    killed_at_exec(run_guest(path))
    assert_native(path, 128 + SIGSEGV)


def test_entry_point_beyond_task_size_kills_at_exec(tmp_path):
    def edit(data):
        set_header(data, "e_entry", 0x8000000000001000)

    path = mutated(tmp_path, "hello.musl-x86_64", edit)
    assert "entry point" in killed_at_exec(run_guest(path))
    assert_native(path, 128 + SIGSEGV)


def test_offset_not_congruent_with_vaddr_kills_at_exec(tmp_path):
    def edit(data):
        i = text_index(data)
        set_phdr(data, i, "p_offset", phdr(data, i, "p_offset") + 8)

    path = mutated(tmp_path, "hello.musl-x86_64", edit)
    assert "EINVAL" in killed_at_exec(run_guest(path))
    assert_native(path, 128 + SIGSEGV)


def test_filesz_above_memsz_kills_at_exec(tmp_path):
    def edit(data):
        i = loads(data)[0]
        set_phdr(data, i, "p_memsz", phdr(data, i, "p_filesz") - 1)

    path = mutated(tmp_path, "hello.musl-x86_64", edit)
    assert "p_filesz" in killed_at_exec(run_guest(path))
    assert_native(path, 128 + SIGSEGV)


def test_two_gib_bss_is_one_line_enomem(tmp_path):
    def edit(data):
        set_phdr(data, loads(data)[-1], "p_memsz", 2 << 30)

    r = cli("run", mutated(tmp_path, "hello.musl-x86_64", edit))
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert len(err.splitlines()) == 1, err
    assert "cannot load" in err and "2 GiB" in err and "1 GiB" in err and "ENOMEM" in err


def test_stack_beyond_the_memory_limit_is_one_line_enomem(tmp_path):
    def edit(data):  # a bss that leaves less than the 132 KiB stack under a 1 MiB limit
        set_phdr(data, loads(data)[-1], "p_memsz", 0xF0000)

    r = cli("run", "--memory-limit", "1M", mutated(tmp_path, "hello.musl-x86_64", edit))
    err = r.stderr.decode()
    assert r.returncode == 2 and len(err.splitlines()) == 1, err
    assert "stack" in err and "--memory-limit" in err and "ENOMEM" in err


def test_pt_interp_with_a_newline_is_one_line(tmp_path):
    def edit(data):
        interp = b"/lib64\nld-linux-x86-64.so.2\0"
        gnu_stack = next(i for i in range(6) if phdr(data, i, "p_type") == 0x6474E551)
        set_phdr(data, gnu_stack, "p_type", 3)  # PT_INTERP
        set_phdr(data, gnu_stack, "p_offset", len(data))
        set_phdr(data, gnu_stack, "p_filesz", len(interp))
        data += interp

    r = cli("run", mutated(tmp_path, "hello.musl-x86_64", edit))
    err = r.stderr.decode()
    # No such loader: execve's ENOENT, which a shell reports with status 127.
    assert r.returncode == 127 and len(err.splitlines()) == 1, err
    assert "/lib64\\nld-linux-x86-64.so.2" in err and "required file not found" in err


def test_no_pt_load_runs_into_sigsegv_at_the_entry(tmp_path):
    """e_phoff 0: the "program headers" are the ELF header's bytes, none of them a PT_LOAD.
    Linux execs it anyway; nothing is mapped at the entry."""
    def edit(data):
        set_header(data, "e_phoff", 0)

    path = mutated(tmp_path, "errno_enoent.glibc-i386", edit)
    run = run_guest(path)
    signal = [e for e in run.events if isinstance(e, SignalDelivered)]
    assert [(s.code_name, s.addr) for s in signal] == [("SEGV_MAPERR", run.system.entry)]
    assert_native(path, run.status)


def test_wrong_phentsize_is_enoexec_in_one_line(tmp_path):
    def edit(data):
        set_header(data, "e_phentsize", 0x32C8)

    r = cli("run", mutated(tmp_path, "hello.musl-x86_64", edit))
    err = r.stderr.decode()
    assert r.returncode == 2 and len(err.splitlines()) == 1, err
    assert "e_phentsize" in err and "ENOEXEC" in err


def test_at_phdr_is_0_when_no_pt_load_maps_the_headers(tmp_path):
    """Since 5.18 AT_PHDR is where a PT_LOAD maps e_phoff, else 0: musl then reads its
    program headers at NULL."""
    def edit(data):
        set_phdr(data, 0, "p_type", 0xA80803E2)  # the PT_LOAD holding the headers

    path = mutated(tmp_path, "maps.musl-x86_64", edit)
    run = run_guest(path)
    assert dict(run.system.process.auxv)[3] == 0  # AT_PHDR
    signal = [e for e in run.events if isinstance(e, SignalDelivered)]
    assert [(s.code_name, s.addr) for s in signal] == [("SEGV_MAPERR", 0)]
    assert_native(path, run.status)


def test_write_only_segment_is_readable_as_on_x86(tmp_path):
    def edit(data):
        set_phdr(data, loads(data)[0], "p_flags", 2)  # PF_W: x86 pages cannot be write-only

    path = mutated(tmp_path, "hello.glibc-i386", edit)
    run = run_guest(path)
    assert run.status == 0 and run.stdout == b"Hello, world!\n"
    assert_native(path, run.status)


def test_a_segment_sees_the_files_bytes_around_it_on_its_pages(tmp_path):
    """A NOTE turned into a PT_LOAD maps the first page of the file again: like mmap, the
    whole page holds the file's bytes (the ELF header, the program headers), not zeros
    around the note."""
    def edit(data):
        notes = [i for i in range(10) if phdr(data, i, "p_type") == 4]
        set_phdr(data, notes[-1], "p_type", 1)

    path = mutated(tmp_path, "getpid_loop.glibc-x86_64", edit)
    run = run_guest(path, "3")
    assert run.status == 0 and run.stdout.startswith(b"getpid loop: 3 calls")
    assert_native(path, run.status)


def test_pt_load_over_the_stack_kills_at_exec(tmp_path):
    """Linux sets up the stack before mapping the image, whose first PT_LOAD is mapped
    MAP_FIXED_NOREPLACE over the image's span: EEXIST past the point of no return."""
    import random

    from emu.arch import X86_64
    from kernel_model.proc import exec as binfmt

    top = binfmt.choose_layout(X86_64, random.Random(1)).stack_top  # run_guest's seed 1

    def edit(data):
        move_segment(data, loads(data)[-1], top - 0x2000)

    run = run_guest(mutated(tmp_path, "hello.musl-x86_64", edit))
    assert "EEXIST" in killed_at_exec(run)

"""The vDSO as real libcs use it, and as a guest that looks it up by hand finds it."""

import re

import pytest
from conftest import PROGRAMS, cli, run_guest

from kernel_model.trace.events import VdsoCalled

BIN = PROGRAMS / "bin"
TIME_SYSCALLS = {"gettimeofday", "clock_gettime", "clock_gettime64", "time"}


def time_syscalls(run):
    return [e.name for e in run.syscalls() if e.name in TIME_SYSCALLS]


@pytest.mark.parametrize("binary, fallback", [
    ("gettimeofday_loop.glibc-x86_64", "gettimeofday"),
    ("gettimeofday_loop.glibc-i386", "clock_gettime64"),
    ("gettimeofday_loop.musl-x86_64", "clock_gettime"),
])
def test_time_loops_make_no_time_syscalls_with_a_vdso(binary, fallback):
    run = run_guest(BIN / binary, "50")
    assert run.status == 0
    assert b"gettimeofday loop: 50 calls\nmonotonic: yes\n" == run.stdout
    assert time_syscalls(run) == []
    assert len([e for e in run.events if isinstance(e, VdsoCalled)]) == 50
    without = run_guest(BIN / binary, "50", vdso=False)
    assert without.status == 0
    assert time_syscalls(without) == [fallback] * 50


@pytest.mark.parametrize("binary", ["seed.glibc-x86_64", "seed.glibc-i386",
                                    "seed.musl-x86_64"])
def test_seed_program_shows_only_the_explicit_syscall(binary):
    run = run_guest(BIN / binary)
    assert run.status == 0
    assert time_syscalls(run) == ["gettimeofday"]


@pytest.mark.parametrize("program", ["time_three_ways.s", "time_three_ways_32.s"])
def test_a_guest_finds_the_vdso_by_hand(program):
    """The guest walks auxv to AT_SYSINFO_EHDR, the vDSO's dynamic symbol table and its
    version definitions to __vdso_clock_gettime@LINUX_2.6, calls it, and checks the time
    against the syscall's."""
    run = run_guest(PROGRAMS / "asm" / program)
    assert run.status == 0, run.stdout
    lines = run.stdout.decode().splitlines()
    assert any(ln.startswith("vDSO     clock_gettime: ") for ln in lines)
    calls = [e for e in run.events if isinstance(e, VdsoCalled)]
    assert [c.name for c in calls] == ["__vdso_clock_gettime"]
    assert calls[0].text.startswith("[vdso] __vdso_clock_gettime(CLOCK_REALTIME, {tv_sec=")


def test_frozen_clock_reaches_the_vdso_exactly():
    run = run_guest(PROGRAMS / "asm" / "time_three_ways.s", clock="frozen:1700000000")
    assert run.status == 0
    assert run.stdout.decode().splitlines() == [
        "syscall  clock_gettime: 1700000000",
        "vDSO     clock_gettime: 1700000000",
        "vsyscall gettimeofday:  1700000000",
    ]


def special(run, name):
    return [ln for ln in run.stdout.decode().splitlines() if ln.endswith(name)]


def test_vdso_moves_with_the_seed_and_vsyscall_stays():
    a = run_guest(BIN / "special_maps.glibc-x86_64", seed=1)
    b = run_guest(BIN / "special_maps.glibc-x86_64", seed=2)
    assert special(a, "[vdso]") != special(b, "[vdso]")
    assert special(a, "[vsyscall]") == special(b, "[vsyscall]") != []
    # 6.18's layout: [vvar] (4 pages), [vvar_vclock] (2), [vdso] (2), contiguous.
    names = [ln.split()[-1] for ln in a.stdout.decode().splitlines()
             if ln.split()[-1] in ("[vvar]", "[vvar_vclock]", "[vdso]")]
    assert names == ["[vvar]", "[vvar_vclock]", "[vdso]"]
    spans = [tuple(int(x, 16) for x in ln.split()[0].split("-"))
             for ln in a.stdout.decode().splitlines()
             if ln.split()[-1] in ("[vvar]", "[vvar_vclock]", "[vdso]")]
    assert [(e - s) // 4096 for s, e in spans] == [4, 2, 2]
    assert spans[0][1] == spans[1][0] and spans[1][1] == spans[2][0]
    perms = [ln.split()[1] for ln in a.stdout.decode().splitlines()
             if ln.split()[-1] in ("[vvar]", "[vvar_vclock]", "[vdso]")]
    assert perms == ["r--p", "r--p", "r-xp"]


@pytest.mark.parametrize("era, expected", [
    ("2.6.18", ["[vsyscall] r-xp"]),
    ("2.6.33", ["[vdso] r-xp", "[vsyscall] r-xp"]),
    ("3.2", ["[vdso] r-xp", "[vsyscall] r-xp"]),
    ("5.3", ["[vvar] r--p", "[vdso] r-xp", "[vsyscall] --xp"]),
    ("6.18", ["[vvar] r--p", "[vvar_vclock] r--p", "[vdso] r-xp", "[vsyscall] --xp"]),
])
def test_kernel_eras(era, expected):
    run = run_guest(BIN / "special_maps.glibc-x86_64", kernel=era)
    got = [f"{ln.split()[-1]} {ln.split()[1]}" for ln in run.stdout.decode().splitlines()
           if ln.split()[-1] not in ("[heap]", "[stack]")]
    assert got == expected


def test_options_override_the_era():
    run = run_guest(BIN / "special_maps.glibc-x86_64", kernel="2.6.18", vsyscall="none",
                    vdso=True)
    got = [ln.split()[-1] for ln in run.stdout.decode().splitlines()]
    assert "[vsyscall]" not in got and "[vdso]" in got


def test_native_vsyscall_runs_in_user_mode():
    run = run_guest(PROGRAMS / "asm" / "vsyscall_time.s", vsyscall="native")
    assert run.status == 0
    from kernel_model.trace.events import VsyscallCalled
    calls = [e for e in run.events if isinstance(e, VsyscallCalled)]
    assert [(c.name, c.mode) for c in calls] == [("gettimeofday", "native"), ("time", "native")]
    assert [e.name for e in run.syscalls()] == ["write", "exit"]


def test_i386_glibc_enters_by_int80_then_sysenter():
    """Static i386 glibc uses int 0x80 until its TLS is set up, then __kernel_vsyscall."""
    run = run_guest(BIN / "hello.glibc-i386")
    mechanisms = [(e.name, e.mechanism) for e in run.syscalls()]
    tls = [n for n, _ in mechanisms].index("set_thread_area")
    assert {m for _, m in mechanisms[:tls + 1]} == {"int 0x80"}
    assert mechanisms[-2:] == [("write", "sysenter"), ("exit_group", "sysenter")]


def test_events_and_json_trace(tmp_path):
    out = tmp_path / "trace.jsonl"
    r = cli("run", "--events", "--trace-json", str(out), "time-three-ways")
    assert r.returncode == 0, r.stderr.decode()
    err = r.stderr.decode()
    assert re.search(r"^\[vdso\] __vdso_clock_gettime\(CLOCK_REALTIME, \{tv_sec=\d+, "
                     r"tv_nsec=\d+\}\) = 0$", err, re.M)
    assert re.search(r"^\[vsyscall\] gettimeofday\(\{tv_sec=\d+, tv_usec=\d+\}, NULL\) = 0 "
                     r"\(emulated\)$", err, re.M)
    import json
    kinds = [json.loads(line)["kind"] for line in out.read_text().splitlines()]
    assert "vdso" in kinds and "vsyscall" in kinds and "syscall" in kinds


def test_vdso_dump_is_readable(tmp_path):
    for arch in ("x86_64", "i386"):
        path = tmp_path / f"vdso-{arch}.so"
        r = cli("vdso", "dump", "--arch", arch, "-o", str(path))
        assert r.returncode == 0, r.stderr.decode()
        from elftools.elf.elffile import ELFFile
        with open(path, "rb") as f:
            elf = ELFFile(f)
            dyn = elf.get_section_by_name(".dynamic")
            soname = next(t.soname for t in dyn.iter_tags() if t.entry.d_tag == "DT_SONAME")
        assert soname == ("linux-vdso.so.1" if arch == "x86_64" else "linux-gate.so.1")


COARSE_SPIN = """
bits 64
section .data
fn: dq 0                    ; __vdso_clock_gettime, filled in by the test
section .bss
t0: resq 2
t1: resq 2
section .text
_start:
    mov edi, 6              ; CLOCK_MONOTONIC_COARSE: the tick's value, no rdtsc
    lea rsi, [rip + t0]
    call [rip + fn]
    mov rbx, 2000000000
spin:
    mov edi, 6
    lea rsi, [rip + t1]
    call [rip + fn]
    mov rax, [rip + t1 + 8]
    cmp rax, [rip + t0 + 8]
    jne moved
    dec rbx
    jnz spin
    mov eax, 60
    mov edi, 1              ; the coarse clock never moved: no tick reached the page
    syscall
moved:
    lock inc qword [rip + t0]   ; (and the CPU kept running correctly meanwhile)
    mov eax, 60
    xor edi, edi
    syscall
"""


def test_the_timer_tick_updates_the_page_while_the_guest_runs(tmp_path):
    """No syscall in the loop: only the kernel model's timer refreshes the coarse clock,
    writing the page while the CPU runs (never by stopping and resuming it)."""
    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    src = tmp_path / "spin.s"
    src.write_text(COARSE_SPIN)
    prog = load_program(str(src))
    system = System(prog.image, prog.path, ["spin"], RunOptions(seed=1, timeout=30),
                    symbols=prog.symbols)
    system.machine.write_word(prog.assembled.labels["fn"],
                              system.vdso.symbol("__vdso_clock_gettime"))
    assert system.run() == 0


LOCK_LOOP = """
bits 64
section .bss
counter: resq 1
section .text
_start:
    mov rbx, 20000000
again:
    lock inc qword [rip + counter]
    dec rbx
    jnz again
    mov rax, [rip + counter]
    cmp rax, 20000000
    jne bad
    mov eax, 60
    xor edi, edi
    syscall
bad:
    mov eax, 60
    mov edi, 1
    syscall
"""


def test_a_long_run_with_timer_ticks_executes_each_instruction_once():
    """Regression: stopping Unicorn from another thread and resuming it re-executes part of
    a block, so ticks must never stop the CPU."""
    assert run_guest("lock.s", source=LOCK_LOOP).status == 0


VVAR_VCLOCK_ACCESS = """bits 64
_start:
    mov rbx, [rsp]              ; argc
    lea rbx, [rsp + rbx*8 + 16] ; envp
.env:
    cmp qword [rbx], 0
    lea rbx, [rbx + 8]
    jne .env
.aux:
    cmp qword [rbx], 33         ; AT_SYSINFO_EHDR
    je .found
    add rbx, 16
    jmp .aux
.found:
    mov rax, [rbx + 8]          ; the vDSO's base: [vvar_vclock] is the two pages below it
    ACCESS
    mov eax, 60
    xor edi, edi
    syscall
"""


@pytest.mark.parametrize("access,signal,code", [
    ("mov rax, [rax - 0x2000]", "SIGBUS", "BUS_ADRERR"),   # the pvclock page
    ("mov rax, [rax - 0x1000]", "SIGBUS", "BUS_ADRERR"),   # the Hyper-V clock page
    ("mov qword [rax - 0x1000], 1", "SIGSEGV", "SEGV_ACCERR"),
], ids=["read-pvclock", "read-hvclock", "write"])
def test_the_vvar_vclock_pages_fault_as_with_a_tsc_clocksource(tmp_path, access, signal,
                                                               code):
    """[vvar_vclock] is listed r--p, but with no paravirtual clock behind it Linux's
    vvar_vclock_fault() answers a read with SIGBUS; a write is refused by the VMA first."""
    prog = tmp_path / "vclock.s"
    prog.write_text(VVAR_VCLOCK_ACCESS.replace("ACCESS", access))
    r = cli("run", "-s", str(prog))
    assert r.returncode == 128 + {"SIGBUS": 7, "SIGSEGV": 11}[signal], r.stderr
    assert f"--- {signal} {{si_signo={signal}, si_code={code}," in r.stderr.decode()

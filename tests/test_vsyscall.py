"""The vsyscall page in each mode, as arch/x86/entry/vsyscall/vsyscall_64.c behaves."""

import subprocess
import sys

import pytest
from conftest import PROGRAMS, run_guest

from kernel_model.trace.events import SignalDelivered, VsyscallCalled

VSYSCALL_TIME = PROGRAMS / "asm" / "vsyscall_time.s"


def signal_of(run):
    return next(e for e in run.events if isinstance(e, SignalDelivered))


@pytest.mark.parametrize("mode", ["emulate", "xonly"])
def test_emulated_calls_answer_the_time(mode):
    run = run_guest(VSYSCALL_TIME, vsyscall=mode)
    assert run.status == 0, run.events
    assert run.stdout == b"vsyscall gettimeofday: ok\n"
    calls = [e for e in run.events if isinstance(e, VsyscallCalled)]
    assert [(c.name, c.mode) for c in calls] == [("gettimeofday", mode), ("time", mode)]
    assert calls[0].text.endswith("= 0 (emulated)")
    # No syscall line for them: strace never sees an emulated vsyscall.
    assert [e.name for e in run.syscalls()] == ["write", "exit"]
    assert {name for name, _, _ in calls[0].changes} == {"rax", "rip", "rsp"}


def test_none_mode_is_a_sigsegv_at_the_page():
    run = run_guest(VSYSCALL_TIME, vsyscall="none")
    assert run.status == 139
    sig = signal_of(run)
    assert sig.text == ("--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, "
                        "si_addr=0xffffffffff600000} ---")


CALL = """
bits 64
section .bss
buf: resq 2
section .text
_start:
    mov rcx, 0x1111
    mov r11, 0x2222
    {setup}
    mov rax, {target}
    call rax
    cmp rcx, 0x1111         ; the emulation changes only rax, rip and rsp
    jne bad
    cmp r11, 0x2222
    jne bad
    mov eax, 60
    xor edi, edi
    syscall
bad:
    mov eax, 60
    mov edi, 1
    syscall
"""


def call(target, setup="lea rdi, [rip + buf]\n    xor esi, esi", **options):
    return run_guest("call.s", source=CALL.format(target=target, setup=setup), **options)


def test_only_rax_rip_rsp_change():
    assert call("0xffffffffff600000", vsyscall="xonly").status == 0


def test_misaligned_entry_is_sigsegv_si_kernel():
    run = call("0xffffffffff600010", vsyscall="emulate")
    assert run.status == 139
    assert signal_of(run).code_name == "SI_KERNEL"


def test_kernel_pointer_is_a_fault_at_that_address():
    run = call("0xffffffffff600000", setup="mov rdi, 0xffff800000000000\n    xor esi, esi",
               vsyscall="xonly")
    assert run.status == 139
    sig = signal_of(run)
    assert (sig.code_name, sig.addr) == ("SEGV_MAPERR", 0xFFFF800000000000)


def test_unmapped_user_pointer_is_a_vsyscall_fault():
    run = call("0xffffffffff600000", setup="mov edi, 0x10\n    xor esi, esi", vsyscall="xonly")
    assert run.status == 139
    assert signal_of(run).code_name == "SI_KERNEL"


READ = """
bits 64
section .text
_start:
    mov rax, 0xffffffffff600000
    mov rbx, [rax]          ; a data read of the page
    mov eax, 60
    xor edi, edi
    syscall
"""


def test_data_read_works_in_emulate_and_faults_in_xonly():
    assert run_guest("read.s", source=READ, vsyscall="emulate").status == 0
    run = run_guest("read.s", source=READ, vsyscall="xonly")
    assert run.status == 139
    assert signal_of(run).addr == 0xFFFFFFFFFF600000


def maps_line(run):
    return [ln for ln in run.stdout.decode().splitlines() if ln.endswith("[vsyscall]")]


@pytest.mark.parametrize("mode, perms", [("emulate", "r-xp"), ("xonly", "--xp"), ("none", None)])
def test_proc_self_maps_shows_the_mode(mode, perms):
    run = run_guest(PROGRAMS / "bin" / "maps.glibc-x86_64", vsyscall=mode)
    lines = maps_line(run)
    if perms is None:
        assert lines == []
    else:
        assert lines == [f"ffffffffff600000-ffffffffff601000 {perms} 00000000 00:00 0"
                         "                  [vsyscall]"]


def test_the_address_never_moves_and_i386_never_has_it():
    a = maps_line(run_guest(PROGRAMS / "bin" / "maps.glibc-x86_64", seed=1))
    b = maps_line(run_guest(PROGRAMS / "bin" / "maps.glibc-x86_64", seed=2))
    assert a == b and a
    i386 = run_guest(PROGRAMS / "bin" / "maps.glibc-i386")
    assert maps_line(i386) == []


CALL_THEN_READ = """
bits 64
section .text
_start:
    mov rax, 0xffffffffff600400
    xor edi, edi
    call rax                ; time(NULL) through the page: the CPU fetched from it
    mov rax, 0xffffffffff600000
    mov rbx, [rax]          ; still a SIGSEGV in xonly mode
    mov eax, 60
    xor edi, edi
    syscall
"""


def test_a_call_through_the_xonly_page_does_not_make_it_readable(tmp_path):
    """The CPU's TLB entry for the page, filled by the call's fetch, must not let a later
    load through (emu/tlb.py): natively the read is a SIGSEGV whatever ran before. Both
    with a trace (the run loop emulates the call) and without (the fast path does)."""
    run = run_guest("call_read.s", source=CALL_THEN_READ, vsyscall="xonly")
    assert run.status == 139
    assert signal_of(run).addr == 0xFFFFFFFFFF600000
    src = tmp_path / "call_read.s"
    src.write_text(CALL_THEN_READ)
    r = subprocess.run([sys.executable, "-m", "tui.cli", "run", str(src)], capture_output=True,
                       cwd=PROGRAMS.parent, timeout=60)
    assert r.returncode == 139, r.stderr


FORK_CALL_THEN_READ = """
bits 64
section .text
_start:
    mov eax, 57             ; fork
    syscall
    test eax, eax
    jnz parent
    mov rax, 0xffffffffff600400
    xor edi, edi
    call rax                ; time(NULL) through the page, in the child
    mov rax, 0xffffffffff600000
    mov rbx, [rax]          ; SIGSEGV
    mov eax, 60
    xor edi, edi
    syscall
parent:
    mov edi, -1
    lea rsi, [rel status]
    xor edx, edx
    xor r10, r10
    mov eax, 61             ; wait4(-1, &status, 0, NULL)
    syscall
    mov edi, [rel status]
    and edi, 0x7f           ; the signal that killed the child
    mov eax, 60
    syscall
section .bss
status: resd 1
"""


def test_a_forked_child_keeps_the_page_unreadable(tmp_path):
    """A fork's CPU is mapped straight through Unicorn: it must know the page is
    execute-only too, or its call would make it readable (the child dies of SIGSEGV)."""
    src = tmp_path / "fork_read.s"
    src.write_text(FORK_CALL_THEN_READ)
    r = subprocess.run([sys.executable, "-m", "tui.cli", "run", str(src)], capture_output=True,
                       cwd=PROGRAMS.parent, timeout=60)
    assert r.returncode == 11, r.stderr

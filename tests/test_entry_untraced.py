"""The untraced fast paths of the entry paths (kernel_model/kernel.py's per-CPU closures,
the vsyscall page's fetch hook) against the general ones a trace takes: the same program
ends the same way, with the same output, whichever path served it."""

import tempfile
from pathlib import Path

import pytest
from conftest import PROGRAMS, run_guest


def run_untraced(program, source: str | None = None, bits: int = 64, **options):
    """run_guest without a listener: what `syscall-lab run` does, fast paths included."""
    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    tmpdir = Path(tempfile.mkdtemp(prefix="syscall-lab-test-"))
    if source is not None:
        program = tmpdir / str(program)
        program.write_text(source)
    with open(tmpdir / "stdout", "w+b") as out:
        prog = load_program(str(program), bits)
        system = System(prog.image, prog.path, [str(program)],
                        RunOptions(stdout_fd=out.fileno(), seed=1, **options),
                        symbols=prog.symbols)
        assert not system.kernel.listeners
        status = system.run()
        out.seek(0)
        return status, out.read()


def both_ways(program, source=None, bits=64, **options):
    traced = run_guest(program, source=source, bits=bits, **options)
    return (traced.status, traced.stdout), run_untraced(program, source, bits, **options)


# Two vsyscall gettimeofday calls into a page that is unmapped between them: the first
# answers, the second is a vsyscall fault (SIGSEGV), as emulate_vsyscall's write_ok_or_segv.
UNMAPPED_BETWEEN = """
bits 64
section .text
_start:
    mov eax, 9              ; mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANON)
    xor edi, edi
    mov esi, 4096
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov r12, rax
    mov rdi, r12
    xor esi, esi
    mov rax, 0xffffffffff600000
    call rax
    test rax, rax
    jnz bad
    cmp qword [r12], 0      ; tv_sec written
    je bad
    mov eax, 11             ; munmap the page
    mov rdi, r12
    mov esi, 4096
    syscall
    mov rdi, r12
    xor esi, esi
    mov rax, 0xffffffffff600000
    call rax                ; SIGSEGV here
    mov eax, 60
    mov edi, 3
    syscall
bad:
    mov eax, 60
    mov edi, 1
    syscall
"""

# rcx and r11 survive an emulated vsyscall (a `syscall` would change them); time() answers
# in rax and through its pointer alike; getcpu writes 0 through both.
REGISTERS_KEPT = """
bits 64
section .bss
t: resq 1
cpu: resd 2
section .text
_start:
    mov rcx, 0x1111
    mov r11, 0x2222
    lea rdi, [rip + t]
    mov rax, 0xffffffffff600400
    call rax
    cmp rax, [rip + t]
    jne bad
    cmp rcx, 0x1111
    jne bad
    cmp r11, 0x2222
    jne bad
    mov dword [rip + cpu], -1
    mov dword [rip + cpu + 4], -1
    lea rdi, [rip + cpu]
    lea rsi, [rip + cpu + 4]
    mov rax, 0xffffffffff600800
    call rax
    or eax, [rip + cpu]
    or eax, [rip + cpu + 4]
    jnz bad
    mov eax, 60
    xor edi, edi
    syscall
bad:
    mov eax, 60
    mov edi, 1
    syscall
"""


@pytest.mark.parametrize("source, status", [(UNMAPPED_BETWEEN, 139), (REGISTERS_KEPT, 0)],
                         ids=["unmapped-between", "registers-kept"])
def test_vsyscall_fast_path_ends_as_the_traced_one(source, status):
    traced, untraced = both_ways("v.s", source=source, vsyscall="xonly")
    assert traced == untraced == (status, b"")


@pytest.mark.parametrize("program, bits", [
    ("vsyscall_time.s", 64), ("hello_sysenter.s", 32), ("hello_int80.s", 32),
    ("int80_from_64.s", 64), ("enosys.s", 64), ("efault.s", 64)])
def test_entry_paths_untraced_match_traced(program, bits):
    traced, untraced = both_ways(PROGRAMS / "asm" / program, bits=bits)
    assert untraced == traced

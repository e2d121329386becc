"""The trap hooks' register file (emu/register_file.py): found in the CPU's own memory on
the Unicorn this project pins, agreeing with Unicorn's API both ways, and every entry path
giving the same results in place as through the API (the fallback for another Unicorn)."""

import pytest
from conftest import PROGRAMS, run_guest
from test_entry_untraced import run_untraced

from emu import register_file as RF
from emu import registers as R
from emu.arch import I386, X86_64
from emu.machine import Machine


@pytest.fixture(params=["in place", "through the API"])
def register_path(request, monkeypatch):
    """Each test twice: registers in the CPU's memory, and the API path that stands in when
    that memory cannot be found."""
    monkeypatch.setattr(RF, "ENABLED", request.param == "in place")
    return request.param


@pytest.mark.parametrize("arch", [X86_64, I386], ids=["x86_64", "i386"])
def test_found_in_place_and_agrees_with_the_api(arch):
    m = Machine(arch)
    rf = m.registers
    assert rf.in_place  # Unicorn 2.1 (pyproject.toml): the fast path is the one taken
    a, c, pc = (R.RAX, R.RCX, R.RIP) if arch.bits == 64 else (R.EAX, R.ECX, R.EIP)
    m.set_reg(a, 0x1234)
    m.set_reg(pc, 0x401000)
    assert (rf.words[RF.RAX], rf.words[RF.PC]) == (0x1234, 0x401000)
    rf.words[RF.RCX] = 0xBEEF
    rf.signed[RF.RAX] = -38
    assert m.reg(c) == 0xBEEF
    assert m.reg(a) == (2**64 if arch.bits == 64 else 2**32) - 38
    # A new CPU starts as it would without the search: the probe values are gone.
    assert Machine(arch).reg(a) == 0


def test_the_api_path_keeps_a_copy(register_path):
    rf = Machine(X86_64).registers
    assert rf.in_place == (register_path == "in place")
    read, extra = rf.reader((RF.RAX,), extra=(R.EFLAGS,))
    assert read is not None  # eflags always comes through the API (computed by Unicorn)
    assert (rf.writer((RF.RAX,)) is None) == rf.in_place


# mmap2's sixth argument (the page offset) through __kernel_vsyscall: ebp holds it, the
# vDSO pushes ebp, and the kernel reads it from the user stack. Page 1 of a file holds the
# line written; page 0 is zeros.
SIXTH_ARGUMENT = """
bits 32
section .data
name: db "/tmp/six", 0
page0: times 4096 db 0
page1: db "pgoff 1 seen", 10
section .text
_start:
    mov eax, [esp]          ; argc: the vDSO's entry comes from the auxv (AT_SYSINFO)
    lea esi, [esp + 4 * eax + 8]
skip_env:
    lodsd
    test eax, eax
    jnz skip_env
find_sysinfo:
    lodsd
    mov ebx, eax
    lodsd
    cmp ebx, 32             ; AT_SYSINFO
    jne find_sysinfo
    mov [vsyscall], eax
    mov eax, 5              ; open("/tmp/six", O_RDWR|O_CREAT, 0600)
    mov ebx, name
    mov ecx, 0x42
    mov edx, 0o600
    call [vsyscall]
    mov edi, eax
    mov eax, 4              ; write(fd, page0, 4096 + 13)
    mov ebx, edi
    mov ecx, page0
    mov edx, 4096 + 13
    call [vsyscall]
    push ebp
    mov eax, 192            ; mmap2(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 1)
    xor ebx, ebx
    mov ecx, 4096
    mov edx, 1
    mov esi, 2
    mov ebp, 1
    call [vsyscall]
    pop ebp
    cmp eax, -4095
    jae bad
    mov ecx, eax            ; write(1, mapped, 13)
    mov eax, 4
    mov ebx, 1
    mov edx, 13
    call [vsyscall]
    cmp eax, 13
    jne bad
    mov eax, 1
    xor ebx, ebx
    call [vsyscall]
bad:
    mov eax, 1
    mov ebx, 1
    int 0x80
section .bss
vsyscall: resd 1
"""

# Values past 2**63 and negative errnos come back whole in rax; rcx and r11 as sysret
# leaves them; the upper half of rax is not part of the number.
RESULTS_64 = """
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
    cmp rax, -4095
    jae bad
    mov rax, 0xffffffff00000027  ; getpid, with garbage above the number
    syscall
    cmp rax, -4095
    jae bad
    mov eax, 8              ; lseek(99, 0, SEEK_SET): EBADF
    mov edi, 99
    xor esi, esi
    xor edx, edx            ; flags now: IF, ZF, PF and the reserved bit, 0x246
    syscall
back:
    cmp rax, -9
    jne bad
    lea rdx, [rel back]
    cmp rcx, rdx
    jne bad
    cmp r11, 0x246
    jne bad
    mov eax, 60
    xor edi, edi
    syscall
bad:
    mov eax, 60
    mov edi, 1
    syscall
"""


@pytest.mark.parametrize("program, source, bits, expected", [
    ("six.s", SIXTH_ARGUMENT, 32, (0, b"pgoff 1 seen\n")),
    ("results.s", RESULTS_64, 64, (0, b"")),
    (PROGRAMS / "asm" / "hello_sysenter.s", None, 32, None),
    (PROGRAMS / "asm" / "hello_int80.s", None, 32, None),
    (PROGRAMS / "asm" / "int80_from_64.s", None, 64, None),
    (PROGRAMS / "asm" / "enosys.s", None, 64, None),
    (PROGRAMS / "asm" / "efault.s", None, 64, None),
    (PROGRAMS / "bin" / "hello.glibc-i386", None, 32, None),
    (PROGRAMS / "bin" / "hello.glibc-x86_64", None, 64, None),
], ids=["sysenter-sixth-argument", "syscall-results", "hello-sysenter", "hello-int80",
        "int80-from-64", "enosys", "efault", "glibc-i386", "glibc-x86_64"])
def test_every_entry_path_answers_alike(register_path, program, source, bits, expected):
    traced = run_guest(program, source=source, bits=bits)
    untraced = run_untraced(program, source, bits)
    assert untraced == (traced.status, traced.stdout)
    if expected is not None:
        assert untraced == expected

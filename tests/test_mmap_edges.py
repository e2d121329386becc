"""mmap's edges as Linux 6.18 draws them: where a hint is taken or ignored (TASK_SIZE,
mmap_min_addr, page rounding), which open modes may map a file (and mprotect it writable
later), which files map at all, and what munmap/mprotect/madvise/mremap/brk do past
TASK_SIZE (the vsyscall page is not the process's VMA) and with MREMAP_FIXED. Each program
checks Linux's answers itself (its exit status names the first that differs); where the
host runs x86-64 Linux it runs natively too, to keep the answers true."""

from __future__ import annotations

import subprocess

import pytest
from conftest import run_guest
from elfmut import can_run_natively

from emu.asm import assemble

HINTS = """bits 64
section .text
_start:
    ; 1: a hint above TASK_SIZE is ignored (Linux places the mapping itself)
    mov rdi, 0x800000000000
    call map_anon
    mov r12, 1
    mov rbx, 0x800000000000
    cmp rax, rbx
    je fail
    mov rbx, 0x7ffffffff000
    cmp rax, rbx
    jae fail
    ; 2: a hint at the top of the 64-bit space is ignored too
    mov rdi, 0xfffffffffffff000
    call map_anon
    mov r12, 2
    mov rbx, 0x7ffffffff000
    cmp rax, rbx
    jae fail
    ; 3: MAP_FIXED above TASK_SIZE is ENOMEM
    mov eax, 9
    mov rdi, 0x800000000000
    mov esi, 4096
    mov edx, 3
    mov r10d, 0x32
    mov r8, -1
    xor r9d, r9d
    syscall
    mov r12, 3
    cmp rax, -12
    jne fail
    ; 4: a hint below mmap_min_addr is raised to it
    mov rdi, 0x1000
    call map_anon
    mov r12, 4
    cmp rax, 0x10000
    jne fail
    ; 5: a hint whose range would cross TASK_SIZE is ignored
    mov rdi, 0x7fffffffe000
    mov eax, 9
    mov esi, 0x2000
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov r12, 5
    mov rbx, 0x7fffffffe000
    cmp rax, rbx
    je fail
    ; 6: an unaligned hint is rounded down to its page
    mov rdi, 0x200000123
    call map_anon
    mov r12, 6
    mov rbx, 0x200000000
    cmp rax, rbx
    jne fail
    mov eax, 60
    xor edi, edi
    syscall
fail:
    mov eax, 60
    mov rdi, r12
    syscall
map_anon:
    mov eax, 9
    mov esi, 4096
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    ret
"""

BEYOND = """bits 64
section .text
_start:
    ; 1: munmap of the vsyscall page is EINVAL (it is not one of the process's VMAs)
    mov eax, 11
    mov rdi, 0xffffffffff600000
    mov esi, 4096
    syscall
    mov r12, 1
    cmp rax, -22
    jne fail
    ; 2: mprotect of it is ENOMEM
    mov eax, 10
    mov rdi, 0xffffffffff600000
    mov esi, 4096
    mov edx, 7
    syscall
    mov r12, 2
    cmp rax, -12
    jne fail
    ; 3: madvise(MADV_DONTNEED) of it is ENOMEM
    mov eax, 28
    mov rdi, 0xffffffffff600000
    mov esi, 4096
    mov edx, 4
    syscall
    mov r12, 3
    cmp rax, -12
    jne fail
    ; 4: mremap of it is EFAULT
    mov eax, 25
    mov rdi, 0xffffffffff600000
    mov esi, 4096
    mov edx, 8192
    mov r10d, 1
    xor r8d, r8d
    syscall
    mov r12, 4
    cmp rax, -14
    jne fail
    ; 5: brk past TASK_SIZE leaves the break where it was
    mov eax, 12
    xor edi, edi
    syscall
    mov r13, rax
    mov eax, 12
    mov rdi, 0x800000001000
    syscall
    mov r12, 5
    cmp rax, r13
    jne fail
    ; 6: MREMAP_FIXED moves a page where it is told, keeping its contents
    mov eax, 9
    xor edi, edi
    mov esi, 4096
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov r14, rax
    mov qword [r14], 1234
    mov eax, 25
    mov rdi, r14
    mov esi, 4096
    mov edx, 4096
    mov r10d, 3             ; MREMAP_MAYMOVE|MREMAP_FIXED
    mov r8, 0x300000000
    syscall
    mov r12, 6
    mov rbx, 0x300000000
    cmp rax, rbx
    jne fail
    mov r12, 7
    cmp qword [rbx], 1234
    jne fail
    ; 8: MREMAP_FIXED without MREMAP_MAYMOVE is EINVAL
    mov eax, 25
    mov rdi, rbx
    mov esi, 4096
    mov edx, 4096
    mov r10d, 2
    mov r8, 0x310000000
    syscall
    mov r12, 8
    cmp rax, -22
    jne fail
    ; 9: a destination past TASK_SIZE is EINVAL
    mov eax, 25
    mov rdi, rbx
    mov esi, 4096
    mov edx, 4096
    mov r10d, 3
    mov r8, 0x800000000000
    syscall
    mov r12, 9
    cmp rax, -22
    jne fail
    ; 10: MREMAP_FIXED that also shrinks: three pages to one, the first page's contents kept
    mov eax, 9
    xor edi, edi
    mov esi, 12288
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov r14, rax
    mov qword [r14], 5678
    mov eax, 25
    mov rdi, r14
    mov esi, 12288
    mov edx, 4096
    mov r10d, 3
    mov r8, 0x320000000
    syscall
    mov r12, 10
    mov rbx, 0x320000000
    cmp rax, rbx
    jne fail
    mov r12, 11
    cmp qword [rbx], 5678
    jne fail
    ; 12: nothing is left at the old address (mprotect of a hole is ENOMEM)
    mov eax, 10
    mov rdi, r14
    mov esi, 4096
    mov edx, 1
    syscall
    mov r12, 12
    cmp rax, -12
    jne fail
    ; 13: nor a page past the new one (the tail did not travel)
    mov eax, 10
    mov rdi, 0x320001000
    mov esi, 4096
    mov edx, 1
    syscall
    mov r12, 13
    cmp rax, -12
    jne fail
    mov eax, 60
    xor edi, edi
    syscall
fail:
    mov eax, 60
    mov rdi, r12
    syscall
"""

FILES = """bits 64
section .data
path:  db "mmap-test-file", 0
zero:  db "/dev/zero", 0
null:  db "/dev/full", 0
fds:   dd 0, 0
section .text
_start:
    ; a file with one page, opened read-write to fill it
    mov eax, 2
    lea rdi, [rel path]
    mov esi, 0o102          ; O_CREAT|O_RDWR
    mov edx, 0o600
    syscall
    mov r13, rax
    mov eax, 1
    mov rdi, r13
    lea rsi, [rel path]
    mov edx, 4096
    syscall
    mov eax, 3
    mov rdi, r13
    syscall
    ; read-only: MAP_SHARED with PROT_WRITE is EACCES
    mov eax, 2
    lea rdi, [rel path]
    xor esi, esi
    syscall
    mov r13, rax
    mov r8, r13
    mov edx, 3
    mov r10d, 1             ; MAP_SHARED
    call map
    mov r12, 1
    cmp rax, -13
    jne fail
    ; read-only: MAP_SHARED PROT_READ and MAP_PRIVATE PROT_WRITE both map
    mov r8, r13
    mov edx, 1
    mov r10d, 1
    call map
    mov r12, 2
    cmp rax, -4096
    ja fail
    ; ...but that shared mapping never becomes writable: mprotect is EACCES
    mov rdi, rax
    mov eax, 10
    mov esi, 4096
    mov edx, 3
    syscall
    mov r12, 10
    cmp rax, -13
    jne fail
    mov r8, r13
    mov edx, 3
    mov r10d, 2             ; MAP_PRIVATE
    call map
    mov r12, 3
    cmp rax, -4096
    ja fail
    ; a private one may: its writes never reach the file
    mov rdi, rax
    mov eax, 10
    mov esi, 4096
    mov edx, 7
    syscall
    mov r12, 11
    test rax, rax
    jnz fail
    ; write-only: any mapping is EACCES
    mov eax, 2
    lea rdi, [rel path]
    mov esi, 1              ; O_WRONLY
    syscall
    mov r8, rax
    mov edx, 1
    mov r10d, 2
    call map
    mov r12, 4
    cmp rax, -13
    jne fail
    ; O_PATH: EBADF
    mov eax, 2
    lea rdi, [rel path]
    mov esi, 0o10000000
    syscall
    mov r8, rax
    mov edx, 1
    mov r10d, 2
    call map
    mov r12, 5
    cmp rax, -9
    jne fail
    ; a pipe's read end has no mmap: ENODEV
    mov eax, 293
    lea rdi, [rel fds]
    xor esi, esi
    syscall
    mov r8d, [rel fds]
    mov edx, 1
    mov r10d, 2
    call map
    mov r12, 6
    cmp rax, -19
    jne fail
    ; /dev/full: ENODEV (Linux 6.18 maps /dev/null, which syscall-lab refuses)
    mov eax, 2
    lea rdi, [rel null]
    xor esi, esi
    syscall
    mov r8, rax
    mov edx, 1
    mov r10d, 2
    call map
    mov r12, 7
    cmp rax, -19
    jne fail
    ; /dev/zero, private: zero-filled, writable memory
    mov eax, 2
    lea rdi, [rel zero]
    xor esi, esi
    syscall
    mov r8, rax
    mov edx, 3
    mov r10d, 2
    call map
    mov r12, 8
    cmp rax, -4096
    ja fail
    mov r12, 9
    cmp qword [rax + 8], 0
    jne fail
    mov qword [rax], 42
    cmp qword [rax], 42
    jne fail
    ; clean up
    mov eax, 87
    lea rdi, [rel path]
    syscall
    mov eax, 60
    xor edi, edi
    syscall
fail:
    mov eax, 87
    lea rdi, [rel path]
    syscall
    mov eax, 60
    mov rdi, r12
    syscall
map:                        ; mmap(NULL, 4096, edx, r10d, r8, 0)
    mov eax, 9
    xor edi, edi
    mov esi, 4096
    xor r9d, r9d
    syscall
    ret
"""


def native(tmp_path, source: str) -> int | None:
    if not can_run_natively():
        return None
    exe = tmp_path / "native"
    exe.write_bytes(assemble(source, "native.s", 64).elf)
    exe.chmod(0o755)
    try:
        return subprocess.run([str(exe)], cwd=tmp_path, timeout=10,
                              stdout=subprocess.DEVNULL).returncode
    except OSError:
        return None


@pytest.mark.parametrize("source", [HINTS, FILES, BEYOND],
                         ids=["hints", "files", "beyond-task-size-and-mremap-fixed"])
def test_mmap_answers_are_linuxs(tmp_path, source):
    run = run_guest("edges.s", source=source, cwd="/tmp")
    assert run.status == 0, f"check {run.status} differs from Linux"
    status = native(tmp_path, source)
    if status is not None:
        assert status == 0, f"Linux itself answers check {status} otherwise"


def test_hint_at_the_top_of_the_address_space_is_not_a_fault():
    """It used to reach Unicorn as a mapping at 0xfffffffffffff000, whose error the run
    loop turned into a SIGSEGV of the guest."""
    source = """bits 64
_start:
    mov eax, 9
    mov rdi, 0xfffffffffffff000
    mov esi, 4096
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov qword [rax], 1
    mov eax, 60
    xor edi, edi
    syscall
"""
    run = run_guest("top.s", source=source)
    assert run.status == 0
    (call,) = [e for e in run.syscalls() if e.name == "mmap"]
    assert 0 < call.ret < 0x7FFFFFFFF000


READ_ANY = """bits 64
_start:
    mov eax, 9
    xor edi, edi
    mov esi, 4096
    mov edx, 2          ; PROT_WRITE only
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov rbx, [rax]      ; the CPU reads a writable page
    mov eax, 9
    xor edi, edi
    mov esi, 4096
    mov edx, 4          ; PROT_EXEC only
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov rbx, [rax]      ; and an executable one (no protection keys)
    mov r12, rax
    mov eax, 1          ; write(1, page, 8): copy_from_user reads it too
    mov edi, 1
    mov rsi, r12
    mov edx, 8
    syscall
    mov rdi, rax
    mov eax, 60
    syscall
"""


def test_write_only_and_exec_only_pages_read_as_on_x86(tmp_path):
    run = run_guest("prot.s", source=READ_ANY)
    assert run.status == 8 and run.stdout == bytes(8)
    status = native(tmp_path, READ_ANY)
    if status is not None:
        assert status == 8


MPROTECT_TO_THE_HOLE = """bits 64
_start:
    mov eax, 9              ; two pages...
    xor edi, edi
    mov esi, 0x2000
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov rbx, rax
    mov eax, 11             ; ...the second one unmapped: a hole
    lea rdi, [rbx + 0x1000]
    mov esi, 0x1000
    syscall
    mov eax, 10             ; mprotect(both, PROT_READ): ENOMEM at the hole...
    mov rdi, rbx
    mov esi, 0x2000
    mov edx, 1
    syscall
    cmp rax, -12
    jne wrong
    mov qword [rbx], 1      ; ...but the first page is read-only now: SIGSEGV
    mov eax, 60
    xor edi, edi
    syscall
wrong:
    mov eax, 60
    mov edi, 1
    syscall
"""


def test_mprotect_changes_the_vmas_before_the_hole(tmp_path):
    run = run_guest("hole.s", source=MPROTECT_TO_THE_HOLE)
    assert run.status == 128 + 11
    status = native(tmp_path, MPROTECT_TO_THE_HOLE)
    if status is not None:
        assert status == -11  # subprocess: killed by SIGSEGV


def test_brk_refused_by_the_memory_cap_says_so():
    source = """bits 64
_start:
    mov eax, 12
    xor edi, edi
    syscall
    lea rdi, [rax + 0x7fffffff]
    mov eax, 12
    syscall
    mov eax, 60
    xor edi, edi
    syscall
"""
    run = run_guest("brk.s", source=source, memory_limit=64 << 20)
    first, second = [e for e in run.syscalls() if e.name == "brk"]
    assert second.ret == first.ret  # the break stays where it was
    assert "memory cap (64 MiB)" in second.note

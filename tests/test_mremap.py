"""mremap beyond what the differential guest (tests/guests/memory/mremap.c) can show on
the host: the older eras' rules and what the model leaves out, said in the trace."""

from __future__ import annotations

import pytest
from conftest import run_guest

from kernel_model.trace.events import SyscallReturned

# mmap 2 private anonymous pages, then mremap(them, 8192, 8192, MAYMOVE|DONTUNMAP, 0), and
# exit with -result when it failed, 0 when it moved.
DONTUNMAP = """bits 64
_start:
    mov eax, 9
    xor edi, edi
    mov esi, 8192
    mov edx, 3
    mov r10d, {map_flags}
    mov r8, -1
    xor r9d, r9d
    syscall
    mov rdi, rax
    mov eax, 25
    mov esi, 8192
    mov edx, {old_size}
    mov r10d, 5
    xor r8d, r8d
    syscall
    xor edi, edi
    test rax, rax
    jns done
    mov rdi, rax
    neg rdi
done:
    mov eax, 60
    syscall
"""
PRIVATE, SHARED = 0x22, 0x21


@pytest.mark.parametrize("era,status", [("6.18", 0), ("5.3", 22)])
def test_dontunmap_exists_from_5_7(era, status):
    run = run_guest("dontunmap.s", source=DONTUNMAP.format(map_flags=PRIVATE, old_size=8192),
                    kernel=era)
    assert run.status == status


def test_dontunmap_trace_line_is_straces():
    run = run_guest("dontunmap.s", source=DONTUNMAP.format(map_flags=PRIVATE, old_size=8192))
    line = next(e.text for e in run.events if isinstance(e, SyscallReturned)
                and e.name == "mremap")
    # strace leaves the fifth argument out unless MREMAP_FIXED is set.
    assert line.startswith("mremap(0x")
    assert ", 8192, 8192, MREMAP_MAYMOVE|MREMAP_DONTUNMAP) = 0x" in line


def test_a_second_view_of_a_shared_mapping_is_refused_with_a_note():
    """old_size 0 duplicates a shared mapping on Linux; the model says it does not."""
    source = DONTUNMAP.format(map_flags=SHARED, old_size=0).replace("mov r10d, 5", "mov r10d, 1")
    source = source.replace("mov esi, 8192\n    mov edx, 0", "xor esi, esi\n    mov edx, 8192")
    run = run_guest("dup.s", source=source)
    assert run.status == 12  # ENOMEM
    mremap = next(e for e in run.events if isinstance(e, SyscallReturned)
                  and e.name == "mremap")
    assert mremap.ret == -12 and "not modelled" in mremap.note

"""Times at the ends of their types: a nanosleep of 2^63-1 seconds saturates at KTIME_MAX
as Linux's timespec64_to_ktime does (no OverflowError), and a 32-bit time past 2038 is
truncated as put_old_timespec32 and compat_put_timeval truncate it."""

from __future__ import annotations

import struct

import pytest
from conftest import run_guest

NSEC = 1_000_000_000
KTIME_MAX = (1 << 63) - 1

LONGEST_SLEEP = """bits 64
section .data
ts:  dq 0x7fffffffffffffff, 0
out: dq 0, 0
section .text
_start:
    mov eax, 35             ; nanosleep(&ts, NULL)
    lea rdi, [rel ts]
    xor esi, esi
    syscall
    mov r12, rax
    mov eax, 228            ; clock_gettime(CLOCK_MONOTONIC, &out)
    mov edi, 1
    lea rsi, [rel out]
    syscall
    mov eax, 1              ; write(1, &out, 16)
    mov edi, 1
    lea rsi, [rel out]
    mov edx, 16
    syscall
    mov eax, 60
    mov rdi, r12
    syscall
"""


@pytest.mark.parametrize("clock", ["frozen:1000", "virtual:1000"])
def test_longest_nanosleep_saturates_at_ktime_max(clock):
    run = run_guest("sleep.s", source=LONGEST_SLEEP, clock=clock)
    assert run.status == 0  # nanosleep returned 0
    sec, nsec = struct.unpack("<qq", run.stdout)
    slept = sec * NSEC + nsec
    # The monotonic clock started 1000 s after boot and moved by KTIME_MAX, not by
    # 2^63-1 seconds.
    assert KTIME_MAX + 1000 * NSEC <= slept < KTIME_MAX + 1010 * NSEC


TIME32 = """bits 32
section .data
tv: dd 0, 0
section .text
_start:
    mov eax, 78             ; gettimeofday(&tv, NULL)
    mov ebx, tv
    xor ecx, ecx
    int 0x80
    mov eax, 4              ; write(1, &tv, 8)
    mov ebx, 1
    mov ecx, tv
    mov edx, 8
    int 0x80
    mov eax, 1
    xor ebx, ebx
    int 0x80
"""


def test_32_bit_time_past_2038_wraps():
    run = run_guest("t32.s", source=TIME32, bits=32, clock="frozen:2147483650")
    assert run.status == 0
    assert struct.unpack("<ii", run.stdout) == (2147483650 - (1 << 32), 0)

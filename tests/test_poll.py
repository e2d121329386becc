"""poll, select and epoll over pipes and other files (fs/select.c, fs/eventpoll.c): ready
files answer at once, a wait sleeps on every watched pipe and wakes at a write, a close or
the timeout. Assembly guests, each also run natively (nasm+ld) where available."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_pipes_between_processes import check

from kernel_model.trace.events import SyscallBlocked

# poll(-1) on a pipe's read end wakes at the child's write (POLLIN), and once the child has
# exited, polls POLLHUP: exit 1*16 + 0x10.
POLL_WAKES = r"""
bits 64
; parent: pipe, fork; child sleeps 10ms then writes "x" and exits.
; parent polls the read end (timeout -1): expect 1 with POLLIN; then poll again after
; reading: the child exited -> POLLHUP. exit code = revents1*16 + revents2 (1*16+16=32)
section .bss
fds: resd 2
pfd: resd 2
buf: resb 16
section .text
global _start
_start:
    mov eax, 22
    lea rdi, [rel fds]
    syscall
    mov eax, 57
    syscall
    test eax, eax
    jnz parent
    mov eax, 35          ; nanosleep(10 ms)
    lea rdi, [rel ts]
    xor esi, esi
    syscall
    mov eax, 1
    mov edi, [rel fds+4]
    lea rsi, [rel msg]
    mov edx, 1
    syscall
    mov eax, 60
    xor edi, edi
    syscall
parent:
    mov eax, 3
    mov edi, [rel fds+4]
    syscall
    mov eax, [rel fds]
    mov [rel pfd], eax
    mov word [rel pfd+4], 1   ; POLLIN
    mov eax, 7           ; poll(&pfd, 1, -1)
    lea rdi, [rel pfd]
    mov esi, 1
    mov edx, -1
    syscall
    movzx r12d, word [rel pfd+6]
    shl r12d, 4
    xor eax, eax
    mov edi, [rel fds]
    lea rsi, [rel buf]
    mov edx, 16
    syscall
    mov eax, 7
    lea rdi, [rel pfd]
    mov esi, 1
    mov edx, -1
    syscall
    movzx eax, word [rel pfd+6]
    lea edi, [r12 + rax]
    mov eax, 60
    syscall
section .data
msg: db "x"
ts: dq 0, 10000000
"""

POLL_FILES = r"""
bits 64
; poll over /dev/null, a closed fd and a negative one, without waiting: 2 ready (the
; closed fd is POLLNVAL), /dev/null readable and writable, the negative fd ignored.
section .bss
pfd: resd 6
section .text
global _start
_start:
    mov eax, 2               ; open("/dev/null", O_RDWR)
    lea rdi, [rel null]
    mov esi, 2
    syscall
    mov [rel pfd], eax
    mov word [rel pfd+4], 5  ; POLLIN|POLLOUT
    mov dword [rel pfd+8], 99
    mov word [rel pfd+12], 1
    mov dword [rel pfd+16], -1
    mov word [rel pfd+20], 1
    mov word [rel pfd+22], 0x7777   ; revents is written even for an ignored fd
    mov eax, 7
    lea rdi, [rel pfd]
    mov esi, 3
    xor edx, edx
    syscall
    mov edi, 1
    cmp eax, 2
    jne out
    mov edi, 2
    cmp word [rel pfd+6], 5
    jne out
    mov edi, 3
    cmp word [rel pfd+14], 0x20
    jne out
    mov edi, 4
    cmp word [rel pfd+22], 0
    jne out
    xor edi, edi
out:
    mov eax, 60
    syscall
section .data
null: db "/dev/null", 0
"""

POLL_TIMEOUT = r"""
bits 64
; poll of an empty pipe (its write end open) for 20 ms: 0 once the time has passed, which
; clock_gettime(CLOCK_MONOTONIC) sees.
section .bss
fds: resd 2
pfd: resd 2
t0: resq 2
t1: resq 2
section .text
global _start
_start:
    mov eax, 22
    lea rdi, [rel fds]
    syscall
    mov eax, [rel fds]
    mov [rel pfd], eax
    mov word [rel pfd+4], 1
    mov eax, 228
    mov edi, 1
    lea rsi, [rel t0]
    syscall
    mov eax, 7
    lea rdi, [rel pfd]
    mov esi, 1
    mov edx, 20
    syscall
    mov r12, rax
    mov eax, 228
    mov edi, 1
    lea rsi, [rel t1]
    syscall
    mov edi, 1
    test r12, r12
    jnz out
    mov rax, [rel t1]
    sub rax, [rel t0]
    imul rax, rax, 1000000000
    add rax, [rel t1+8]
    sub rax, [rel t0+8]
    mov edi, 2
    cmp rax, 20000000
    jl out
    xor edi, edi
out:
    mov eax, 60
    syscall
"""

SELECT = r"""
bits 64
; select on a pipe's read end (no timeout) wakes when the child writes after 1 ms: 1, with
; the fd's bit set; then select with a 20 ms timeout on the drained pipe: 0, the set
; cleared and the timeval counted down to zero.
section .bss
fds: resd 2
rset: resq 1
buf: resb 8
section .text
global _start
_start:
    mov eax, 22
    lea rdi, [rel fds]
    syscall
    mov eax, 57
    syscall
    test eax, eax
    jnz parent
    mov eax, 35
    lea rdi, [rel ts]
    xor esi, esi
    syscall
    mov eax, 1
    mov edi, [rel fds+4]
    lea rsi, [rel ts]
    mov edx, 1
    syscall
    mov eax, 60
    xor edi, edi
    syscall
parent:
    mov ecx, [rel fds]
    mov eax, 1
    shl rax, cl
    mov [rel rset], rax
    mov r13, rax
    mov edi, [rel fds]
    inc edi
    mov eax, 23              ; select(r+1, &rset, NULL, NULL, NULL)
    lea rsi, [rel rset]
    xor edx, edx
    xor r10d, r10d
    xor r8d, r8d
    syscall
    mov edi, 1
    cmp eax, 1
    jne out
    mov edi, 2
    cmp [rel rset], r13
    jne out
    xor eax, eax
    mov edi, [rel fds]
    lea rsi, [rel buf]
    mov edx, 8
    syscall
    mov [rel rset], r13
    mov edi, [rel fds]
    inc edi
    mov eax, 23              ; select(r+1, &rset, NULL, NULL, &tv 20 ms)
    lea rsi, [rel rset]
    xor edx, edx
    xor r10d, r10d
    lea r8, [rel tv]
    syscall
    mov edi, 3
    test eax, eax
    jnz out
    mov edi, 4
    cmp qword [rel rset], 0
    jne out
    mov edi, 5
    cmp qword [rel tv+8], 0
    jne out
    xor edi, edi
out:
    mov eax, 60
    syscall
section .data
ts: dq 0, 1000000
tv: dq 0, 20000
"""

EPOLL = r"""
bits 64
; epoll over a pipe: nothing yet (0), then a child's write after 1 ms wakes epoll_wait(-1):
; one EPOLLIN event carrying the data word 42. ADD twice: EEXIST; /dev/null: EPERM; DEL of
; a file never added: ENOENT.
section .bss
fds: resd 2
ev: resb 12
out_ev: resb 48
section .text
global _start
_start:
    mov eax, 22
    lea rdi, [rel fds]
    syscall
    mov eax, 291             ; epoll_create1(0)
    xor edi, edi
    syscall
    mov r14d, eax
    mov dword [rel ev], 1    ; EPOLLIN, data 42
    mov qword [rel ev+4], 42
    mov eax, 233             ; epoll_ctl(ep, ADD, r, &ev)
    mov edi, r14d
    mov esi, 1
    mov edx, [rel fds]
    lea r10, [rel ev]
    syscall
    mov edi, 1
    test eax, eax
    jnz out
    mov eax, 233
    mov edi, r14d
    mov esi, 1
    mov edx, [rel fds]
    lea r10, [rel ev]
    syscall
    mov edi, 2
    cmp eax, -17
    jne out
    mov eax, 2
    lea rdi, [rel null]
    mov esi, 2
    syscall
    mov edx, eax
    mov eax, 233
    mov edi, r14d
    mov esi, 1
    lea r10, [rel ev]
    syscall
    mov edi, 3
    cmp eax, -1
    jne out
    mov eax, 233             ; DEL of the write end, never added
    mov edi, r14d
    mov esi, 2
    mov edx, [rel fds+4]
    xor r10d, r10d
    syscall
    mov edi, 4
    cmp eax, -2
    jne out
    mov eax, 232             ; epoll_wait(ep, out, 4, 0): nothing yet
    mov edi, r14d
    lea rsi, [rel out_ev]
    mov edx, 4
    xor r10d, r10d
    syscall
    mov edi, 5
    test eax, eax
    jnz out
    mov eax, 57
    syscall
    test eax, eax
    jnz parent
    mov eax, 35
    lea rdi, [rel ts]
    xor esi, esi
    syscall
    mov eax, 1
    mov edi, [rel fds+4]
    lea rsi, [rel ts]
    mov edx, 1
    syscall
    mov eax, 60
    xor edi, edi
    syscall
parent:
    mov eax, 232             ; epoll_wait(ep, out, 4, -1)
    mov edi, r14d
    lea rsi, [rel out_ev]
    mov edx, 4
    mov r10d, -1
    syscall
    mov edi, 6
    cmp eax, 1
    jne out
    mov edi, 7
    cmp dword [rel out_ev], 1
    jne out
    mov edi, 8
    cmp qword [rel out_ev+4], 42
    jne out
    xor edi, edi
out:
    mov eax, 60
    syscall
section .data
null: db "/dev/null", 0
ts: dq 0, 1000000
"""

POLL_HOST_STDIN = r"""
bits 64
; A child prints after 5 ms while its parent polls host stdin (no timeout); once stdin has
; data the parent echoes it and exits with POLLIN (1).
section .bss
pfd: resd 2
buf: resb 64
section .text
global _start
_start:
    mov eax, 57
    syscall
    test eax, eax
    jnz parent
    mov eax, 35
    lea rdi, [rel ts]
    xor esi, esi
    syscall
    mov eax, 1
    mov edi, 1
    lea rsi, [rel cmsg]
    mov edx, 6
    syscall
    mov eax, 60
    xor edi, edi
    syscall
parent:
    mov dword [rel pfd], 0
    mov word [rel pfd+4], 1
    mov eax, 7
    lea rdi, [rel pfd]
    mov esi, 1
    mov edx, -1
    syscall
    xor eax, eax
    xor edi, edi
    lea rsi, [rel buf]
    mov edx, 64
    syscall
    mov edx, eax
    mov eax, 1
    mov edi, 1
    lea rsi, [rel buf]
    syscall
    movzx edi, word [rel pfd+6]
    and edi, 1               ; POLLIN (POLLHUP too if the host closed first)
    mov eax, 60
    syscall
section .data
ts: dq 0, 5000000
cmsg: db "child", 10
"""

TIME64_I386 = r"""
bits 32
; i386's time64 calls: ppoll_time64 and pselect6_time64 on an empty pipe with a 20 ms
; struct timespec64 timeout (0, the timeout written back as 0), rt_sigtimedwait_time64
; with a zero timeout (EAGAIN), clock_nanosleep_time64 for 1 ms (0).
section .bss
fds: resd 2
pfd: resd 2
rset: resd 1
section .text
global _start
_start:
    mov eax, 42
    mov ebx, fds
    int 0x80
    mov eax, [fds]
    mov [pfd], eax
    mov word [pfd+4], 1
    mov eax, 414             ; ppoll_time64(&pfd, 1, &ts20, NULL, 8)
    mov ebx, pfd
    mov ecx, 1
    mov edx, ts20
    xor esi, esi
    mov edi, 8
    int 0x80
    mov ebx, 1
    test eax, eax
    jnz out
    mov ebx, 2
    cmp dword [ts20+8], 0
    jne out
    mov ecx, [fds]
    mov eax, 1
    shl eax, cl
    mov [rset], eax
    mov eax, 413             ; pselect6_time64(r+1, &rset, NULL, NULL, &tsb, NULL)
    mov ebx, [fds]
    inc ebx
    mov ecx, rset
    xor edx, edx
    xor esi, esi
    mov edi, tsb
    push ebp
    xor ebp, ebp
    int 0x80
    pop ebp
    mov ebx, 3
    test eax, eax
    jnz out
    mov ebx, 4
    cmp dword [rset], 0
    jne out
    mov eax, 421             ; rt_sigtimedwait_time64({USR2}, NULL, &zero, 8)
    mov ebx, usr2
    xor ecx, ecx
    mov edx, zero
    mov esi, 8
    int 0x80
    mov ebx, 5
    cmp eax, -11
    jne out
    mov eax, 407             ; clock_nanosleep_time64(CLOCK_MONOTONIC, 0, &ms1, NULL)
    mov ebx, 1
    xor ecx, ecx
    mov edx, ms1
    xor esi, esi
    int 0x80
    mov ebx, 6
    test eax, eax
    jnz out
    xor ebx, ebx
out:
    mov eax, 1
    int 0x80
section .data
ts20: dd 0, 0, 20000000, 0
tsb: dd 0, 0, 20000000, 0
zero: dd 0, 0, 0, 0
ms1: dd 0, 0, 1000000, 0
usr2: dd 0x800, 0
"""

POLL_SELECT_I386 = r"""
bits 32
; i386: poll (168) on a pipe wakes when the child writes after 1 ms; then _newselect (142)
; with a 20 ms timeout on the drained pipe returns 0 with the set cleared.
section .bss
fds: resd 2
pfd: resd 2
rset: resd 1
buf: resb 8
section .text
global _start
_start:
    mov eax, 42
    mov ebx, fds
    int 0x80
    mov eax, 2
    int 0x80
    test eax, eax
    jnz parent
    mov eax, 162             ; nanosleep(1 ms)
    mov ebx, ts
    xor ecx, ecx
    int 0x80
    mov eax, 4
    mov ebx, [fds+4]
    mov ecx, ts
    mov edx, 1
    int 0x80
    mov eax, 1
    xor ebx, ebx
    int 0x80
parent:
    mov eax, [fds]
    mov [pfd], eax
    mov word [pfd+4], 1
    mov eax, 168
    mov ebx, pfd
    mov ecx, 1
    mov edx, -1
    int 0x80
    mov ebx, 1
    cmp eax, 1
    jne out
    mov ebx, 2
    cmp word [pfd+6], 1
    jne out
    mov eax, 3
    mov ebx, [fds]
    mov ecx, buf
    mov edx, 8
    int 0x80
    mov ecx, [fds]
    mov eax, 1
    shl eax, cl
    mov [rset], eax
    mov ebx, [fds]
    inc ebx
    mov eax, 142
    mov ecx, rset
    xor edx, edx
    xor esi, esi
    mov edi, tv
    int 0x80
    mov ebx, 3
    test eax, eax
    jnz out
    mov ebx, 4
    cmp dword [rset], 0
    jne out
    xor ebx, ebx
out:
    mov eax, 1
    int 0x80
section .data
ts: dd 0, 1000000
tv: dd 0, 20000
"""


def test_poll_sleeps_until_a_write_then_sees_the_hangup():
    run = check(POLL_WAKES, 0x20)
    assert any(isinstance(e, SyscallBlocked) and e.name == "poll" for e in run.events)


def test_poll_answers_for_files_that_are_always_ready_and_bad_fds():
    check(POLL_FILES, 0)


def test_poll_times_out_after_its_timeout():
    check(POLL_TIMEOUT, 0)


def test_select_wakes_at_a_write_and_clears_its_sets_at_a_timeout():
    check(SELECT, 0)


def test_epoll_reports_a_pipe_once_written_and_refuses_files_without_poll():
    check(EPOLL, 0)


def test_poll_and_newselect_i386():
    check(POLL_SELECT_I386, 0, bits=32)


def test_poll_of_host_stdin_lets_other_tasks_run_meanwhile(tmp_path):
    """Host stdin cannot wake a model queue: while the child can run, the parent sleeps in
    the model and looks at stdin again now and then; alone, it waits on the host."""
    guest = tmp_path / "stdin.s"
    guest.write_text(POLL_HOST_STDIN)
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "run", "--clock", "virtual",
                             str(guest)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=str(root)), cwd=root)
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline() == b"child\n"  # printed while the parent polled
    proc.stdin.write(b"hi\n")
    proc.stdin.close()
    assert proc.stdout.read() == b"hi\n"
    assert proc.wait(timeout=60) == 1


def test_the_i386_time64_calls():
    check(TIME64_I386, 0, bits=32)

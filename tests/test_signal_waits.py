"""Waiting for signals and for time, among several tasks: pause and sigsuspend (EINTR after a
handler, sigsuspend's temporary mask in force while it waits and the old one back after),
rt_sigtimedwait (the signal's number and siginfo, no handler), and nanosleep, which lets
the other tasks run while it sleeps and leaves the time left in `rem` when a signal ends
it. Assembly guests, each also run natively (nasm+ld) where available."""

from __future__ import annotations

from test_pipes_between_processes import check

from kernel_model.trace.events import SyscallBlocked

PAUSE = r"""
bits 64
; pause() until a SIGUSR1 from the child: -1 EINTR after the handler ran (exit 4 + 16).
; The child sends SIGUSR1 every millisecond until the parent says, through a second pipe,
; that pause has returned (a signal that lands before pause only runs the handler).
section .bss
back: resd 2
got: resd 1
buf: resb 8
st: resd 1
section .text
global _start
_start:
    mov eax, 13
    mov edi, 10
    lea rsi, [rel sa]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 293             ; pipe2(back, O_NONBLOCK)
    lea rdi, [rel back]
    mov esi, 0x800
    syscall
    mov eax, 57
    syscall
    test eax, eax
    jnz parent
    mov eax, 110
    syscall
    mov r12d, eax
again:
    mov eax, 62              ; kill(ppid, SIGUSR1)
    mov edi, r12d
    mov esi, 10
    syscall
    mov eax, 35
    lea rdi, [rel ts]
    xor esi, esi
    syscall
    xor eax, eax             ; read(back, buf, 1): has pause returned?
    mov edi, [rel back]
    lea rsi, [rel buf]
    mov edx, 1
    syscall
    cmp eax, 1
    jne again
    mov eax, 60
    xor edi, edi
    syscall
parent:
    mov r13d, eax
    mov eax, 34              ; pause
    syscall
    neg eax
    mov r12d, eax
    mov eax, 1
    mov edi, [rel back+4]
    lea rsi, [rel sa]
    mov edx, 1
    syscall
    mov eax, 61
    mov edi, r13d
    lea rsi, [rel st]
    xor edx, edx
    xor r10d, r10d
    syscall
    mov edi, r12d
    add edi, [rel got]
    mov eax, 60
    syscall
handler:
    mov dword [rel got], 16
    ret
restorer:
    mov eax, 15
    syscall
section .data
sa: dq handler, 0x04000000, restorer, 0
ts: dq 0, 1000000
"""

SIGSUSPEND = r"""
bits 64
; SIGUSR1 and SIGUSR2 blocked; sigsuspend({SIGTERM}) lets the child's SIGUSR1 in: the
; handler runs with {SIGTERM, SIGUSR1} blocked, sigsuspend returns EINTR, and the mask is
; {SIGUSR1, SIGUSR2} again afterwards.
section .bss
got: resq 1
old: resq 1
section .text
global _start
_start:
    mov eax, 13
    mov edi, 10
    lea rsi, [rel sa]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 14              ; rt_sigprocmask(SIG_BLOCK, {USR1, USR2}, NULL, 8)
    xor edi, edi
    lea rsi, [rel both]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 57
    syscall
    test eax, eax
    jnz parent
    mov eax, 35
    lea rdi, [rel ts]
    xor esi, esi
    syscall
    mov eax, 110
    syscall
    mov edi, eax
    mov eax, 62
    mov esi, 10
    syscall
    mov eax, 60
    xor edi, edi
    syscall
parent:
    mov eax, 130             ; rt_sigsuspend({TERM}, 8)
    lea rdi, [rel term]
    mov esi, 8
    syscall
    mov edi, 1
    cmp eax, -4
    jne out
    mov edi, 2
    cmp qword [rel got], 0x4200    ; the mask inside the handler
    jne out
    mov eax, 14              ; rt_sigprocmask(SIG_BLOCK, NULL, &old, 8)
    xor edi, edi
    xor esi, esi
    lea rdx, [rel old]
    mov r10d, 8
    syscall
    mov edi, 3
    cmp qword [rel old], 0xa00
    jne out
    xor edi, edi
out:
    mov eax, 60
    syscall
handler:
    mov eax, 14
    xor edi, edi
    xor esi, esi
    lea rdx, [rel got]
    mov r10d, 8
    syscall
    ret
restorer:
    mov eax, 15
    syscall
section .data
sa: dq handler, 0x04000000, restorer, 0
both: dq 0xa00
term: dq 0x4000
ts: dq 0, 1000000
"""

SIGSUSPEND_I386 = r"""
bits 32
; i386: SIGUSR1 blocked; rt_sigsuspend({}) (179) lets the child's SIGUSR1 in: -EINTR after
; the handler, then the old mask is back; then sigsuspend (72, the old call) the same way.
section .bss
got: resd 1
old: resd 2
section .text
global _start
_start:
    mov eax, 174             ; rt_sigaction(SIGUSR1, &sa, NULL, 8)
    mov ebx, 10
    mov ecx, sa
    xor edx, edx
    mov esi, 8
    int 0x80
    mov eax, 175             ; rt_sigprocmask(SIG_BLOCK, {USR1}, NULL, 8)
    xor ebx, ebx
    mov ecx, usr1
    xor edx, edx
    mov esi, 8
    int 0x80
    call spawn
    mov eax, 179             ; rt_sigsuspend({}, 8)
    mov ebx, empty
    mov ecx, 8
    int 0x80
    mov ebx, 1
    cmp eax, -4
    jne out
    mov ebx, 2
    cmp dword [got], 1
    jne out
    call spawn
    mov eax, 72              ; sigsuspend(0, 0, 0)
    xor ebx, ebx
    xor ecx, ecx
    xor edx, edx
    int 0x80
    mov ebx, 3
    cmp eax, -4
    jne out
    mov ebx, 4
    cmp dword [got], 2
    jne out
    mov eax, 175             ; rt_sigprocmask(SIG_BLOCK, NULL, &old, 8)
    xor ebx, ebx
    xor ecx, ecx
    mov edx, old
    mov esi, 8
    int 0x80
    mov ebx, 5
    cmp dword [old], 0x200
    jne out
    xor ebx, ebx
out:
    mov eax, 1
    int 0x80
spawn:
    mov eax, 2
    int 0x80
    test eax, eax
    jnz .back
    mov eax, 162
    mov ebx, ts
    xor ecx, ecx
    int 0x80
    mov eax, 64              ; getppid
    int 0x80
    mov ebx, eax
    mov eax, 37              ; kill(ppid, SIGUSR1)
    mov ecx, 10
    int 0x80
    mov eax, 1
    xor ebx, ebx
    int 0x80
.back:
    ret
handler:
    inc dword [got]
    ret
restorer:
    pop eax
    mov eax, 119             ; sigreturn
    int 0x80
section .data
sa: dd handler, 0x04000000, restorer, 0, 0
usr1: dd 0x200, 0
empty: dd 0, 0
ts: dd 0, 1000000
"""

SIGTIMEDWAIT = r"""
bits 64
; SIGUSR2 blocked; rt_sigtimedwait({USR2}) waits for the child's kill: returns 12, with
; si_signo 12, si_code SI_USER (0) and si_pid the child's, no handler run. Again with a
; zero timeout: EAGAIN.
section .bss
info: resb 128
got: resd 1
section .text
global _start
_start:
    mov eax, 13
    mov edi, 12
    lea rsi, [rel sa]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 14
    xor edi, edi
    lea rsi, [rel usr2]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 57
    syscall
    test eax, eax
    jnz parent
    mov eax, 35
    lea rdi, [rel ts]
    xor esi, esi
    syscall
    mov eax, 110
    syscall
    mov edi, eax
    mov eax, 62
    mov esi, 12
    syscall
    mov eax, 60
    xor edi, edi
    syscall
parent:
    mov r13d, eax
    mov eax, 128             ; rt_sigtimedwait({USR2}, &info, NULL, 8)
    lea rdi, [rel usr2]
    lea rsi, [rel info]
    xor edx, edx
    mov r10d, 8
    syscall
    mov edi, 1
    cmp eax, 12
    jne out
    mov edi, 2
    cmp dword [rel info], 12
    jne out
    mov edi, 3
    cmp dword [rel info+8], 0
    jne out
    mov edi, 4
    cmp [rel info+16], r13d
    jne out
    mov edi, 5
    cmp dword [rel got], 0
    jne out
    mov eax, 128
    lea rdi, [rel usr2]
    lea rsi, [rel info]
    lea rdx, [rel zero]
    mov r10d, 8
    syscall
    mov edi, 6
    cmp eax, -11
    jne out
    xor edi, edi
out:
    mov eax, 60
    syscall
handler:
    mov dword [rel got], 1
    ret
restorer:
    mov eax, 15
    syscall
section .data
sa: dq handler, 0x04000000, restorer, 0
usr2: dq 0x800
zero: dq 0, 0
ts: dq 0, 1000000
"""

SLEEPERS = r"""
bits 64
; The parent sleeps 20 ms; meanwhile its child runs and prints first. Then a 10 s sleep,
; interrupted by the child's SIGUSR1 (sent 200 ms after its start): EINTR, with more than
; 9 s left in rem.
section .bss
rem: resq 2
st: resd 1
section .text
global _start
_start:
    mov eax, 13
    mov edi, 10
    lea rsi, [rel sa]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 57
    syscall
    test eax, eax
    jnz parent
    mov eax, 1
    mov edi, 1
    lea rsi, [rel cmsg]
    mov edx, 6
    syscall
    mov eax, 35
    lea rdi, [rel sleep200]
    xor esi, esi
    syscall
    mov eax, 110
    syscall
    mov edi, eax
    mov eax, 62
    mov esi, 10
    syscall
    mov eax, 60
    xor edi, edi
    syscall
parent:
    mov r13d, eax
    mov eax, 35              ; nanosleep(20 ms)
    lea rdi, [rel sleep20]
    xor esi, esi
    syscall
    mov eax, 1
    mov edi, 1
    lea rsi, [rel pmsg]
    mov edx, 7
    syscall
    mov eax, 35              ; nanosleep(10 s, &rem)
    lea rdi, [rel sleep10s]
    lea rsi, [rel rem]
    syscall
    mov edi, 1
    cmp eax, -4
    jne out
    mov edi, 2
    cmp qword [rel rem], 9
    jl out
    mov eax, 61
    mov edi, r13d
    lea rsi, [rel st]
    xor edx, edx
    xor r10d, r10d
    syscall
    xor edi, edi
out:
    mov eax, 60
    syscall
handler:
    ret
restorer:
    mov eax, 15
    syscall
section .data
sa: dq handler, 0x04000000, restorer, 0
cmsg: db "child", 10
pmsg: db "parent", 10
sleep20: dq 0, 20000000
sleep200: dq 0, 200000000
sleep10s: dq 10, 0
"""


def test_pause_returns_eintr_after_the_handler():
    run = check(PAUSE, 4 + 16)
    assert any(isinstance(e, SyscallBlocked) and e.name == "pause" for e in run.events)


def test_sigsuspend_waits_with_its_mask_and_puts_the_old_one_back():
    check(SIGSUSPEND, 0)


def test_rt_sigsuspend_and_the_old_sigsuspend_i386():
    check(SIGSUSPEND_I386, 0, bits=32)


def test_rt_sigtimedwait_takes_the_signal_without_its_handler():
    check(SIGTIMEDWAIT, 0)


def test_nanosleep_lets_other_tasks_run_and_reports_the_time_left():
    run = check(SLEEPERS, 0)
    assert run.stdout == b"child\nparent\n"
    assert any(isinstance(e, SyscallBlocked) and e.name == "nanosleep" for e in run.events)

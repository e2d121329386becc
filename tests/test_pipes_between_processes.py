"""Pipes between processes block and wake as Linux's (fs/pipe.c): a read of an empty pipe
waits for a writer, a write to a full pipe waits for room (PIPE_BUF bytes or fewer all at
once), EOF once every writer is gone, EPIPE and SIGPIPE once every reader is, and a reader
alone with its own pipe's only write end is a deadlock, reported with status 2.

Each guest is assembly run in the model; where nasm and ld are installed, the same source
also runs natively and must end with the same status (Linux is the reference)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from conftest import run_guest

from kernel_model.trace.events import SyscallBlocked, SyscallReturned


def native_status(source: str, bits: int = 64) -> int | None:
    """The guest's exit status on the host kernel, or None without nasm and ld."""
    if not (shutil.which("nasm") and shutil.which("ld")):
        return None
    with tempfile.TemporaryDirectory() as d:
        s, o, x = Path(d, "g.s"), Path(d, "g.o"), Path(d, "g")
        s.write_text(source)
        subprocess.run(["nasm", f"-felf{bits}", str(s), "-o", str(o)], check=True)
        subprocess.run(["ld", *([] if bits == 64 else ["-m", "elf_i386"]), str(o), "-o",
                        str(x)], check=True)
        return subprocess.run([str(x)], capture_output=True, timeout=30).returncode


def check(source: str, status: int, bits: int = 64, name: str = "guest.s"):
    run = run_guest(name, source=source, bits=bits, clock="virtual")
    assert run.status == status
    native = native_status(source, bits)
    assert native in (None, status)  # the host agrees where it can be asked
    return run


# The parent reads its pipe before the child has written: the read waits, gets "hello\n",
# and a second read returns 0 once the child (the last writer) has exited: 6 + 0.
READ_WAITS = r"""
bits 64
section .bss
fds: resd 2
buf: resb 64
section .text
global _start
_start:
    mov eax, 22          ; pipe(fds)
    lea rdi, [rel fds]
    syscall
    mov eax, 57          ; fork
    syscall
    test eax, eax
    jnz parent
    mov eax, 3           ; child: close(read end)
    mov edi, [rel fds]
    syscall
    mov eax, 1           ; write(w, "hello\n", 6)
    mov edi, [rel fds+4]
    lea rsi, [rel msg]
    mov edx, 6
    syscall
    mov eax, 60
    xor edi, edi
    syscall
parent:
    mov eax, 3           ; close(write end)
    mov edi, [rel fds+4]
    syscall
    xor eax, eax         ; read(r, buf, 64): blocks until the child writes
    mov edi, [rel fds]
    lea rsi, [rel buf]
    mov edx, 64
    syscall
    mov r12, rax
    mov eax, 1
    mov edi, 1
    lea rsi, [rel buf]
    mov rdx, r12
    syscall
    xor eax, eax         ; read again: 0 at EOF
    mov edi, [rel fds]
    lea rsi, [rel buf]
    mov edx, 64
    syscall
    lea edi, [r12 + rax]
    mov eax, 60
    syscall
section .data
msg: db "hello", 10
"""

# A process reading its own pipe, whose only write end it holds: nobody can ever write.
LONE_READER = r"""
bits 64
section .bss
fds: resd 2
buf: resb 64
section .text
global _start
_start:
    mov eax, 22
    lea rdi, [rel fds]
    syscall
    xor eax, eax
    mov edi, [rel fds]
    lea rsi, [rel buf]
    mov edx, 64
    syscall
    mov edi, 3
    mov eax, 60
    syscall
"""

ATOMIC = r"""
bits 64
; PIPE_BUF atomicity: the parent fills its pipe to 100 bytes short of full, then writes
; 200 bytes: that write must wait whole. The child waits until FIONREAD shows the first
; write, and 5 ms later it still shows 65436 (nothing of the 200 went in); then it drains
; everything and exits with total/1000.
section .bss
fds: resd 2
n: resd 1
buf: resb 70000
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
    mov eax, 3
    mov edi, [rel fds+4]
    syscall
wait_fill:
    mov eax, 35              ; nanosleep(1 ms)
    lea rdi, [rel ts]
    xor esi, esi
    syscall
    mov eax, 16              ; ioctl(r, FIONREAD, &n): until the first write is in
    mov edi, [rel fds]
    mov esi, 0x541B
    lea rdx, [rel n]
    syscall
    cmp dword [rel n], 65436
    jl wait_fill
    mov eax, 35              ; 5 ms more: the parent is in its 200-byte write
    lea rdi, [rel ts5]
    xor esi, esi
    syscall
    mov eax, 16
    mov edi, [rel fds]
    mov esi, 0x541B
    lea rdx, [rel n]
    syscall
    cmp dword [rel n], 65436
    jne bad
    xor r12d, r12d
.drain:
    xor eax, eax
    mov edi, [rel fds]
    lea rsi, [rel buf]
    mov edx, 70000
    syscall
    test rax, rax
    jle .done
    add r12, rax
    jmp .drain
.done:
    mov rax, r12
    xor edx, edx
    mov ecx, 1000
    div ecx
    mov edi, eax             ; 65636 bytes: 65
    mov eax, 60
    syscall
bad:
    mov eax, 60
    mov edi, 1
    syscall
parent:
    mov r13d, eax
    mov eax, 3
    mov edi, [rel fds]
    syscall
    mov eax, 1               ; write(w, buf, 65436)
    mov edi, [rel fds+4]
    lea rsi, [rel buf]
    mov edx, 65436
    syscall
    mov eax, 1               ; write(w, buf, 200): waits for room for all 200
    mov edi, [rel fds+4]
    lea rsi, [rel buf]
    mov edx, 200
    syscall
    mov r12, rax
    mov eax, 3
    mov edi, [rel fds+4]
    syscall
    mov eax, 61              ; wait4(child, &n, 0, 0)
    mov edi, r13d
    lea rsi, [rel n]
    xor edx, edx
    xor r10d, r10d
    syscall
    mov eax, [rel n]
    shr eax, 8
    cmp r12, 200
    je .ok
    mov eax, 99
.ok:
    mov edi, eax
    mov eax, 60
    syscall
section .data
ts: dq 0, 1000000
ts5: dq 0, 5000000
"""

BIG_WRITE = r"""
bits 64
; One write of 100000 bytes to a child that reads 4096 at a time: the write returns only
; when all of it is in (100000); the child exits with the total it read / 1000 (100).
section .bss
fds: resd 2
st: resd 1
buf: resb 100000
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
    mov eax, 3
    mov edi, [rel fds+4]
    syscall
    xor r12d, r12d
drain:
    xor eax, eax
    mov edi, [rel fds]
    lea rsi, [rel buf]
    mov edx, 4096
    syscall
    test rax, rax
    jle done
    add r12, rax
    jmp drain
done:
    mov rax, r12
    xor edx, edx
    mov ecx, 1000
    div ecx
    mov edi, eax
    mov eax, 60
    syscall
parent:
    mov r13d, eax
    mov eax, 3
    mov edi, [rel fds]
    syscall
    mov eax, 1
    mov edi, [rel fds+4]
    lea rsi, [rel buf]
    mov edx, 100000
    syscall
    mov r12, rax
    mov eax, 3
    mov edi, [rel fds+4]
    syscall
    mov eax, 61
    mov edi, r13d
    lea rsi, [rel st]
    xor edx, edx
    xor r10d, r10d
    syscall
    mov edi, [rel st]
    shr edi, 8
    cmp r12, 100000
    je out
    mov edi, 99
out:
    mov eax, 60
    syscall
"""

EPIPE_WAKES = r"""
bits 64
; The child writes 70000 bytes: 65536 go in and it waits for room. The parent, never
; reading, closes the read end: the child's write wakes, returns what it wrote, and SIGPIPE
; kills the child. The parent exits with the signal that killed it (13).
section .bss
fds: resd 2
st: resd 1
buf: resb 70000
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
    mov eax, 3
    mov edi, [rel fds]
    syscall
    mov eax, 1
    mov edi, [rel fds+4]
    lea rsi, [rel buf]
    mov edx, 70000
    syscall
    mov eax, 60              ; not reached: SIGPIPE
    mov edi, 50
    syscall
parent:
    mov r13d, eax
    mov eax, 3
    mov edi, [rel fds+4]
    syscall
    mov eax, 35              ; nanosleep(1 ms): the child fills the pipe and waits
    lea rdi, [rel ts]
    xor esi, esi
    syscall
    mov eax, 3
    mov edi, [rel fds]
    syscall
    mov eax, 61
    mov edi, r13d
    lea rsi, [rel st]
    xor edx, edx
    xor r10d, r10d
    syscall
    mov edi, [rel st]
    and edi, 0x7f
    mov eax, 60
    syscall
section .data
ts: dq 0, 1000000
"""

INTERRUPTED = r"""
bits 64
; A read of an empty pipe, interrupted by SIGUSR1: without SA_RESTART it fails with EINTR
; after the handler ran (exit 4 + 16); with SA_RESTART (the flags patched) it goes on and
; gets the byte the child writes after 50 ms (exit (255 + 16) & 0xff).
; The child sends SIGUSR1 every millisecond until the parent says, through a second pipe,
; that its read has returned (a signal that lands before the read only runs the handler).
section .bss
data: resd 2
back: resd 2
got: resd 1
buf: resb 8
st: resd 1
section .text
global _start
_start:
    mov eax, 13              ; rt_sigaction(SIGUSR1, &sa, NULL, 8)
    mov edi, 10
    lea rsi, [rel sa]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 22
    lea rdi, [rel data]
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
    xor r14d, r14d
again:
    mov eax, 62              ; kill(ppid, SIGUSR1)
    mov edi, r12d
    mov esi, 10
    syscall
    mov eax, 35
    lea rdi, [rel ts]
    xor esi, esi
    syscall
    inc r14d
    cmp r14d, 50
    jne check
    mov eax, 1               ; after 50 ms: the byte the read waits for
    mov edi, [rel data+4]
    lea rsi, [rel sa]
    mov edx, 1
    syscall
check:
    xor eax, eax             ; read(back, buf, 1): has the parent's read returned?
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
    xor eax, eax
    mov edi, [rel data]
    lea rsi, [rel buf]
    mov edx, 8
    syscall
    neg eax                  ; EINTR: 4; one byte read: -1 -> 255
    movzx r12d, al
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
sa: dq handler
flags: dq 0x04000000
    dq restorer, 0
ts: dq 0, 1000000
"""

PARTIAL_WRITE = r"""
bits 64
; The child writes 70000 bytes: 65536 go in, then it waits for room. Its parent sends it
; SIGUSR1 once the pipe is full (a handler, no SA_RESTART): the write returns what it
; wrote (65536), not EINTR. The child exits with that count / 1024 (64), plus 1 if its
; handler ran.
section .bss
fds: resd 2
st: resd 1
got: resd 1
buf: resb 70000
section .text
global _start
_start:
    mov eax, 13
    mov edi, 10
    lea rsi, [rel sa]
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 22
    lea rdi, [rel fds]
    syscall
    mov eax, 57
    syscall
    test eax, eax
    jnz parent
    mov eax, 1
    mov edi, [rel fds+4]
    lea rsi, [rel buf]
    mov edx, 70000
    syscall
    shr eax, 10
    lea edi, [eax + 0]
    add edi, [rel got]
    mov eax, 60
    syscall
parent:
    mov r13d, eax
full:
    mov eax, 35
    lea rdi, [rel ts]
    xor esi, esi
    syscall
    mov eax, 16              ; ioctl(r, FIONREAD, &st): until the pipe is full
    mov edi, [rel fds]
    mov esi, 0x541B
    lea rdx, [rel st]
    syscall
    cmp dword [rel st], 65536
    jne full
    mov eax, 62
    mov edi, r13d
    mov esi, 10
    syscall
    mov eax, 61
    mov edi, r13d
    lea rsi, [rel st]
    xor edx, edx
    xor r10d, r10d
    syscall
    mov edi, [rel st]
    shr edi, 8
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
ts: dq 0, 1000000
"""

READ_WAITS_I386 = r"""
bits 32
; i386 (int 0x80): the parent's read waits for its child's write, then reads EOF.
section .bss
fds: resd 2
buf: resb 64
section .text
global _start
_start:
    mov eax, 42          ; pipe(fds)
    mov ebx, fds
    int 0x80
    mov eax, 2           ; fork
    int 0x80
    test eax, eax
    jnz parent
    mov eax, 6
    mov ebx, [fds]
    int 0x80
    mov eax, 4           ; write(w, "hello\n", 6)
    mov ebx, [fds+4]
    mov ecx, msg
    mov edx, 6
    int 0x80
    mov eax, 1
    xor ebx, ebx
    int 0x80
parent:
    mov eax, 6
    mov ebx, [fds+4]
    int 0x80
    mov eax, 3
    mov ebx, [fds]
    mov ecx, buf
    mov edx, 64
    int 0x80
    mov esi, eax
    mov eax, 4
    mov ebx, 1
    mov ecx, buf
    mov edx, esi
    int 0x80
    mov eax, 3
    mov ebx, [fds]
    mov ecx, buf
    mov edx, 64
    int 0x80
    lea ebx, [esi + eax]
    mov eax, 1
    int 0x80
section .data
msg: db "hello", 10
"""

NONBLOCKING = r"""
bits 64
; pipe2(O_NONBLOCK): a read of the empty pipe fails with EAGAIN at once (exit 11).
section .bss
fds: resd 2
buf: resb 8
section .text
global _start
_start:
    mov eax, 293
    lea rdi, [rel fds]
    mov esi, 0x800
    syscall
    xor eax, eax
    mov edi, [rel fds]
    lea rsi, [rel buf]
    mov edx, 8
    syscall
    neg eax
    mov edi, eax
    mov eax, 60
    syscall
"""


def test_a_read_waits_for_the_writer_then_sees_end_of_file():
    run = check(READ_WAITS, 6)
    assert run.stdout == b"hello\n"
    blocked = [e for e in run.events if isinstance(e, SyscallBlocked)]
    assert any(e.name == "read" and "pipe" in e.what for e in blocked)
    resumed = [e for e in run.events if isinstance(e, SyscallReturned) and e.resumed_from]
    assert any(e.name == "read" and e.ret == 6 for e in resumed)


def test_a_read_waits_for_the_writer_i386():
    run = check(READ_WAITS_I386, 6, bits=32)
    assert run.stdout == b"hello\n"


def test_a_reader_alone_with_its_own_write_end_is_a_deadlock():
    run = run_guest("lone.s", source=LONE_READER, clock="virtual")
    assert run.status == 2
    text = run.system.deadlock
    assert text.startswith("deadlock: every task is blocked")
    assert "waits in read" in text and "pipe:[" in text


def test_a_nonblocking_read_of_an_empty_pipe_is_eagain():
    check(NONBLOCKING, 11)


def test_a_write_of_at_most_pipe_buf_bytes_waits_whole():
    # The child saw 65436 bytes while the parent waited (none of its 200 went in early),
    # then read all 65636: exit 65; the parent's write returned 200.
    check(ATOMIC, 65)


def test_a_long_blocking_write_returns_when_all_is_written():
    check(BIG_WRITE, 100)


def test_the_last_readers_close_wakes_a_waiting_writer_with_sigpipe():
    run = check(EPIPE_WAKES, 13)
    partial = [e for e in run.events if isinstance(e, SyscallReturned) and e.name == "write"
               and e.resumed_from]
    assert [e.ret for e in partial] == [65536]  # what it wrote before the reader left


def test_a_signal_ends_a_waiting_read_with_eintr():
    check(INTERRUPTED, 4 + 16)  # EINTR, after the handler ran


def test_a_signal_with_sa_restart_lets_the_read_go_on():
    source = INTERRUPTED.replace("flags: dq 0x04000000", "flags: dq 0x14000000")
    check(source, (255 + 16) & 0xFF, name="restart.s")  # one byte read; the handler ran


def test_a_signal_ends_a_long_write_with_what_it_wrote():
    check(PARTIAL_WRITE, 64 + 1)  # 65536 bytes, not EINTR; the handler ran

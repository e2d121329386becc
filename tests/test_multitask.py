"""Many tasks on one modelled CPU: fork and wait, exit statuses, the task limit, the memory
cap across processes, deadlocks, and a schedule that is the same on every run."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, run_guest

from kernel_model.trace.events import (
    ProcessExited,
    ProcessForked,
    RunStopped,
    SyscallBlocked,
    SyscallReturned,
    TaskSwitched,
)

GUESTS = ROOT / "tests" / "guests" / "procs" / "bin"

FORK_WAIT = """
bits 64
section .bss
status: resd 1
section .text
_start:
    mov eax, 57                     ; fork()
    syscall
    test eax, eax
    jnz parent
    mov eax, 60                     ; the child: exit(7)
    mov edi, 7
    syscall
parent:
    mov edi, eax                    ; wait4(pid, &status, 0, NULL)
    mov eax, 61
    lea rsi, [rel status]
    xor edx, edx
    xor r10d, r10d
    syscall
    mov eax, [rel status]
    shr eax, 8                      ; WEXITSTATUS
    mov edi, eax
    mov eax, 60
    syscall
"""

FORK_WAIT_I386 = """
bits 32
section .bss
status: resd 1
section .text
_start:
    mov eax, 2                      ; fork()
    int 0x80
    test eax, eax
    jnz parent
    mov eax, 1                      ; the child: exit(9)
    mov ebx, 9
    int 0x80
parent:
    mov ebx, eax                    ; waitpid(pid, &status, 0)
    mov eax, 7
    mov ecx, status
    xor edx, edx
    int 0x80
    mov ebx, [status]
    shr ebx, 8
    mov eax, 1
    int 0x80
"""

# The parent forks until fork fails, then exits with the errno; each child waits forever on
# a futex nobody wakes.
FORK_UNTIL_REFUSED = """
bits 64
section .bss
word: resd 1
section .text
_start:
    mov eax, 57
    syscall
    test rax, rax
    jz child
    jns _start
    neg rax
    mov edi, eax
    mov eax, 231                    ; exit_group(errno)
    syscall
child:
    mov eax, 202                    ; futex(&word, FUTEX_WAIT, 0, NULL)
    lea rdi, [rel word]
    xor esi, esi
    xor edx, edx
    xor r10d, r10d
    syscall
"""

DEADLOCK = """
bits 64
section .bss
word: resd 1
section .text
_start:
    mov eax, 202                    ; futex(&word, FUTEX_WAIT, 0, NULL): nobody wakes it
    lea rdi, [rel word]
    xor esi, esi
    xor edx, edx
    xor r10d, r10d
    syscall
    mov eax, 60
    xor edi, edi
    syscall
"""

# mmap 24 MiB, touch every page, then fork: the copy needs 24 MiB more.
BIG_FORK = """
bits 64
section .text
_start:
    mov eax, 9                      ; mmap(NULL, 24 MiB, RW, PRIVATE|ANONYMOUS, -1, 0)
    xor edi, edi
    mov esi, 24 << 20
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov rcx, 24 << 8
touch:
    mov byte [rax], 1
    add rax, 4096
    loop touch
    mov eax, 57
    syscall
    test rax, rax
    jns done                        ; the child, or the parent after a fork that worked
    neg rax                         ; the parent: exit with fork's errno
    mov edi, eax
    jmp out
done:
    xor edi, edi
out:
    mov eax, 231
    syscall
"""


def test_fork_and_wait4_report_the_childs_exit_status():
    run = run_guest("fork_wait.s", source=FORK_WAIT)
    assert run.status == 7
    forks = [e for e in run.events if isinstance(e, ProcessForked)]
    assert len(forks) == 1 and not forks[0].thread
    child = forks[0].pid
    exits = {e.pid: e.code for e in run.events if isinstance(e, ProcessExited)}
    assert exits == {child: 7, 4242: 7}
    # The parent waits while the child runs: `<unfinished ...>` then `<... wait4 resumed>`.
    blocked = [e for e in run.events if isinstance(e, SyscallBlocked)]
    assert [b.name for b in blocked] == ["wait4"]
    resumed = [e for e in run.events if isinstance(e, SyscallReturned) and e.resumed_from]
    assert len(resumed) == 1 and resumed[0].ret == child
    assert resumed[0].text.startswith("<... wait4 resumed>")


def test_fork_and_waitpid_through_int80():
    run = run_guest("fork_wait32.s", source=FORK_WAIT_I386, bits=32)
    assert run.status == 9


def test_fork_fails_with_eagain_at_the_task_limit():
    run = run_guest("bomb.s", source=FORK_UNTIL_REFUSED, max_tasks=10)
    assert run.status == 11  # EAGAIN
    forks = [e for e in run.events if isinstance(e, ProcessForked)]
    assert len(forks) == 9  # ten tasks with the parent


def test_a_wait_nothing_can_end_is_a_deadlock():
    run = run_guest("deadlock.s", source=DEADLOCK)
    assert run.status == 2
    stops = [e for e in run.events if isinstance(e, RunStopped)]
    assert stops and stops[-1].reason == "deadlock"
    assert "pid 4242 waits in futex" in stops[-1].text


def test_the_memory_limit_counts_every_process():
    ok = run_guest("big.s", source=BIG_FORK, memory_limit=64 << 20)
    assert ok.status == 0
    refused = run_guest("big.s", source=BIG_FORK, memory_limit=40 << 20)
    assert refused.status == 12  # ENOMEM: the copy would pass the cap


def _trace(program: Path, **options) -> list[tuple]:
    run = run_guest(program, **options)
    out = []
    for e in run.events:
        if isinstance(e, SyscallReturned):
            out.append(("call", e.text))
        elif isinstance(e, TaskSwitched):
            out.append(("switch", e.pid, e.tid, e.why))
    return [run.status, run.stdout, out]


@pytest.mark.parametrize("target", ["glibc-x86_64", "glibc-i386", "musl-x86_64"])
def test_the_schedule_is_the_same_on_every_run(target):
    program = GUESTS / f"threads_mutex.{target}"
    first = _trace(program, seed=3, timeslice=5000)
    second = _trace(program, seed=3, timeslice=5000)
    assert first[0] == 0 and first[1] == b"counter 40000\n"
    assert first == second
    assert any(item[0] == "switch" and "time slice" in item[3] for item in first[2])

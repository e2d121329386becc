"""madvise, mincore and mlock beyond what the differential guests (tests/guests/memory)
show on the host, which runs them as root under Linux 6.18: the older eras, a process
without CAP_IPC_LOCK against RLIMIT_MEMLOCK, and strace's lines for these calls."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from conftest import run_guest

from kernel_model.trace.events import SyscallReturned

# mmap 4 private anonymous pages (rbx), touch the second, then CALL, and exit with -result
# (0 on success).
SOURCE = """bits 64
_start:
    mov eax, 9
    xor edi, edi
    mov esi, 16384
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov rbx, rax
    mov byte [rbx + 4096], 1
{call}
    mov rdi, rax
    neg rdi
    mov eax, 60
    syscall
section .bss
vec: resb 8
"""


def call(nr: int, *args: str) -> str:
    regs = ("rdi", "rsi", "rdx", "r10")
    return "\n".join([f"    mov {r}, {a}" for r, a in zip(regs, args, strict=False)]
                     + [f"    mov eax, {nr}", "    syscall"])


def returned(run, name: str) -> SyscallReturned:
    return next(e for e in run.events if isinstance(e, SyscallReturned) and e.name == name)


@pytest.mark.parametrize("era,status", [("6.18", 0), ("3.2", 22)])
def test_madv_free_exists_from_4_5(era, status):
    run = run_guest("free.s", source=SOURCE.format(call=call(28, "rbx", "8192", "8")),
                    kernel=era)
    assert run.status == status


def test_mincore_line_shows_the_vector_as_strace_does():
    run = run_guest("mincore.s", source=SOURCE.format(
        call=call(27, "rbx", "16384", "vec")))
    assert run.status == 0
    assert returned(run, "mincore").text.endswith(", 16384, [0, 1, 0, 0]) = 0")


@pytest.mark.parametrize("nr,args,text", [
    (151, ("3",), "mlockall(MCL_CURRENT|MCL_FUTURE) = 0"),
    (325, ("rbx", "4096", "1"), ", 4096, MLOCK_ONFAULT) = 0"),
    (26, ("rbx", "4096", "6"), ", 4096, MS_SYNC|MS_INVALIDATE) = 0"),
])
def test_lock_and_sync_lines_are_straces(nr, args, text):
    run = run_guest("lock.s", source=SOURCE.format(call=call(nr, *args)))
    assert run.status == 0
    name = {151: "mlockall", 325: "mlock2", 26: "msync"}[nr]
    # strace pads the call to column 40 before " = ".
    assert " ".join(str(returned(run, name).text).split()).endswith(text)


def run_as(uid: int, source: str, memlock: int | None = None) -> int:
    """Run `source` with the first process's uid set (no CAP_IPC_LOCK unless 0)."""
    from emu.program import load_program
    from kernel_model.proc.creds import Credentials
    from kernel_model.system import RunOptions, System

    path = Path(tempfile.mkdtemp(prefix="syscall-lab-test-")) / "lock.s"
    path.write_text(source)
    prog = load_program(str(path), 64)
    system = System(prog.image, prog.path, [str(path)], RunOptions(seed=1),
                    symbols=prog.symbols)
    process = system.kernel.process
    process.creds = Credentials.of_user(uid, uid)
    if memlock is not None:
        process.rlimits[8] = (memlock, memlock)
    return system.run()


@pytest.mark.parametrize("uid,memlock,status", [
    (0, 4096, 0),  # root has CAP_IPC_LOCK: no limit
    (1000, None, 0),  # 16 KiB within the default 8 MiB
    (1000, 8192, 12),  # ENOMEM over the limit
    (1000, 0, 1),  # EPERM: may not lock at all
])
def test_mlock_within_rlimit_memlock(uid, memlock, status):
    assert run_as(uid, SOURCE.format(call=call(149, "rbx", "16384")), memlock) == status


CLOSED_MAPPING = """bits 64
_start:
    mov eax, 2                  ; fd = open("/tmp/f", O_RDWR|O_CREAT, 0600)
    lea rdi, [rel path]
    mov esi, 0x42
    mov edx, 0o600
    syscall
    mov r12, rax
    mov eax, 1                  ; write(fd, "hello", 5)
    mov rdi, r12
    lea rsi, [rel hello]
    mov edx, 5
    syscall
    mov eax, 9                  ; p = mmap(0, 4096, RW, MAP_SHARED, fd, 0)
    xor edi, edi
    mov esi, 4096
    mov edx, 3
    mov r10d, 1
    mov r8, r12
    xor r9d, r9d
    syscall
    mov rbx, rax
    mov eax, 3                  ; close(fd)
    mov rdi, r12
    syscall
    mov byte [rbx], 'J'
    mov eax, 11                 ; munmap(p, 4096)
    mov rdi, rbx
    mov esi, 4096
    syscall
    mov rdi, rax
    mov eax, 60
    syscall
section .data
path: db "/tmp/f", 0
hello: db "hello"
"""


def test_a_closed_files_mapping_is_not_written_back_and_says_so():
    """The model's shared file mapping holds no reference to its file: once the last fd is
    closed the file may be gone (a host descriptor reused by another file), so munmap
    writes nothing and the trace says so (README, Simplifications)."""
    run = run_guest("closed.s", source=CLOSED_MAPPING)
    assert run.status == 0
    munmap = returned(run, "munmap")
    assert munmap.ret == 0 and "not written back" in munmap.note

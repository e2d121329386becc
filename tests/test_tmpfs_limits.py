"""The in-memory /tmp holds the guest's memory cap: files are sparse (a one-byte write at
255 MB costs a page), their pages count against --memory-limit with the guest's mappings
(and against --tmpfs-limit), and a write beyond fails with ENOSPC."""

import os
import subprocess
import sys
from pathlib import Path

from conftest import run_guest

from kernel_model.files.sparse import PAGE, SparseData
from kernel_model.files.tmpfs import TmpBudget
from tui.bench_tmpfs import PEAK_KIB_SOURCE

ROOT = Path(__file__).resolve().parent.parent
MB = 1 << 20

# The issue's case: 8 files, each extended to 255 MB by a one-byte pwrite at its end; then
# real data, 1 MiB a write to a ninth file until a write fails. Exit status: that errno.
FLOOD = """bits 64
_start:
    mov r12, 8
    lea r13, [rel names]
sparse:
    mov eax, 2           ; open(name, O_RDWR|O_CREAT, 0600)
    mov rdi, r13
    mov esi, 0x42
    mov edx, 0o600
    syscall
    mov rdi, rax
    mov eax, 18          ; pwrite64(fd, "/", 1, 255 MB - 1)
    mov rsi, r13
    mov edx, 1
    mov r10, 255*1024*1024 - 1
    syscall
    cmp rax, 1
    jne fail
    add r13, 8
    dec r12
    jnz sparse
    mov eax, 9           ; a 1 MiB buffer of 'x'
    xor edi, edi
    mov esi, 0x100000
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov r14, rax
    mov rdi, rax
    mov al, 'x'
    mov ecx, 0x100000
    rep stosb
    mov eax, 2
    mov rdi, r13
    mov esi, 0x42
    mov edx, 0o600
    syscall
    mov r15, rax
fill:
    mov eax, 1           ; write(fd, buf, 1 MiB) until it fails
    mov rdi, r15
    mov rsi, r14
    mov edx, 0x100000
    syscall
    test rax, rax
    jg fill
    neg rax
    mov edi, eax
    mov eax, 60
    syscall
fail:
    mov edi, 99
    mov eax, 60
    syscall
names: db "/tmp/fa", 0, "/tmp/fb", 0, "/tmp/fc", 0, "/tmp/fd", 0, "/tmp/fe", 0
    db "/tmp/ff", 0, "/tmp/fg", 0, "/tmp/fh", 0, "/tmp/fi", 0
"""


def _written(run) -> int:
    """Bytes the fill loop wrote to the ninth file before the failure."""
    return sum(e.ret for e in run.syscalls() if e.name == "write" and e.ret > 0)


def test_sparse_files_then_enospc_at_the_memory_cap(tmp_path):
    run = run_guest("flood.s", source=FLOOD, memory_limit=16 * MB)
    assert run.status == 28  # ENOSPC
    mm = run.system.mm
    # Real data filled what the mappings left of the 16 MiB, to the page; the eight sparse
    # files cost a page each.
    assert mm.total + mm.outside <= 16 * MB
    assert 16 * MB - (mm.total + mm.outside) < PAGE
    assert mm.outside == _written(run) + 8 * PAGE
    assert 10 * MB < _written(run) < 16 * MB
    last = [e for e in run.syscalls() if e.name == "write"][-1]
    assert last.ret == -28 and "--memory-limit" in last.note


def test_tmpfs_limit_is_its_own_cap(tmp_path):
    run = run_guest("flood.s", source=FLOOD, tmpfs_limit=4 * MB)
    assert run.status == 28
    assert run.system.vfs.tmp.budget.used == 4 * MB
    assert _written(run) == 4 * MB - 8 * PAGE


def test_tmpfs_pages_leave_less_for_mmap(tmp_path):
    """The cap counts both: with /tmp full, an anonymous mmap gets ENOMEM."""
    from kernel_model.memory.mm import OutOfMemory

    run = run_guest("flood.s", source=FLOOD, memory_limit=16 * MB)
    mm = run.system.mm
    try:
        mm.map(0x10000000, 2 * PAGE, 3)
    except OutOfMemory:
        pass
    else:
        raise AssertionError("a mapping beyond the cap was made")


def test_host_memory_stays_small_for_the_issue_s_flood(tmp_path):
    """8 x 255 MB sparse files and a fill to the cap: the host process's peak RSS stays far
    below what the files' sizes would take (2 GB before sparse files). Its own peak: VmHWM,
    since getrusage's ru_maxrss keeps the forking parent's (pytest's) from before exec."""
    src = tmp_path / "flood.s"
    src.write_text(FLOOD)
    script = ("import resource, sys\n"
              "from tui import cli\n"
              f"status = cli.main(['run', '--memory-limit', '16M', {str(src)!r}])\n"
              + PEAK_KIB_SOURCE + "print(status, peak_kib())\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, env=env,
                       cwd=ROOT, timeout=120)
    status, peak_kb = r.stdout.decode().split()
    assert int(status) == 28, r.stderr.decode()
    assert int(peak_kb) < 200 * 1024


def test_holes_read_as_zeros_and_truncate_frees_pages():
    budget = TmpBudget(limit=64 * PAGE)
    d = SparseData(budget)
    assert d.write(10 * PAGE + 5, b"abc") == 3
    assert len(d) == 10 * PAGE + 8 and budget.used == PAGE
    assert d.read(10 * PAGE, 16) == bytes(5) + b"abc"
    assert d.read(0, 4) == bytes(4)
    d.truncate(10 * PAGE + 6)  # cuts "bc": growing again must read zeros there
    d.truncate(12 * PAGE)
    assert d.read(10 * PAGE + 5, 4) == b"a" + bytes(3)
    d.truncate(PAGE)
    assert budget.used == 0 and d.read(0, 2 * PAGE) == bytes(PAGE)


def test_a_write_across_the_cap_is_short():
    budget = TmpBudget(limit=2 * PAGE)
    d = SparseData(budget)
    assert d.write(0, b"y" * (3 * PAGE)) == 2 * PAGE
    assert len(d) == 2 * PAGE and budget.used == 2 * PAGE


def test_ftruncate_to_a_huge_size_is_sparse(tmp_path):
    source = """bits 64
_start:
    mov eax, 2
    lea rdi, [rel name]
    mov esi, 0x42
    mov edx, 0o600
    syscall
    mov rbx, rax
    mov eax, 77          ; ftruncate(fd, 1 TB)
    mov rdi, rbx
    mov rsi, 1 << 40
    syscall
    test rax, rax
    jnz fail
    sub rsp, 16
    mov eax, 17          ; pread64(fd, buf, 8, 1 TB - 8): a hole, zeros
    mov rdi, rbx
    mov rsi, rsp
    mov edx, 8
    mov r10, (1 << 40) - 8
    mov qword [rsp], -1
    syscall
    cmp rax, 8
    jne fail
    cmp qword [rsp], 0
    jne fail
    xor edi, edi
    mov eax, 60
    syscall
fail:
    mov edi, 1
    mov eax, 60
    syscall
name: db "/tmp/big", 0
"""
    run = run_guest("big.s", source=source, memory_limit=16 * MB)
    assert run.status == 0
    assert run.system.vfs.tmp.budget.used == 0


def test_tmpfs_limit_option(tmp_path):
    from conftest import cli

    src = tmp_path / "flood.s"
    src.write_text(FLOOD)
    r = cli("run", "-s", "--tmpfs-limit", "1M", str(src))
    assert r.returncode == 28, r.stderr.decode()
    assert "ENOSPC" in r.stderr.decode()
    r = cli("run", "--tmpfs-limit", "lots", str(src))
    assert r.returncode == 2 and "Traceback" not in r.stderr.decode()


def test_bench_reports_host_memory_against_guest_memory():
    """`syscall-lab bench`'s tmpfs case: what the flood adds to the host is about the guest's
    memory (a generous bound: 2x), never the 2 GB the files' sizes add up to."""
    from tui import bench_tmpfs

    r = bench_tmpfs.run()
    assert r["status"] == 28 and r["apparent_bytes"] > 2000 * MB
    assert r["guest_bytes"] <= bench_tmpfs.CAP
    assert r["host_added_bytes"] < 2 * r["guest_bytes"]
    text = bench_tmpfs.report(r)
    assert "guest memory 64.0 MiB" in text and "x the guest's memory" in text


def test_sysinfo_counts_tmp_s_pages_as_shared_memory():
    source = """bits 64
_start:
    sub rsp, 8192
    mov eax, 2
    lea rdi, [rel name]
    mov esi, 0x42
    mov edx, 0o600
    syscall
    mov rdi, rax
    mov eax, 1           ; write(fd, stack, 8192): two pages of /tmp
    mov rsi, rsp
    mov edx, 8192
    syscall
    mov eax, 99          ; sysinfo(stack)
    mov rdi, rsp
    syscall
    mov rax, [rsp + 48]  ; sharedram
    cmp rax, 8192
    jne fail
    xor edi, edi
    mov eax, 60
    syscall
fail:
    mov edi, 1
    mov eax, 60
    syscall
name: db "/tmp/s", 0
"""
    run = run_guest("shm.s", source=source)
    assert run.status == 0  # the guest checked sharedram itself

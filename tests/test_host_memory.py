"""Host memory stays close to the guest's touched memory: splitting a large mapping,
MADV_DONTNEED over it, overlapping ELF segments and a stack grown to its limit cost the host
little (peak RSS measured in a child process), while the guest sees exactly what Linux shows
(the data, /proc/self/maps, the stack's limit and guard gap, checked against a native run)."""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import struct
import subprocess
import sys

import pytest
from conftest import PROGRAMS, ROOT, run_guest

from emu.program import load_program
from kernel_model.debugger.session import DebugSession
from kernel_model.debugger.state import capture_memory
from kernel_model.signals import delivery as signals
from kernel_model.system import RunOptions
from kernel_model.trace.events import SignalDelivered

MIB = 1 << 20

# A child that runs the CLI as a grandchild and prints the grandchild's peak RSS (KiB): the
# only process the child ever waits for, so RUSAGE_CHILDREN is exactly its peak.
_PEAK = """
import resource, subprocess, sys
r = subprocess.run([sys.executable, "-m", "tui.cli", "run", *sys.argv[1:]],
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
sys.stderr.write(r.stderr.decode())
print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_run(*args: str) -> tuple[int, int]:
    """(exit status, peak host RSS in bytes) of `syscall-lab run ARGS`."""
    r = subprocess.run([sys.executable, "-c", _PEAK, *args], capture_output=True, text=True,
                       cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)
    assert "Traceback" not in r.stderr, r.stderr
    status, kib = r.stdout.split()
    return int(status), int(kib) * 1024


@pytest.fixture(scope="module")
def baseline() -> int:
    """The peak of a run that maps almost nothing: Python, Unicorn and the model."""
    status, peak = peak_run("hello-syscall")
    assert status == 0
    return peak


MMAP_900M = """
bits 64
_start:
    mov eax, 9                  ; mmap(NULL, 900 MiB, RW, PRIVATE|ANONYMOUS)
    xor edi, edi
    mov esi, 900 * 1024 * 1024
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov rbx, rax
    mov byte [rbx], 11          ; before the splits
    mov byte [rbx + 4096 * 30], 22
    mov byte [rbx + 4096 * 200000], 33
    lea rdi, [rbx + 4096 * 10]  ; munmap one page: the mapping is split in two
    mov esi, 4096
    mov eax, 11
    syscall
    test rax, rax
    jnz fail
    lea rdi, [rbx + 4096 * 20]  ; mprotect one page read-only: in three
    mov esi, 4096
    mov edx, 1
    mov eax, 10
    syscall
    test rax, rax
    jnz fail
    cmp byte [rbx], 11          ; every byte written before is still there
    jne fail
    cmp byte [rbx + 4096 * 30], 22
    jne fail
    cmp byte [rbx + 4096 * 200000], 33
    jne fail
    mov byte [rbx + 4096 * 200001], 44
    %s
    mov eax, 60
    xor edi, edi
    syscall
fail:
    mov eax, 60
    mov edi, 1
    syscall
"""


def test_splitting_a_900_mib_mapping_costs_the_host_little(tmp_path, baseline):
    """Linux splits the VMA and copies nothing; so does the model now (before: Unicorn
    copied the region, 1.85 GB of host memory for an untouched 900 MB mapping)."""
    src = tmp_path / "split.s"
    src.write_text(MMAP_900M % "")
    status, peak = peak_run(str(src))
    assert status == 0  # the data survived both splits
    assert peak - baseline < 150 * MIB, f"{(peak - baseline) >> 20} MiB above a bare run"


def test_after_splits_the_maps_and_faults_are_linuxs(tmp_path):
    """The guest-visible side of the splits: three VMAs and a hole, a write to the
    read-only page is SEGV_ACCERR, a touch of the hole SEGV_MAPERR."""
    for touch, code in (("mov byte [rbx + 4096 * 20], 1", signals.SEGV_ACCERR),
                        ("mov byte [rbx + 4096 * 10], 1", signals.SEGV_MAPERR)):
        run = run_guest("split.s", source=MMAP_900M % touch)
        assert run.status == 128 + signals.SIGSEGV
        fault = [e for e in run.events if isinstance(e, SignalDelivered)][-1]
        assert fault.code == code
        mm = run.system.mm
        base = next(v.end for v in mm.vmas if v.size > 800 * MIB) - 900 * MIB
        spans = [(v.start - base, v.end - base, v.perms()) for v in mm.vmas
                 if base <= v.start < base + 900 * MIB]
        assert spans == [(0, 10 * 4096, "rw-p"), (11 * 4096, 20 * 4096, "rw-p"),
                         (20 * 4096, 21 * 4096, "r--p"), (21 * 4096, 900 * MIB, "rw-p")]


MADVISE_1000M = """
bits 64
_start:
    mov eax, 9
    xor edi, edi
    mov esi, 1000 * 1024 * 1024
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov rbx, rax
    mov byte [rbx + 4096 * 5], 7
    mov rdi, rbx                ; madvise(whole, MADV_DONTNEED)
    mov esi, 1000 * 1024 * 1024
    mov edx, 4
    mov eax, 28
    syscall
    test rax, rax
    jnz fail
    movzx edi, byte [rbx + 4096 * 5]  ; a private anonymous page reads back as zero
    mov eax, 60
    syscall
fail:
    mov eax, 60
    mov edi, 99
    syscall
"""


def test_madvise_dontneed_over_1000_mib_costs_the_host_little(tmp_path, baseline):
    """Before: the model wrote 1 GB of zeros through Unicorn (1.05 GB of host memory)."""
    src = tmp_path / "madvise.s"
    src.write_text(MADVISE_1000M)
    status, peak = peak_run(str(src))
    assert status == 0  # the written byte reads back as 0
    assert peak - baseline < 150 * MIB, f"{(peak - baseline) >> 20} MiB above a bare run"


def test_overlapping_256_mib_segment_costs_the_host_little(tmp_path, baseline):
    """A PT_LOAD whose p_memsz (256 MiB) runs over the following segments: each later
    segment replaces part of it, which split (and copied) the Unicorn region (562 MB)."""
    data = bytearray((PROGRAMS / "bin" / "hello.musl-x86_64").read_bytes())
    phoff, = struct.unpack_from("<Q", data, 0x20)
    first_load = next(phoff + 56 * i for i in range(struct.unpack_from("<H", data, 0x38)[0])
                      if struct.unpack_from("<I", data, phoff + 56 * i)[0] == 1)
    struct.pack_into("<Q", data, first_load + 40, 256 * MIB)
    exe = tmp_path / "hello-big"
    exe.write_bytes(bytes(data))
    status, peak = peak_run(str(exe))
    assert status == 0
    assert peak - baseline < 100 * MIB, f"{(peak - baseline) >> 20} MiB above a bare run"


RECURSE = """
bits 64
_start:
    call f
f:  push rax
    call f
"""


def test_recursion_until_overflow_is_sigsegv_at_8_mib(tmp_path, baseline):
    """The stack grows a page per fault up to RLIMIT_STACK, then SIGSEGV (139); each page
    joins the stack's one host reservation, so Unicorn keeps a few regions, not 2,000 (each
    mapping got slower with every region: 4-6 s to reach the SIGSEGV before)."""
    run = run_guest("recurse.s", source=RECURSE)
    assert run.status == 128 + signals.SIGSEGV
    stack = next(v for v in run.system.mm.vmas if v.name == "[stack]")
    assert stack.size == 8 * MIB  # as in a native run (test_stack_limit_and_guard_gap...)
    fault = [e for e in run.events if isinstance(e, SignalDelivered)][-1]
    assert fault.code == signals.SEGV_MAPERR
    assert len(run.system.machine.regions()) < 30
    src = tmp_path / "recurse.s"
    src.write_text(RECURSE)
    status, peak = peak_run(str(src))
    assert status == 139
    assert peak - baseline < 8 * MIB + 40 * MIB, f"{(peak - baseline) >> 20} MiB above"


# A static C program: the [stack] VMA at start and at the overflow, with si_addr and si_code
# relative to it; with an argument, first a page 3 MiB below the stack (readable, or
# PROT_NONE), whose guard gap (1 MiB) stops the stack earlier.
STACKGROW_C = r"""
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
static char alt[65536];
static unsigned long prev_end;
static void stack_line(unsigned long *lo, unsigned long *hi) {
    char b[256]; FILE *f = fopen("/proc/self/maps", "r");
    while (fgets(b, sizeof b, f)) if (strstr(b, "[stack]")) sscanf(b, "%lx-%lx", lo, hi);
    fclose(f);
}
static void on_segv(int s, siginfo_t *si, void *u) {
    unsigned long lo, hi; stack_line(&lo, &hi);
    printf("size=%lu below=%ld fault=%ld code=%d\n", hi - lo,
           prev_end ? (long)(lo - prev_end) : -1L,
           (long)((unsigned long)si->si_addr - lo), si->si_code);
    fflush(stdout); _exit(0);
}
int main(int argc, char **argv) {
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt}; sigaltstack(&ss, 0);
    struct sigaction sa = {0}; sa.sa_sigaction = on_segv; sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, 0);
    unsigned long lo, hi; stack_line(&lo, &hi);
    printf("initial=%lu\n", hi - lo);
    if (argc > 1) {
        int prot = strcmp(argv[1], "none") ? PROT_READ : PROT_NONE;
        void *p = mmap((void *)(lo - (3 << 20)), 4096, prot,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (p == MAP_FAILED) return 3;
        prev_end = (unsigned long)p + 4096;
    }
    fflush(stdout);
    __asm__ volatile("1: push %rax; call 1b");
    return 1;
}
"""


@pytest.fixture(scope="module")
def stackgrow(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    d = tmp_path_factory.mktemp("stackgrow")
    (d / "stackgrow.c").write_text(STACKGROW_C)
    r = subprocess.run(["gcc", "-O1", "-static", "-o", str(d / "stackgrow"),
                        str(d / "stackgrow.c")], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"no static C build here: {r.stderr.strip()[:200]}")
    return d / "stackgrow"


def _native(exe, *args) -> str | None:
    def limit_stack():
        resource.setrlimit(resource.RLIMIT_STACK, (8 * MIB, resource.getrlimit(
            resource.RLIMIT_STACK)[1]))

    try:
        r = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=60,
                           preexec_fn=limit_stack)
    except (OSError, ValueError):
        return None
    return r.stdout if r.returncode == 0 else None


@pytest.mark.parametrize("below, expected", [
    ((), "size=8388608 below=-1 fault=-8 code=1"),  # RLIMIT_STACK
    (("read",), "size=2228224 below=1048576 fault=-8 code=1"),  # the guard gap
    (("none",), "size=3276800 below=0 fault=-8 code=2"),  # PROT_NONE has no gap
])
def test_stack_limit_and_guard_gap_are_linuxs(stackgrow, below, expected):
    """expand_downwards: the stack grows to 8 MiB (RLIMIT_STACK), or to 1 MiB
    (stack_guard_gap) above an accessible mapping, or right up to a PROT_NONE one (whose
    page then faults with SEGV_ACCERR); /proc/self/maps shows the VMA grown so far."""
    run = run_guest(stackgrow, *below)
    assert run.status == 0
    assert run.stdout.decode() == f"initial=135168\n{expected}\n"
    native = _native(stackgrow, *below)
    if native is not None:
        assert native == run.stdout.decode()  # the host kernel agrees


BIG_MAPPING_STEPS = """
bits 64
_start:
    mov eax, 9                  ; 64 MiB
    xor edi, edi
    mov esi, 64 * 1024 * 1024
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov rbx, rax
    mov byte [rbx + 4096 * 3], 5
    mov byte [rbx + 4096 * 9000], 6
    lea rdi, [rbx + 4096 * 100] ; split
    mov esi, 4096
    mov eax, 11
    syscall
    mov rdi, rbx                ; zero the first 16 pages
    mov esi, 4096 * 16
    mov edx, 4
    mov eax, 28
    syscall
    mov ecx, 600                ; grow the stack by 2.4 MB
down:
    sub rsp, 4096
    mov [rsp], rcx
    loop down
    mov eax, 39                 ; a crossing with the stack grown
    syscall
    add rsp, 4096 * 600
    mov byte [rbx + 4096 * 3], 8
    mov eax, 60
    movzx edi, byte [rbx + 4096 * 9000]
    syscall
"""


def _state(s):
    img = capture_memory(s.machine)
    h = hashlib.sha1()
    for region, pages in zip(img.regions, img.pages, strict=True):
        h.update(repr(region).encode())
        for page in pages:
            h.update(page)
    return s.regs(), h.hexdigest(), tuple(s.system.mm.vmas)


def test_history_restores_split_zeroed_and_grown_memory_exactly(tmp_path):
    """The TUI's history over host-backed memory: stepping back across a split, a
    MADV_DONTNEED and stack growth restores every byte and mapping, and going forward again
    reaches the same states."""
    path = tmp_path / "steps.s"
    path.write_text(BIG_MAPPING_STEPS)
    prog = load_program(str(path))
    s = DebugSession.create(prog, [str(path)], RunOptions(seed=1))
    pairs = []
    while s.run_to_transition().reason == "transition":
        before = _state(s)
        stop = s.next()
        if stop.reason == "exited":
            break
        pairs.append((before, _state(s)))
    assert len(pairs) == 4  # mmap, munmap, madvise, getpid
    assert s.system.process.status == 6
    s.reverse_step()  # from the exit back to just before the getpid crossing
    assert s.reverse_to_transition().reason == "transition"
    assert _state(s) == pairs[-1][0]
    s.next()
    for i in reversed(range(len(pairs))):
        before, after = pairs[i]
        assert _state(s) == after
        s.reverse_step()
        assert _state(s) == before
        if i:
            assert s.reverse_to_transition().reason == "transition"
            assert _state(s) == pairs[i - 1][0]
            s.next()
    while s.run_to_transition().reason == "transition":
        s.next()
    assert s.system.process.status == 6


def test_bench_reports_host_memory_against_guest_memory():
    """`syscall-lab bench`'s host-memory section: each case, what the guest mapped and
    touched, and what the host paid for it (a few MiB, not the mapping's size)."""
    from tui import bench_host_memory

    results = bench_host_memory.run()
    text = bench_host_memory.report(results)
    for name in ("mmap-split", "madvise", "stack"):
        assert name in text
    assert results["mmap-split"]["guest_mapped_mib"] == 900
    assert results["mmap-split"]["host_mib"] < 150
    assert results["madvise"]["host_mib"] < 150
    assert results["stack"]["host_mib"] < 8 + 40


BRK_PAGE_BY_PAGE = """
bits 64
_start:
    mov eax, 12                 ; brk(0)
    xor edi, edi
    syscall
    mov rbx, rax
    mov r12d, 3000
again:
    add rbx, 4096               ; one more page, 3,000 times (a toy allocator's sbrk)
    mov rdi, rbx
    mov eax, 12
    syscall
    cmp rax, rbx
    jne fail
    mov [rbx - 8], r12          ; the new page is there
    dec r12d
    jnz again
    mov eax, 60
    xor edi, edi
    syscall
fail:
    mov eax, 60
    mov edi, 1
    syscall
"""


def test_a_heap_grown_page_by_page_stays_a_few_regions():
    """The break moved up 3,000 times: one [heap] VMA, as Linux shows, and host memory
    reserved ahead of the break so Unicorn's regions join again (before: a region per
    brk, each making every later mapping slower: 74 s for 5,000)."""
    run = run_guest("brk.s", source=BRK_PAGE_BY_PAGE)
    assert run.status == 0
    mm = run.system.mm
    heap = [v for v in mm.vmas if v.name == "[heap]"]
    assert len(heap) == 1 and heap[0].size == 3000 * 4096
    assert mm.brk == heap[0].end
    assert len(run.system.machine.regions()) < 60


MREMAP_MOVE = """
bits 64
%define SIZE 900 * 1024 * 1024
_start:
    mov eax, 9                  ; A: one page
    xor edi, edi
    mov esi, 4096
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov eax, 9                  ; B: 900 MiB, right below A
    xor edi, edi
    mov esi, SIZE
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov rbx, rax
    mov byte [rbx], 1
    mov byte [rbx + SIZE - 1], 2
    mov rdi, rbx                ; mremap(B, 900 MiB, 950 MiB, MREMAP_MAYMOVE): A is in the way
    mov esi, SIZE
    mov edx, 950 * 1024 * 1024
    mov r10d, 1
    mov eax, 25
    syscall
    cmp rax, rbx
    je fail
    cmp rax, -4096
    ja fail
    cmp byte [rax], 1
    jne fail
    cmp byte [rax + SIZE - 1], 2
    jne fail
    cmp byte [rax + SIZE], 0
    jne fail
    mov byte [rax + 950 * 1024 * 1024 - 1], 3
    mov byte [rbx], 1           ; the old range is gone: SIGSEGV
    mov eax, 60
    xor edi, edi
    syscall
fail:
    mov eax, 60
    mov edi, 1
    syscall
"""


def test_mremap_moves_900_mib_without_copying(tmp_path, baseline):
    """mremap(MREMAP_MAYMOVE) of a 900 MiB mapping that cannot grow in place: the pages
    move (the bytes written are at the new address, the growth reads zero, the old range
    faults: 139 natively too). Before: the model copied it through Python with both
    mappings counted against the cap, and failed with ENOMEM (1.8 GB of host memory)."""
    run = run_guest("mremap.s", source=MREMAP_MOVE)
    assert run.status == 128 + signals.SIGSEGV
    fault = [e for e in run.events if isinstance(e, SignalDelivered)][-1]
    assert fault.code == signals.SEGV_MAPERR
    moved = next(v for v in run.system.mm.vmas if v.size == 950 * MIB)
    assert run.system.mm.find(fault.addr) is None and moved.start != fault.addr
    src = tmp_path / "mremap.s"
    src.write_text(MREMAP_MOVE)
    status, peak = peak_run(str(src))
    assert status == 139
    assert peak - baseline < 150 * MIB, f"{(peak - baseline) >> 20} MiB above a bare run"


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize")


def test_a_finished_guests_host_memory_is_given_back():
    """Unicorn frees only what it allocated: the host memory behind a guest goes when its
    machine does, so a grader or a test suite running guest after guest in one process
    does not keep each one's mappings (here 1000 MiB each, address space only)."""
    import gc

    for _ in range(2):
        run_guest("madvise.s", source=MADVISE_1000M)
    gc.collect()
    before = _vm_size()
    for _ in range(4):
        run_guest("madvise.s", source=MADVISE_1000M)
    gc.collect()
    assert _vm_size() - before < 1500 * MIB

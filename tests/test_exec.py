"""A process starts as Linux starts it: the stack, auxv, registers, selectors and ASLR."""

import re
import struct

from conftest import PROGRAMS, run_guest

from kernel_model import exec as binfmt

REGISTERS_ZERO = """
bits 64
section .text
_start:
    ; every general register but rsp is 0 at entry, rdx included (glibc's exit handler)
    or rax, rbx
    or rax, rcx
    or rax, rdx
    or rax, rsi
    or rax, rdi
    or rax, rbp
    or rax, r8
    or rax, r9
    or rax, r10
    or rax, r11
    or rax, r12
    or rax, r13
    or rax, r14
    or rax, r15
    jnz bad
    test rsp, 15            ; 16-byte aligned
    jnz bad
    mov ax, cs
    cmp ax, 0x33
    jne bad
    mov ax, ss
    cmp ax, 0x2b
    jne bad
    mov eax, 60
    xor edi, edi
    syscall
bad:
    mov eax, 60
    mov edi, 1
    syscall
"""

REGISTERS_ZERO_32 = """
bits 32
section .text
_start:
    or eax, ebx
    or eax, ecx
    or eax, edx
    or eax, esi
    or eax, edi
    or eax, ebp
    jnz bad
    mov ax, cs
    cmp ax, 0x23
    jne bad
    mov ax, ds
    cmp ax, 0x2b
    jne bad
    mov eax, 1
    xor ebx, ebx
    int 0x80
bad:
    mov eax, 1
    mov ebx, 1
    int 0x80
"""


def test_registers_and_selectors_at_entry_x86_64():
    assert run_guest("regs.s", source=REGISTERS_ZERO).status == 0


def test_registers_and_selectors_at_entry_i386():
    assert run_guest("regs32.s", source=REGISTERS_ZERO_32).status == 0


def read_stack(system):
    """argc, argv, envp and auxv as the guest sees them at its first instruction."""
    m = system.machine
    word = system.arch.word
    sp = system.process.auxv and m.sp
    fmt = "<Q" if word == 8 else "<I"

    def at(i):
        return struct.unpack(fmt, m.read(sp + i * word, word))[0]

    argc = at(0)
    argv = [m.read_cstring(at(1 + i)).decode() for i in range(argc)]
    assert at(1 + argc) == 0
    i = 2 + argc
    envp = []
    while at(i):
        envp.append(m.read_cstring(at(i)).decode())
        i += 1
    i += 1
    auxv = []
    while True:
        key, value = at(i), at(i + 1)
        auxv.append((key, value))
        i += 2
        if key == 0:
            return argc, argv, envp, auxv


def fresh(program, *args, seed=7):
    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    prog = load_program(str(program))
    return System(prog.image, prog.path, [str(program), *args], RunOptions(seed=seed),
                  symbols=prog.symbols)


def test_initial_stack_and_auxv_order():
    system = fresh(PROGRAMS / "bin" / "hello.glibc-x86_64", "one", "two")
    argc, argv, envp, auxv = read_stack(system)
    assert argc == 3 and argv[1:] == ["one", "two"]
    assert "HOME=/" in envp
    keys = [binfmt.AUXV_NAMES[k] for k, _ in auxv]
    assert keys == ["AT_SYSINFO_EHDR", "AT_MINSIGSTKSZ", "AT_HWCAP", "AT_PAGESZ", "AT_CLKTCK",
                    "AT_PHDR",
                    "AT_PHENT", "AT_PHNUM", "AT_BASE", "AT_FLAGS", "AT_ENTRY", "AT_UID",
                    "AT_EUID", "AT_GID", "AT_EGID", "AT_SECURE", "AT_RANDOM", "AT_HWCAP2",
                    "AT_EXECFN", "AT_PLATFORM", "AT_RSEQ_FEATURE_SIZE", "AT_RSEQ_ALIGN",
                    "AT_NULL"]
    aux = dict(auxv)
    assert aux[binfmt.AT_PAGESZ] == 4096
    assert aux[binfmt.AT_ENTRY] == system.image.entry
    assert aux[binfmt.AT_PHNUM] == system.image.phnum
    assert system.machine.read_cstring(aux[binfmt.AT_PLATFORM]) == b"x86_64"
    assert system.machine.read_cstring(aux[binfmt.AT_EXECFN]).decode() == system.process.exe_path
    assert len(system.machine.read(aux[binfmt.AT_RANDOM], 16)) == 16
    # The program headers really are at AT_PHDR: the same bytes as in the file.
    size = system.image.phentsize * system.image.phnum
    assert system.machine.read(aux[binfmt.AT_PHDR], size) == \
        system.image.raw[system.image.phoff:system.image.phoff + size]


def test_i386_platform_and_word_size():
    system = fresh(PROGRAMS / "bin" / "hello.glibc-i386")
    argc, argv, envp, auxv = read_stack(system)
    aux = dict(auxv)
    # AT_SYSINFO and AT_SYSINFO_EHDR come together, first (never one without the other).
    assert [k for k, _ in auxv[:2]] == [binfmt.AT_SYSINFO, binfmt.AT_SYSINFO_EHDR]
    assert aux[binfmt.AT_SYSINFO] == system.vdso.symbol("__kernel_vsyscall")
    assert aux[binfmt.AT_SYSINFO_EHDR] == system.vdso.base
    assert system.machine.read_cstring(aux[binfmt.AT_PLATFORM]) == b"i686"
    assert system.machine.sp < 1 << 32


def test_no_vdso_means_no_auxv_entries():
    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    for name in ("hello.glibc-i386", "hello.glibc-x86_64"):
        prog = load_program(str(PROGRAMS / "bin" / name))
        system = System(prog.image, prog.path, [name], RunOptions(seed=1, vdso=False))
        keys = {k for k, _ in read_stack(system)[3]}
        assert not keys & {binfmt.AT_SYSINFO, binfmt.AT_SYSINFO_EHDR}
        assert "[vdso]" not in system.mm.maps_text()


def stack_line(maps: bytes) -> str:
    return next(line for line in maps.decode().splitlines() if line.endswith("[stack]"))


def test_proc_self_maps_is_linux_format_and_moves_with_the_seed():
    a = run_guest(PROGRAMS / "bin" / "maps.glibc-x86_64", seed=1)
    b = run_guest(PROGRAMS / "bin" / "maps.glibc-x86_64", seed=2)
    again = run_guest(PROGRAMS / "bin" / "maps.glibc-x86_64", seed=1)
    assert a.status == b.status == 0
    lines = a.stdout.decode().splitlines()
    line_re = re.compile(r"^[0-9a-f]{8,16}-[0-9a-f]{8,16} [r-][w-][x-][ps] [0-9a-f]{8} "
                         r"[0-9a-f]{2}:[0-9a-f]{2} \d+ ( {0,70} \S.*)?$")
    for line in lines:
        assert line_re.match(line), line
    named = [ln for ln in lines if ln.rstrip().endswith(("]", "64"))]
    assert any(ln.endswith("[heap]") for ln in named)
    assert any(ln.endswith("[stack]") for ln in named)
    # The name starts at column 73, as fs/proc/task_mmu.c pads it on a 64-bit kernel.
    assert stack_line(a.stdout).index("[stack]") == 73
    assert stack_line(a.stdout) != stack_line(b.stdout)
    assert stack_line(a.stdout) == stack_line(again.stdout)


def test_memory_cap_makes_mmap_fail_with_enomem():
    src = """
bits 64
section .text
_start:
    mov eax, 9              ; mmap(NULL, 64 MiB, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS)
    xor edi, edi
    mov esi, 0x4000000
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov edi, eax
    neg edi                 ; exit with the errno: 12
    mov eax, 60
    syscall
"""
    run = run_guest("big.s", source=src, memory_limit=32 << 20)
    assert run.status == 12
    assert "memory cap" in run.syscalls()[0].note


def test_instruction_budget_counts_exactly_even_when_the_guest_crashes():
    """A block is counted before it runs: a fault inside it must take back the
    instructions that never ran (here: falling off the end into zero bytes)."""
    src = "bits 64\nsection .text\n_start:\n    nop\n    nop\n    xor eax, eax\n"
    run = run_guest("fall.s", source=src, max_insns=1000)
    assert run.status == 139
    assert run.system.counter.count == 3
    loop = "bits 64\nsection .text\n_start:\n    mov ecx, 10\nl:\n    dec ecx\n    jnz l\n" \
           "    mov eax, 60\n    xor edi, edi\n    syscall\n"
    run = run_guest("loop.s", source=loop, max_insns=1000)
    assert run.status == 0
    assert run.system.counter.count == 1 + 2 * 10 + 3

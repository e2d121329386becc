"""A process starts as Linux starts it: the stack, auxv, registers, selectors and ASLR."""

import os
import re
import struct

import pytest
from conftest import PROGRAMS, run_guest

from kernel_model.files.sysroot import LIB_DIRS
from kernel_model.proc import exec as binfmt

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
    assert system.machine.read_cstring(aux[binfmt.AT_EXECFN]).decode() == \
        "/usr/local/bin/hello.glibc-x86_64" == system.process.guest_exe
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


# -- huge argv and envp: laid out as Linux lays them out, refused where Linux refuses ----------
LAST_ARG = """; print argc, the last argument and the last environment string; exit(argc & 255)
bits 64
section .data
nl: db 10
section .bss
digits: resb 24
section .text
_start:
    mov rbx, [rsp]                  ; argc
    mov rax, rbx                    ; argc in decimal
    lea rdi, [rel digits + 23]
    mov ecx, 10
.digit:
    xor edx, edx
    div rcx
    add dl, '0'
    mov [rdi], dl
    dec rdi
    test rax, rax
    jnz .digit
    lea rsi, [rdi + 1]
    lea rdx, [rel digits + 24]
    sub rdx, rsi
    call write_line
    mov rsi, [rsp + rbx*8]          ; argv[argc - 1]
    call print
    lea r12, [rsp + rbx*8 + 16]     ; envp
    xor esi, esi
.env:
    mov rax, [r12]
    test rax, rax
    jz .env_end
    mov rsi, rax
    add r12, 8
    jmp .env
.env_end:
    test rsi, rsi
    jz .exit
    call print
.exit:
    mov eax, 60
    movzx edi, bl
    syscall
print:                              ; the string at rsi, and a newline
    xor edx, edx
.len:
    cmp byte [rsi + rdx], 0
    je write_line
    inc rdx
    jmp .len
write_line:
    mov eax, 1
    mov edi, 1
    syscall
    mov eax, 1
    mov edi, 1
    lea rsi, [rel nl]
    mov edx, 1
    syscall
    ret
"""


def _stack_mapping(run):
    return next(v for v in run.system.mm.vmas if v.name == "[stack]")


def test_twelve_thousand_arguments():
    args = [str(i) for i in range(1, 12001)]
    run = run_guest("last.s", *args, source=LAST_ARG, env=["A=1"])
    assert run.stdout == b"12001\n12000\nA=1\n"
    assert run.status == 12001 & 255


def test_two_100k_arguments_and_a_long_environment():
    big = ["a" * 100_000, "b" * 100_000]
    env = [f"V{i}={i}" for i in range(2000)] + ["LONG=" + "e" * 100_000]
    run = run_guest("last.s", *big, source=LAST_ARG, env=env)
    assert run.stdout == b"3\n" + b"b" * 100_000 + b"\nLONG=" + b"e" * 100_000 + b"\n"
    # setup_arg_pages: the strings' pages plus 128 KiB below them
    vma = _stack_mapping(run)
    strings = sum(len(s) + 1 for s in [run.system.process.exe_path, *env, "last.s", *big])
    assert vma.end - vma.start >= strings + binfmt.STACK_EXPAND


def test_a_small_argv_keeps_the_132k_stack():
    run = run_guest("last.s", "x", source=LAST_ARG, env=[])
    vma = _stack_mapping(run)
    assert vma.end - vma.start == binfmt.STACK_INITIAL


def _native_e2big(args: list[str]) -> bool | None:
    """Whether the host's execve refuses these arguments (None: it cannot be asked)."""
    import errno
    import os
    import resource
    import subprocess

    if not os.path.exists("/bin/true") or \
            resource.getrlimit(resource.RLIMIT_STACK)[0] != binfmt.STACK_LIMIT:
        return None
    try:
        subprocess.run(["/bin/true", *args], env={}, check=True)
    except OSError as e:
        assert e.errno == errno.E2BIG
        return True
    return False


@pytest.mark.parametrize("args, refused", [
    (["x" * (binfmt.MAX_ARG_STRLEN - 1)], False),       # 131071 bytes and its NUL
    (["x" * binfmt.MAX_ARG_STRLEN], True),              # one byte more
    (["y" * 120_000] * 16, False),                      # 1.9 MB in all
    (["y" * 120_000] * 20, True),                       # 2.4 MB: past a quarter of 8 MiB
    ([""] * 270_000, True),                             # 270000 pointers alone: 2.1 MB
])
def test_e2big_where_linux_refuses(args, refused):
    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    native = _native_e2big(args)
    if native is not None:
        assert native == refused  # the host kernel agrees
    prog = load_program(str(PROGRAMS / "bin" / "hello.musl-x86_64"), 64)
    if refused:
        with pytest.raises(binfmt.ArgListTooLong, match="Argument list too long"):
            System(prog.image, "hello", ["hello", *args], RunOptions(seed=1, env=[]))
    else:
        System(prog.image, "hello", ["hello", *args], RunOptions(seed=1, env=[]))


def test_e2big_is_one_line_and_status_2(tmp_path):
    """A host with a larger stack rlimit passes 2.4 MB of arguments to syscall-lab, whose
    guest has Linux's default 8 MiB: execve's E2BIG, one line, status 2."""
    import os
    import resource
    import subprocess
    import sys

    from conftest import ROOT

    def raise_rlimit():
        resource.setrlimit(resource.RLIMIT_STACK, (64 << 20, resource.RLIM_INFINITY))

    if resource.getrlimit(resource.RLIMIT_STACK)[1] not in (resource.RLIM_INFINITY,) and \
            resource.getrlimit(resource.RLIMIT_STACK)[1] < 64 << 20:
        pytest.skip("the stack rlimit cannot be raised here")
    r = subprocess.run([sys.executable, "-m", "tui.cli", "run", "hello-syscall",
                        *["y" * 120_000] * 20], capture_output=True, cwd=ROOT, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), preexec_fn=raise_rlimit)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "hello-syscall: Argument list too long (E2BIG)" in err


def test_the_stack_is_the_strings_pages_plus_128k_like_linux():
    """setup_arg_pages: the initial [stack] is 128 KiB below the pages the strings fill. The
    same rule read from a native run's /proc/self/maps (when there is one to read)."""
    import os
    import subprocess

    def expected(strings: list[str]) -> int:
        used = 8 + sum(len(os.fsencode(s)) + 1 for s in strings)  # the NULL word, the NULs
        return binfmt.STACK_EXPAND + -(-used // 4096) * 4096

    args = [str(i) for i in range(1, 12001)]
    run = run_guest(PROGRAMS / "bin" / "maps.musl-x86_64", *args, env=[])
    vma = _stack_mapping(run)
    exe = run.system.process.exe_path
    assert vma.end - vma.start == expected([exe, str(PROGRAMS / "bin" / "maps.musl-x86_64"),
                                            *args])
    stack_line = next(ln for ln in run.stdout.decode().splitlines() if ln.endswith("[stack]"))
    lo, hi = (int(x, 16) for x in stack_line.split()[0].split("-"))
    assert hi - lo == vma.end - vma.start
    if os.path.exists("/bin/cat") and os.path.exists("/proc/self/maps"):
        native = subprocess.run(["/bin/cat", "/proc/self/maps", *args], env={},
                                capture_output=True, text=True).stdout
        line = next(ln for ln in native.splitlines() if ln.endswith("[stack]"))
        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
        assert hi - lo == expected(["/bin/cat", "/bin/cat", "/proc/self/maps", *args])


def _run_as(program, argv0: str, tmp_path, **options):
    """run_guest, with argv[0] what the user typed rather than the host path."""
    from conftest import Run

    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    with open(tmp_path / "stdout", "w+b") as out:
        prog = load_program(str(program), 64)
        system = System(prog.image, prog.path, [argv0],
                        RunOptions(stdout_fd=out.fileno(), seed=1, **options))
        status = system.run()
        out.seek(0)
        return Run(status, out.read(), [], system)


def _guest_visible(system) -> bytes:
    """All the guest can read: its whole memory, and every file and link under /proc."""
    from emu.machine import MemoryFault
    from kernel_model.files.inode import Cred, FsError
    from kernel_model.files.uapi import O_RDONLY

    p = system.process
    seen = []
    for v in system.mm.vmas:
        try:
            seen.append(system.machine.read(v.start, v.end - v.start))
        except MemoryFault:  # the emulated vsyscall page: nothing behind it to read
            pass
    vfs, cred = system.vfs, Cred.of_user(p.uid, p.gid)

    def walk(path: str, depth: int) -> None:
        try:
            node = vfs.resolve(path, follow=False).existing()
            if node.is_symlink:
                seen.append(node.readlink().encode())
                return
            if node.is_dir:
                if depth < 4:
                    for e in vfs.list_dir(path, node)[2:]:
                        walk(path.rstrip("/") + "/" + e.name, depth + 1)
                return
            f = vfs.open(path, O_RDONLY, 0, base="/", cred=cred)
            try:
                seen.append(f.read(system.kernel, 1 << 20))
            finally:
                f.release()
        except (FsError, OSError):
            pass

    walk("/proc/self", 0)
    # Where the program may appear (not the host's shared library directories, whose
    # thousands of files hold no path of this run).
    walk("/usr/local", 0)
    walk("/usr/lib/syscall-lab", 0)
    return b"\n".join(seen)


@pytest.mark.parametrize("mounted", [False, True])
def test_the_host_path_of_the_program_never_reaches_the_guest(tmp_path, mounted):
    """/proc/self/exe, AT_EXECFN and /proc/self/maps show where the program is in the guest
    (its mount's guest path, or /usr/local/bin/NAME), with the model's device and inode
    numbers; the host's path and temp dirs appear nowhere in the guest's memory or /proc."""
    import shutil

    from kernel_model.system import Mount

    work = tmp_path / "student-home-secret"
    work.mkdir()
    prog = work / "maps"
    shutil.copy(PROGRAMS / "bin" / "maps.musl-x86_64", prog)
    mounts = [Mount(str(work), "/work", False)] if mounted else []
    run = _run_as(prog, "./maps", tmp_path, mounts=mounts)  # argv[0] as a shell passes it
    assert run.status == 0
    p = run.system.process
    guest = "/work/maps" if mounted else "/usr/local/bin/maps"
    assert p.guest_exe == guest
    aux = dict(p.auxv)
    assert run.system.machine.read_cstring(aux[binfmt.AT_EXECFN]).decode() == guest
    assert run.system.vfs.resolve("/proc/self/exe", follow=False).existing().readlink() \
        == guest
    first = run.stdout.decode().splitlines()[0].split()
    real = os.stat(prog)
    dev = "00:28" if mounted else "00:01"  # the first mount's 0:40, or the root's 0:1
    assert first[5] == guest and first[3] == dev and int(first[4]) not in (0, real.st_ino)
    # the program file at that path is the one /proc/self/exe reaches: the same numbers
    exe = run.system.vfs.resolve(guest).existing()
    via_proc = run.system.vfs.resolve("/proc/self/exe").existing()
    assert (exe.ino, exe.dev) == (via_proc.ino, via_proc.dev) == (int(first[4]), p.exe_dev)
    visible = _guest_visible(run.system) + run.stdout
    assert b"[stack]" in visible and guest.encode() in visible  # the walk read /proc
    for secret in (str(work), str(tmp_path), str(prog), str(PROGRAMS)):
        assert secret.encode() not in visible, secret
    assert b"student-home-secret" not in visible


def test_a_mount_that_would_hide_the_program_is_refused_in_one_line(tmp_path, capsys):
    """A mount at /usr would hide /usr/local/bin/NAME, where /proc/self/exe says the program
    is: refused in one line; a mount beside it (/usr/share) lives with it."""
    from kernel_model.system import Mount
    from tui import cli

    assert cli.main(["run", "--mount", f"{tmp_path}:/usr", "hello-syscall"]) == 2
    err = capsys.readouterr().err
    assert "--mount at /usr covers /usr/local/bin/" in err and err.count("\n") == 1, err
    run = _run_as(PROGRAMS / "bin" / "maps.musl-x86_64", "maps", tmp_path,
                  mounts=[Mount(str(tmp_path), "/usr/share", False)])
    assert run.status == 0
    vfs = run.system.vfs
    assert vfs.resolve("/usr/share").existing().dev == (0, 40)
    assert vfs.resolve("/usr/local/bin/maps.musl-x86_64").existing().size() > 0
    names = [e.name for e in vfs.list_dir("/usr", vfs.resolve("/usr").existing())]
    # lib: the bundled programs; and the host's library directories (tests/test_sysroot.py)
    host_libs = {d[len("/usr/"):] for d in LIB_DIRS
                 if d.startswith("/usr/") and os.path.lexists(d)}
    assert names[:2] == [".", ".."]
    assert sorted(names[2:]) == sorted({"local", "share", "lib", *host_libs})

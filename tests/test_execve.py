"""execve and execveat: a new program in the same process, from the guest's files (a shared
host directory, or the bundled programs at /usr/lib/syscall-lab/bin), `#!` scripts, the
errors Linux gives, and what the new image keeps and loses.

The guests are assembly; where the host can, the same guest (assembled by syscall-lab's own
assembler into a static ELF) runs natively too, in a host directory shared at the same path,
so the paths, output and exit status compare one for one."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PROGRAMS, run_guest

from emu.asm import assemble
from kernel_model.proc import exec as binfmt
from kernel_model.proc.execve import ExecFailed, parse_shebang
from kernel_model.system import Mount
from kernel_model.trace.events import ProcessStarted
from kernel_model.uapi import errnos

NATIVE = os.uname().machine == "x86_64" and os.uname().sysname == "Linux"

# Writes each argument on a line of its own, then exits with argc.
ECHO64 = """
bits 64
section .text
global _start
_start:
    mov r12, [rsp]
    lea r13, [rsp+8]
    xor r14, r14
.next:
    cmp r14, r12
    je .done
    mov rsi, [r13 + r14*8]
    xor edx, edx
.len:
    cmp byte [rsi + rdx], 0
    je .write
    inc rdx
    jmp .len
.write:
    mov byte [rsi + rdx], 10
    inc rdx
    mov eax, 1
    mov edi, 1
    syscall
    inc r14
    jmp .next
.done:
    mov edi, r12d
    mov eax, 60
    syscall
"""

# execve(PATH, ["zero", "one two"], ["X=1"]); on failure exit(errno).
EXEC64 = """
bits 64
section .text
global _start
_start:
    mov eax, 59
    lea rdi, [rel path]
    lea rsi, [rel argv]
    lea rdx, [rel envp]
    syscall
    mov edi, eax
    neg edi
    mov eax, 60
    syscall
section .data
path: db "{path}", 0
a0: db "zero", 0
a1: db "one two", 0
e0: db "X=1", 0
argv: dq a0, a1, 0
envp: dq e0, 0
"""

# The same from i386 code through int 0x80.
EXEC32_INT80 = """
bits 32
section .text
global _start
_start:
    mov eax, 11
    mov ebx, path
    mov ecx, argv
    mov edx, envp
    int 0x80
    mov ebx, eax
    neg ebx
    mov eax, 1
    int 0x80
section .data
path: db "{path}", 0
a0: db "zero", 0
a1: db "one two", 0
e0: db "X=1", 0
argv: dd a0, a1, 0
envp: dd e0, 0
"""

# And through sysenter: __kernel_vsyscall, found in the auxv (AT_SYSINFO).
EXEC32_SYSENTER = """
bits 32
section .text
global _start
_start:
    mov esi, [esp]
    lea edi, [esp + esi*4 + 8]
.env:
    mov eax, [edi]
    add edi, 4
    test eax, eax
    jnz .env
.aux:
    mov eax, [edi]
    cmp eax, 32
    je .found
    add edi, 8
    jmp .aux
.found:
    mov eax, [edi + 4]
    mov [vsys], eax
    mov eax, 11
    mov ebx, path
    mov ecx, argv
    mov edx, envp
    call [vsys]
    mov ebx, eax
    neg ebx
    mov eax, 1
    call [vsys]
section .data
vsys: dd 0
path: db "{path}", 0
a0: db "zero", 0
a1: db "one two", 0
e0: db "X=1", 0
argv: dd a0, a1, 0
envp: dd e0, 0
"""

# fork; the child execs PATH, the parent waits and exits with the child's exit code (or
# 100 + the signal that killed it).
FORK_EXEC64 = """
bits 64
section .bss
status: resd 1
section .text
global _start
_start:
    mov eax, {fork_nr}
    syscall
    test eax, eax
    jnz parent
    mov eax, 59
    lea rdi, [rel path]
    lea rsi, [rel argv]
    xor edx, edx
    syscall
    mov edi, 99
    mov eax, 60
    syscall
parent:
    mov edi, eax
    mov eax, 61
    lea rsi, [rel status]
    xor edx, edx
    xor r10d, r10d
    syscall
    mov eax, [rel status]
    mov edi, eax
    and edi, 0x7f
    jz exited
    add edi, 100
    jmp out
exited:
    shr eax, 8
    mov edi, eax
out:
    mov eax, 60
    syscall
section .data
path: db "{path}", 0
a0: db "child", 0
argv: dq a0, 0
"""


def _elf(source: str, bits: int = 64) -> bytes:
    return assemble(source, "guest.s", bits).elf


def _program(directory: Path, name: str, source: str, bits: int = 64) -> Path:
    path = directory / name
    path.write_bytes(_elf(source, bits))
    path.chmod(0o755)
    return path


def _run(tmp_path: Path, source: str, bits: int = 64, **options):
    """The guest in the model, with tmp_path shared at its own path."""
    options.setdefault("mounts", [Mount(str(tmp_path), str(tmp_path), False)])
    return run_guest("guest.s", source=source, bits=bits, **options)


def _native(tmp_path: Path, source: str, bits: int = 64):
    """(status, stdout) of the same guest run on the host, or None when it cannot."""
    if not NATIVE:
        return None
    exe = _program(tmp_path, f"native-{bits}", source, bits)
    try:
        done = subprocess.run([str(exe)], capture_output=True, timeout=10, cwd=tmp_path)
    except OSError:
        return None
    status = done.returncode if done.returncode >= 0 else 128 - done.returncode
    return status, done.stdout


def _same_as_native(tmp_path: Path, source: str, bits: int = 64):
    run = _run(tmp_path, source, bits)
    native = _native(tmp_path, source, bits)
    if native is not None:
        assert (run.status, run.stdout) == native
    return run


def _execve_lines(run):
    return [e.text for e in run.syscalls() if e.name in ("execve", "execveat")]


# -- a program from a shared directory, and a bundled one ----------------------------------
def test_exec_of_a_program_in_a_shared_directory_replaces_the_image(tmp_path):
    echo = _program(tmp_path, "echo", ECHO64)
    run = _same_as_native(tmp_path, EXEC64.format(path=echo))
    assert run.status == 2
    assert run.stdout == b"zero\none two\n"
    p = run.system.process
    assert p.argv == ["zero", "one two"] and p.envp == ["X=1"]
    assert p.guest_exe == str(echo) and p.exec_done
    assert p.pid == 4242 and run.system.kernel.machine is p.machine
    execfn = dict(p.auxv)[binfmt.AT_EXECFN]
    assert p.machine.read_cstring(execfn, 4096) == os.fsencode(echo)
    (line,) = _execve_lines(run)
    assert line.startswith(f'execve("{echo}", ["zero", "one two"], 0x')
    assert line.split(") ")[0].endswith("/* 1 var */")
    assert line.rstrip().endswith("= 0")
    # The program the run started with is still the file at /usr/local/bin/NAME.
    started_file = run.system.vfs.resolve("/usr/local/bin/guest.s").existing()
    assert started_file.size() == len(run.system.image.raw) != len(p.exe_bytes)
    started = [e for e in run.events if isinstance(e, ProcessStarted)]
    assert [s.argv for s in started][-1] == ("zero", "one two")


def test_a_bundled_program_is_found_under_usr_lib_syscall_lab_bin(tmp_path):
    run = _run(tmp_path, EXEC64.format(path="/usr/lib/syscall-lab/bin/hello.glibc-x86_64"))
    assert (run.status, run.stdout) == (0, b"Hello, world!\n")
    readlink = [e.text for e in run.syscalls() if e.name == "readlink"]
    assert readlink and '"/usr/lib/syscall-lab/bin/hello.g"...' in readlink[0]
    vfs = run.system.vfs
    names = {e.name for e in vfs.list_dir("/usr/lib/syscall-lab/bin",
                                          vfs.resolve("/usr/lib/syscall-lab/bin").existing())}
    assert {p.name for p in (PROGRAMS / "bin").iterdir()} <= names


def test_the_new_image_has_a_fresh_stack_vdso_and_random_bytes(tmp_path):
    echo = _program(tmp_path, "echo", ECHO64)
    run = _run(tmp_path, EXEC64.format(path=echo), vdso=True)
    p = run.system.process
    names = [v.name for v in p.mm.vmas]
    assert names.count("[stack]") == 1 and names.count("[vdso]") == 1
    assert "[vsyscall]" in names
    aux = dict(p.auxv)
    first = run.system.loader.root_vdso
    assert aux[binfmt.AT_SYSINFO_EHDR] == run.system.loader.vdso_for(p.machine).base
    assert aux[binfmt.AT_SYSINFO_EHDR] != first.base  # placed again, at random
    before, after = [dict(e.auxv) for e in run.events if isinstance(e, ProcessStarted)]
    starts = [e.sp for e in run.events if isinstance(e, ProcessStarted)]
    assert starts[0] != starts[1]  # a new stack, at a new random top
    assert before[binfmt.AT_RANDOM] != after[binfmt.AT_RANDOM]
    assert after == aux
    assert any(p.machine.read(aux[binfmt.AT_RANDOM], 16))  # new bytes were written there
    # The data page is the first process's timekeeper's: the same time data, elsewhere.
    mine = p.machine.read(aux[binfmt.AT_SYSINFO_EHDR] - (first.base - first.vvar), 64)
    assert mine[4:8] == b"\x01\x00\x00\x00"  # clock_mode TSC: the page was written


# -- #! scripts ---------------------------------------------------------------------------
def test_a_script_runs_its_interpreter_with_one_optional_argument(tmp_path):
    echo = _program(tmp_path, "echo", ECHO64)
    script = tmp_path / "s.sh"
    script.write_text(f"#!  {echo}  -x  y \t\nignored\n")
    script.chmod(0o755)
    run = _same_as_native(tmp_path, EXEC64.format(path=script))
    assert run.stdout == f"{echo}\n-x  y\n{script}\none two\n".encode()
    assert run.status == 4
    p = run.system.process
    assert p.guest_exe == str(echo)  # /proc/self/exe: the interpreter
    execfn = dict(p.auxv)[binfmt.AT_EXECFN]
    assert p.machine.read_cstring(execfn, 4096) == os.fsencode(script)


def test_a_script_without_an_argument_and_a_script_of_a_script(tmp_path):
    echo = _program(tmp_path, "echo", ECHO64)
    inner = tmp_path / "inner"
    inner.write_text(f"#!{echo}\n")
    inner.chmod(0o755)
    outer = tmp_path / "outer"
    outer.write_text(f"#!{inner} arg\n")
    outer.chmod(0o755)
    run = _same_as_native(tmp_path, EXEC64.format(path=outer))
    assert run.stdout == f"{echo}\n{inner}\narg\n{outer}\none two\n".encode()


def test_shebang_parsing_follows_binfmt_script():
    assert parse_shebang(b"#!/bin/sh\n") == (b"/bin/sh", None)
    assert parse_shebang(b"#! /bin/sh -e -x \n") == (b"/bin/sh", b"-e -x")
    assert parse_shebang(b"#!/bin/sh\t-e\n") == (b"/bin/sh", b"-e")
    assert parse_shebang(b"#!/bin/sh") == (b"/bin/sh", None)  # no newline, short file
    with pytest.raises(ExecFailed) as e:
        parse_shebang(b"#!   \n")
    assert e.value.errno == errnos.ENOEXEC
    with pytest.raises(ExecFailed):  # the name runs past the 256 bytes read
        parse_shebang(b"#!/" + b"a" * 300)
    long_arg = parse_shebang(b"#!/bin/sh " + b"b" * 300)
    assert long_arg[0] == b"/bin/sh" and len(long_arg[1]) == 256 - 1 - len(b"#!/bin/sh ")


def test_too_many_levels_of_interpreters_is_eloop(tmp_path):
    echo = _program(tmp_path, "echo", ECHO64)
    prev = echo
    for i in range(6):
        s = tmp_path / f"s{i}"
        s.write_text(f"#!{prev}\n")
        s.chmod(0o755)
        prev = s
    run = _same_as_native(tmp_path, EXEC64.format(path=prev))
    assert run.status == errnos.ELOOP
    ok = _same_as_native(tmp_path, EXEC64.format(path=tmp_path / "s4"))
    assert ok.status == 7  # five scripts deep still runs: echo, s0...s4, "one two"


# -- errors -------------------------------------------------------------------------------
def _errno_case(tmp_path, path) -> int:
    return _same_as_native(tmp_path, EXEC64.format(path=path)).status


def test_errors_as_linux(tmp_path):
    (tmp_path / "data").write_text("not a program\n")
    (tmp_path / "data").chmod(0o755)
    (tmp_path / "noexec").write_bytes(_elf(ECHO64))
    (tmp_path / "noexec").chmod(0o644)
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "empty").chmod(0o755)
    arm = bytearray(_elf(ECHO64))
    arm[18:20] = (40).to_bytes(2, "little")  # e_machine EM_ARM
    (tmp_path / "arm").write_bytes(bytes(arm))
    (tmp_path / "arm").chmod(0o755)
    (tmp_path / "badinterp").write_text(f"#!{tmp_path}/missing\n")
    (tmp_path / "badinterp").chmod(0o755)
    assert _errno_case(tmp_path, tmp_path / "missing") == errnos.ENOENT
    assert _errno_case(tmp_path, tmp_path) == errnos.EACCES  # a directory
    assert _errno_case(tmp_path, tmp_path / "noexec") == errnos.EACCES
    assert _errno_case(tmp_path, tmp_path / "data") == errnos.ENOEXEC
    assert _errno_case(tmp_path, tmp_path / "empty") == errnos.ENOEXEC
    assert _errno_case(tmp_path, tmp_path / "arm") == errnos.ENOEXEC
    assert _errno_case(tmp_path, tmp_path / "badinterp") == errnos.ENOENT
    assert _errno_case(tmp_path, f"{tmp_path}/data/x") == errnos.ENOTDIR
    assert _errno_case(tmp_path, "/dev/null") == errnos.EACCES  # not a regular file


def test_a_failed_execve_returns_to_the_caller_with_its_image_intact(tmp_path):
    run = _run(tmp_path, EXEC64.format(path=tmp_path / "missing"))
    assert run.status == errnos.ENOENT
    (line,) = _execve_lines(run)
    assert line.endswith("= -1 ENOENT (No such file or directory)")
    assert run.system.process.exec_done is False


def test_bad_pointers_are_efault(tmp_path):
    echo = _program(tmp_path, "echo", ECHO64)
    bad_argv = EXEC64.format(path=echo).replace("lea rsi, [rel argv]", "mov esi, 1")
    assert _same_as_native(tmp_path, bad_argv).status == errnos.EFAULT
    bad_env_string = EXEC64.format(path=echo).replace("envp: dq e0, 0", "envp: dq 8, 0")
    assert _same_as_native(tmp_path, bad_env_string).status == errnos.EFAULT
    bad_path = EXEC64.format(path=echo).replace("lea rdi, [rel path]", "mov edi, 8")
    assert _same_as_native(tmp_path, bad_path).status == errnos.EFAULT


def test_an_argument_longer_than_max_arg_strlen_is_e2big(tmp_path):
    echo = _program(tmp_path, "echo", ECHO64)
    source = EXEC64.format(path=echo).replace(
        'a1: db "one two", 0', f"a1: times {binfmt.MAX_ARG_STRLEN} db 'a'\n    db 0")
    run = _same_as_native(tmp_path, source)
    assert run.status == errnos.E2BIG
    fits = EXEC64.format(path=echo).replace(
        'a1: db "one two", 0', f"a1: times {binfmt.MAX_ARG_STRLEN - 1} db 'a'\n    db 0")
    assert _same_as_native(tmp_path, fits).status == 2


def test_a_dynamically_linked_program_runs_through_its_loader(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("no gcc to build a dynamic program")
    (tmp_path / "d.c").write_text("int main(void) { return 7; }\n")
    subprocess.run(["gcc", "-o", tmp_path / "dyn", tmp_path / "d.c"], check=True)
    run = _run(tmp_path, EXEC64.format(path=tmp_path / "dyn"))
    assert run.status == 7
    # After the execve, the loader opens libc through the guest's tree.
    opened = [e for e in run.syscalls() if e.name == "openat"]
    assert any("libc.so.6" in str(e) for e in opened), opened


def test_a_missing_interpreter_is_enoent_before_the_point_of_no_return(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("no gcc to build a dynamic program")
    (tmp_path / "d.c").write_text("int main(void) { return 7; }\n")
    subprocess.run(["gcc", "-Wl,--dynamic-linker=/nonexistent/ld.so", "-o", tmp_path / "dyn",
                    tmp_path / "d.c"], check=True)
    run = _run(tmp_path, EXEC64.format(path=tmp_path / "dyn"))
    # The caller gets -ENOENT back and goes on to exit with it (EXEC64's exit(-rax)).
    assert run.status == errnos.ENOENT
    (ret,) = [e for e in run.syscalls() if e.name == "execve"]
    assert "/nonexistent/ld.so" in ret.note


def test_execveat_with_a_dirfd_and_with_an_empty_path(tmp_path):
    echo = _program(tmp_path, "echo", ECHO64)
    source = f"""
bits 64
section .text
global _start
_start:
    mov eax, 2              ; open(dir, O_RDONLY|O_DIRECTORY)
    lea rdi, [rel dir]
    mov esi, 0x10000
    syscall
    mov edi, eax
    mov eax, 322            ; execveat(dirfd, "echo", argv, envp, 0)
    lea rsi, [rel name]
    lea rdx, [rel argv]
    xor r10d, r10d
    xor r8d, r8d
    syscall
    mov edi, eax
    neg edi
    mov eax, 60
    syscall
section .data
dir: db "{tmp_path}", 0
name: db "echo", 0
a0: db "via-dirfd", 0
argv: dq a0, 0
"""
    run = _same_as_native(tmp_path, source)
    assert (run.status, run.stdout) == (1, b"via-dirfd\n")
    (line,) = _execve_lines(run)
    assert line.startswith('execveat(3, "echo", ["via-dirfd"], NULL, 0)')
    empty = source.replace(f'dir: db "{tmp_path}", 0', f'dir: db "{echo}", 0').replace(
        "mov esi, 0x10000", "xor esi, esi").replace("xor r8d, r8d", "mov r8d, 0x1000").replace(
        'name: db "echo", 0', 'name: db 0')
    run = _same_as_native(tmp_path, empty)
    assert (run.status, run.stdout) == (1, b"via-dirfd\n")
    assert dict(run.system.process.auxv)[binfmt.AT_EXECFN]
    execfn = dict(run.system.process.auxv)[binfmt.AT_EXECFN]
    assert run.system.process.machine.read_cstring(execfn, 64) == b"/dev/fd/3"


def test_a_script_from_a_close_on_exec_fd_is_enoent(tmp_path):
    """fexecve of a script opened O_CLOEXEC: its interpreter could never open /dev/fd/N."""
    echo = _program(tmp_path, "echo", ECHO64)
    script = tmp_path / "s.sh"
    script.write_text(f"#!{echo}\n")
    script.chmod(0o755)
    source = f"""
bits 64
section .text
global _start
_start:
    mov eax, 2              ; open(script, O_RDONLY|{{flags}})
    lea rdi, [rel file]
    mov esi, {{flags}}
    syscall
    mov edi, eax
    mov eax, 322            ; execveat(fd, "", argv, NULL, AT_EMPTY_PATH)
    lea rsi, [rel name]
    lea rdx, [rel argv]
    xor r10d, r10d
    mov r8d, 0x1000
    syscall
    mov edi, eax
    neg edi
    mov eax, 60
    syscall
section .data
file: db "{script}", 0
name: db 0
a0: db "s", 0
argv: dq a0, 0
"""
    assert _same_as_native(tmp_path, source.format(flags=0x80000)).status == errnos.ENOENT
    run = _same_as_native(tmp_path, source.format(flags=0))
    assert run.stdout == f"{echo}\n/dev/fd/3\n".encode()


def test_all_the_strings_together_past_a_quarter_of_the_stack_limit_is_e2big(tmp_path):
    echo = _program(tmp_path, "echo", ECHO64)
    big = binfmt.MAX_ARG_STRLEN - 1
    for count, expected in ((15, 16), (17, errnos.E2BIG)):
        source = EXEC64.format(path=echo).replace(
            'a1: db "one two", 0', f"a1: times {big} db 'a'\n    db 0").replace(
            "argv: dq a0, a1, 0", "argv: dq a0" + ", a1" * count + ", 0")
        run = _run(tmp_path, source)
        assert run.status == expected
        native = _native(tmp_path, source)
        if native is not None:
            assert native[0] == expected


# -- what the new image keeps ---------------------------------------------------------------
# Exits with: 1 if fd 3 is open, 2 if fd 4 is, 4 if SIGUSR1's handler is SIG_DFL, 8 if
# SIGUSR2 is still ignored, 16 if SIGTERM is still blocked, 32 if the pid is unchanged.
PROBE64 = """
bits 64
section .bss
act: resb 32
mask: resq 1
section .text
global _start
_start:
    xor r12d, r12d
    mov eax, 72
    mov edi, 3
    mov esi, 1          ; F_GETFD
    syscall
    test eax, eax
    js .no3
    or r12d, 1
.no3:
    mov eax, 72
    mov edi, 4
    mov esi, 1
    syscall
    test eax, eax
    js .no4
    or r12d, 2
.no4:
    mov eax, 13         ; rt_sigaction(SIGUSR1, NULL, &act, 8)
    mov edi, 10
    xor esi, esi
    lea rdx, [rel act]
    mov r10d, 8
    syscall
    cmp qword [rel act], 0
    jne .usr1
    or r12d, 4
.usr1:
    mov eax, 13
    mov edi, 12
    xor esi, esi
    lea rdx, [rel act]
    mov r10d, 8
    syscall
    cmp qword [rel act], 1
    jne .usr2
    or r12d, 8
.usr2:
    mov eax, 14         ; rt_sigprocmask(SIG_BLOCK, NULL, &mask, 8)
    xor edi, edi
    xor esi, esi
    lea rdx, [rel mask]
    mov r10d, 8
    syscall
    test qword [rel mask], 0x4000
    jz .term
    or r12d, 16
.term:
    mov eax, 39
    syscall
    cmp eax, [rel pid]
    jne .pid
    or r12d, 32
.pid:
    mov edi, r12d
    mov eax, 60
    syscall
section .data
pid: dd {pid}
"""

KEEPER64 = """
bits 64
section .bss
act: resb 32
section .text
global _start
_start:
    mov eax, 32             ; dup(1) -> 3, kept
    mov edi, 1
    syscall
    mov eax, 292            ; dup3(1, 4, O_CLOEXEC) -> 4, closed at exec
    mov edi, 1
    mov esi, 4
    mov edx, 0x80000
    syscall
    lea rax, [rel handler]
    mov [rel act], rax
    mov qword [rel act + 8], 0x04000000
    lea rax, [rel handler]
    mov [rel act + 16], rax
    mov eax, 13             ; rt_sigaction(SIGUSR1, &act, NULL, 8)
    mov edi, 10
    lea rsi, [rel act]
    xor edx, edx
    mov r10d, 8
    syscall
    mov qword [rel act], 1  ; SIG_IGN for SIGUSR2
    mov eax, 13
    mov edi, 12
    lea rsi, [rel act]
    xor edx, edx
    mov r10d, 8
    syscall
    sub rsp, 8
    mov qword [rsp], 0x4000 ; block SIGTERM
    mov eax, 14
    xor edi, edi
    mov rsi, rsp
    xor edx, edx
    mov r10d, 8
    syscall
    mov eax, 59
    lea rdi, [rel path]
    lea rsi, [rel argv]
    xor edx, edx
    syscall
    mov edi, 99
    mov eax, 60
    syscall
handler:
    ret
section .data
path: db "{path}", 0
a0: db "probe", 0
argv: dq a0, 0
"""


def test_fds_without_cloexec_ignored_signals_mask_and_pid_survive(tmp_path):
    model_probe = _program(tmp_path, "probe", PROBE64.format(pid=4242))
    run = _run(tmp_path, KEEPER64.format(path=model_probe))
    assert run.status == 1 | 4 | 8 | 16 | 32
    if NATIVE:
        native = _native(tmp_path, KEEPER64.format(path=model_probe))
        assert native is not None and native[0] == 1 | 4 | 8 | 16  # the pid differs there


# -- with fork, vfork and threads ---------------------------------------------------------------
@pytest.mark.parametrize("fork_nr", [57, 58], ids=["fork", "vfork"])
def test_exec_after_fork_and_wait4_of_the_child(tmp_path, fork_nr):
    echo = _program(tmp_path, "echo", ECHO64)
    run = _same_as_native(tmp_path, FORK_EXEC64.format(path=echo, fork_nr=fork_nr))
    assert (run.status, run.stdout) == (1, b"child\n")
    kernel = run.system.kernel
    assert run.system.process.exec_done is False  # the parent kept its image
    assert kernel.machine is run.system.process.machine


def test_exec_after_fork_of_a_bundled_c_program_and_its_status(tmp_path):
    source = FORK_EXEC64.format(path="/usr/lib/syscall-lab/bin/errno_enoent.glibc-x86_64",
                                fork_nr=57)
    run = _run(tmp_path, source)
    direct = run_guest(PROGRAMS / "bin" / "errno_enoent.glibc-x86_64")
    assert run.status == direct.status
    assert run.stdout == direct.stdout


def test_the_child_of_a_vfork_execs_and_the_parent_goes_on_on_its_own_cpu(tmp_path):
    echo = _program(tmp_path, "echo", ECHO64)
    run = _run(tmp_path, FORK_EXEC64.format(path=echo, fork_nr=58))
    lines = [e.text for e in run.events if hasattr(e, "text") and e.text]
    vfork = next(i for i, t in enumerate(lines) if t.startswith("vfork"))
    execve = next(i for i, t in enumerate(lines) if "execve(" in t)
    assert vfork < execve


# -- i386 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("source", [EXEC32_INT80, EXEC32_SYSENTER], ids=["int80", "sysenter"])
def test_i386_execve_through_both_entry_paths(tmp_path, source):
    echo = _program(tmp_path, "echo", ECHO64)
    run = _same_as_native(tmp_path, source.format(path=echo), bits=32)
    assert (run.status, run.stdout) == (2, b"zero\none two\n")
    assert run.system.process.arch == "x86_64"  # an i386 program exec'd a 64-bit one
    (line,) = _execve_lines(run)
    assert line.startswith(f'execve("{echo}", ["zero", "one two"], 0x')


@pytest.mark.parametrize("source", [EXEC32_INT80, EXEC32_SYSENTER], ids=["int80", "sysenter"])
def test_i386_execs_a_bundled_i386_program(tmp_path, source):
    run = _run(tmp_path, source.format(path="/usr/lib/syscall-lab/bin/hello.glibc-i386"),
               bits=32)
    assert (run.status, run.stdout) == (0, b"Hello, world!\n")


def test_x86_64_execs_an_i386_program_on_a_new_cpu(tmp_path):
    run = _run(tmp_path, EXEC64.format(path="/usr/lib/syscall-lab/bin/hello.glibc-i386"))
    assert (run.status, run.stdout) == (0, b"Hello, world!\n")
    p = run.system.process
    assert p.arch == "i386" and p.machine.arch.bits == 32
    mechanisms = {e.mechanism for e in run.syscalls()}
    assert "sysenter" in mechanisms  # the new image's vDSO serves __kernel_vsyscall


def test_the_same_seed_gives_the_same_run(tmp_path):
    echo = _program(tmp_path, "echo", ECHO64)
    a = _run(tmp_path, EXEC64.format(path=echo))
    b = _run(tmp_path, EXEC64.format(path=echo))
    assert a.system.process.auxv == b.system.process.auxv
    assert [e.text for e in a.syscalls()] == [e.text for e in b.syscalls()]


# A thread waits on a futex nobody wakes; THREAD_EXECS picks who calls execve.
THREADS64 = """
bits 64
section .bss
stack: resb 8192
section .text
global _start
_start:
    mov eax, 56             ; clone(CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM, stack)
    mov edi, 0x50f00
    lea rsi, [rel stack + 8192]
    xor edx, edx
    xor r10d, r10d
    xor r8d, r8d
    syscall
    test eax, eax
    {leader_jump} execs
waits:
    mov eax, 202            ; futex(&word, FUTEX_WAIT, 0, NULL): until execve ends it
    lea rdi, [rel word]
    xor esi, esi
    xor edx, edx
    xor r10d, r10d
    syscall
    jmp waits
execs:
    mov eax, 24             ; sched_yield: let the other one reach its wait first
    syscall
    mov eax, 59
    lea rdi, [rel path]
    lea rsi, [rel argv]
    xor edx, edx
    syscall
    mov edi, 99
    mov eax, 60
    syscall
section .data
word: dd 0
path: db "{path}", 0
a0: db "after-threads", 0
argv: dq a0, 0
"""


@pytest.mark.parametrize("who", ["leader", "thread"])
def test_execve_from_a_threaded_process_ends_the_other_threads(tmp_path, who):
    echo = _program(tmp_path, "echo", ECHO64)
    source = THREADS64.format(path=echo, leader_jump="jnz" if who == "leader" else "jz")
    run = _same_as_native(tmp_path, source)
    assert (run.status, run.stdout) == (1, b"after-threads\n")
    p = run.system.process
    assert [t.tid for t in p.threads] == [p.pid]  # the caller took the leader's place

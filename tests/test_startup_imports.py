"""`syscall-lab run` imports only what the run uses: what it leaves out is start-up a user
waits for at every run (issue 16). Checked as sys.modules after a real run in a fresh
process, never by timing: the screen (textual, rich), the assembler (keystone, emu.asm)
for a program that is not a source, pyelftools (the ELF headers are read with struct;
symbols only on first use), what only some syscalls need, and the handler modules of the
calls the program does not make."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# After main() returns: its status, and every module loaded, on the last line.
HOOK = (
    "import json, sys, tui.cli\n"
    "status = tui.cli.main(sys.argv[1:])\n"
    "sys.stdout.flush()\n"
    "print('\\nMODULES', json.dumps({'status': status, 'modules': sorted(sys.modules)}))\n"
)

NEVER = ("textual", "rich", "elftools")  # no run reads its ELF or draws with these
NOT_FOR_AN_ELF = ("keystone", "emu.asm", "emu.asm_encode")  # the assembler
ONLY_WHEN_READ = ("uuid",)  # /proc/sys/kernel/random/uuid's generator
# Syscall handler modules are imported at a call's first use (kernel_model.syscalls.deferred):
# the static hello makes none of these modules' calls (strace -c: brk, arch_prctl,
# set_tid_address, set_robust_list, rseq, prlimit64, readlinkat, getrandom, mprotect,
# newfstatat, write, exit_group).
UNCALLED_HANDLERS = tuple(f"kernel_model.syscalls.{m}" for m in (
    "clone", "creds", "execve", "fs.open_close", "fs.pipe", "fs.readdir", "futex", "ipc_msg",
    "ipc_mux", "ipc_sem", "ipc_shm", "poll", "signal", "socket", "socket_msg", "socketcall",
    "timekeeping", "wait"))


def modules_after(*argv: str) -> tuple[int, str, set[str]]:
    r = subprocess.run([sys.executable, "-c", HOOK, *argv], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    out, _, last = r.stdout.rpartition("\nMODULES ")
    assert last, r.stderr
    report = json.loads(last)
    return report["status"], out, set(report["modules"])


def loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


def test_static_glibc_hello_loads_neither_screen_nor_assembler_nor_pyelftools():
    status, out, modules = modules_after("run", "hello.glibc-x86_64")
    assert status == 0 and out.startswith("Hello, world!\n"), out
    # platform: imported by uuid and keystone, by nothing else a run needs
    assert loaded(modules, NEVER + NOT_FOR_AN_ELF + ONLY_WHEN_READ + ("platform",)) == []
    assert loaded(modules, UNCALLED_HANDLERS) == []
    assert loaded(modules, ("hashlib", "_hashlib")) == []  # the caches' keys: _sha256
    # System V message queues and semaphores: their tables are made at first use
    assert loaded(modules, ("kernel_model.ipc.msg", "kernel_model.ipc.sem")) == []
    # ... and those of the calls it made are (the check above sees real imports)
    assert {"kernel_model.syscalls.memory", "kernel_model.syscalls.fs.read_write"} <= modules


def test_a_traced_run_imports_handler_modules_on_first_use_too():
    status, _, modules = modules_after("run", "-s", "hello.glibc-x86_64")
    assert status == 0
    assert loaded(modules, UNCALLED_HANDLERS) == []


def test_assembly_hello_loads_the_assembler_but_not_the_screen():
    status, out, modules = modules_after("run", "hello-syscall")
    assert status == 0 and out.startswith("Hello from syscall!\n"), out
    assert "keystone" in modules  # it was assembled: the check above sees real imports
    assert loaded(modules, NEVER + ONLY_WHEN_READ) == []


@pytest.mark.parametrize("argv", [["run", "-s", "hello.glibc-x86_64"],
                                  ["run", "-c", "hello.glibc-i386"]])
def test_traced_runs_read_no_symbols_either(argv):
    """strace's lines and -c's table name calls, not functions: no symbol table is read."""
    status, _, modules = modules_after(*argv)
    assert status == 0
    assert loaded(modules, NEVER + NOT_FOR_AN_ELF) == []


CAT_UUID = """bits 64
section .data
path:   db "/proc/sys/kernel/random/uuid", 0
section .bss
buf:    resb 64
section .text
global _start
_start:
    mov eax, 2              ; open(path, O_RDONLY)
    lea rdi, [rip + path]
    xor esi, esi
    syscall
    mov edi, eax            ; read(fd, buf, 64)
    xor eax, eax
    lea rsi, [rip + buf]
    mov edx, 64
    syscall
    mov edx, eax            ; write(1, buf, n)
    mov eax, 1
    mov edi, 1
    syscall
    mov eax, 60
    xor edi, edi
    syscall
"""


def test_reading_the_uuid_file_loads_its_generator(tmp_path):
    """The import left out of the start is made when it is needed: a read of random/uuid."""
    source = tmp_path / "cat_uuid.s"
    source.write_text(CAT_UUID)
    status, out, modules = modules_after("run", str(source))
    assert status == 0, out
    assert [len(part) for part in out.strip().split("-")] == [8, 4, 4, 4, 12], out
    assert "uuid" in modules

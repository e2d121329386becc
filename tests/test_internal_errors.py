"""An error of syscall-lab's own inside a syscall handler is never passed off as the guest's
fault: the run ends with one line naming the syscall and status 2 (`--debug`: the
traceback too)."""

from __future__ import annotations

import pytest
from unicorn import UC_ERR_MAP, UcError

from emu.arch import X86_64
from emu.machine import PROT_EXEC, PROT_READ, Machine
from kernel_model.syscalls import memory
from tui.cli import main

MMAP = """bits 64
_start:
    mov eax, 9
    xor edi, edi
    mov esi, 4096
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov eax, 60
    xor edi, edi
    syscall
"""


@pytest.fixture
def broken_mmap(monkeypatch, tmp_path):
    def fail(*_args):
        raise UcError(UC_ERR_MAP)

    monkeypatch.setattr(memory, "_do_mmap", fail)
    prog = tmp_path / "mmap.s"
    prog.write_text(MMAP)
    return str(prog)


def test_a_handlers_unicorn_error_is_one_line_naming_the_syscall(broken_mmap, capfd):
    status = main(["run", broken_mmap])
    err = capfd.readouterr().err
    assert status == 2, err  # not 139: the guest did nothing wrong
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "internal error" in lines[0] and "mmap" in lines[0] and "UcError" in lines[0]
    assert "Traceback" not in err


def test_debug_prints_the_traceback(broken_mmap, capfd):
    status = main(["run", "--debug", broken_mmap])
    err = capfd.readouterr().err
    assert status == 2
    assert "Traceback" in err and "UC_ERR_MAP" in err
    assert err.splitlines()[-1].startswith("syscall-lab: internal error")


def test_machine_run_does_not_turn_a_hooks_error_into_a_stop():
    """A hook whose own call into Unicorn fails raises out of Machine.run; only the CPU's
    own errors become a Stop("error") (which the system turns into the guest's signal)."""
    m = Machine(X86_64)
    m.map(0x10000, 0x1000, PROT_READ | PROT_EXEC)
    m.write(0x10000, b"\xcd\x03")  # int3

    def hook(uc, intno, _user_data):
        uc.mem_map(0x10000, 0x1000)  # already mapped: UC_ERR_MAP

    m.hook_interrupt(hook)
    with pytest.raises(UcError):
        m.run(0x10000, count=1)
    m2 = Machine(X86_64)
    assert m2.run(0x20000, count=1).kind == "error"  # an unmapped fetch stays a Stop


@pytest.mark.parametrize("mode,errno", [("xonly", 14), ("none", 14), ("emulate", 2)])
def test_a_path_in_the_vsyscall_page_is_read_as_linux_reads_it(mode, errno):
    """Found by the random-guest fuzz test (an internal error in the stat handler): in xonly
    mode the page cannot be read, so a path there is EFAULT; in emulate mode the page is
    readable and starts `mov $96, %rax`, whose zero bytes end a short path: ENOENT."""
    from tests.conftest import run_guest

    source = """bits 64
_start:
    mov eax, 4              ; stat(0xffffffffff600000, buf)
    mov rdi, 0xffffffffff600000
    lea rsi, [rel buf]
    syscall
    mov rdi, rax
    neg rdi
    mov eax, 60
    syscall
section .bss
buf: resb 256
"""
    run = run_guest("vstat.s", source=source, vsyscall=mode)
    assert run.status == errno


# The same mmap2 through every other way into the kernel: int 0x80 from 64-bit code, and
# int 0x80 and a bare sysenter from i386 code (mmap2 goes through the same _do_mmap).
MMAP2_INT80_64 = """bits 64
_start:
    mov eax, 192
    xor ebx, ebx
    mov ecx, 4096
    mov edx, 3
    mov esi, 0x22
    mov edi, -1
    xor ebp, ebp
    int 0x80
    mov eax, 60
    xor edi, edi
    syscall
"""
MMAP2_I386 = """bits 32
_start:
    mov eax, 192
    xor ebx, ebx
    mov ecx, 4096
    mov edx, 3
    mov esi, 0x22
    mov edi, -1
    push 0
    mov ebp, esp
    {entry}
    mov eax, 1
    xor ebx, ebx
    int 0x80
"""


@pytest.mark.parametrize("name,source,bits", [
    ("int80_64.s", MMAP2_INT80_64, 64),
    ("int80_32.s", MMAP2_I386.format(entry="int 0x80"), 32),
    ("sysenter_32.s", MMAP2_I386.format(entry="sysenter"), 32),
])
@pytest.mark.parametrize("traced", [False, True])
def test_every_entry_path_ends_with_the_one_line(broken_mmap, tmp_path, capfd, name, source,
                                                 bits, traced):
    prog = tmp_path / name
    prog.write_text(source)
    status = main(["run", *(["-s"] if traced else []), str(prog)])
    err = capfd.readouterr().err
    assert status == 2, err
    last = err.splitlines()[-1]
    assert last.startswith("syscall-lab: internal error: the mmap2 handler raised UcError"), err
    assert "Traceback" not in err


def test_the_stepping_engine_names_the_syscall_and_keeps_the_session(broken_mmap):
    """The TUI's engine: stepping into the broken syscall raises KernelModelError naming it
    (the app shows its message in one line), and the session can still be viewed."""
    from emu.program import load_program
    from kernel_model.debugger.session import DebugSession
    from kernel_model.kernel import KernelModelError
    from kernel_model.system import RunOptions

    s = DebugSession.create(load_program(broken_mmap), [broken_mmap], RunOptions(seed=1))
    with pytest.raises(KernelModelError, match="the mmap handler raised UcError"):
        for _ in range(20):
            s.cont()
    assert s.view() is not None

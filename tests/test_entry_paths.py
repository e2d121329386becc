"""Each entry path, end to end: the right table, the CPU's own register effects, the result
where Linux puts it."""

import pytest
from conftest import PROGRAMS, run_guest

from kernel_model.trace.events import RegChange, StackPush, SyscallEntered, SyscallReturned


def entered(run):
    return [e for e in run.events if isinstance(e, SyscallEntered)]


def test_syscall_hello_and_its_register_effects():
    run = run_guest(PROGRAMS / "asm" / "hello_syscall.s")
    assert run.status == 0
    assert run.stdout == b"Hello from syscall!\n"
    write = entered(run)[0]
    assert (write.mechanism, write.abi, write.table, write.nr, write.name) == (
        "syscall", "x86_64", "sys_call_table", 1, "write")
    assert write.entry == "entry_SYSCALL_64"
    rcx = next(c for c in write.cpu_effects if isinstance(c, RegChange) and c.name == "rcx")
    r11 = next(c for c in write.cpu_effects if isinstance(c, RegChange) and c.name == "r11")
    assert rcx.new == write.pc + 2  # the instruction after `syscall`
    assert r11.new == write.regs["eflags"]
    ret = run.syscalls()[0]
    assert ret.ret == 20 and ret.return_pc == write.pc + 2
    assert [e.name for e in run.syscalls()] == ["write", "exit"]


def test_int80_hello_uses_the_i386_table():
    run = run_guest(PROGRAMS / "asm" / "hello_int80.s")
    assert run.status == 0
    assert run.stdout == b"Hello from int 0x80!\n"
    write = entered(run)[0]
    assert (write.mechanism, write.abi, write.table, write.nr, write.name) == (
        "int 0x80", "i386", "ia32_sys_call_table", 4, "write")
    pushed = [p.name for p in write.cpu_effects if isinstance(p, StackPush)]
    assert pushed == ["ss", "esp", "eflags", "cs", "eip"]


def test_int80_from_64_bit_code_truncates_pointers():
    run = run_guest(PROGRAMS / "asm" / "int80_from_64.s")
    assert run.stdout == b"int 0x80 from 64-bit code, low buffer: works\n"
    first, second = [e for e in run.syscalls() if e.name == "write"]
    assert (first.abi, first.nr, first.ret) == ("i386", 4, 45)
    assert second.ret == -14  # EFAULT: the stack address lost its high 32 bits
    assert second.args[1] < 1 << 32
    assert run.status == 14


SYSCALL_CLOBBERS = """
bits 64
section .text
_start:
    mov rcx, 0x1111
    mov r11, 0x2222
    mov rbx, 0x3333
    pushfq
    pop r12                 ; rflags before
    mov eax, 39             ; getpid
    syscall
after:
    lea r13, [rip + after]
    cmp rcx, r13            ; rcx = the address after `syscall`
    jne bad
    cmp r11, r12            ; r11 = rflags
    jne bad
    cmp rbx, 0x3333         ; everything else preserved
    jne bad
    cmp eax, 4242           ; syscall-lab's stable pid
    jne bad
    mov eax, 60
    xor edi, edi
    syscall
bad:
    mov eax, 60
    mov edi, 1
    syscall
"""


def test_syscall_clobbers_rcx_r11_and_nothing_else():
    assert run_guest("clobbers.s", source=SYSCALL_CLOBBERS).status == 0


INT80_PRESERVES = """
bits 32
section .text
_start:
    mov ebx, 0              ; unused by getpid
    mov ecx, 0x1111
    mov edx, 0x2222
    mov esi, 0x3333
    mov edi, 0x4444
    mov ebp, 0x5555
    mov eax, 20             ; getpid in the i386 table
    int 0x80
    cmp ecx, 0x1111
    jne bad
    cmp edx, 0x2222
    jne bad
    cmp esi, 0x3333
    jne bad
    cmp edi, 0x4444
    jne bad
    cmp ebp, 0x5555
    jne bad
    cmp eax, 4242
    jne bad
    mov eax, 1
    xor ebx, ebx
    int 0x80
bad:
    mov eax, 1
    mov ebx, 1
    int 0x80
"""


def test_int80_preserves_every_register_but_eax():
    assert run_guest("preserve.s", source=INT80_PRESERVES).status == 0


# A hand-written __kernel_vsyscall (Intel's, docs/kernel_facts.md §1) inside the program:
# the test tells the kernel model where its landing pad is, as the vDSO mapping will.
SYSENTER_STUB = """
bits 32
section .data
msg: db "via sysenter", 10
section .text
_start:
    mov eax, 4              ; write
    mov ebx, 1
    mov ecx, msg
    mov edx, 13
    mov ebp, 0x77           ; must survive: __kernel_vsyscall saves it, the kernel restores
    call kernel_vsyscall
    cmp eax, 13
    jne bad
    cmp ebp, 0x77
    jne bad
    mov eax, 1
    xor ebx, ebx
    call kernel_vsyscall
bad:
    mov eax, 1
    mov ebx, 3
    int 0x80
kernel_vsyscall:
    push ecx
    push edx
    push ebp
    mov ebp, esp
    sysenter
    int 0x80
landing_pad:
    pop ebp
    pop edx
    pop ecx
    ret
"""


def run_with_landing_pad(tmp_path, source: str, traced: bool = True):
    """Run i386 `source`, whose label landing_pad is where the kernel returns a sysenter
    (as the vDSO mapping would say): (status, stdout, events, the program)."""
    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    src = tmp_path / "sysenter.s"
    src.write_text(source)
    out = tmp_path / "out"
    prog = load_program(str(src))
    with open(out, "w+b") as f:
        system = System(prog.image, prog.path, ["sysenter"], RunOptions(seed=3,
                        stdout_fd=f.fileno()), symbols=prog.symbols)
        system.kernel.sysenter_landing_pad = prog.assembled.labels["landing_pad"]
        events: list = []
        if traced:
            system.kernel.attach(events.append)
        status = system.run()
    return status, out.read_bytes(), events, prog


def test_sysenter_returns_to_the_landing_pad(tmp_path):
    status, output, events, prog = run_with_landing_pad(tmp_path, SYSENTER_STUB)
    assert status == 0
    assert output == b"via sysenter\n"
    calls = [e for e in events if isinstance(e, SyscallReturned)]
    assert [(c.mechanism, c.name) for c in calls] == [("sysenter", "write"),
                                                     ("sysenter", "exit")]
    assert calls[0].return_pc == prog.assembled.labels["landing_pad"]


def test_unknown_and_unimplemented_numbers_give_enosys():
    src = """
bits 64
section .text
_start:
    mov eax, 500            ; no such entry in the table
    syscall
    mov rbx, rax
    mov eax, 169            ; reboot: real, but not modelled
    syscall
    cmp rbx, -38
    jne bad
    cmp rax, -38
    jne bad
    mov eax, 60
    xor edi, edi
    syscall
bad:
    mov eax, 60
    mov edi, 1
    syscall
"""
    run = run_guest("enosys.s", source=src)
    assert run.status == 0
    unknown, reboot = run.syscalls()[:2]
    assert unknown.name is None and unknown.ret == -38 and "no such syscall" in unknown.note
    assert reboot.name == "reboot" and "not implemented" in reboot.note


# A raw `sysenter` with ebp not pointing at a stack: Linux reads the sixth argument from
# [ebp] before any syscall work (__do_fast_syscall_32), fails, and returns -EFAULT to the
# landing pad with esp = ebp = 0, where `pop ebp` faults: the write never happens.
SYSENTER_BAD_EBP = """
bits 32
section .data
msg: db "never", 10
section .text
_start:
    mov eax, 4              ; write(1, msg, 6)
    mov ebx, 1
    mov ecx, msg
    mov edx, 6
    xor ebp, ebp
    sysenter
    int 0x80
landing_pad:
    pop ebp
    mov eax, 1
    xor ebx, ebx
    int 0x80
"""


@pytest.mark.parametrize("traced", [True, False], ids=["traced", "untraced"])
def test_sysenter_with_no_stack_at_ebp_fails_before_the_call(tmp_path, traced):
    status, output, events, _ = run_with_landing_pad(tmp_path, SYSENTER_BAD_EBP, traced)
    assert output == b""
    assert status == 128 + 11  # SIGSEGV at the landing pad's pop
    if traced:
        assert not [e for e in events if isinstance(e, SyscallEntered) and e.name == "write"]
        assert any("-EFAULT, no system call made" in getattr(e, "text", "") for e in events)

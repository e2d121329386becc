"""What the store fast path (emu/tlb.py, and Machine.run retrying a fault with the fault hook)
must leave as it was: a page's protection holds even after another kind of access to it, a
fault the kernel resolves (stack growth) lets the program go on, and an instruction budget
stays exact across the retried instruction.

The runs here have no event listener: a listener brings the vDSO's call watch (code hooks),
under which runs keep the fault hook throughout and never take the fast path."""

from __future__ import annotations

from pathlib import Path

from emu.program import load_program
from kernel_model.system import RunOptions, System

# A SIGSEGV handler that exits with si_code, plus 10 when si_addr is `ro` (the checks are
# the guest's own: the run has no listener to report the signal).
HANDLER = """
    sub rsp, 32
    lea rax, [rel on_segv]
    mov [rsp], rax           ; sa_handler
    mov qword [rsp + 8], 0x04000004  ; sa_flags: SA_SIGINFO | SA_RESTORER (x86-64
    mov [rsp + 16], rax      ; delivers only with a restorer; this handler never returns)
    mov qword [rsp + 24], 0  ; sa_mask
    mov eax, 13              ; rt_sigaction(SIGSEGV, &act, NULL, 8)
    mov edi, 11
    mov rsi, rsp
    xor edx, edx
    mov r10d, 8
    syscall
    add rsp, 32
"""


def _guest(body: str) -> str:
    return f"""bits 64
section .rodata
ro: dq 7
section .text
global _start
_start:
{HANDLER}
{body}
    mov eax, 60
    xor edi, edi
    syscall
on_segv:
    mov edi, [rsi + 8]       ; si_code
    lea rax, [rel ro]
    cmp rax, [rsi + 16]      ; si_addr
    jne .out
    add edi, 10
.out:
    mov eax, 60
    syscall
"""


def _run(tmp_path: Path, source: str, **options) -> tuple[int, System]:
    path = tmp_path / "guest.s"
    path.write_text(source)
    prog = load_program(str(path))
    system = System(prog.image, prog.path, [str(path)], RunOptions(seed=1, **options),
                    symbols=prog.symbols)
    return system.run(), system


def test_read_only_data_refuses_a_write_after_a_read(tmp_path):
    """The read's TLB entry must not let the write through (the fill grants read and write;
    the mapping's own protection decides)."""
    status, _ = _run(tmp_path, _guest("""
    mov rax, [rel ro]
    mov [rel ro], rax"""))
    assert status == 10 + 2  # at `ro`, SEGV_ACCERR


def test_code_written_to_the_stack_does_not_run(tmp_path):
    """The stack is not executable: writing it first must not make it so."""
    status, _ = _run(tmp_path, _guest("""
    sub rsp, 64
    mov byte [rsp], 0xc3     ; ret
    call rsp"""))
    assert status == 2  # SEGV_ACCERR, at the stack


STACK_GROWTH = _guest("""
    mov rcx, 64
    mov rbx, rsp
grow:
    sub rbx, 4096
    mov [rbx], rcx           ; each page below the stack: a fault the kernel resolves
    dec rcx
    jnz grow""")


def test_stack_growth_faults_let_the_program_go_on(tmp_path):
    status, _ = _run(tmp_path, STACK_GROWTH)
    assert status == 0


def test_instruction_budget_is_exact_across_stack_growth_faults(tmp_path):
    status, system = _run(tmp_path, STACK_GROWTH, max_insns=10_000)
    assert status == 0
    assert system.counter is not None
    # the handler's set-up (13), the loop (2 + 4 per page), the exit (3)
    assert system.counter.count == 13 + 2 + 4 * 64 + 3

"""What the store fast path (emu/tlb.py, Machine.run's retried faults) must leave as it was:
a page's protection holds even after another kind of access to it, a fault the kernel
resolves (stack growth) lets the program go on, and an instruction budget stays exact across
the retried instruction."""

from __future__ import annotations

from conftest import run_guest

from emu.program import load_program
from kernel_model.signals.delivery import SEGV_ACCERR, SIGSEGV
from kernel_model.trace.events import SignalDelivered


def _guest(body: str) -> str:
    return f"""bits 64
section .rodata
ro: dq 7
section .text
global _start
_start:
{body}
    mov eax, 60
    xor edi, edi
    syscall
"""


def _segv(run) -> SignalDelivered:
    (sig,) = [e for e in run.events if isinstance(e, SignalDelivered)]
    assert sig.signo == SIGSEGV
    return sig


def test_read_only_data_refuses_a_write_after_a_read(tmp_path):
    """The read's TLB entry must not let the write through (the fill grants read/write; the
    mapping's own protection decides)."""
    path = tmp_path / "ro.s"
    path.write_text(_guest("""
    mov rax, [rel ro]
    mov [rel ro], rax"""))
    run = run_guest(path)
    assert run.status == 128 + SIGSEGV
    sig = _segv(run)
    assert sig.code == SEGV_ACCERR
    symbols = load_program(str(path)).symbols  # address -> name
    assert symbols[sig.addr] == "ro"


def test_code_written_to_the_stack_does_not_run():
    """The stack is not executable: writing it first must not make it so."""
    run = run_guest("nx.s", source=_guest("""
    sub rsp, 64
    mov byte [rsp], 0xc3     ; ret
    call rsp"""))
    assert run.status == 128 + SIGSEGV
    assert _segv(run).code == SEGV_ACCERR


STACK_GROWTH = _guest("""
    mov rcx, 64
    mov rbx, rsp
grow:
    sub rbx, 4096
    mov [rbx], rcx           ; each page below the stack: a fault the kernel resolves
    dec rcx
    jnz grow""")


def test_stack_growth_faults_let_the_program_go_on():
    run = run_guest("grow.s", source=STACK_GROWTH)
    assert run.status == 0


def test_instruction_budget_is_exact_across_stack_growth_faults():
    run = run_guest("grow.s", source=STACK_GROWTH, max_insns=10_000)
    assert run.status == 0
    assert run.system.counter.count == 2 + 4 * 64 + 3

"""What user mode may not do, and what Linux does when it tries: the kernel model's GDT page
is out of the guest's reach, and instructions Unicorn runs or refuses differently from a real
CPU under Linux end the way they end natively (the same source is also assembled with NASM
and run on the host when it can)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import cli, run_guest

from kernel_model.trace.events import KernelNote, RunStopped, SignalDelivered

GDT64, GDT32 = 0x7FFFFFFFF000, 0xFFFFE000


def guest64(body: str) -> str:
    return f"""bits 64
section .text
global _start
_start:
{body}
    mov eax, 60
    mov edi, 0
    syscall
"""


def guest32(body: str) -> str:
    return f"""bits 32
section .text
global _start
_start:
{body}
    mov eax, 1
    mov ebx, 0
    int 0x80
"""


def native_status(source: str, bits: int) -> int | None:
    """The shell's $? for the same source assembled by NASM and run on this host (None when
    the host cannot: no nasm/ld, not x86-64 Linux)."""
    if not (shutil.which("nasm") and shutil.which("ld")) or os.uname().machine != "x86_64":
        return None
    d = Path(tempfile.mkdtemp(prefix="syscall-lab-native-"))
    (d / "t.s").write_text(source)
    fmt, emul = ("elf64", "elf_x86_64") if bits == 64 else ("elf32", "elf_i386")
    try:
        subprocess.run(["nasm", "-f", fmt, "-o", d / "t.o", d / "t.s"], check=True,
                       capture_output=True)
        subprocess.run(["ld", "-m", emul, "-o", d / "t", d / "t.o"], check=True,
                       capture_output=True)
    except (subprocess.CalledProcessError, OSError):
        return None
    rc = subprocess.run([d / "t"], capture_output=True, timeout=10).returncode
    return 128 - rc if rc < 0 else rc


def signal_of(run) -> SignalDelivered:
    (sig,) = [e for e in run.events if isinstance(e, SignalDelivered)]
    return sig


# -- the GDT page ------------------------------------------------------------------------

def test_guest_cannot_read_the_gdt_page():
    source = guest64(f"""    mov rdi, {GDT64:#x}
    mov rax, [rdi + 0x30]
    mov eax, 60
    mov edi, 250
    syscall""")
    run = run_guest("gdt.s", source=source)
    assert run.status == 139  # was 250: the read returned the user code descriptor
    sig = signal_of(run)
    assert (sig.code_name, sig.addr) == ("SEGV_MAPERR", GDT64 + 0x30)
    assert native_status(source, 64) in (None, 139)


def test_gdt_page_stays_unreadable_after_a_handler_returns():
    """Unicorn caches a translation for the page after refusing an access: without a flush
    the second read from a SIGSEGV handler's return went through (found by the fuzz test,
    as a step back that diverged). Each of three reads must fault."""
    source = f"""bits 64
section .data
count:  dq 0
act:    dq handler, 0x04000004, restorer, 0
section .text
global _start
_start:
    mov eax, 13
    mov edi, 11
    lea rsi, [rel act]
    xor edx, edx
    mov r10d, 8
    syscall
    mov rdi, {GDT64:#x}
    mov rax, [rdi]
    mov rax, [rdi]
    mov rax, [rdi]
    mov rdi, [rel count]
    mov eax, 60
    syscall
handler:
    inc qword [rel count]
    add qword [rdx + {40 + 128}], 3     ; uc_mcontext.rip: past the 3-byte load
    ret
restorer:
    mov eax, 15
    syscall
"""
    run = run_guest("gdt3.s", source=source)
    assert run.status == 3
    assert native_status(source, 64) in (None, 3)


def test_stepping_back_over_a_gdt_fault_replays_the_fault(tmp_path):
    """The stepping engine replays user code from a saved state: the replayed read of the
    GDT page must fault again (it went through from Unicorn's stale translation, and the
    step back failed with ReplayDiverged)."""
    from emu.program import load_program
    from kernel_model.debugger.session import DebugSession
    from kernel_model.system import RunOptions

    path = tmp_path / "gdtback.s"
    path.write_text(guest64(f"""    mov rdi, {GDT64:#x}
    nop
    mov rax, [rdi]"""))
    s = DebugSession.create(load_program(str(path)), [str(path)], RunOptions(seed=1))

    def to_the_end():
        stops = [s.cont() for _ in range(3) if not s.system.process.exited]
        assert s.system.process.status == 139, stops

    to_the_end()
    for _ in range(3):
        s.reverse_step()
    assert not s.system.process.exited
    to_the_end()


def test_i386_guest_cannot_read_the_gdt_page_even_after_loading_a_segment():
    source = guest32(f"""    mov ax, 0x2b
    mov ds, ax
    mov es, ax
    mov edi, {GDT32:#x}
    mov eax, [edi + 0x28]
    mov eax, 1
    mov ebx, 250
    int 0x80""")
    run = run_guest("gdt32.s", source=source, bits=32)
    assert run.status == 139
    assert signal_of(run).addr == GDT32 + 0x28


# A 64-bit call gate to the kernel's code segment written into GDT entry 8, then `lcall`
# through it: Unicorn aborted the whole host process (SIGABRT) when the write got through.
CALL_GATE = guest64(f"""    mov rdi, {GDT64:#x}
    lea rax, [rel target]
    mov rbx, rax
    and rbx, 0xffff
    mov rcx, 0x10
    shl rcx, 16
    or rbx, rcx
    mov rcx, 0xEC00
    shl rcx, 32
    or rbx, rcx
    mov rcx, rax
    shr rcx, 16
    and rcx, 0xffff
    shl rcx, 48
    or rbx, rcx
    mov [rdi + 64], rbx
    shr rax, 32
    mov [rdi + 72], rax
    sub rsp, 16
    mov dword [rsp], 0
    mov word [rsp + 4], 0x43
    db 0xff, 0x1c, 0x24                 ; call far [rsp]
target:""")


def test_call_gate_written_into_the_gdt_is_a_sigsegv_not_a_host_abort(tmp_path):
    path = tmp_path / "gate.s"
    path.write_text(CALL_GATE)
    for command in (["run", "-s", str(path)], ["run", "--events", str(path)]):
        r = cli(*command)
        assert r.returncode == 139, r.stderr  # never -SIGABRT (the host process)
        err = r.stderr.decode()
        assert "SEGV_MAPERR" in err and f"si_addr={GDT64 + 64:#x}" in err
    assert native_status(CALL_GATE, 64) in (None, 139)


def test_far_call_through_a_selector_never_installed_is_a_gp():
    source = guest64("""    sub rsp, 16
    mov dword [rsp], 0
    mov word [rsp + 4], 0x43
    db 0xff, 0x1c, 0x24""")
    run = run_guest("farcall.s", source=source)
    assert run.status == 139
    sig = signal_of(run)
    assert (sig.code_name, sig.addr) == ("SI_KERNEL", 0)  # #GP on the null descriptor
    assert native_status(source, 64) in (None, 139)


def test_segment_loads_through_the_gdt_still_work():
    """The CPU's own descriptor reads get through: data and TLS segment loads, a far return
    to the user code segment."""
    source = guest64("""    mov ax, 0x2b
    mov ds, ax
    mov es, ax
    lea rax, [rel back]
    push 0x33
    push rax
    db 0x48, 0xcb                       ; retfq
back:
    mov ax, ss
    cmp ax, 0x2b
    jne bad
    mov eax, 60
    mov edi, 7
    syscall
bad:""")
    run = run_guest("segs.s", source=source)
    assert run.status == 7
    assert native_status(source, 64) in (None, 7)


# -- instructions Unicorn and Linux's CPU disagree on -----------------------------------------

@pytest.mark.parametrize("body, status, code_name", [
    ("    in al, dx", 139, "SI_KERNEL"),         # Unicorn allowed every port
    ("    out dx, al", 139, "SI_KERNEL"),
    ("    mov rdi, rsp\n    insb", 139, "SI_KERNEL"),
    ("    db 0xf1", 133, "TRAP_BRKPT"),         # icebp: #DB, was SIGILL
    ("    rdpmc", 139, "SI_KERNEL"),            # #GP with CR4.PCE clear, was SIGILL
    ("    db 0x48, 0x0f, 0x07", 139, "SI_KERNEL"),  # sysretq at CPL 3: #GP, was SIGILL
])
def test_privileged_instructions_end_as_on_linux(body, status, code_name):
    source = guest64(body)
    run = run_guest("priv.s", source=source)
    assert run.status == status
    assert signal_of(run).code_name == code_name
    assert native_status(source, 64) in (None, status)


def test_sysret_in_32_bit_code_stays_sigill():
    """Intel: sysret outside 64-bit mode is #UD, not the #GP of CPL 3 (found comparing the
    fuzz programs with native runs)."""
    source = guest32("    db 0x0f, 0x07")
    run = run_guest("sysret32.s", source=source, bits=32)
    assert run.status == 132
    if _host_cpu_vendor() == "GenuineIntel":  # the model's CPU; an AMD host raises #GP
        assert native_status(source, 32) in (None, 132)


def _host_cpu_vendor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("vendor_id"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


@pytest.mark.parametrize("vector, status", [(0, 139), (1, 139), (6, 139), (3, 133),
                                            (4, 139), (0x2E, 139)])
def test_int_n_through_a_kernel_only_gate_is_a_gp(vector, status):
    """`int 0`, `int 1`, `int 6`: Linux's gates for those vectors have DPL 0, so the
    instruction is a #GP (SIGSEGV), not the divide error, debug trap or #UD Unicorn
    reported (found comparing fuzz programs with native runs)."""
    source = guest64(f"    db 0xcd, {vector:#x}")
    run = run_guest("intn.s", source=source)
    assert run.status == status
    assert native_status(source, 64) in (None, status)


def test_divide_error_after_int0_bytes_stays_sigfpe():
    source = guest64("""    xor edx, edx
    xor ecx, ecx
    jmp div
    db 0xcd, 0x00
div:
    div ecx""")
    assert run_guest("div.s", source=source).status == 136


def test_in_stops_before_the_rest_of_its_block_runs():
    """Unicorn stops only at the end of a translated block: the exit syscall after the `in`
    must not run, and a handler sees the registers as they were at the `in`."""
    run = run_guest("in.s", source=guest64("    mov ebx, 5\n    in al, dx\n    mov ebx, 9"))
    assert run.status == 139
    assert not run.syscalls()
    assert signal_of(run).pc == run.system.machine.pc
    from unicorn import x86_const as X
    assert run.system.machine.reg(X.UC_X86_REG_RBX) == 5


def test_icebp_trap_reports_the_next_instruction():
    run = run_guest("icebp.s", source=guest64("    nop\n    db 0xf1\nafter:\n    nop"))
    sig = signal_of(run)
    after = run.system.process.symbols and next(
        a for a, n in run.system.process.symbols.items() if n == "after")
    assert sig.addr == after and sig.pc == after


def test_syscall_in_32_bit_code_is_sigill_and_the_trace_says_why():
    source = guest32("""    mov eax, 1
    mov ebx, 3
    syscall""")
    run = run_guest("sc32.s", source=source, bits=32)
    assert run.status == 132  # was 0: Unicorn skipped the instruction, exit(0) followed
    assert signal_of(run).code_name == "ILL_ILLOPN"
    notes = [e.text for e in run.events if isinstance(e, KernelNote)]
    assert any("#UD" in n and "32-bit" in n for n in notes)
    if _host_cpu_vendor() == "GenuineIntel":  # an AMD host enters the kernel with it
        assert native_status(source, 32) in (None, 132)


# -- stop signals ---------------------------------------------------------------------------

STOP_SELF = guest64("""    mov eax, 39
    syscall
    mov edi, eax
    mov esi, 19
    mov eax, 62
    syscall                             ; kill(getpid(), SIGSTOP)
    mov eax, 60
    mov edi, 3
    syscall""")


def test_sigstop_stops_the_process_and_says_how_it_would_continue():
    run = run_guest("stop.s", source=STOP_SELF)
    assert run.status == 147  # what bash's $? shows for a stopped job
    sig = signal_of(run)
    assert (sig.name, sig.action) == ("SIGSTOP", "stopped")
    assert run.system.process.killed_by is None
    (stop,) = [e for e in run.events if isinstance(e, RunStopped)]
    assert stop.text == "--- stopped by SIGSTOP ---"
    assert not any(s.name == "exit" for s in run.syscalls())  # never continued


def test_sigstop_under_the_cli(tmp_path):
    path = tmp_path / "stop.s"
    path.write_text(STOP_SELF)
    r = cli("run", "-s", str(path))
    assert r.returncode == 147
    err = r.stderr.decode()
    assert "--- stopped by SIGSTOP ---" in err
    assert "+++ killed" not in err
    assert err.strip().splitlines()[-1] == (
        "syscall-lab: stopped by SIGSTOP (the model has no job control: SIGCONT from "
        "another process would continue it)")


def test_the_shell_reports_147_for_a_stopped_job():
    """Where 147 comes from: bash with job control, a job that stops itself."""
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    r = subprocess.run(["bash", "-c", 'set -m; bash -c "kill -STOP \\$\\$"; echo "st=$?"; '
                        "kill -CONT %1; wait"], capture_output=True, text=True, timeout=10)
    assert "st=147" in r.stdout
    assert signal.SIGSTOP == 19


# sigreturn on a garbage stack loads segment registers from it inside Unicorn's trap hook;
# with the GDT page protected, a refused descriptor read there unwound through Unicorn and
# corrupted the host's memory (a later "SystemError: unknown opcode" or SIGSEGV of Python).
GARBAGE_SIGRETURN = guest32("".join(f"    push {v:#x}\n" for v in (
    0x202, 0x33, 0xB9FB8560, 0x33, 0x457263CE, 0, 0xFFFFFFFF, 0xFFFFFFFF, 0, 0x202,
    0xFFFFFFFF, 0x22E3731B, 0x40000, 0x2B, 0xFFFFFFFF, 0, 0x63613B80, 0xB5B1AD1B, 0x33,
    0x40000)) + "    mov eax, 119\n    int 0x80")


def test_sigreturn_on_a_garbage_stack_leaves_the_host_intact(tmp_path):
    path = tmp_path / "sigreturn.s"
    path.write_text(GARBAGE_SIGRETURN)
    code = f"""
import sys, random
sys.path.insert(0, {str(Path(__file__).parent)!r})
from conftest import run_guest
for _ in range(3):
    print(run_guest({str(path)!r}, bits=32).status)
for _ in range(2000):
    random.Random(5).getrandbits(64)
print("host intact")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent)),
                       timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.splitlines() == ["139", "139", "139", "host intact"]


@pytest.mark.parametrize("flags", [0, 4])  # the old frame, and SA_SIGINFO's rt frame
def test_i386_signal_frame_that_would_wrap_past_4_gib_is_a_sigsegv(flags):
    """esp near 0: the frame wraps to the top of the address space, where its retcode's
    address passes 4 GiB. Linux refuses to write it above TASK_SIZE and forces SIGSEGV; the model
    raised struct.error packing the restorer (found by tests/fuzz_guests.py)."""
    source = guest32(f"""    call next
next:
    pop eax
    add eax, handler - next
    sub esp, 32
    mov [esp], eax
    mov dword [esp + 4], {flags}
    mov dword [esp + 8], 0
    mov dword [esp + 12], 0
    mov dword [esp + 16], 0
    mov eax, 174                        ; rt_sigaction(SIGILL, act, NULL, 8)
    mov ebx, 4
    mov ecx, esp
    mov edx, 0
    mov esi, 8
    int 0x80
    mov esp, 0x100                      ; the frame wraps to just below 4 GiB
    ud2
handler:
    mov eax, 1
    mov ebx, 7
    int 0x80""")
    run = run_guest("wrap.s", source=source, bits=32)
    assert run.status == 139
    assert native_status(source, 32) in (None, 139)


AC_THEN_UNALIGNED = """bits 64
_start:
    pushfq
    or qword [rsp], 0x40000     ; EFLAGS.AC
    popfq
    mov rax, [rsp + 1]          ; unaligned: SIGBUS (BUS_ADRALN) on Linux
    mov eax, 39
    syscall
    mov eax, 39
    syscall
    mov eax, 60
    xor edi, edi
    syscall
"""


def test_alignment_checking_is_a_simplification_the_trace_admits(tmp_path):
    """Unicorn never raises #AC, so the unaligned load runs; the trace says so once, at the
    first crossing with AC set, instead of differing from Linux silently."""
    prog = tmp_path / "ac.s"
    prog.write_text(AC_THEN_UNALIGNED)
    r = cli("run", "--events", str(prog))
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 0
    assert "alignment checking" in lines[0] and "SIGBUS" in lines[0]
    assert sum("alignment checking" in line for line in lines) == 1

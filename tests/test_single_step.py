"""Single-stepping with EFLAGS.TF, as Linux delivers it: a SIGTRAP after each instruction
run with TF set, si_code TRAP_TRACE and si_addr (and the saved ip) at the next instruction,
trapno 1 (#DB); none right after a `syscall`, `int 0x80` or `sysenter` (Linux returns by
IRET, which traps one instruction later); `int3` on the way is SI_KERNEL with the ip past
it; a handler that clears TF in its ucontext stops the stepping, one that sets it starts it.

The guests (tests/guests/trap, built by its build.sh and committed) run natively and under
syscall-lab, and their outputs must be identical: Linux is the oracle."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import run_guest
from guest_harness import (
    GUESTS,
    TARGETS,
    differences,
    lab_run_args,
    run_lab,
    run_native,
    strace_native,
)

from kernel_model.trace.events import SignalDelivered

TRAP_BIN = GUESTS / "trap" / "bin"
NATIVE = os.uname().machine == "x86_64" and os.uname().sysname == "Linux"
TRAP_TRACE, SI_KERNEL = 2, 0x80
needs_native = pytest.mark.skipif(not NATIVE, reason="needs an x86-64 Linux host")


def both(binary: Path, *lab_args: str):
    native = run_native([str(binary)])
    lab = run_lab(*lab_run_args(), *lab_args, str(binary))
    return native, lab


def test_every_trap_guest_is_built():
    names = [f"single_step.{t}" for t in TARGETS] + ["step64", "step64_vsyscall", "step32",
                                                     "syscall_number"]
    missing = [n for n in names if not (TRAP_BIN / n).is_file()]
    assert not missing, f"run tests/guests/trap/build.sh: missing {missing}"


@needs_native
@pytest.mark.parametrize("target", TARGETS)
def test_c_program_steps_itself_as_on_linux(target):
    """single_step.c: six traps over its known sequence (a getpid syscall inside), each
    TRAP_TRACE at the next instruction with TF saved, then the handler clears TF."""
    native, lab = both(TRAP_BIN / f"single_step.{target}")
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)
    lines = lab.stdout.decode().splitlines()
    traps = [line for line in lines if line.startswith("trap ")]
    assert len(traps) == 6
    for line in traps:
        fields = dict(f.split("=") for f in line.split(": ", 1)[1].split())
        assert fields["si_code"] == str(TRAP_TRACE)
        assert fields["si_addr"] == fields["ip"]
        assert (fields["TF"], fields["trapno"]) == ("1", "1")
    assert "stepping ended after stop" in lines[-2]
    assert lines[-1] == "traps after clearing TF: 0"


def _records(data: bytes, word: int) -> tuple[int, list[tuple[int, ...]], int]:
    """A step guest's output: (AT_SYSINFO or 0, records, TF as pushf saw it)."""
    fmt = "<q" if word == 8 else "<i"
    head = 0 if word == 8 else struct.unpack_from(fmt, data)[0] & 0xFFFFFFFF
    body = data[(0 if word == 8 else 4):-word]
    size = 5 * word
    records = [struct.unpack_from("<5" + fmt[1], body, i) for i in range(0, len(body), size)]
    return head, records, struct.unpack_from(fmt, data, len(data) - word)[0]


def _show(value: int, sysinfo: int, word: int) -> str:
    """An address relative to __kernel_vsyscall when it is in the vDSO (whose base is
    random), else as it is (the guests are not PIE)."""
    value &= (1 << 8 * word) - 1
    if sysinfo and abs(value - sysinfo) < 0x4000:
        return f"vdso{value - sysinfo:+d}"
    return hex(value)


def _host_vsyscall_executes() -> bool:
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    return any("[vsyscall]" in line and line.split()[1] in ("--xp", "r-xp")
               for line in maps.splitlines())


@needs_native
@pytest.mark.parametrize("name, word", [("step64", 8), ("step32", 4), ("step64_vsyscall", 8)])
def test_asm_stepping_records_match_linux(name, word):
    """Every SIGTRAP's si_code, si_addr, saved ip, saved TF and trapno, in order, across a
    syscall (or an emulated vsyscall), an int3, a rep movsb, a popf that clears TF, a
    SIGUSR1 handler that sets TF and (i386) a call through __kernel_vsyscall."""
    if name.endswith("vsyscall") and not _host_vsyscall_executes():
        pytest.skip("the host has no executable vsyscall page (vsyscall=none)")
    native, lab = both(TRAP_BIN / name)
    assert lab.status == native.status
    n_info, n_recs, n_pushed = _records(native.stdout, word)
    l_info, l_recs, l_pushed = _records(lab.stdout, word)

    def readable(sysinfo, recs):
        return [(code, _show(addr, sysinfo, word), _show(ip, sysinfo, word), tf, trapno)
                for code, addr, ip, tf, trapno in recs]

    assert readable(l_info, l_recs) == readable(n_info, n_recs)
    assert l_pushed == n_pushed == 0x100  # pushf inside the stepped code sees TF
    assert lab.status == len(l_recs)
    codes = [r[0] for r in l_recs]
    assert codes.count(SI_KERNEL) == 1  # the int3
    int3 = l_recs[codes.index(SI_KERNEL)]
    assert (int3[1], int3[4]) == (0, 3)  # no address, #BP
    for code, addr, ip, _tf, trapno in l_recs:
        if code == TRAP_TRACE:
            assert (addr, trapno) == (ip, 1)
    assert [r[3] for r in l_recs].count(0) == 1  # the trap after the popf that cleared TF
    if name == "step32":
        assert l_info, "no AT_SYSINFO: the vDSO path was not stepped"
        stepped_vdso = [_show(r[2], l_info, word) for r in l_recs
                        if _show(r[2], l_info, word).startswith("vdso")]
        assert stepped_vdso[0] == "vdso+0"  # the call lands on __kernel_vsyscall


@needs_native
@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
@pytest.mark.parametrize("name", ["step64", "single_step.glibc-i386"])
def test_strace_shows_the_same_sigtrap_lines(tmp_path, name):
    binary = TRAP_BIN / name
    native_trace, lab_trace = tmp_path / "native", tmp_path / "lab"
    strace_native([str(binary)], native_trace)
    run_lab(*lab_run_args(), "-s", "-o", str(lab_trace), str(binary))

    def signals(path):  # (strace -f -o puts the pid first)
        lines = (re.sub(r"^\d+\s+", "", line) for line in path.read_text().splitlines())
        return [line for line in lines if line.startswith("--- SIGTRAP")]

    lab_lines = signals(lab_trace)
    assert lab_lines == signals(native_trace)
    assert "--- SIGTRAP {si_signo=SIGTRAP, si_code=TRAP_TRACE, si_addr=0x" in lab_lines[0]
    if name == "step64":  # the one with an int3
        assert any("si_code=SI_KERNEL" in line for line in lab_lines)


# -- no handler, or the signal blocked ------------------------------------------------------

STEP_NO_HANDLER = """bits 64
section .text
global _start
_start:
{setup}
    pushfq
    or qword [rsp], 0x100
    popfq
    nop
    mov eax, 60
    mov edi, 7
    syscall
"""
BLOCK_SIGTRAP = """    sub rsp, 8
    mov qword [rsp], 0x10           ; SIGTRAP's bit
    mov eax, 14                     ; rt_sigprocmask(SIG_BLOCK, &set, NULL, 8)
    xor edi, edi
    mov rsi, rsp
    xor edx, edx
    mov r10d, 8
    syscall
    add rsp, 8"""


def _native_status(source: str) -> int | None:
    if not (NATIVE and shutil.which("nasm") and shutil.which("ld")):
        return None
    d = Path(tempfile.mkdtemp(prefix="syscall-lab-step-"))
    (d / "t.s").write_text(source)
    subprocess.run(["nasm", "-felf64", "-o", d / "t.o", d / "t.s"], check=True)
    subprocess.run(["ld", "-o", d / "t", d / "t.o"], check=True)
    rc = subprocess.run([d / "t"], capture_output=True, timeout=10).returncode
    return 128 - rc if rc < 0 else rc


@pytest.mark.parametrize("setup", ["", BLOCK_SIGTRAP], ids=["default", "blocked"])
def test_a_step_without_a_handler_kills_with_sigtrap(setup):
    """The first trap, after the nop, ends the process (a blocked SIGTRAP too: a fault's
    signal is forced), where it used to re-trap at the same instruction forever."""
    source = STEP_NO_HANDLER.format(setup=setup)
    run = run_guest("tf.s", source=source, max_insns=100_000)
    assert run.status == 133
    (sig,) = [e for e in run.events if isinstance(e, SignalDelivered)]
    assert (sig.code_name, sig.action) == ("TRAP_TRACE", "killed")
    assert sig.addr == sig.pc  # si_addr: the instruction after the nop
    assert _native_status(source) in (None, 133)


# -- the stepping TUI ---------------------------------------------------------------------

@needs_native
def test_the_tui_steps_a_program_that_steps_itself():
    """The session's own stepping (one instruction per `s`) over a guest with TF set:
    each #DB is a fault stop (SIGTRAP, TRAP_TRACE), delivered by the next step, and the
    run ends as natively; stepping back to the start and running again ends the same."""
    from emu.program import load_program
    from kernel_model.debugger.session import DebugSession
    from kernel_model.system import RunOptions

    binary = TRAP_BIN / "step64"
    native = run_native([str(binary)])
    s = DebugSession.create(load_program(str(binary)), [str(binary)], RunOptions(seed=1))
    try:
        faults = []
        for _ in range(5000):
            stop = s.step()
            if stop.reason == "fault":
                faults.append(stop.message)
            if stop.reason == "exited":
                break
        assert s.system.process.status == native.status
        assert len(faults) == native.status  # one fault stop per SIGTRAP
        assert sum("TRAP_TRACE" in f for f in faults) == native.status - 1  # and the int3
        assert all(f.startswith("SIGTRAP") for f in faults)
        while s.reverse_step().reason != "start":
            pass
        for _ in range(100):  # `c` stops at each fault too
            stop = s.cont()
            if stop.reason == "exited":
                break
        assert stop.reason == "exited"
        assert s.system.process.status == native.status
    finally:
        s.close()


# -- int3 and icebp -------------------------------------------------------------------------

TRAPNO_CHECK = """bits 64
default rel
section .data
act:    dq handler, 0x04000004, restorer, 0
seen:   dq 0
section .text
global _start
_start:
    mov eax, 13                     ; rt_sigaction(SIGTRAP, &act, NULL, 8)
    mov edi, 5
    lea rsi, [act]
    xor edx, edx
    mov r10d, 8
    syscall
    int3
after_int3:
    db 0xf1                         ; icebp (int1)
after_icebp:
    mov rdi, [seen]                 ; 31 when both traps were as on Linux
    mov eax, 60
    syscall
handler:                            ; bits: 1, 2 int3's si_code and trapno; 4, 8, 16 icebp's
    mov rax, [rdx + 40 + 16 * 8]    ; the saved rip
    lea rcx, [after_int3]
    cmp rax, rcx
    jne .icebp
    cmp dword [rsi + 8], 0x80       ; SI_KERNEL
    jne .ret
    or qword [seen], 1
    cmp qword [rdx + 40 + 20 * 8], 3  ; trapno: #BP
    jne .ret
    or qword [seen], 2
    ret
.icebp:
    lea rcx, [after_icebp]
    cmp rax, rcx
    jne .ret
    cmp dword [rsi + 8], 1          ; TRAP_BRKPT
    jne .ret
    or qword [seen], 4
    cmp [rsi + 16], rcx             ; si_addr: the next instruction
    jne .ret
    or qword [seen], 8
    cmp qword [rdx + 40 + 20 * 8], 1  ; trapno: #DB
    jne .ret
    or qword [seen], 16
.ret:
    ret
restorer:
    mov eax, 15
    syscall
"""


def test_int3_and_icebp_traps_carry_linux_trapno():
    """int3 is #BP (trapno 3, SI_KERNEL, no address); icebp is #DB (trapno 1, TRAP_BRKPT,
    the next instruction), where the model said 3 for both."""
    run = run_guest("trapno.s", source=TRAPNO_CHECK)
    assert run.status == 31
    assert _native_status(TRAPNO_CHECK) in (None, 31)


def test_instruction_count_stays_exact_while_stepping(tmp_path):
    """The counter behind --max-insns and the virtual clock counts blocks; with TF each
    block is one instruction, and a `rep movsb` iteration traps with the pc still on it:
    each iteration ran and counts, as a per-instruction hook sees."""
    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    binary = TRAP_BIN / "step64"
    prog = load_program(str(binary))
    with open(tmp_path / "out", "w+b") as out:
        system = System(prog.image, prog.path, [str(binary)],
                        RunOptions(stdout_fd=out.fileno(), seed=1, max_insns=10**6),
                        symbols=prog.symbols)
        executed = [0]

        def count(_uc, _addr, _size, _user_data):
            executed[0] += 1

        system.machine.hook_code(count)
        status = system.run()
    assert system.counter.count == executed[0]
    if NATIVE:
        assert status == run_native([str(binary)]).status

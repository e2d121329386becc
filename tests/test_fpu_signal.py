"""The FPU state in signal frames (issue 12), against Linux: a handler finds the XSAVE
image through uc_mcontext.fpregs (x86-64) or sigcontext.fpstate (i386, after the old fsave
header), with the FP_XSTATE magic words and sizes consistent with the CPU's CPUID and
xgetbv, placed where get_sigframe() puts it, holding the x87 stack, the control word, MXCSR
and xmm0 as they were; it starts with a clean FPU; what it edits in the frame is what
sigreturn loads (on i386 the x87 part from the fsave header), what it changes directly is
undone; a NULL fpstate gives
the init state back and a reserved MXCSR bit kills with SIGSEGV; AT_MINSIGSTKSZ covers the
frame. And i386 handlers installed without SA_RESTORER return through the vDSO's
__kernel_sigreturn / __kernel_rt_sigreturn.

Each guest (tests/guests/fpu, built by its build.sh) runs natively and under syscall-lab;
stdout and exit status must be identical. The guests print relations (a size against
CPUID's), never the sizes, which differ between the host's CPU and the model's."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from guest_harness import GUESTS, differences, lab_run_args, run_lab, run_native

from kernel_model.proc import exec as binfmt
from kernel_model.signals import frame_fpu

FPU_BIN = GUESTS / "fpu" / "bin"


def _compare(binary) -> None:
    native = run_native([str(binary)])
    lab = run_lab(*lab_run_args(), str(binary))
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)


@pytest.mark.parametrize("target", ["glibc-x86_64", "glibc-i386", "musl-x86_64"])
def test_fpu_state_in_the_signal_frame_matches_linux(target):
    _compare(FPU_BIN / f"fpu_signal.{target}")


@pytest.mark.parametrize("target", ["glibc-x86_64", "glibc-i386", "musl-x86_64"])
def test_unmasked_x87_exception_is_sigfpe_with_its_code(target):
    """#MF at the fwait after an unmasked 1/0: SIGFPE, FPE_FLTDIV, si_addr at the fwait;
    the handler clears the exception in the frame's status word and the program goes on.
    (Unicorn's x87 reports the error only from CR0.NE, which the kernel model sets.)"""
    _compare(FPU_BIN / f"x87_trap.{target}")


def test_i386_handlers_without_sa_restorer_return_through_the_vdso():
    """Through rt_sigaction (old and rt frames) and i386's old sigaction (67), whose
    32-bit mask is read back and installed as Linux does."""
    _compare(FPU_BIN / "sigreturn_vdso.glibc-i386")


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
def test_sigaction_trace_lines_match_strace(tmp_path):
    binary = FPU_BIN / "sigreturn_vdso.glibc-i386"
    native_trace, lab_trace = tmp_path / "native.trace", tmp_path / "lab.trace"
    subprocess.run(["strace", "-qq", "-e", "trace=sigaction,rt_sigaction", "-o",
                    str(native_trace), str(binary)], capture_output=True, check=True,
                   timeout=60)
    lab = run_lab(*lab_run_args(), "-s", "-o", str(lab_trace), str(binary))
    assert lab.status == 0

    def calls(path):
        return [line for line in path.read_text().splitlines()
                if line.startswith(("sigaction(", "rt_sigaction("))]

    expected = calls(native_trace)
    assert any(line.startswith("sigaction(") for line in expected)
    assert calls(lab_trace) == expected


def test_at_minsigstksz_is_the_largest_frame_on_the_model_cpu():
    """init_sigframe_size() for the model's XSAVE area: the i386 frame without SA_SIGINFO
    (732 bytes), the fsave header (112), the XSAVE area (FXSAVE 512 + header 64) and magic2
    (4), with 15 and 63 bytes of alignment, rounded up to 16."""
    assert frame_fpu.XSTATE_SIZE == 512 + 64
    assert binfmt.MINSIGSTKSZ == frame_fpu.max_frame_size() == 1504

"""One way to say each thing: an event's line is the same in `run --events`, in the live
TUI's events pane and in a replayed recording; a vDSO or vsyscall call is decoded with the
syscalls' argument kinds; the entry mechanisms are one type whose values are the text users
see; the transition panel formats a trap without loading the CPU."""

import subprocess
import sys

from conftest import ROOT, cli
from test_recording import MACHINE, live_views, record_run

from kernel_model.debugger.recording import load
from kernel_model.entry.abi import preview_trap
from kernel_model.entry.mechanism import TRAPS, Mechanism
from kernel_model.syscalls.registry import lookup
from kernel_model.trace import strace
from kernel_model.trace.user_calls import call_text
from kernel_model.uapi import structs as S
from kernel_model.vdso.watch import SIGNATURES as VDSO
from kernel_model.vsyscall.emulated import SIGNATURES as VSYSCALL


def test_an_event_has_one_line_in_the_trace_the_events_pane_and_a_recording(tmp_path):
    r = cli("run", "--events", *MACHINE, "time-three-ways")
    assert r.returncode == 0, r.stderr.decode()
    traced = r.stderr.decode().splitlines()
    assert any(line.startswith("[vdso] ") for line in traced)
    assert any(line.startswith("[vsyscall] ") for line in traced)
    live = [e.text for e in live_views()[-1][1].events]
    replayed = [e.text for e in load(str(record_run(tmp_path))).views[-1].events]
    assert live == replayed == traced


class Memory:
    """Guest memory for the decoder: bytes at addresses."""

    def __init__(self, blocks: dict[int, bytes]):
        self.blocks = blocks

    def read(self, addr: int, size: int) -> bytes:
        for base, data in self.blocks.items():
            if base <= addr and addr + size <= base + len(data):
                return data[addr - base:addr - base + size]
        raise ValueError(f"unmapped {addr:#x}")


def test_a_vdso_call_decodes_like_the_syscall_with_its_arguments():
    import kernel_model.syscalls  # noqa: F401  (registers the handlers)

    for abi in ("x86_64", "i386"):
        ts = 0x1000
        mem = Memory({ts: S.pack("timespec", abi, tv_sec=1700000000, tv_nsec=5)})
        for ret in (0, -14):
            syscall = lookup(abi, "clock_gettime")
            assert VDSO["__vdso_clock_gettime"].args == syscall.args
            texts = strace.decode_exit(syscall, abi, (1, ts), ret, mem, None)
            expected = strace.format_call("__vdso_clock_gettime", texts)
            assert call_text(VDSO["__vdso_clock_gettime"], abi, (1, ts), ret, mem) == expected
    assert VDSO["__vdso_gettimeofday"].args == lookup("x86_64", "gettimeofday").args
    assert VSYSCALL[0].args == lookup("x86_64", "gettimeofday").args


def test_the_vsyscall_page_time_shows_its_value_without_strace_s_date():
    """The time() syscall's strace line adds the date; the page's call, as before, not."""
    mem = Memory({0x2000: (1700000000).to_bytes(8, "little")})
    assert call_text(VSYSCALL[1], "x86_64", (0x2000,), 1700000000, mem) == "time([1700000000])"


def test_mechanisms_are_the_text_users_see():
    assert [str(m) for m in TRAPS] == ["syscall", "int 0x80", "sysenter"]
    assert f"[{Mechanism.INT80}]" == "[int 0x80]"
    assert Mechanism("vdso") is Mechanism.VDSO


def test_a_trap_preview_reads_the_table_row_and_arguments():
    p = preview_trap("int 0x80", {"rax": 4, "rbx": 1, "rcx": 0x1_0000_0010, "rdx": 3}, 64)
    assert (p.table_name, p.nr_reg, p.nr, p.name) == ("ia32_sys_call_table", "rax", 4, "write")
    assert p.args[:3] == (("ebx", 1), ("ecx", 0x10), ("edx", 3))  # low 32 bits only
    assert preview_trap("syscall", {"rax": 9999}, 64).name is None


def test_the_transition_panel_and_the_abi_load_no_cpu():
    code = ("import sys, tui.panels.transition, kernel_model.entry.abi, "
            "kernel_model.trace.lines; assert 'unicorn' not in sys.modules")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                       env={"PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr.decode()

"""Every blocking wait in the kernel model (kernel_model.proc.wait) ends for the run's --timeout,
for Ctrl-C and for a deliverable guest signal: a sleep of an hour, an absolute sleep in 2096,
a read of a pipe nobody writes, a write to a pipe nobody reads."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kernel_model.proc.wait import SIGNAL, RunLimit, Waiter

ROOT = Path(__file__).resolve().parent.parent
# The guest's own verdict: every run here is cut by a limit long before this would pass.
HOUR_SLEEP = """bits 64
_start:
    mov rax, 35          ; nanosleep({3600, 0}, NULL)
    lea rdi, [rel req]
    xor esi, esi
    syscall
    mov edi, 7
    mov eax, 60
    syscall
req: dq 3600, 0
"""
# clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, {4000000000 (2096), 0}, NULL)
ABS_2096 = """bits 64
_start:
    mov eax, 230
    xor edi, edi
    mov esi, 1
    lea rdx, [rel req]
    xor r10d, r10d
    syscall
    mov edi, 7
    mov eax, 60
    syscall
req: dq 4000000000, 0
"""
READ_STDIN = """bits 64
_start:
    sub rsp, 16
    xor eax, eax         ; read(0, buf on the stack, 16)
    xor edi, edi
    mov rsi, rsp
    mov edx, 16
    syscall
    mov edi, 7
    mov eax, 60
    syscall
"""


def _spawn(tmp_path, source: str, *args: str, stdin=subprocess.DEVNULL):
    p = tmp_path / "guest.s"
    p.write_text(source)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "tui.cli", "run", *args, str(p)],
                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=ROOT)


def _timeout_ends_it(proc):
    out, err = proc.communicate(timeout=60)  # the guest's own wait would be an hour or more
    err = err.decode()
    assert proc.returncode == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines == ["syscall-lab: stopped after 0.5 s (--timeout): the guest did not finish"]


# i386 through int 0x80 (another hook carries the wait's end out of Unicorn)
HOUR_SLEEP_I386 = """bits 32
_start:
    mov eax, 162         ; nanosleep({3600, 0}, NULL)
    call here
here:
    pop ebx
    add ebx, req - here
    xor ecx, ecx
    int 0x80
    mov ebx, 7
    mov eax, 1
    int 0x80
req: dd 3600, 0
"""


@pytest.mark.parametrize("source", [HOUR_SLEEP, ABS_2096, HOUR_SLEEP_I386],
                         ids=["nanosleep-3600", "clock_nanosleep-2096", "i386-int80"])
def test_timeout_ends_a_sleep(tmp_path, source):
    _timeout_ends_it(_spawn(tmp_path, source, "--timeout", "0.5"))


def test_timeout_ends_a_read_of_a_pipe_nobody_writes(tmp_path):
    r, w = os.pipe()  # our write end stays open: the guest's read would wait for ever
    try:
        _timeout_ends_it(_spawn(tmp_path, READ_STDIN, "--timeout", "0.5", stdin=r))
    finally:
        os.close(r)
        os.close(w)


def test_a_read_of_a_pipe_gets_what_is_written_later(tmp_path):
    r, w = os.pipe()
    proc = _spawn(tmp_path, READ_STDIN, "-s", "--timeout", "30", stdin=r)
    os.close(r)
    time.sleep(0.3)
    os.write(w, b"late\n")
    os.close(w)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 7, err.decode()
    assert re.search(r'read\(0, "late\\n", 16\) += 5\n', err.decode())


def test_timeout_ends_a_write_to_a_pipe_nobody_reads(tmp_path):
    # 1 MiB to stdout, a pipe whose reader never reads: Linux blocks after 64 KiB.
    source = """bits 64
_start:
    mov eax, 9           ; mmap(NULL, 1 MiB, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS)
    xor edi, edi
    mov esi, 0x100000
    mov edx, 3
    mov r10d, 0x22
    mov r8, -1
    xor r9d, r9d
    syscall
    mov rsi, rax
    mov eax, 1           ; write(1, buf, 1 MiB)
    mov edi, 1
    mov edx, 0x100000
    syscall
    mov edi, 7
    mov eax, 60
    syscall
"""
    p = tmp_path / "guest.s"
    p.write_text(source)
    r, w = os.pipe()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "run", "--timeout", "0.5",
                             str(p)], stdout=w, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    os.close(w)
    try:
        err = proc.communicate(timeout=60)[1].decode()
    finally:
        os.close(r)
    assert proc.returncode == 2, err
    assert "--timeout" in err and "Traceback" not in err


def test_ctrl_c_ends_a_sleep_as_it_ends_guest_code(tmp_path):
    source = HOUR_SLEEP.replace("_start:\n", """_start:
    mov eax, 1           ; write(1, "zzz\\n", 4): about to sleep
    mov edi, 1
    lea rsi, [rel zzz]
    mov edx, 4
    syscall
""") + 'zzz: db "zzz", 10\n'
    proc = _spawn(tmp_path, source)
    assert proc.stdout.readline() == b"zzz\n"
    time.sleep(0.3)  # in the sleep (an hour long) by now
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert err.decode().strip() == "syscall-lab: interrupted"


def test_bad_and_huge_sleeps_are_linux_s(guest, tmp_path):
    """EINVAL for tv_nsec out of range or a negative tv_sec; an absolute time in the past
    returns 0 at once."""
    source = """bits 64
_start:
    mov eax, 35
    lea rdi, [rel bad_nsec]
    xor esi, esi
    syscall
    cmp rax, -22
    jne fail
    mov eax, 35
    lea rdi, [rel neg_sec]
    xor esi, esi
    syscall
    cmp rax, -22
    jne fail
    mov eax, 230         ; clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, {1, 0}): the past
    mov edi, 1
    mov esi, 1
    lea rdx, [rel past]
    xor r10d, r10d
    syscall
    test rax, rax
    jne fail
    xor edi, edi
    mov eax, 60
    syscall
fail:
    mov edi, 1
    mov eax, 60
    syscall
bad_nsec: dq 0, 1000000000
neg_sec: dq -1, 0
past: dq 1, 0
"""
    p = tmp_path / "sleeps.s"
    p.write_text(source)
    result = guest(p)
    assert result.status == 0


def test_a_signal_pending_ends_a_wait():
    """The primitive's third wake: a signal made deliverable by another task."""
    pending = threading.Event()
    waiter = Waiter(signal_pending=pending.is_set)

    def send():
        time.sleep(0.2)
        pending.set()
        waiter.kick()

    threading.Thread(target=send).start()
    assert waiter.wait(until=time.monotonic() + 3600) == SIGNAL


def test_the_deadline_ends_a_wait_with_run_limit():
    waiter = Waiter()
    waiter.deadline = time.monotonic() + 0.1
    with pytest.raises(RunLimit):
        waiter.wait(until=time.monotonic() + 3600)


def test_nanosleep_interrupted_by_a_signal_writes_rem(tmp_path):
    """-EINTR with the time left in rem when a signal becomes deliverable during the sleep
    (here made pending by another thread, as another task would)."""
    from emu.program import load_program
    from kernel_model.system import RunOptions, System

    source = """bits 64
_start:
    sub rsp, 16          ; rem, on the stack (the code is not writable)
    mov eax, 35          ; nanosleep({100, 0}, &rem)
    lea rdi, [rel req]
    mov rsi, rsp
    syscall
    cmp rax, -4          ; EINTR
    jne fail
    mov rax, [rsp]
    cmp rax, 98          ; about 100 s left
    jb fail
    cmp rax, 99
    ja fail
    xor edi, edi
    mov eax, 60
    syscall
fail:
    mov edi, 1
    mov eax, 60
    syscall
req: dq 100, 0
"""
    path = tmp_path / "eintr.s"
    path.write_text(source)
    prog = load_program(str(path), 64)
    system = System(prog.image, prog.path, [str(path)], RunOptions(seed=1, timeout=60),
                    symbols=prog.symbols)
    pending = threading.Event()
    system.waiter.signal_pending = pending.is_set

    def send():
        time.sleep(0.3)
        pending.set()
        system.waiter.kick()

    threading.Thread(target=send).start()
    assert system.run() == 0


ABS_2096_THEN_READ = """bits 64
_start:
    sub rsp, 16
    mov eax, 230         ; clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, 2096, NULL)
    xor edi, edi
    mov esi, 1
    lea rdx, [rel req]
    xor r10d, r10d
    syscall
    test rax, rax
    jnz fail
    mov eax, 228         ; clock_gettime(CLOCK_REALTIME): now 2096 or later
    xor edi, edi
    mov rsi, rsp
    syscall
    mov rax, [rsp]
    mov rcx, 4000000000
    cmp rax, rcx
    jb fail
    xor edi, edi
    mov eax, 60
    syscall
fail:
    mov edi, 1
    mov eax, 60
    syscall
req: dq 4000000000, 0
"""


@pytest.mark.parametrize("clock", ["virtual:1700000000", "frozen:1700000000"])
def test_an_absolute_sleep_on_a_model_clock_moves_it_at_once(guest, tmp_path, clock):
    """A virtual or frozen clock's sleep takes no host time: the clock jumps to the end (a
    host wait would end at the 30 s deadline with status 2)."""
    p = tmp_path / "abs.s"
    p.write_text(ABS_2096_THEN_READ)
    assert guest(p, clock=clock, timeout=30).status == 0


def test_the_timeout_still_holds_in_a_process_with_many_fds_open(tmp_path):
    """select() refuses fds numbered 1024 and up, so a long-lived process (a test run, a
    grader that has run many guests) once lost --timeout silently: the wake pipe of the
    timer thread lands above 1024 here, and the hour-long sleep still ends at the deadline."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("the host allows fewer than 1200 open files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        assert max(held) >= 1024
        from conftest import run_guest

        from kernel_model.trace.events import RunStopped

        run = run_guest("sleep.s", source=HOUR_SLEEP, timeout=0.5)
        assert run.status == 2
        assert [e.reason for e in run.events if isinstance(e, RunStopped)] == ["timeout"]
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

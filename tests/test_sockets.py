"""Sockets inside the machine, against Linux: each guest of tests/guests/sockets runs
natively and under syscall-lab for glibc x86-64, glibc i386 and musl x86-64, and stdout
and exit status must be identical (socketpair ping-pong across fork, a unix echo server by
path and abstract name with SCM_RIGHTS, UDP on 127.0.0.1 and ::1, TCP echo with an
ephemeral port, ECONNREFUSED, non-blocking connect, sendmmsg/recvmmsg, EINTR and SA_RESTART
in a waiting recv, death by SIGPIPE). The guests print no pids or ports,
only facts about them (in the ephemeral range, odd or even), so any difference is
syscall-lab's.

Also: the trace lines of every socket call against `strace` (numbers that differ between
runs masked), i386's socketcall() through int 0x80 natively and under syscall-lab, and
what only syscall-lab can be asked (no network, no socket files on a shared directory)."""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess

import pytest
from guest_harness import (
    GUESTS,
    TARGETS,
    differences,
    lab_run_args,
    run_lab,
    run_native,
    task_sequences,
)

SOCKETS = GUESTS / "sockets"
SOCKETS_BIN = SOCKETS / "bin"
DIFFERENTIAL = ["pair_pingpong", "unix_echo", "udp_loopback", "tcp_echo", "batches_signals",
                "errors"]
# Built too, but not compared with the host: the host's network decides net_unreachable,
# and bind_shared_dir is about a --mount; trace_formats is compared by its trace.
LAB_ONLY = ["net_unreachable", "bind_shared_dir", "trace_formats"]


def test_every_guest_is_built_for_every_target():
    names = sorted(p.stem for p in SOCKETS.glob("*.c"))
    assert sorted(DIFFERENTIAL + LAB_ONLY) == names
    missing = [f"{name}.{target}" for name in names for target in TARGETS
               if not (SOCKETS_BIN / f"{name}.{target}").is_file()]
    assert not missing, f"run tests/guests/sockets/build.sh: missing {missing}"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", DIFFERENTIAL)
def test_same_output_and_status_as_linux(name, target):
    binary = SOCKETS_BIN / f"{name}.{target}"
    native = run_native([str(binary)])
    lab = run_lab(*lab_run_args(), str(binary))
    assert native.status == 0, native.stderr
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)


# -- the trace ------------------------------------------------------------------------------
SOCKET_CALLS = re.compile(
    r"^(socket|socketpair|bind|listen|accept|accept4|connect|getsockname|getpeername|"
    r"sendto|recvfrom|sendmsg|recvmsg|sendmmsg|recvmmsg|shutdown|setsockopt|getsockopt|"
    r"send|recv)\(")


def socket_lines(text: str) -> list[str]:
    """The socket calls' lines, with what differs between any two runs masked: pids in
    credentials, ports, and stack addresses."""
    out = []
    for line in text.splitlines():
        if SOCKET_CALLS.match(line):
            line = re.sub(r"pid=\d+", "pid=N", line)
            line = re.sub(r"htons\(\d+\)", "htons(P)", line)
            line = re.sub(r"0x[0-9a-f]{5,}", "ADDR", line)
            out.append(line.rstrip())
    return out


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
@pytest.mark.parametrize("target", TARGETS)
def test_trace_lines_are_strace_s(target, tmp_path):
    binary = SOCKETS_BIN / f"trace_formats.{target}"
    native_trace, lab_trace = tmp_path / "native.trace", tmp_path / "lab.trace"
    native = run_native(["strace", "-qq", "-o", str(native_trace), str(binary)])
    lab = run_lab(*lab_run_args(), "-s", "-o", str(lab_trace), str(binary))
    assert native.status == lab.status == 0, lab.stderr
    expected = socket_lines(native_trace.read_text())
    got = socket_lines(lab_trace.read_text())
    assert len(expected) > 30  # every call the guest makes was found
    if expected != got:
        pytest.fail("\n".join(difflib.unified_diff(expected, got, "strace", "syscall-lab",
                                                   lineterm="")), pytrace=False)


# -- i386 socketcall --------------------------------------------------------------------------
def _native_socketcall(tmp_path):
    if not (shutil.which("nasm") and shutil.which("ld")):
        pytest.skip("nasm and ld are needed to build the native program")
    obj, exe = tmp_path / "socketcall.o", tmp_path / "socketcall"
    subprocess.run(["nasm", "-f", "elf32", "-o", str(obj), str(SOCKETS / "socketcall.s")],
                   check=True, timeout=60)
    subprocess.run(["ld", "-m", "elf_i386", "-o", str(exe), str(obj)], check=True, timeout=60)
    return exe


def test_socketcall_multiplexer_like_linux(tmp_path):
    exe = _native_socketcall(tmp_path)
    native = run_native([str(exe)])
    lab = run_lab(*lab_run_args(), str(SOCKETS / "socketcall.s"))
    assert native.stdout == b"hi from socketcall\n"
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
def test_socketcall_traced_under_the_call_it_carries(tmp_path):
    exe = _native_socketcall(tmp_path)
    native_trace, lab_trace = tmp_path / "native.trace", tmp_path / "lab.trace"
    run_native(["strace", "-qq", "-o", str(native_trace), str(exe)])
    run_lab(*lab_run_args(), "-s", "-o", str(lab_trace), str(SOCKETS / "socketcall.s"))
    expected = socket_lines(native_trace.read_text())
    assert expected == ['socketpair(AF_UNIX, SOCK_STREAM, 0, [3, 4]) = 0',
                        'send(3, "hi from socketcall\\n", 19, 0)  = 19',
                        'recv(4, "hi from socketcall\\n", 64, 0)  = 19']
    assert socket_lines(lab_trace.read_text()) == expected
    assert "socketcall(21, " in lab_trace.read_text()  # an unknown call keeps its name


# -- what only syscall-lab can be asked -------------------------------------------------------
@pytest.mark.parametrize("target", TARGETS)
def test_no_network_beyond_loopback(target):
    """Natively this guest's result depends on the host's network (in this sandbox a
    connect to 8.8.8.8 may even succeed); syscall-lab has none: ENETUNREACH, said in the
    trace."""
    binary = SOCKETS_BIN / f"net_unreachable.{target}"
    lab = run_lab(*lab_run_args(), "--events", str(binary))
    assert lab.status == 0
    assert lab.stdout == b"tcp connect: -1 ENETUNREACH\nudp sendto: -1 ENETUNREACH\n"
    notes = [line for line in lab.stderr.decode().splitlines()
             if "= -1 ENETUNREACH" in line]
    assert len(notes) == 2
    assert all("the machine has no network" in line and "8.8.8.8" in line for line in notes)


@pytest.mark.parametrize("mode", ["rw", "ro"])
def test_bind_in_a_shared_directory_makes_no_host_socket(mode, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    suffix = ":rw" if mode == "rw" else ""
    binary = SOCKETS_BIN / "bind_shared_dir.glibc-x86_64"
    lab = run_lab(*lab_run_args(), "--events", "--mount", f"{shared}:/shared{suffix}",
                  str(binary), "/shared/s.sock")
    errno_text = b"Operation not permitted" if mode == "rw" else b"Read-only file system"
    assert lab.stdout == b"bind: -1 " + errno_text + b"\n"
    assert list(shared.iterdir()) == []
    if mode == "rw":
        assert "makes no socket files on the host" in lab.stderr.decode()


def test_bind_in_tmp_is_a_socket_inode_of_the_guest(tmp_path):
    binary = SOCKETS_BIN / "bind_shared_dir.glibc-x86_64"
    lab = run_lab(*lab_run_args(), str(binary), "/tmp/s.sock")
    assert lab.stdout == b"bind: 0 \n"
    missing = run_lab(*lab_run_args(), str(binary), "/tmp/no/dir/s.sock")
    assert missing.stdout == b"bind: -1 No such file or directory\n"


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
@pytest.mark.parametrize("name", ["unix_echo", "udp_loopback", "tcp_echo"])
def test_same_syscalls_per_task_as_strace_f(name, tmp_path):
    """Each process makes the same calls in the same order as under Linux (the servers
    and clients wait on each other, so the order is the programs', not the scheduler's)."""
    binary = SOCKETS_BIN / f"{name}.glibc-x86_64"
    native_trace, lab_trace = tmp_path / "native.trace", tmp_path / "lab.trace"
    native = run_native(["strace", "-f", "-qq", "-o", str(native_trace), str(binary)])
    lab = run_lab(*lab_run_args(), "-f", "-o", str(lab_trace), str(binary))
    if diff := differences(native, lab):
        pytest.fail(diff, pytrace=False)
    expected = task_sequences(native_trace.read_text())
    got = task_sequences(lab_trace.read_text())
    assert set(expected) == set(got) and len(expected) >= 2
    for task in expected:
        assert got[task] == expected[task], "\n".join(difflib.unified_diff(
            expected[task], got[task], "strace -f", "syscall-lab -f", lineterm=""))


DEADLOCK_ASM = """\
bits 64
section .bss
sv: resd 2
buf: resb 8
section .text
global _start
_start:
    mov eax, 53          ; socketpair(AF_UNIX, SOCK_STREAM, 0, sv)
    mov edi, 1
    mov esi, 1
    xor edx, edx
    lea r10, [rel sv]
    syscall
    mov eax, 0           ; read(sv[0], buf, 8): only this process could write to sv[1]
    mov edi, [rel sv]
    lea rsi, [rel buf]
    mov edx, 8
    syscall
    mov eax, 60
    xor edi, edi
    syscall
"""


def test_a_receive_nobody_can_satisfy_is_a_reported_deadlock(tmp_path):
    """As with a pipe: the only task waits for data only it could send. Linux waits for
    ever; syscall-lab says who waits for what and ends with status 2."""
    prog = tmp_path / "deadlock.s"
    prog.write_text(DEADLOCK_ASM)
    lab = run_lab(*lab_run_args(), str(prog))
    assert lab.status == 2
    assert re.search(r"deadlock: .* waits in read \(data in socket:\[\d+\]\)",
                     lab.stderr.decode())


def test_a_host_socket_in_a_shared_directory_is_never_reached(tmp_path):
    import socket as host_socket

    shared = tmp_path / "shared"
    shared.mkdir()
    server = host_socket.socket(host_socket.AF_UNIX, host_socket.SOCK_STREAM)
    try:
        server.bind(str(shared / "host.sock"))
        server.listen(1)
        server.setblocking(False)
        binary = SOCKETS_BIN / "bind_shared_dir.glibc-x86_64"
        lab = run_lab(*lab_run_args(), "--mount", f"{shared}:/shared:rw", str(binary),
                      "/shared/host.sock", "connect")
        assert lab.stdout == b"connect: -1 Connection refused\n"
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody came
    finally:
        server.close()

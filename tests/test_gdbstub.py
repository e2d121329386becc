"""`syscall-lab run --gdb`: the real gdb attaches to the stepping session (batch mode), and
the stub survives what a broken or hostile client sends (a raw socket)."""

from __future__ import annotations

import os
import random
import re
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from tests.conftest import ROOT, cli

GDB = shutil.which("gdb")
ASM = ROOT / "programs" / "asm"
needs_gdb = pytest.mark.skipif(GDB is None, reason="gdb is not installed")


class Stub:
    """`syscall-lab run --gdb 127.0.0.1:0 PROGRAM` in a subprocess, its port read from
    the line it prints."""

    def __init__(self, program, *args: str, options: list[str] | None = None):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        # stdout to a file: a pipe nobody reads would block the stub once full
        self.out = tempfile.TemporaryFile()
        self.p = subprocess.Popen([sys.executable, "-m", "tui.cli", "run", "--gdb",
                                   "127.0.0.1:0", *(options or []), str(program), *args],
                                  cwd=ROOT, env=env,
                                  stdin=subprocess.DEVNULL, stdout=self.out,
                                  stderr=subprocess.PIPE)
        self.err = b""
        sel = selectors.DefaultSelector()
        assert self.p.stderr is not None
        sel.register(self.p.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + 60
        while b"\n" not in self.err and time.monotonic() < deadline:
            if sel.select(timeout=1):
                chunk = os.read(self.p.stderr.fileno(), 4096)
                if not chunk:
                    break
                self.err += chunk
        sel.close()
        m = re.search(rb"waiting for gdb on 127\.0\.0\.1:(\d+)", self.err)
        assert m, self.err
        self.port = int(m.group(1))
        # the rest of stderr is read as it comes (a full pipe would block the stub)
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self) -> None:
        assert self.p.stderr is not None
        while True:
            chunk = os.read(self.p.stderr.fileno(), 65536)
            if not chunk:
                return
            self.err += chunk

    def finish(self, timeout: float = 60) -> tuple[int, bytes, bytes]:
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the stub did not end: {self.err!r}") from None
        self.reader.join(timeout=10)
        self.out.seek(0)
        return self.p.returncode, self.out.read(), self.err

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(timeout=30)


def gdb(port: int, *commands: str, timeout: float = 120) -> str:
    args = [GDB, "-batch", "-nx", "-ex", f"target remote 127.0.0.1:{port}"]
    for c in commands:
        args += ["-ex", c]
    r = subprocess.run(args, capture_output=True, timeout=timeout, text=True)
    return r.stdout + r.stderr


def debug(program, *commands: str, options: list[str] | None = None):
    """The stub on `program`, gdb's batch run of `commands` against it, and the stub's end:
    (gdb's output, the exit status, the guest's stdout, the stub's stderr)."""
    stub = Stub(program, options=options)
    try:
        out = gdb(stub.port, *commands)
        status, stdout, err = stub.finish()
    finally:
        stub.kill()
    return out, status, stdout, err


def reg(text: str, name: str, which: int = 0) -> int:
    """The value of register `name` in the `which`-th `info registers` listing of it."""
    values = re.findall(rf"^{name}\s+(0x[0-9a-f]+)", text, re.M)
    return int(values[which], 16)


def registers_block(text: str, marker: str) -> str:
    """The lines of `info registers` printed after `echo MARKER` (up to the next marker)."""
    part = text.split(f"@{marker}@", 1)[1]
    return part.split("@", 1)[0]


@needs_gdb
@pytest.mark.parametrize("bits", [64, 32])
def test_gdb_steps_writes_and_goes_back(bits):
    if bits == 64:
        program, ax, bx, pc, nr_write, code = "hello_syscall.s", "rax", "rbx", "rip", 1, \
            "0xbf\t0x01\t0x00\t0x00"  # the mov edi, 1 after the first instruction
        text = b"Hello from syscall!\n"
    else:
        program, ax, bx, pc, nr_write, code = "hello_int80.s", "eax", "esi", "eip", 4, \
            "0xbb\t0x01\t0x00\t0x00"  # mov ebx, 1
        text = b"Hello from int 0x80!\n"
    out, status, stdout, err = debug(
        ASM / program,
        "break _start", f"info registers {pc}",
        "stepi", f"info registers {pc} {ax}", "x/4xb $pc",
        f"set ${bx} = 5", f"p ${bx}",
        "set {int}&msg = 7", "p {int}&msg",
        "stepi 3", "echo @before@\\n", "info registers", "echo @x@\\n", f"p $orig_{ax}",
        "stepi", f"info registers {pc} {ax}", f"p $orig_{ax}",
        "reverse-stepi", "echo @after@\\n", "info registers", "echo @y@\\n",
        "reverse-continue", f"info registers {pc}", "x/s &msg",
        "continue")
    assert "Breakpoint 1 at" in out, out
    start = reg(out, pc, 0)
    assert re.search(rf"^{pc}\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <_start>", out, re.M), out
    assert reg(out, pc, 1) > start and reg(out, ax, 0) == nr_write, out
    assert code in out, out
    assert "$1 = 5" in out and "$2 = 7" in out, out
    # before the trap orig_ax is -1, right after it the call's number (as ptrace shows
    # them on Linux); ax then holds the bytes written
    before = registers_block(out, "before")
    assert "$3 = -1" in out and f"$4 = {nr_write}" in out, out
    after_call = out.split("@x@", 1)[1]
    assert reg(after_call, ax, 0) == len(text), out
    # reverse-stepi back over the syscall: every register as it was before it
    assert registers_block(out, "after") == before, out
    assert reg(before, bx) == 5
    # reverse-continue to the breakpoint at _start: the memory write undone too
    tail = out.split("@y@", 1)[1]
    assert "Breakpoint 1," in tail and reg(tail, pc, 0) == start, out
    assert '"Hello from' in tail, out
    assert "exited normally" in tail, out
    assert status == 0, err
    # the write ran once, live, with the byte gdb wrote (7) at the front of msg
    assert stdout == b"\x07\x00\x00\x00" + text[4:], stdout
    assert b"Traceback" not in err


@needs_gdb
def test_gdb_sees_the_exit_code(tmp_path):
    src = tmp_path / "exit3.s"
    src.write_text("bits 64\nsection .text\nglobal _start\n_start:\n    mov eax, 60\n"
                   "    mov edi, 3\n    syscall\n")
    out, status, stdout, err = debug(src, "continue")
    assert "exited with code 03" in out, out
    assert status == 3, err


@needs_gdb
def test_gdb_sees_a_fault_and_the_death_by_signal(tmp_path):
    src = tmp_path / "segv.s"
    src.write_text("bits 64\nsection .text\nglobal _start\n_start:\n    xor eax, eax\n"
                   "    mov [rax], eax\n")
    out, status, stdout, err = debug(src, "continue", "info registers rip", "continue")
    assert "Program received signal SIGSEGV" in out, out
    assert re.search(r"^rip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <_start\+2>", out, re.M), out
    assert "Program terminated with signal SIGSEGV" in out, out
    assert status == 128 + 11, err  # as the shell reports a death by SIGSEGV
    assert b"not delivered" not in err


@needs_gdb
def test_detach_lets_the_guest_run_to_its_end():
    out, status, stdout, err = debug(ASM / "hello_syscall.s", "break _start", "stepi", "detach")
    assert "Detaching from program" in out or "detached" in out, out
    assert status == 0 and stdout == b"Hello from syscall!\n", err


VDSO_WALK = """\
break found_ehdr
continue
delete
nexti 2
set $n = 0
while $pc < 0x10000000 && $n < 5000
  stepi
  set $n = $n + 1
end
echo @entry@\\n
info registers rip
stepi 3
reverse-stepi 3
echo @back@\\n
info registers rip
reverse-stepi
x/i $pc
continue
"""


@needs_gdb
def test_stepi_into_the_vdso_and_back(tmp_path):
    """gdb's stepi enters a vDSO function one instruction at a time, and reverse-stepi
    comes back out to the call; the run's output is the plain run's."""
    script = tmp_path / "walk.gdb"
    script.write_text(VDSO_WALK)
    clock = ["--clock", "frozen:1000000000"]
    plain = cli("run", *clock, "time-three-ways", timeout=60)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    stub = Stub(ASM / "time_three_ways.s", options=clock)
    try:
        r = subprocess.run([GDB, "-batch", "-nx", "-ex", f"target remote :{stub.port}",
                            "-x", str(script)], capture_output=True, text=True, timeout=300,
                           env=env)
        out = r.stdout + r.stderr
        status, stdout, err = stub.finish()
    finally:
        stub.kill()
    entry = reg(out.split("@entry@", 1)[1], "rip")
    # Inside the vDSO, mapped high: with ASLR's 28 bits of pages below the stack, as low
    # as 0x7eff...
    assert entry >= 0x7E0000000000, out
    assert reg(out.split("@back@", 1)[1], "rip") == entry, out
    assert re.search(r"=> 0x[0-9a-f]+ <[\w+]+>:\s+call", out), out
    assert status == 0 and stdout == plain.stdout, (stdout, plain.stdout, err)


@needs_gdb
def test_monitor_commands():
    out, *_ = debug(ASM / "hello_syscall.s", "monitor help", "stepi 5",
                    "monitor transitions", "monitor maps", "reverse-stepi", "monitor where",
                    "monitor bogus")
    assert "monitor transitions" in out, out
    assert re.search(r'^> \[syscall\] write\(1, "Hello from syscall!\\n", 20\)\s+= 20$',
                     out, re.M), out
    assert re.search(r"^[0-9a-f]+-[0-9a-f]+ rw-p .*\[stack\]$", out, re.M), out
    assert "next: syscall; in the past" in out, out
    assert "unknown monitor command 'bogus'" in out, out


@needs_gdb
def test_strace_lines_once_though_stepped_back_over():
    out, status, stdout, err = debug(ASM / "hello_syscall.s", "stepi 5", "reverse-stepi 3",
                                     "continue", options=["-s"])
    lines = err.decode().splitlines()
    assert lines.count('write(1, "Hello from syscall!\\n", 20)   = 20') == 1, err
    assert "+++ exited with 0 +++" in lines and status == 0, err
    assert stdout == b"Hello from syscall!\n"


# -- the protocol, by hand ------------------------------------------------------------------
def frame(payload: bytes) -> bytes:
    return b"$" + payload + b"#%02x" % (sum(payload) & 0xFF)


class Client:
    def __init__(self, port: int):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""
        self.ack = True

    def raw(self, data: bytes) -> None:
        self.s.sendall(data)

    def _fill(self) -> None:
        chunk = self.s.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def read_byte(self) -> bytes:
        while not self.buf:
            self._fill()
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def reply(self) -> bytes:
        while True:
            start = self.buf.find(b"$")
            if start >= 0:
                end = self.buf.find(b"#", start)
                if end >= 0 and len(self.buf) >= end + 3:
                    body = self.buf[start + 1:end]
                    self.buf = self.buf[end + 3:]
                    if self.ack:
                        self.s.sendall(b"+")
                    return body
            self._fill()

    def ask(self, payload: bytes) -> bytes:
        self.raw(frame(payload))
        if self.ack:
            assert self.read_byte() == b"+"
        return self.reply()

    def close(self) -> None:
        self.s.close()


def test_protocol_bad_input_second_client_and_disconnect():
    stub = Stub(ASM / "hello_syscall.s")
    try:
        c = Client(stub.port)
        assert b"PacketSize" in c.ask(b"qSupported:swbreak+")
        c.raw(b"$g#00")  # bad checksum: nacked
        assert c.read_byte() == b"-"
        assert c.ask(b"m zz,qq") == b"E01"  # malformed
        assert c.ask(b"vNoSuchThing") == b""  # unknown: unsupported
        c.raw(b"garbage\x00\xff")  # noise between packets is skipped
        stop = c.ask(b"?")
        assert stop.startswith(b"T05thread:"), stop
        # a second gdb is refused with a message, the first goes on
        other = socket.create_connection(("127.0.0.1", stub.port), timeout=30)
        got = b""
        while True:
            chunk = other.recv(4096)
            if not chunk:
                break
            got += chunk
        other.close()
        assert b"another gdb is already attached" in got
        assert c.ask(b"s").startswith(b"T05")
        pc = c.ask(b"p10")
        # gone mid-session: the guest stays where it is for the next gdb
        c.close()
        c = Client(stub.port)
        assert c.ask(b"p10") == pc
        assert c.ask(b"QStartNoAckMode") == b"OK"
        c.ack = False
        assert c.ask(b"c").startswith(b"W00")
        c.close()
        status, out, err = stub.finish()
    finally:
        stub.kill()
    assert status == 0 and out == b"Hello from syscall!\n"
    assert b"refused a second connection" in err
    assert b"Traceback" not in err


# What the fuzz sends: every packet that leaves the guest stopped, with random arguments
# (the ones that resume, kill or detach would end the test's session, as they should).
FUZZ_HEADS = [b"g", b"G", b"p", b"P", b"m", b"M", b"X", b"Z0,", b"z0,", b"Z2,", b"q",
              b"qXfer:features:read:target.xml:", b"qXfer:auxv:read::", b"qSupported",
              b"H", b"T", b"?", b"vCont?", b"QCatchSyscalls:", b"qRcmd,", b""]


def test_fuzz_random_packets():
    rng = random.Random(int(os.environ.get("SYSCALL_LAB_FUZZ_SEED", "14")))
    n = int(os.environ.get("SYSCALL_LAB_FUZZ", "2000"))
    stub = Stub(ASM / "hello_syscall.s")
    try:
        c = Client(stub.port)
        assert c.ask(b"QStartNoAckMode") == b"OK"
        c.ack = False
        for _ in range(n):
            tail = bytes(rng.choice(b"0123456789abcdef,:;=xX-}*$#") for _ in
                         range(rng.randrange(0, 40)))
            payload = rng.choice(FUZZ_HEADS) + tail
            payload = payload.replace(b"$", b"").replace(b"#", b"")
            if payload[:1] in (b"c", b"C", b"s", b"S", b"k", b"D", b"b", b"v", b"R") and \
                    not payload.startswith(b"vCont?"):
                payload = b"g"
            how = rng.random()
            if how < 0.1:
                c.raw(b"$" + payload + b"#zz")  # a checksum that is no number
                continue
            if how < 0.15:
                c.raw(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20)))
                      .replace(b"$", b"").replace(b"\x03", b""))
                continue
            c.ask(payload)
        stop = c.ask(b"?")
        assert stop.startswith((b"T05", b"T0b", b"W", b"X")), stop
        c.raw(frame(b"k"))  # and it ends as asked (cleaning up after itself)
        status, _, err = stub.finish()
        c.close()
    finally:
        stub.kill()
    assert status == 137 and b"Traceback" not in err


def test_interrupt_a_running_continue():
    stub = Stub(ASM / "bench_compute.s", "100000000000000")  # runs for days
    try:
        c = Client(stub.port)
        c.raw(frame(b"vCont;c"))
        assert c.read_byte() == b"+"
        time.sleep(0.5)
        c.raw(b"\x03")
        stop = c.reply()
        assert stop.startswith(b"T02"), stop
        counter = c.ask(b"p2")  # rcx: the loop's counter, counting down
        # gone while the guest runs: it stops, and the next gdb finds it stopped
        c.raw(frame(b"vCont;c"))
        assert c.read_byte() == b"+"
        time.sleep(0.3)
        c.close()
        c = Client(stub.port)
        assert c.ask(b"?").startswith(b"T05")
        assert c.ask(b"p2") != counter  # it ran on a while before it stopped
        c.raw(frame(b"k"))
        status, _, err = stub.finish()
    finally:
        stub.kill()
    assert status == 137 and b"killed by gdb" in err


def test_port_in_use_and_listen_any():
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        r = cli("run", "--gdb", f"127.0.0.1:{port}", "hello-syscall", timeout=60)
    finally:
        busy.close()
    assert r.returncode == 2
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "cannot listen" in lines[0], r.stderr
    r = cli("run", "--gdb", "0.0.0.0:0", "hello-syscall", timeout=60)
    assert r.returncode == 2 and b"--gdb-listen-any" in r.stderr
    r = cli("run", "--gdb", "nonsense:port", "hello-syscall", timeout=60)
    assert r.returncode == 2 and len(r.stderr.decode().strip().splitlines()) == 1


WATCHED = """bits {bits}
section .text
global _start
_start:
    mov dword [counter], 1
    mov eax, [counter]
    add dword [counter], 2
    {write_call}
    {exit_call}
section .data
counter: dd 0
"""


@needs_gdb
@pytest.mark.parametrize("bits", [64, 32])
def test_gdb_watchpoints_and_catch_syscall_forward_and_back(tmp_path, bits):
    """Z2/Z3/Z4 from gdb's watch, rwatch and awatch (hardware watchpoints, as gdb reports
    them: Old value/New value), and catch syscall's entry and return stops (QCatchSyscalls)
    with the process's own numbers; then reverse-continue back to the write."""
    if bits == 64:
        write_call = "mov eax, 39\n    syscall"  # getpid
        exit_call = "mov eax, 60\n    xor edi, edi\n    syscall"
        name = "getpid"
    else:
        write_call = "mov eax, 20\n    int 0x80"  # getpid in the i386 table
        exit_call = "mov eax, 1\n    xor ebx, ebx\n    int 0x80"
        name = "getpid"
    src = tmp_path / f"watched{bits}.s"
    src.write_text(WATCHED.format(bits=bits, write_call=write_call, exit_call=exit_call))
    out, status, _, err = debug(src, "watch *(int *)&counter", "continue", "continue",
                                "delete", "rwatch *(int *)&counter", "reverse-continue",
                                "delete", "catch syscall getpid", "continue", "continue",
                                "delete", "continue")
    assert "Hardware watchpoint 1: *(int *)&counter" in out, out
    # forward: the first write (0 -> 1), then the add (1 -> 3)
    assert re.search(r"Old value = 0\s+New value = 1", out), out
    assert re.search(r"Old value = 1\s+New value = 3", out), out
    # backward with a read watchpoint: the last read before here, the mov eax, [counter]
    assert re.search(r"Hardware read watchpoint 2: \*\(int \*\)&counter\s+Value = 1", out), out
    # catch syscall: the call and its return, with the i386 table's number for i386
    assert re.search(rf"Catchpoint 3 \(call to syscall {name}\)", out), out
    assert re.search(rf"Catchpoint 3 \(returned from syscall {name}\)", out), out
    assert "exited normally" in out, out
    assert status == 0 and b"Traceback" not in err, err

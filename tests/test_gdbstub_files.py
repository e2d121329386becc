"""gdb reads files "from the target" (vFile): the guest's own tree, read-only. Through it
gdb finds the vDSO's range in the guest's /proc/PID/task/PID/maps and names
__kernel_vsyscall and __vdso_* as it does natively; `info proc mappings` is the guest's
maps; and nothing the guest could not read reaches gdb."""

from __future__ import annotations

import re

from kernel_model.debugger.gdbstub.packets import unescape
from tests.test_gdbstub import ASM, Client, Stub, debug, needs_gdb


def _hex(path: str) -> str:
    return path.encode().hex()


@needs_gdb
def test_gdb_names_kernel_vsyscall_in_a_static_i386_program():
    # Natively, `catch syscall write` in a static i386 glibc program stops with
    # "0x... in __kernel_vsyscall ()" (the landing pad after int $0x80, __kernel_vsyscall+9).
    out, status, stdout, _ = debug(ASM / "hello_sysenter.s", "catch syscall write",
                                   "continue", "info symbol $pc", "bt", "continue",
                                   "continue")
    assert re.search(r"Catchpoint 1 \(call to syscall write\), 0x[0-9a-f]+ in "
                     r"__kernel_vsyscall \(\)", out), out
    assert re.search(r"__kernel_vsyscall \+ \d+ in section \.text of system-supplied DSO",
                     out), out
    assert "#1  0x" in out and "in found ()" in out, out  # the caller, unwound through it
    assert "warning: unable to open /proc file" not in out, out
    assert status == 0 and stdout == b"Hello from sysenter!\n"


@needs_gdb
def test_info_proc_mappings_is_the_guests():
    out, *_ = debug(ASM / "time_three_ways.s", "info proc mappings", "monitor maps", "kill")
    listed = re.findall(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+"
                        r"\S+\s+(\[vdso\]|\[vsyscall\]|\[stack\])$", out, re.M)
    maps = re.findall(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s+(\[vdso\]|\[vsyscall\]|"
                      r"\[stack\])$", out, re.M)
    assert len(listed) == 3, out
    assert sorted((int(a, 16), int(b, 16), n) for a, b, n in listed) == \
        sorted((int(a, 16), int(b, 16), n) for a, b, n in maps), out
    assert ("ffffffffff600000", "ffffffffff601000", "[vsyscall]") in maps


def test_host_io_is_read_only_and_sees_only_the_guests_files(tmp_path):
    secret = tmp_path / "secret.txt"  # a host file the guest was not given
    secret.write_text("not for the guest\n")
    stub = Stub(ASM / "hello_syscall.s")
    try:
        c = Client(stub.port)
        c.ask(b"qSupported:multiprocess+")
        assert c.ask(b"vFile:setfs:0") == b"F0"
        assert c.ask(f"vFile:open:{_hex(str(secret))},0,0".encode()) == b"F-1,2"  # ENOENT
        # writing is refused (EROFS), whatever the file
        assert c.ask(f"vFile:open:{_hex('/tmp/x')},601,1a4".encode()) == b"F-1,1e"
        assert c.ask(f"vFile:unlink:{_hex('/lib')}".encode()) == b"F-1,1e"
        assert c.ask(b"vFile:pread:9,10,0") == b"F-1,9"  # EBADF
        stop = c.ask(b"?")
        pid = int(re.search(rb"thread:p([0-9a-f]+)\.", stop).group(1), 16)
        fd = c.ask(f"vFile:open:{_hex(f'/proc/{pid}/task/{pid}/maps')},0,1c0".encode())
        assert fd.startswith(b"F") and not fd.startswith(b"F-"), fd
        got = unescape(c.ask(b"vFile:pread:%s,4000,0" % fd[1:]))
        head, _, text = got.partition(b";")
        assert int(head[1:], 16) == len(text) > 0
        assert b"[vdso]" in text and b"[stack]" in text and b"[vsyscall]" in text
        link = c.ask(f"vFile:readlink:{_hex(f'/proc/{pid}/exe')}".encode())
        assert link.endswith(b";/usr/local/bin/hello_syscall.s"), link
        st = unescape(c.ask(b"vFile:fstat:%s" % fd[1:]))
        assert st.startswith(b"F40;") and len(st) == 4 + 0x40, st
        assert c.ask(b"vFile:close:%s" % fd[1:]) == b"F0"
        assert c.ask(b"vFile:close:%s" % fd[1:]) == b"F-1,9"
        c.ask(b"vKill;%x" % pid)
        c.close()
    finally:
        stub.kill()

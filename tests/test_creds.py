"""--user UID:GID and the credentials a run starts with: every id and group as asked,
root (0:0) without it; a bad value is one line and status 2."""

from __future__ import annotations

import os
import struct

import pytest
from guest_harness import GUESTS, lab_run_args, run_lab

IDS = GUESTS / "fileops" / "bin" / "creds.glibc-x86_64"  # `creds DIR ids` prints its ids


@pytest.mark.parametrize("user, line", [
    (None, "uid 0 0 0 fsuid 0 gid 0 0 0 fsgid 0 groups"),
    ("1000:2000", "uid 1000 1000 1000 fsuid 1000 gid 2000 2000 2000 fsgid 2000 groups"),
    ("4294967294:0", "uid 4294967294 4294967294 4294967294 fsuid -2 gid 0 0 0 fsgid 0 "
                     "groups"),
])
def test_a_run_starts_as_the_user_asked(user, line):
    args = ["--user", user] if user else []
    out = run_lab(*lab_run_args(), *args, str(IDS), ".", "ids")
    assert out.status == 0, out.stderr
    assert out.stdout.decode().split(";", 1)[1].strip() == line


def test_the_auxv_carries_the_ids():
    out = run_lab(*lab_run_args(), "--user", "1000:2000", str(IDS), ".", "ids")
    assert out.stdout.decode().split(";")[0] == ("after exec: auxv uid 1000 euid 1000 "
                                                 "gid 2000 egid 2000 secure 0")


@pytest.mark.parametrize("bad", ["root", "1000:x", "-1:0", "4294967295:0", ""])
def test_a_bad_user_is_one_line_and_status_2(bad):
    out = run_lab("run", "--user", bad, str(IDS), ".", "ids")
    assert out.status == 2
    err = out.stderr.decode()
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "--user" in err


# -- i386's 16-bit calls (kernel/uid16.c), which glibc and musl no longer use ---------------
def test_i386s_old_calls_take_16_bit_ids():
    from test_files import E, FakeKernel

    from kernel_model.entry.abi import I386_ABI

    k = FakeKernel(abi=I386_ABI, uid=0)
    assert k.call("setuid", 0xFFFF) == E("EINVAL")  # the 16-bit -1
    assert k.call("setresuid", 0xFFFF, 70000, 0xFFFF) == 0  # 70000 & 0xffff = 4464
    assert k.process.creds.euid == 4464 and k.process.creds.ruid == 0
    assert k.call("geteuid") == 4464 and k.call("geteuid32") == 4464
    assert k.call("setresuid32", -1, 0, -1) == 0
    assert k.call("setresuid32", -1, 70000, -1) == 0
    assert k.call("geteuid") == 65534  # does not fit: the overflow uid
    assert k.call("geteuid32") == 70000
    buf = k.alloc(12)
    assert k.call("getresuid", buf, buf + 2, buf + 4) == 0
    assert k.read(buf, 6) == bytes([0, 0, 0xFE, 0xFF, 0, 0])  # 0, 65534, 0
    assert k.call("setresuid32", -1, 0, -1) == 0
    groups = k.alloc(struct.pack("<3H", 20, 0xFFFF, 10))
    assert k.call("setgroups", 3, groups) == E("EINVAL")  # 0xffff is no gid
    assert k.call("setgroups", 2, k.alloc(struct.pack("<2H", 20, 10))) == 0
    assert k.process.creds.groups == (10, 20)
    out = k.alloc(8)
    assert k.call("getgroups", 2, out) == 2 and k.read(out, 4) == struct.pack("<2H", 10, 20)
    assert k.call("getgroups32", 2, out) == 2 and k.read(out, 8) == struct.pack("<2I", 10, 20)
    fd = k.open("/tmp/f", os.O_CREAT | os.O_WRONLY, 0o644)
    assert k.call("fchown", fd, 0xFFFF, 70000) == 0  # owner kept, group 70000 & 0xffff
    node = k.vfs.resolve("/tmp/f").existing()
    assert node.owner_ids() == (0, 4464)
    assert k.call("fchown32", fd, 70000, -1) == 0
    assert node.owner_ids() == (70000, 4464)

"""statfs and fstatfs: which file system a guest file is on (f_type as Linux's magic), what
/tmp's numbers say of its size and use, and the host's own file system for a shared
directory (with ST_RDONLY when it is shared read-only)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from test_files import E, FakeKernel

from kernel_model.entry.abi import I386_ABI
from kernel_model.files.uapi import O_CREAT, O_WRONLY
from kernel_model.system import Mount
from kernel_model.uapi import structs

ST_RDONLY, ST_VALID = 1, 0x20


def statfs(k, path: str, kind: str = "statfs") -> dict:
    buf = k.alloc(128)
    if kind == "statfs64":
        assert k.call("statfs64", k.cstr(path), 84, buf) == 0
    else:
        assert k.call("statfs", k.cstr(path), buf) == 0
    return structs.unpack(kind, k.abi.name, k.read(buf, structs.sizeof(kind, k.abi.name)))


@pytest.mark.parametrize("path, magic", [
    ("/tmp", 0x01021994), ("/tmp/", 0x01021994), ("/proc/self", 0x9FA0), ("/dev/null", 0x01021994),
    ("/", 0x858458F6),
])
def test_each_guest_file_system_has_linux_magic(path, magic):
    k = FakeKernel(uid=0)
    info = statfs(k, path)
    assert info["f_type"] == magic
    assert (info["f_bsize"], info["f_namelen"], info["f_frsize"]) == (4096, 255, 4096)
    assert info["f_flags"] & ST_VALID
    assert bool(info["f_flags"] & ST_RDONLY) == (path == "/")


def test_tmp_counts_its_pages():
    k = FakeKernel(uid=0)
    before = statfs(k, "/tmp")
    assert before["f_blocks"] == (1 << 30) // 4096  # the size limit, in pages
    fd = k.open("/tmp/data", O_CREAT | O_WRONLY)
    assert k.write_fd(fd, b"x" * 10000) == 10000  # three pages
    buf = k.alloc(128)
    assert k.call("fstatfs", fd, buf) == 0
    after = structs.unpack("statfs", "x86_64", k.read(buf, 120))
    assert before["f_bfree"] - after["f_bfree"] == 3
    assert before["f_ffree"] - after["f_ffree"] == 1  # one inode more


@pytest.mark.skipif(shutil.which("stat") is None, reason="no stat(1)")
@pytest.mark.parametrize("writable", [False, True])
def test_a_shared_directory_reports_the_hosts_file_system(tmp_path, writable):
    host_magic = int(subprocess.run(["stat", "-f", "-c", "%t", str(tmp_path)],
                                    capture_output=True, text=True, check=True).stdout, 16)
    k = FakeKernel(mounts=[Mount(host=str(tmp_path), guest="/share", writable=writable)])
    info = statfs(k, "/share")
    assert info["f_type"] == host_magic
    assert bool(info["f_flags"] & ST_RDONLY) == (not writable)


def test_i386_statfs64_wants_its_struct_size():
    k = FakeKernel(abi=I386_ABI, uid=0)
    assert statfs(k, "/proc", "statfs64")["f_type"] == 0x9FA0
    assert k.call("statfs64", k.cstr("/proc"), 88, k.alloc(128)) == E("EINVAL")
    assert k.call("statfs", k.cstr("/missing"), k.alloc(128)) == E("ENOENT")
    assert statfs(k, "/tmp")["f_type"] == 0x01021994  # the 32-bit struct statfs

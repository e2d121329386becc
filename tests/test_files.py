"""The file layer without Unicorn: the VFS, the fd table and the file syscalls driven
through a stand-in kernel whose user memory is one bytearray (as usercorn's memsim).

Every test asserts what Linux does: paths, errnos, struct layouts, and above all that no
path, ".." or symlink reaches a host file outside a shared directory."""

from __future__ import annotations

import os
import pty
import random
import struct
import termios
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from kernel_model.entry.abi import I386_ABI, X86_64_ABI
from kernel_model.files.fdtable import FdTable
from kernel_model.files.inode import Cred, FsError
from kernel_model.files.uapi import (
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_SYMLINK_NOFOLLOW,
    DT_CHR,
    DT_DIR,
    DT_LNK,
    DT_REG,
    F_DUPFD,
    F_DUPFD_CLOEXEC,
    F_GETFD,
    F_GETFL,
    F_SETFD,
    F_SETFL,
    FD_CLOEXEC,
    O_APPEND,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECTORY,
    O_EXCL,
    O_LARGEFILE,
    O_NOFOLLOW,
    O_NONBLOCK,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
    O_WRONLY,
    S_IFCHR,
    S_IFDIR,
    S_IFIFO,
    S_IFLNK,
    S_IFMT,
    S_IFREG,
    SEEK_CUR,
    SEEK_DATA,
    SEEK_END,
    SEEK_HOLE,
    SEEK_SET,
    STATX_BASIC_STATS,
    STATX_MNT_ID,
    STATX_MNT_ID_UNIQUE,
    TCGETS,
    TIOCGWINSZ,
)
from kernel_model.files.vfs import Vfs
from kernel_model.kernel import GuestFault, NameTooLong
from kernel_model.memory.mm import Vma
from kernel_model.proc.creds import Credentials
from kernel_model.proc.process import Process
from kernel_model.proc.sched import Blocked
from kernel_model.proc.table import ProcessTable
from kernel_model.syscalls.registry import lookup
from kernel_model.uapi import errnos, structs

MEM_BASE = 0x10000
MEM_SIZE = 1 << 20
PID = 4242


# -- the stand-in kernel -------------------------------------------------------------------
@dataclass
class FakeMm:
    lines: list[str] = field(default_factory=lambda: [
        "00400000-00401000 r--p 00000000 fe:00 42                         /bin/prog",
        "7ffd0000-7ffd2000 rw-p 00000000 00:00 0                          [stack]",
    ])
    start_brk: int = 0

    @property
    def vmas(self):
        return [Vma(0x400000, 0x401000, 1, "/bin/prog"),
                Vma(0x7FFD0000, 0x7FFD2000, 3, "[stack]", grows_down=True)]

    def listed(self):
        return self.vmas

    def maps_text(self) -> str:
        return "".join(line + "\n" for line in self.lines)


class FakeSignals:
    def __init__(self):
        self.sent = []

    def send(self, signo, code=0, **info):
        self.sent.append(signo)


class FakeKernel:
    """What a handler sees of the kernel: user memory, the ABI, the process, the VFS."""

    def __init__(self, abi=X86_64_ABI, mounts=(), uid=1000, seed=7, std=None):
        self.abi = abi
        self.mem = bytearray(MEM_SIZE)
        self.brk = MEM_BASE
        self.notes: list[str] = []
        # A real Process in a real table (its memory a FakeMm, no CPU): /proc reads both.
        self.process = Process(
            pid=PID, ppid=PID - 1, creds=Credentials.of_user(uid, uid), cwd="/", umask=0o022,
            argv=["prog", "a b", "c"], envp=["HOME=/", "LANG=C"], exe_path="/bin/prog",
            guest_exe="/bin/prog", exe_dev=(0, 1), exe_ino=9,
            exe_bytes=b"\x7fELF" + bytes(60), arch=abi.name, mm=FakeMm(), machine=None,
            auxv=[(6, 4096), (25, 0x7FFD1000)], rlimits={}, fds=None)
        self.rng = random.Random(seed)
        self.clock = SimpleNamespace(realtime_ns=lambda: 1_700_000_000_123_456_789,
                                     files_ns=lambda: 1_700_000_000_123_456_789)
        self.signals = FakeSignals()
        self.vfs = Vfs(list(mounts), clock=self.clock, rng=self.rng,
                       processes=ProcessTable(self.process))
        if std is None:  # 0, 1, 2 open on /dev/null, as under `prog <>/dev/null`
            self.process.fds = FdTable()
            for _ in range(3):
                self.process.fds.install(self.vfs.open("/dev/null", O_RDWR, 0, base="/",
                                                       cred=Cred.of_user(uid, uid)))
        else:
            self.process.fds = FdTable.standard(*std)

    # user memory, as copy_from_user / copy_to_user see it
    def _check(self, addr, size):
        if size and not (MEM_BASE <= addr and addr + size <= MEM_BASE + MEM_SIZE):
            raise GuestFault

    def read(self, addr, size):
        self._check(addr, size)
        return bytes(self.mem[addr - MEM_BASE:addr - MEM_BASE + size])

    def write(self, addr, data):
        self._check(addr, len(data))
        self.mem[addr - MEM_BASE:addr - MEM_BASE + len(data)] = data

    def read_cstring(self, addr, limit=4096):
        out = bytearray()
        while len(out) < limit:
            self._check(addr, 1)
            b = self.mem[addr - MEM_BASE]
            if b == 0:
                return bytes(out)
            out.append(b)
            addr += 1
        raise NameTooLong

    def note(self, text):
        self.notes.append(text)

    # test helpers
    def alloc(self, data: bytes | int) -> int:
        if isinstance(data, int):
            data = bytes(data)
        addr = self.brk
        self.write(addr, data)
        self.brk += (len(data) + 15) & ~15 or 16
        return addr

    def cstr(self, s: str | bytes) -> int:
        return self.alloc((s.encode() if isinstance(s, str) else s) + b"\0")

    def call(self, name, *args):
        """Run a handler as the kernel's dispatcher does (GuestFault -> EFAULT)."""
        sdef = lookup(self.abi.name, name)
        assert sdef is not None, name
        args = [a & self.abi.mask for a in args]
        try:
            return sdef.handler(self, *args)
        except NameTooLong:
            return -errnos.ENAMETOOLONG
        except GuestFault:
            return -errnos.EFAULT

    def open(self, path, flags=O_RDONLY, mode=0o644):
        return self.call("openat", AT_FDCWD, self.cstr(path), flags, mode)

    def read_fd(self, fd, n=65536):
        buf = self.alloc(n)
        got = self.call("read", fd, buf, n)
        if got < 0:
            return got
        return self.read(buf, got)

    def write_fd(self, fd, data: bytes):
        return self.call("write", fd, self.alloc(data), len(data))

    def stat(self, path, flags=0):
        buf = self.alloc(256)
        ret = self.call("newfstatat", AT_FDCWD, self.cstr(path), buf, flags)
        return ret if ret < 0 else structs.unpack("stat", "x86_64", self.read(buf, 144))

    def dents(self, fd, size=4096):
        buf = self.alloc(size)
        n = self.call("getdents64", fd, buf, size)
        return n if n < 0 else structs.unpack_dirents64(self.read(buf, n))

    def readlink(self, path, size=256):
        buf = self.alloc(size)
        n = self.call("readlink", self.cstr(path), buf, size)
        return n if n < 0 else self.read(buf, n).decode()


Mount = SimpleNamespace


@pytest.fixture
def k():
    return FakeKernel()


def E(name: str) -> int:
    return -errnos.NUMBERS[name]


def canonical(vfs, path, base="/"):
    return vfs.resolve(path, base=base).path


# -- path walking ----------------------------------------------------------------------------
def test_paths_are_normalized_against_the_guest_root(k):
    vfs = k.vfs
    assert canonical(vfs, "/proc/../tmp/./") == "/tmp"
    assert canonical(vfs, "//tmp//") == "/tmp"
    assert canonical(vfs, "/..") == "/"
    assert canonical(vfs, "/../../..") == "/"
    assert canonical(vfs, "tmp/../dev", base="/") == "/dev"
    assert canonical(vfs, "..", base="/tmp") == "/"
    assert canonical(vfs, "../proc/self/..", base="/dev") == "/proc"  # /proc/self -> 4242
    assert vfs.resolve("/proc/self").path == f"/proc/{PID}"


def test_root_holds_only_proc_dev_tmp_etc_and_mount_points(k, tmp_path):
    k = FakeKernel(mounts=[Mount(host=str(tmp_path), guest="/mnt/data", writable=False)])
    fd = k.open("/", O_RDONLY | O_DIRECTORY)
    names = [e["d_name"] for e in k.dents(fd)]
    assert names == [b".", b"..", b"proc", b"dev", b"tmp", b"etc", b"mnt"]
    for path in ("/etc/os-release", "/home", "/usr/bin/env", "/bin/sh"):
        assert k.open(path) == E("ENOENT"), path


def test_walk_errors_are_linuxs(k):
    fd = k.open("/tmp/f", O_CREAT | O_WRONLY)
    assert fd >= 0
    assert k.open("/tmp/f/") == E("ENOTDIR")
    assert k.open("/tmp/f/x") == E("ENOTDIR")
    assert k.open("/tmp/f/.") == E("ENOTDIR")
    assert k.open("/tmp/f", O_RDONLY | O_DIRECTORY) == E("ENOTDIR")
    assert k.open("/tmp/new/", O_CREAT | O_WRONLY) == E("EISDIR")
    assert k.open("/tmp", O_WRONLY) == E("EISDIR")
    assert k.open("/tmp", O_RDONLY | O_CREAT) == E("EISDIR")
    assert k.open("/nonexistent/x") == E("ENOENT")
    assert k.open("") == E("ENOENT")
    assert k.open("/tmp/" + "a" * 256) == E("ENAMETOOLONG")
    assert k.open("/tmp/" + "a" * 255) == E("ENOENT")
    assert k.open("/" + "a/" * 2100) == E("ENAMETOOLONG")  # past PATH_MAX
    assert k.call("openat", AT_FDCWD, 0, O_RDONLY, 0) == E("EFAULT")
    assert k.call("openat", AT_FDCWD, 0xDEAD0000, O_RDONLY, 0) == E("EFAULT")


def test_dirfd_relative_paths(k):
    dfd = k.open("/proc", O_RDONLY | O_DIRECTORY)
    cpu = k.call("openat", dfd, k.cstr("cpuinfo"), O_RDONLY, 0)
    assert k.read_fd(cpu).startswith(b"processor\t: 0\n")
    f = k.open("/proc/cpuinfo")
    assert k.call("openat", f, k.cstr("x"), O_RDONLY, 0) == E("ENOTDIR")
    assert k.call("openat", 99, k.cstr("x"), O_RDONLY, 0) == E("EBADF")
    # an absolute path ignores even a bad dirfd
    assert k.call("openat", 99, k.cstr("/proc/cpuinfo"), O_RDONLY, 0) >= 0


def test_symlink_loops_give_eloop(tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    os.symlink("b", share / "a")
    os.symlink("a", share / "b")
    k = FakeKernel(mounts=[Mount(host=str(share), guest="/share", writable=False)])
    assert k.open("/share/a") == E("ELOOP")


# -- host mounts: nothing outside what was shared ----------------------------------------------
@pytest.fixture
def shared(tmp_path):
    """A shared dir with escape attempts in it, next to a secret the guest must not read."""
    share = tmp_path / "share"
    (share / "sub").mkdir(parents=True)
    (share / "file.txt").write_bytes(b"shared data\n")
    (share / "sub" / "inner.txt").write_bytes(b"inner\n")
    (tmp_path / "secret").write_bytes(b"TOP SECRET\n")
    outside = tmp_path / "outside_dir"
    outside.mkdir()
    (outside / "x").write_bytes(b"outside\n")
    os.symlink("../secret", share / "rel_escape")
    os.symlink("/etc/passwd", share / "abs_passwd")
    os.symlink(str(tmp_path / "secret"), share / "abs_secret")
    os.symlink(str(outside), share / "dir_escape")
    os.symlink("sub/../../secret", share / "dotdot_escape")
    os.symlink("rel_escape", share / "chain_escape")
    os.symlink(str(share / "file.txt"), share / "abs_inside")  # absolute, but inside
    os.symlink("sub/inner.txt", share / "rel_inside")
    os.symlink("sub", share / "dir_inside")
    os.symlink("../file.txt", share / "sub" / "up_inside")
    return tmp_path, share


def test_escapes_through_dotdot_fail(shared):
    tmp, share = shared
    k = FakeKernel(mounts=[Mount(host=str(share), guest="/share", writable=False)])
    # /etc/os-release: a host file the model's /etc does not have
    for path in ("/share/../secret", "/share/../../etc/os-release", "/share/sub/../../secret",
                 "/share/../share/../secret", "../../etc/os-release", "/share/" + "../" * 20 +
                 "etc/os-release"):
        assert k.open(path) == E("ENOENT"), path
    assert k.call("chdir", k.cstr("/share/sub")) == 0
    assert k.open("../../secret") == E("ENOENT")
    assert k.open("../../../../etc/os-release") == E("ENOENT")
    assert k.read_fd(k.open("../file.txt")) == b"shared data\n"


def test_escapes_through_symlinks_fail(shared):
    tmp, share = shared
    k = FakeKernel(mounts=[Mount(host=str(share), guest="/share", writable=True)])
    for name in ("rel_escape", "abs_passwd", "abs_secret", "dotdot_escape", "chain_escape",
                 "dir_escape/x", "dir_escape"):
        assert k.open(f"/share/{name}") == E("EACCES"), name
        assert k.stat(f"/share/{name}") == E("EACCES"), name
    assert any("outside the shared directory" in n for n in k.notes)
    # nothing was created outside either, even on a rw mount
    assert k.open("/share/dir_escape/new", O_CREAT | O_WRONLY) == E("EACCES")
    assert not (tmp / "outside_dir" / "new").exists()
    assert k.call("chdir", k.cstr("/share/dir_escape")) == E("EACCES")
    # the links themselves are visible, as links, and readlink shows their text
    st = k.stat("/share/abs_passwd", AT_SYMLINK_NOFOLLOW)
    assert st["st_mode"] & S_IFMT == S_IFLNK
    assert k.readlink("/share/rel_escape") == "../secret"


def test_symlinks_inside_the_mount_work(shared):
    tmp, share = shared
    k = FakeKernel(mounts=[Mount(host=str(share), guest="/share", writable=False)])
    assert k.read_fd(k.open("/share/abs_inside")) == b"shared data\n"
    assert k.read_fd(k.open("/share/rel_inside")) == b"inner\n"
    assert k.read_fd(k.open("/share/dir_inside/inner.txt")) == b"inner\n"
    assert k.read_fd(k.open("/share/sub/up_inside")) == b"shared data\n"
    # ".." after a symlinked directory is taken from where the link really led (Linux)
    assert k.read_fd(k.open("/share/dir_inside/../file.txt")) == b"shared data\n"
    assert k.vfs.resolve("/share/dir_inside").path == "/share/sub"
    assert k.open("/share/rel_inside", O_RDONLY | O_NOFOLLOW) == E("ELOOP")


def test_mount_root_dotdot_is_the_guest_parent(shared):
    tmp, share = shared
    k = FakeKernel(mounts=[Mount(host=str(share / "sub"), guest="/a/b", writable=False)])
    assert canonical(k.vfs, "/a/b/..") == "/a"
    assert canonical(k.vfs, "/a/b/../..") == "/"
    assert k.open("/a/b/../file.txt") == E("ENOENT")
    names = [e["d_name"] for e in k.dents(k.open("/a", O_DIRECTORY))]
    assert names == [b".", b"..", b"b"]


def test_mount_points_are_validated(tmp_path):
    for bad in ("/", "/proc", "/proc/self/x", "/dev/sda", "relative"):
        with pytest.raises(ValueError):
            FakeKernel(mounts=[Mount(host=str(tmp_path), guest=bad, writable=False)])
    with pytest.raises(ValueError):
        FakeKernel(mounts=[Mount(host=str(tmp_path / "missing"), guest="/m", writable=False)])


def test_read_only_mount_refuses_changes(shared):
    tmp, share = shared
    k = FakeKernel(mounts=[Mount(host=str(share), guest="/share", writable=False)])
    assert k.open("/share/file.txt", O_WRONLY) == E("EROFS")
    assert k.open("/share/file.txt", O_RDWR) == E("EROFS")
    assert k.open("/share/file.txt", O_RDONLY | O_TRUNC) == E("EROFS")
    assert k.open("/share/new.txt", O_WRONLY | O_CREAT) == E("EROFS")
    assert k.call("mkdir", k.cstr("/share/d"), 0o755) == E("EROFS")
    assert k.call("unlink", k.cstr("/share/file.txt")) == E("EROFS")
    assert k.call("access", k.cstr("/share/file.txt"), 2) == E("EROFS")
    # O_CREAT of a file that exists needs no write: Linux opens it (lookup_open)
    fd = k.open("/share/file.txt", O_RDONLY | O_CREAT)
    assert k.read_fd(fd) == b"shared data\n"
    assert k.write_fd(fd, b"x") == E("EBADF")
    assert (share / "file.txt").read_bytes() == b"shared data\n"
    assert not (share / "new.txt").exists()


def test_writable_mount_writes_through(shared):
    tmp, share = shared
    k = FakeKernel(mounts=[Mount(host=str(share), guest="/share", writable=True)],
                   uid=os.getuid())  # the guest runs as the owner of the shared directory
    fd = k.open("/share/out.txt", O_WRONLY | O_CREAT | O_EXCL, 0o640)
    assert fd >= 0
    assert k.write_fd(fd, b"hello from the guest\n") == 21
    assert k.call("close", fd) == 0
    assert (share / "out.txt").read_bytes() == b"hello from the guest\n"
    assert (share / "out.txt").stat().st_mode & 0o777 == 0o640
    assert k.open("/share/out.txt", O_WRONLY | O_CREAT | O_EXCL) == E("EEXIST")
    fd = k.open("/share/out.txt", O_WRONLY | O_APPEND)
    assert k.write_fd(fd, b"more\n") == 5
    assert (share / "out.txt").read_bytes().endswith(b"guest\nmore\n")
    fd = k.open("/share/out.txt", O_WRONLY | O_TRUNC)
    assert (share / "out.txt").read_bytes() == b""
    assert k.call("mkdir", k.cstr("/share/newdir"), 0o755) == 0
    assert (share / "newdir").is_dir()
    assert k.call("rmdir", k.cstr("/share/newdir")) == 0
    assert k.call("unlink", k.cstr("/share/out.txt")) == 0
    assert not (share / "out.txt").exists()


def test_host_stat_is_the_real_one_with_the_models_numbers(shared):
    """A shared file's size, mode and times are the host's; its device and inode numbers
    the model's (0:40 for the first mount, inodes handed out per host file), never the
    host's, and still one number per file."""
    tmp, share = shared
    (share / "hard.txt").hardlink_to(share / "file.txt")
    k = FakeKernel(mounts=[Mount(host=str(share), guest="/share", writable=False)])
    st = k.stat("/share/file.txt")
    real = os.stat(share / "file.txt")
    assert st["st_size"] == 12
    assert st["st_mode"] == real.st_mode
    assert st["st_mtime"] == int(real.st_mtime)
    assert st["st_dev"] == os.makedev(0, 40) != real.st_dev
    assert k.stat("/share")["st_ino"] == 2  # the mount's root, as on ext4
    inos = {n: k.stat(f"/share/{n}", AT_SYMLINK_NOFOLLOW)["st_ino"] for n in os.listdir(share)}
    assert st["st_ino"] not in (real.st_ino, 2)
    assert inos["hard.txt"] == inos["file.txt"] == k.stat("/share/file.txt")["st_ino"]
    assert len(set(inos.values())) == len(inos) - 1  # distinct, but for the hard link
    fd = k.open("/share/file.txt")
    buf = k.alloc(256)
    assert k.call("fstat", fd, buf) == 0
    fst = structs.unpack("stat", "x86_64", k.read(buf, 144))
    assert (fst["st_ino"], fst["st_dev"]) == (st["st_ino"], st["st_dev"])
    dents = {e["d_name"]: e["d_ino"] for e in k.dents(k.open("/share", O_DIRECTORY))}
    assert list(dents)[:2] == [b".", b".."]
    assert sorted(list(dents)[2:]) == sorted(os.fsencode(n) for n in os.listdir(share))
    assert dents[b"."] == 2 and dents[b".."] == k.stat("/")["st_ino"]
    assert all(dents[os.fsencode(n)] == ino for n, ino in inos.items())


# -- /proc -----------------------------------------------------------------------------------
def test_proc_maps_comes_from_the_mm_at_open_time(k):
    fd = k.open("/proc/self/maps")
    k.process.mm.lines.append("deadbeef-deadc000 ---p 00000000 00:00 0")
    data = k.read_fd(fd, 10)
    data += k.read_fd(fd, 65536)
    assert data.decode() == "".join(line + "\n" for line in FakeMm().lines)
    assert k.read_fd(fd) == b""
    again = k.read_fd(k.open(f"/proc/{PID}/maps"))
    assert again.decode() == k.process.mm.maps_text()
    assert k.stat("/proc/self/maps")["st_size"] == 0
    assert k.call("lseek", fd, 0, SEEK_END) == E("EINVAL")  # seq_lseek
    assert k.call("lseek", fd, 0, SEEK_SET) == 0


def test_proc_self_exe_and_links(k):
    assert k.readlink("/proc/self/exe") == "/bin/prog"
    assert k.readlink("/proc/self") == str(PID)
    assert k.stat("/proc/self", AT_SYMLINK_NOFOLLOW)["st_size"] == 0  # proc links: size 0
    assert k.stat("/dev/stdout", AT_SYMLINK_NOFOLLOW)["st_size"] == len("/proc/self/fd/1")
    assert k.readlink(f"/proc/{PID}/exe") == "/bin/prog"
    assert k.read_fd(k.open("/proc/self/exe")) == k.process.exe_bytes
    assert k.open("/proc/self/exe", O_WRONLY) == E("EACCES")  # root's file, 0755
    root = FakeKernel(uid=0)
    assert root.open("/proc/self/exe", O_WRONLY) == E("ETXTBSY")  # a running program
    st = k.stat("/proc/self/exe")
    assert st["st_mode"] & S_IFMT == S_IFREG
    assert st["st_size"] == len(k.process.exe_bytes)
    assert k.readlink("/proc/self/maps") == E("EINVAL")
    assert k.readlink("/proc/self/exe", size=4) == "/bin"  # truncated, no NUL
    buf = k.alloc(8)
    assert k.call("readlink", k.cstr("/proc/self/exe"), buf, 0) == E("EINVAL")


def test_proc_text_files(k):
    status = k.read_fd(k.open("/proc/self/status")).decode()
    fields = dict(line.split(":\t", 1) for line in status.splitlines())
    assert fields["Name"] == "prog"
    assert fields["State"] == "R (running)"
    assert fields["Pid"] == fields["Tgid"] == str(PID)
    assert fields["PPid"] == str(PID - 1)
    assert fields["Uid"].split() == ["1000"] * 4
    assert fields["Threads"] == "1"
    assert fields["VmSize"].split() == [str((0x1000 + 0x2000) // 1024), "kB"]
    assert k.read_fd(k.open("/proc/self/cmdline")) == b"prog\0a b\0c\0"
    assert k.read_fd(k.open("/proc/self/environ")) == b"HOME=/\0LANG=C\0"
    cpu = k.read_fd(k.open("/proc/cpuinfo")).decode()
    assert "\nmodel name\t: " in cpu
    assert cpu.count("processor\t:") == 1


@pytest.mark.parametrize("abi,fmt", [(X86_64_ABI, "<QQ"), (I386_ABI, "<II")])
def test_proc_auxv_in_the_guests_word_size(abi, fmt):
    k = FakeKernel(abi=abi)
    data = k.read_fd(k.open("/proc/self/auxv"))
    pairs = [struct.unpack_from(fmt, data, i) for i in range(0, len(data),
                                                             struct.calcsize(fmt))]
    assert pairs == [(6, 4096), (25, 0x7FFD1000), (0, 0)]


def test_proc_listings_and_fd_links(k):
    names = [e["d_name"] for e in k.dents(k.open("/proc", O_DIRECTORY))]
    assert set(names) >= {b".", b"..", b"self", str(PID).encode(), b"cpuinfo"}
    names = {e["d_name"] for e in k.dents(k.open("/proc/self", O_DIRECTORY))}
    assert names >= {b"maps", b"exe", b"auxv", b"status", b"cmdline", b"environ", b"fd"}
    fd = k.open("/tmp/log", O_CREAT | O_RDWR)
    assert k.readlink(f"/proc/self/fd/{fd}") == "/tmp/log"
    fds = {e["d_name"]: e["d_type"] for e in k.dents(k.open("/proc/self/fd", O_DIRECTORY))}
    assert fds[str(fd).encode()] == DT_LNK
    # following the magic link reaches the same file
    k.write_fd(fd, b"via fd")
    assert k.read_fd(k.open(f"/proc/self/fd/{fd}")) == b"via fd"
    assert k.open("/proc/self/fd/77") == E("ENOENT")


# -- /dev ------------------------------------------------------------------------------------
def test_dev_null_and_zero(k):
    null = k.open("/dev/null", O_RDWR)
    assert k.read_fd(null, 100) == b""
    assert k.write_fd(null, b"x" * 1000) == 1000
    assert k.call("lseek", null, 123, SEEK_SET) == 0
    zero = k.open("/dev/zero")
    assert k.read_fd(zero, 4096) == bytes(4096)
    st = k.stat("/dev/null")
    assert st["st_mode"] == S_IFCHR | 0o666
    assert st["st_rdev"] == 0x103  # makedev(1, 3)
    assert k.stat("/dev/zero")["st_rdev"] == 0x105
    full = k.open("/dev/full", O_WRONLY)
    assert k.write_fd(full, b"x") == E("ENOSPC")
    assert k.open("/dev/tty") == E("ENXIO")


def test_dev_urandom_follows_the_seed():
    a, b = FakeKernel(seed=1), FakeKernel(seed=1)
    ra = a.read_fd(a.open("/dev/urandom"), 32)
    rb = b.read_fd(b.open("/dev/urandom"), 32)
    assert ra == rb and len(ra) == 32 and ra != bytes(32)
    c = FakeKernel(seed=2)
    assert c.read_fd(c.open("/dev/random"), 32) != ra


def test_dev_listing_has_types(k):
    types = {e["d_name"]: e["d_type"] for e in k.dents(k.open("/dev", O_DIRECTORY))}
    assert types[b"null"] == DT_CHR and types[b"zero"] == DT_CHR
    assert types[b"stdout"] == DT_LNK
    assert k.readlink("/dev/stdout") == "/proc/self/fd/1"


# -- /tmp ------------------------------------------------------------------------------------
def test_tmp_create_read_write_seek(k):
    fd = k.open("/tmp/a.txt", O_CREAT | O_RDWR, 0o666)
    assert fd == 3
    assert k.write_fd(fd, b"hello world") == 11
    assert k.call("lseek", fd, 0, SEEK_CUR) == 11
    assert k.call("lseek", fd, 6, SEEK_SET) == 6
    assert k.read_fd(fd) == b"world"
    assert k.call("lseek", fd, -5, SEEK_END) == 6
    assert k.call("lseek", fd, -100, SEEK_CUR) == E("EINVAL")
    assert k.call("lseek", fd, 0, 99) == E("EINVAL")
    assert k.call("lseek", fd, 20, SEEK_SET) == 20
    assert k.write_fd(fd, b"!") == 1  # past the end: a hole of zeros
    assert k.call("lseek", fd, 0, SEEK_SET) == 0
    assert k.read_fd(fd) == b"hello world" + bytes(9) + b"!"
    assert k.call("lseek", fd, 3, SEEK_DATA) == 3
    assert k.call("lseek", fd, 3, SEEK_HOLE) == 21
    assert k.call("lseek", fd, 50, SEEK_DATA) == E("ENXIO")
    st = k.stat("/tmp/a.txt")
    assert st["st_mode"] == S_IFREG | 0o644  # 0666 & ~umask 022
    assert st["st_size"] == 21 and st["st_uid"] == 1000
    assert k.call("close", fd) == 0
    assert k.call("close", fd) == E("EBADF")


def test_tmp_open_flags(k):
    fd = k.open("/tmp/f", O_CREAT | O_WRONLY)
    k.write_fd(fd, b"12345")
    assert k.open("/tmp/f", O_CREAT | O_EXCL | O_WRONLY) == E("EEXIST")
    ap = k.open("/tmp/f", O_WRONLY | O_APPEND)
    assert k.write_fd(fd, b"ab") == 2  # at offset 5
    assert k.write_fd(ap, b"Z") == 1  # O_APPEND: at the end whatever the offset
    assert k.read_fd(k.open("/tmp/f")) == b"12345abZ"
    k.open("/tmp/f", O_WRONLY | O_TRUNC)
    assert k.read_fd(k.open("/tmp/f")) == b""
    assert k.open("/tmp/missing") == E("ENOENT")
    assert k.call("mkdir", k.cstr("/tmp/d"), 0o700) == 0
    assert k.call("mkdir", k.cstr("/tmp/d"), 0o700) == E("EEXIST")
    assert k.open("/tmp/d/inner", O_CREAT | O_WRONLY) >= 0
    assert k.call("rmdir", k.cstr("/tmp/d")) == E("ENOTEMPTY")
    assert k.call("unlink", k.cstr("/tmp/d")) == E("EISDIR")
    assert k.call("unlink", k.cstr("/tmp/d/inner")) == 0
    assert k.call("rmdir", k.cstr("/tmp/d")) == 0
    assert k.stat("/tmp")["st_mode"] == S_IFDIR | 0o1777


def test_outside_tmp_nothing_is_created(k):
    assert k.open("/newfile", O_CREAT | O_WRONLY) == E("EROFS")
    assert k.open("/proc/newfile", O_CREAT | O_WRONLY) == E("ENOENT")  # proc_root_lookup
    assert k.open("/proc/self/newfile", O_CREAT | O_WRONLY) == E("ENOENT")
    assert k.open("/dev/newfile", O_CREAT | O_WRONLY) == E("EACCES")
    assert k.open("/proc/cpuinfo", O_WRONLY) == E("EACCES")  # 0444, not root
    root = FakeKernel(uid=0)
    fd = root.open("/proc/self/maps", O_WRONLY)  # root passes the mode bits...
    assert root.write_fd(fd, b"x") == E("EINVAL")  # ...but the file has no write


# -- getdents64 ------------------------------------------------------------------------------
def test_getdents64_record_layout(k):
    for name in ("a", "bb", "seven77", "eight888", "x" * 40):
        k.open(f"/tmp/{name}", O_CREAT | O_WRONLY)
    k.call("mkdir", k.cstr("/tmp/sub"), 0o755)
    fd = k.open("/tmp", O_RDONLY | O_DIRECTORY)
    buf = k.alloc(4096)
    n = k.call("getdents64", fd, buf, 4096)
    raw = k.read(buf, n)
    entries = structs.unpack_dirents64(raw)
    assert [e["d_name"] for e in entries] == [b".", b"..", b"a", b"bb", b"seven77",
                                              b"eight888", b"x" * 40, b"sub"]
    pos = 0
    for i, e in enumerate(entries):
        name = e["d_name"]
        assert e["d_reclen"] == (19 + len(name) + 1 + 7) // 8 * 8
        assert e["d_reclen"] % 8 == 0
        assert raw[pos + 19 + len(name)] == 0  # NUL-terminated
        assert e["d_off"] == i + 1
        pos += e["d_reclen"]
    assert sum(e["d_reclen"] for e in entries) == n
    assert entries[2]["d_type"] == DT_REG and entries[-1]["d_type"] == DT_DIR
    assert entries[0]["d_type"] == DT_DIR
    assert entries[0]["d_ino"] == k.stat("/tmp")["st_ino"]
    assert entries[1]["d_ino"] == k.stat("/")["st_ino"]
    assert [e["d_reclen"] for e in entries[:4]] == [24, 24, 24, 24]
    assert entries[4]["d_reclen"] == 32  # 19 + 7 + 1 = 27 -> 32
    assert k.call("getdents64", fd, buf, 4096) == 0  # end of directory


def test_getdents64_small_buffers_and_rewind(k):
    fd = k.open("/dev", O_RDONLY | O_DIRECTORY)
    assert k.call("getdents64", fd, k.alloc(16), 16) == E("EINVAL")  # no entry fits
    seen = []
    while True:
        got = k.dents(fd, 48)
        if got == []:
            break
        assert len(got) in (1, 2)
        seen += [e["d_name"] for e in got]
    assert seen[:2] == [b".", b".."] and b"null" in seen
    assert k.call("lseek", fd, 0, SEEK_SET) == 0
    assert [e["d_name"] for e in k.dents(fd)] == seen
    assert k.call("getdents64", k.open("/dev/null"), k.alloc(64), 64) == E("ENOTDIR")
    assert k.call("getdents64", 55, k.alloc(64), 64) == E("EBADF")
    assert k.call("getdents64", fd, 0x10, 64) in (E("EFAULT"), 0)


def test_old_getdents_i386_layout():
    k = FakeKernel(abi=I386_ABI)
    fd = k.open("/", O_RDONLY | O_DIRECTORY)
    buf = k.alloc(512)
    n = k.call("getdents", fd, buf, 512)
    raw, pos, names = k.read(buf, n), 0, []
    while pos < n:
        ino, off, reclen = struct.unpack_from("<IIH", raw, pos)
        names.append(raw[pos + 10:pos + reclen].split(b"\0")[0])
        assert reclen % 4 == 0
        assert raw[pos + reclen - 1] == DT_DIR  # d_type in the last byte
        pos += reclen
    assert names == [b".", b"..", b"proc", b"dev", b"tmp", b"etc"]


# -- read/write errors -----------------------------------------------------------------------
def test_read_write_errors(k):
    d = k.open("/tmp", O_RDONLY | O_DIRECTORY)
    assert k.read_fd(d) == E("EISDIR")
    assert k.read_fd(99) == E("EBADF")
    assert k.call("read", -1, k.alloc(4), 4) == E("EBADF")
    w = k.open("/tmp/w", O_CREAT | O_WRONLY)
    assert k.read_fd(w) == E("EBADF")
    r = k.open("/tmp/w")
    assert k.write_fd(r, b"x") == E("EBADF")
    assert k.call("write", w, 0xDEAD0000, 4) == E("EFAULT")
    k.write_fd(w, b"abcdef")
    assert k.call("read", r, 0xDEAD0000, 4) == E("EFAULT")
    assert k.read_fd(r, 3) == b"abc"  # the fault left the offset where it was
    assert k.call("pread64", r, k.alloc(8), 2, -1) == E("EINVAL")
    buf = k.alloc(8)
    assert k.call("pread64", r, buf, 2, 4) == 2 and k.read(buf, 2) == b"ef"
    assert k.read_fd(r) == b"def"  # pread did not move the offset


def test_i386_pread64_takes_a_split_offset():
    k = FakeKernel(abi=I386_ABI)
    fd = k.open("/tmp/f", O_CREAT | O_RDWR)
    k.write_fd(fd, b"0123456789")
    buf = k.alloc(4)
    assert k.call("pread64", fd, buf, 4, 6, 0) == 4 and k.read(buf, 4) == b"6789"
    res = k.alloc(8)
    assert k.call("_llseek", fd, 0, 3, res, SEEK_SET) == 0
    assert struct.unpack("<q", k.read(res, 8))[0] == 3
    assert k.read_fd(fd, 2) == b"34"


def test_readv_writev(k):
    fd = k.open("/tmp/v", O_CREAT | O_RDWR)
    a, b = k.alloc(b"Hello, "), k.alloc(b"world")
    iov = k.alloc(struct.pack("<QQQQ", a, 7, b, 5))
    assert k.call("writev", fd, iov, 2) == 12
    k.call("lseek", fd, 0, SEEK_SET)
    x, y = k.alloc(4), k.alloc(16)
    iov = k.alloc(struct.pack("<QQQQ", x, 4, y, 16))
    assert k.call("readv", fd, iov, 2) == 12
    assert k.read(x, 4) == b"Hell" and k.read(y, 8) == b"o, world"
    assert k.call("readv", fd, iov, 1025) == E("EINVAL")
    assert k.call("writev", fd, iov, -1) == E("EINVAL")
    assert k.call("writev", fd, iov, 0) == 0


# -- the fd table ----------------------------------------------------------------------------
def test_dup_family(k):
    fd = k.open("/dev/null")
    assert fd == 3
    assert k.call("dup", fd) == 4
    assert k.call("close", 3) == 0
    assert k.call("dup", 4) == 3  # lowest free
    assert k.call("dup2", 4, 4) == 4  # onto itself: nothing happens
    assert k.call("dup2", 9, 9) == E("EBADF")
    assert k.call("dup3", 4, 4, 0) == E("EINVAL")
    assert k.call("dup3", 4, 10, O_NONBLOCK) == E("EINVAL")
    assert k.call("dup3", 4, 10, O_CLOEXEC) == 10
    assert k.call("fcntl", 10, F_GETFD, 0) == FD_CLOEXEC
    tmp = k.open("/tmp/x", O_CREAT | O_RDWR)
    assert k.call("dup2", tmp, 10) == 10  # closes the old 10 silently, clears FD_CLOEXEC
    assert k.call("fcntl", 10, F_GETFD, 0) == 0
    k.write_fd(10, b"shared offset")
    assert k.call("lseek", tmp, 0, SEEK_CUR) == 13  # one description, one offset
    assert k.call("dup", 77) == E("EBADF")
    assert k.call("dup2", 3, 5000) == E("EBADF")  # past RLIMIT_NOFILE


def test_fd_limit_and_f_dupfd(k):
    k.process.rlimits[7] = (8, 8)
    fds = [k.open("/dev/null") for _ in range(5)]
    assert fds == [3, 4, 5, 6, 7]
    assert k.open("/dev/null") == E("EMFILE")
    assert k.open("/nonexistent") == E("EMFILE")  # the fd is taken before the walk
    assert k.call("dup", 0) == E("EMFILE")
    k.call("close", 5)
    assert k.call("fcntl", 0, F_DUPFD, 2) == 5
    assert k.call("fcntl", 0, F_DUPFD, 8) == E("EINVAL")
    k.call("close", 6)
    assert k.call("fcntl", 0, F_DUPFD_CLOEXEC, 0) == 6
    assert k.call("fcntl", 6, F_GETFD, 0) == FD_CLOEXEC


def test_fcntl_flags(k):
    fd = k.open("/tmp/f", O_CREAT | O_RDWR | O_CLOEXEC)
    assert k.call("fcntl", fd, F_GETFL, 0) == O_RDWR | O_LARGEFILE
    assert k.call("fcntl", fd, F_GETFD, 0) == FD_CLOEXEC
    assert k.call("fcntl", fd, F_SETFD, 0) == 0
    assert k.call("fcntl", fd, F_GETFD, 0) == 0
    # only O_APPEND, O_NONBLOCK (and the async/direct/noatime bits) change
    assert k.call("fcntl", fd, F_SETFL, O_APPEND | O_NONBLOCK | O_WRONLY | O_TRUNC) == 0
    assert k.call("fcntl", fd, F_GETFL, 0) == O_RDWR | O_LARGEFILE | O_APPEND | O_NONBLOCK
    assert k.call("fcntl", fd, F_SETFL, 0) == 0
    assert k.call("fcntl", fd, F_GETFL, 0) == O_RDWR | O_LARGEFILE
    assert k.call("fcntl", 99, F_GETFL, 0) == E("EBADF")
    assert k.call("fcntl", fd, 0x7777, 0) == E("EINVAL")
    i386 = FakeKernel(abi=I386_ABI)
    fd = i386.open("/tmp/f", O_CREAT | O_WRONLY)
    assert i386.call("fcntl64", fd, F_GETFL, 0) == O_WRONLY  # no forced O_LARGEFILE
    lock = i386.alloc(24)
    assert i386.call("fcntl64", fd, 12, lock) == 0  # F_GETLK64: nothing conflicts
    assert i386.read(lock, 2) == b"\x02\x00"  # F_UNLCK


# -- pipes -----------------------------------------------------------------------------------
def _pipe(k, flags=0):
    arr = k.alloc(8)
    assert k.call("pipe2", arr, flags) == 0
    return struct.unpack("<ii", k.read(arr, 8))


def test_pipe_round_trip(k):
    r, w = _pipe(k)
    assert (r, w) == (3, 4)
    assert k.write_fd(w, b"through the pipe") == 16
    assert k.read_fd(r, 7) == b"through"
    assert k.read_fd(r) == b" the pipe"
    # Empty with the write end open: the read waits for a writer, as Linux's does (it
    # used to answer EAGAIN when the guest was one thread; now another task can write).
    with pytest.raises(Blocked) as wait:
        k.read_fd(r)
    assert wait.value.queue is k.process.fds[r].pipe.rd_wait
    assert "empty" in wait.value.what
    assert k.read_fd(w) == E("EBADF")
    assert k.write_fd(r, b"x") == E("EBADF")
    assert k.call("lseek", r, 0, SEEK_SET) == E("ESPIPE")
    assert k.call("pread64", r, k.alloc(4), 4, 0) == E("ESPIPE")
    buf = k.alloc(144)
    assert k.call("fstat", r, buf) == 0
    assert structs.unpack("stat", "x86_64", k.read(buf, 144))["st_mode"] == S_IFIFO | 0o600
    assert k.call("fcntl", w, F_GETFL, 0) == O_WRONLY
    k.write_fd(w, b"tail")
    k.call("close", w)
    assert k.read_fd(r) == b"tail"
    assert k.read_fd(r) == b""  # every writer gone: end of file


def test_pipe_without_readers_raises_sigpipe(k):
    r, w = _pipe(k)
    dup = k.call("dup", r)
    k.call("close", r)
    assert k.write_fd(w, b"ok") == 2  # the dup still reads
    k.call("close", dup)
    assert k.write_fd(w, b"x") == E("EPIPE")
    assert k.signals.sent == [13]


def test_pipe2_flags_and_fullness(k):
    r, w = _pipe(k, O_NONBLOCK | O_CLOEXEC)
    assert k.call("fcntl", r, F_GETFD, 0) == FD_CLOEXEC
    assert k.call("fcntl", r, F_GETFL, 0) == O_RDONLY | O_NONBLOCK
    assert k.read_fd(r) == E("EAGAIN")
    assert k.notes == []  # non-blocking EAGAIN is ordinary, no remark
    chunk = b"y" * 65536
    assert k.write_fd(w, chunk) == 65536
    assert k.write_fd(w, b"z") == E("EAGAIN")
    assert k.call("pipe2", k.alloc(8), 0o1) == E("EINVAL")
    assert k.call("pipe", 0xDEAD0000) == E("EFAULT")
    assert k.call("fcntl", 7, F_GETFD, 0) == E("EBADF")  # no fds leaked by the fault


# -- stat layouts ----------------------------------------------------------------------------
def test_stat_layouts_per_abi():
    k = FakeKernel(abi=I386_ABI)
    buf = k.alloc(96)
    assert k.call("stat64", k.cstr("/dev/zero"), buf) == 0
    st = structs.unpack("stat64", "i386", k.read(buf, 96))
    assert st["st_mode"] == S_IFCHR | 0o666 and st["st_rdev"] == 0x105
    assert struct.unpack_from("<I", k.read(buf, 96), 12)[0] == st["st_ino"]  # __st_ino
    buf = k.alloc(64)
    assert k.call("stat", k.cstr("/tmp"), buf) == 0
    old = structs.unpack("stat", "i386", k.read(buf, 64))
    assert old["st_mode"] == S_IFDIR | 0o1777 and old["st_blksize"] == 4096
    assert old["st_mtime"] == 1_700_000_000 and old["st_mtime_nsec"] == 123_456_789
    fd = k.open("/proc/self/status")
    buf = k.alloc(96)
    assert k.call("fstat64", fd, buf) == 0
    st = structs.unpack("stat64", "i386", k.read(buf, 96))
    assert st["st_mode"] == S_IFREG | 0o444 and st["st_size"] == 0
    assert st["st_dev"] == 22  # proc's anonymous device 0:22


def test_newfstatat_and_statx_empty_path(k):
    fd = k.open("/dev/null")
    buf = k.alloc(256)
    assert k.call("newfstatat", fd, k.cstr(""), buf, 0) == E("ENOENT")
    assert k.call("newfstatat", fd, k.cstr(""), buf, AT_EMPTY_PATH) == 0
    assert structs.unpack("stat", "x86_64", k.read(buf, 144))["st_rdev"] == 0x103
    assert k.call("newfstatat", fd, k.cstr(""), buf, 0x4) == E("EINVAL")
    assert k.call("statx", fd, k.cstr(""), AT_EMPTY_PATH, STATX_BASIC_STATS, buf) == 0
    sx = structs.unpack("statx", "x86_64", k.read(buf, 256))
    assert sx["stx_mask"] == STATX_BASIC_STATS | STATX_MNT_ID
    assert sx["stx_mode"] == S_IFCHR | 0o666
    assert (sx["stx_rdev_major"], sx["stx_rdev_minor"]) == (1, 3)
    assert k.call("statx", fd, k.cstr(""), 0x6000 | AT_EMPTY_PATH, 0, buf) == E("EINVAL")
    assert k.call("statx", AT_FDCWD, k.cstr("/tmp"), 0, 0x80000000, buf) == E("EINVAL")
    assert k.call("statx", AT_FDCWD, k.cstr("/nope"), 0, STATX_BASIC_STATS, buf) == E("ENOENT")


def test_statx_gives_the_mount_id_mountinfo_shows(k):
    """Linux always fills stx_mnt_id (the ld.so of i386 glibc calls statx, and strace shows
    the mask): the id /proc/self/mountinfo gives the mount, or the 64-bit unique one when
    STATX_MNT_ID_UNIQUE is asked for."""
    fd = k.open("/proc/self/mountinfo")
    ids = {line.split()[4]: int(line.split()[0])
           for line in k.read_fd(fd).decode().splitlines()}
    buf = k.alloc(256)
    for path in ("/tmp", "/dev/null", "/proc/self/status", "/"):
        assert k.call("statx", AT_FDCWD, k.cstr(path), 0, STATX_BASIC_STATS, buf) == 0
        sx = structs.unpack("statx", "x86_64", k.read(buf, 256))
        mount = max((m for m in ids if path == m or path.startswith(m.rstrip("/") + "/")),
                    key=len)
        assert sx["stx_mask"] == STATX_BASIC_STATS | STATX_MNT_ID, path
        assert sx["stx_mnt_id"] == ids[mount], path
    assert k.call("statx", AT_FDCWD, k.cstr("/tmp"), 0,
                  STATX_BASIC_STATS | STATX_MNT_ID_UNIQUE, buf) == 0
    sx = structs.unpack("statx", "x86_64", k.read(buf, 256))
    assert sx["stx_mask"] == STATX_BASIC_STATS | STATX_MNT_ID_UNIQUE
    assert sx["stx_mnt_id"] == (1 << 31) + 1 + ids["/tmp"]


def test_std_streams_report_what_the_host_fd_is():
    r, w = os.pipe()
    try:
        k = FakeKernel(std=(r, w, w))
        buf = k.alloc(256)
        assert k.call("newfstatat", 1, k.cstr(""), buf, AT_EMPTY_PATH) == 0
        st = structs.unpack("stat", "x86_64", k.read(buf, 144))
        assert st["st_mode"] & S_IFMT == S_IFIFO
        assert st["st_ino"] == os.fstat(w).st_ino
        assert k.call("ioctl", 1, TCGETS, k.alloc(36)) == E("ENOTTY")
        assert k.write_fd(1, b"to the host\n") == 12
        assert os.read(r, 100) == b"to the host\n"
        os.write(w, b"from the host")
        assert k.read_fd(0, 4) == b"from"
        assert k.call("lseek", 1, 0, SEEK_SET) == E("ESPIPE")
        k.process.fds.close_all()
        os.fstat(w)  # borrowed host fds are never closed
        os.fstat(r)
    finally:
        os.close(r)
        os.close(w)


def test_terminal_ioctls_copy_the_hosts_answers():
    master, slave = pty.openpty()
    try:
        termios.tcsetwinsize(slave, (33, 111)) if hasattr(termios, "tcsetwinsize") else None
        k = FakeKernel(std=(slave, slave, slave))
        buf = k.alloc(36)
        assert k.call("ioctl", 1, TCGETS, buf) == 0
        iflag, oflag, cflag, lflag = struct.unpack("<4I", k.read(buf, 16))
        host = termios.tcgetattr(slave)
        assert [iflag, oflag, cflag, lflag] == host[:4]
        ws = k.alloc(8)
        assert k.call("ioctl", 1, TIOCGWINSZ, ws) == 0
        if hasattr(termios, "tcgetwinsize"):
            rows, cols = termios.tcgetwinsize(slave)
            assert struct.unpack("<HH", k.read(ws, 4)) == (rows, cols)
        buf = k.alloc(144)
        assert k.call("fstat", 1, buf) == 0
        assert structs.unpack("stat", "x86_64", k.read(buf, 144))["st_mode"] & S_IFMT == S_IFCHR
        assert k.call("ioctl", 1, 0x5402, buf) == E("ENOTTY")  # TCSETS: not modelled
        assert k.notes
        assert k.call("ioctl", 9, TCGETS, buf) == E("EBADF")
    finally:
        os.close(master)
        os.close(slave)


def test_ioctl_on_files_is_enotty(k):
    for path in ("/dev/null", "/proc/cpuinfo"):
        assert k.call("ioctl", k.open(path), TCGETS, k.alloc(36)) == E("ENOTTY")
    assert k.call("ioctl", k.open("/tmp", O_DIRECTORY), TIOCGWINSZ, k.alloc(8)) == E("ENOTTY")


# -- cwd, access -----------------------------------------------------------------------------
def test_getcwd_and_chdir(k):
    buf = k.alloc(64)
    assert k.call("getcwd", buf, 64) == 2
    assert k.read(buf, 2) == b"/\0"
    assert k.call("chdir", k.cstr("tmp")) == 0
    assert k.call("getcwd", buf, 64) == 5 and k.read(buf, 5) == b"/tmp\0"
    assert k.call("getcwd", buf, 4) == E("ERANGE")
    k.open("f", O_CREAT | O_WRONLY)
    assert k.stat("/tmp/f")["st_size"] == 0
    assert k.call("chdir", k.cstr("f")) == E("ENOTDIR")
    assert k.call("chdir", k.cstr("/nope")) == E("ENOENT")
    d = k.open("/proc/self", O_DIRECTORY)
    assert k.call("fchdir", d) == 0
    assert k.process.cwd == f"/proc/{PID}"
    assert k.call("fchdir", k.open("/dev/null")) == E("ENOTDIR")
    assert k.call("fchdir", 99) == E("EBADF")


def test_access(k):
    assert k.call("access", k.cstr("/proc/cpuinfo"), 4) == 0
    assert k.call("access", k.cstr("/proc/cpuinfo"), 2) == E("EACCES")
    assert k.call("access", k.cstr("/proc/cpuinfo"), 1) == E("EACCES")
    assert k.call("access", k.cstr("/nope"), 0) == E("ENOENT")
    assert k.call("access", k.cstr("/tmp"), 8) == E("EINVAL")
    assert k.call("faccessat", AT_FDCWD, k.cstr("/dev/null"), 6) == 0
    assert k.call("faccessat2", AT_FDCWD, k.cstr("/dev/stdout"), 0, AT_SYMLINK_NOFOLLOW) == 0
    assert k.call("faccessat2", AT_FDCWD, k.cstr("/tmp"), 0, 0x1) == E("EINVAL")
    root = FakeKernel(uid=0)
    assert root.call("access", root.cstr("/proc/cpuinfo"), 2) == 0  # CAP_DAC_OVERRIDE
    assert root.call("access", root.cstr("/proc/cpuinfo"), 1) == E("EACCES")  # no x bit


# -- the pieces directly ----------------------------------------------------------------------
def test_fdtable_standard_skips_closed_host_fds():
    r, w = os.pipe()
    os.close(w)
    table = FdTable.standard(r, w, 10_000)
    assert table.fds() == [0]
    os.close(r)


def test_vfs_open_flags_kept_like_linux(k):
    f = k.vfs.open("/tmp/n", O_CREAT | O_EXCL | O_TRUNC | O_RDWR | O_CLOEXEC | O_APPEND,
                   0o600, base="/", cred=Cred.of_user(1000, 1000))
    assert f.flags == O_RDWR | O_APPEND
    with pytest.raises(FsError) as err:
        k.vfs.open("/tmp/n", O_CREAT | O_EXCL, 0o600, base="/", cred=Cred.of_user(1000, 1000))
    assert err.value.errno == errnos.EEXIST


# -- the pieces other subsystems use --------------------------------------------------------
def test_fdtable_get_is_dict_like_and_index_raises_ebadf(k):
    assert k.process.fds.get(99) is None
    with pytest.raises(FsError) as err:
        k.process.fds[99]
    assert err.value.errno == errnos.EBADF


def test_mmap_bytes_for_file_mappings(k):
    fd = k.open("/tmp/m", O_CREAT | O_RDWR)
    k.write_fd(fd, b"mapped")
    f = k.process.fds[fd]
    assert f.mmap_bytes() == b"mapped" and f.guest_path == "/tmp/m"
    assert k.process.fds[k.open("/proc/self/exe")].mmap_bytes() == k.process.exe_bytes
    r, _ = _pipe(k)
    assert k.process.fds[r].mmap_bytes() is None


# -- end to end, in Unicorn -------------------------------------------------------------------
CAT_SHARED = """
bits 64
section .data
path: db "/data/sub/../hello.txt", 0
esc:  db "/data/escape", 0
section .bss
buf: resb 256
section .text
_start:
    mov eax, 257            ; openat(AT_FDCWD, path, O_RDONLY)
    mov rdi, -100
    lea rsi, [rip + path]
    xor edx, edx
    syscall
    cmp eax, 3
    jne bad
    mov edi, eax            ; read(3, buf, 256)
    xor eax, eax
    lea rsi, [rip + buf]
    mov edx, 256
    syscall
    mov edx, eax            ; write(1, buf, n)
    mov eax, 1
    mov edi, 1
    lea rsi, [rip + buf]
    syscall
    mov eax, 257            ; the escaping symlink must fail with EACCES
    mov rdi, -100
    lea rsi, [rip + esc]
    xor edx, edx
    syscall
    cmp eax, -13
    jne bad
    mov eax, 231
    xor edi, edi
    syscall
bad:
    mov eax, 231
    mov edi, 1
    syscall
"""


def test_guest_reads_a_shared_file_in_unicorn(tmp_path):
    from conftest import run_guest

    from kernel_model.system import Mount as RunMount

    share = tmp_path / "share"
    (share / "sub").mkdir(parents=True)
    (share / "hello.txt").write_bytes(b"hello through the mount\n")
    (tmp_path / "secret").write_bytes(b"no\n")
    os.symlink("../secret", share / "escape")
    run = run_guest("cat.s", source=CAT_SHARED,
                    mounts=[RunMount(str(share), "/data", False)])
    assert run.status == 0
    assert run.stdout == b"hello through the mount\n"
    calls = [(e.name, e.ret) for e in run.syscalls()]
    assert calls[:4] == [("openat", 3), ("read", 24), ("write", 24), ("openat", -13)]


def test_glibc_maps_program_prints_the_models_maps():
    from conftest import PROGRAMS, run_guest

    run = run_guest(PROGRAMS / "bin" / "maps.glibc-x86_64")
    assert run.status == 0
    # nothing changes the address space after the open: the text is the mm's, exactly
    assert run.stdout.decode() == run.system.mm.maps_text()
    lines = run.stdout.decode().splitlines()
    assert any(line.endswith("[stack]") for line in lines)
    assert any(line.endswith("[heap]") for line in lines)
    opened = [e for e in run.syscalls() if e.name == "openat"]
    assert opened and opened[0].ret == 3 and "/proc/self/maps" in opened[0].text


def test_ftruncate(k):
    fd = k.open("/tmp/t", O_CREAT | O_RDWR)
    k.write_fd(fd, b"0123456789")
    assert k.call("ftruncate", fd, 4) == 0
    assert k.stat("/tmp/t")["st_size"] == 4
    assert k.call("ftruncate", fd, 8) == 0
    assert k.read_fd(k.open("/tmp/t")) == b"0123" + bytes(4)
    assert k.call("ftruncate", fd, -1) == E("EINVAL")
    assert k.call("ftruncate", k.open("/tmp/t"), 0) == E("EINVAL")  # not open for writing
    assert k.call("ftruncate", k.open("/dev/null", O_WRONLY), 0) == E("EINVAL")
    assert k.call("ftruncate", 99, 0) == E("EBADF")


# -- the guest's starting working directory (--cwd, --mount .) -------------------------------
PWD_CAT = """; print getcwd(), then argv[1] (relative to the cwd); exit(errno) if it fails
bits 64
section .bss
buf: resb 512
section .text
_start:
    mov eax, 79             ; getcwd(buf, 512): the raw call returns the length with the NUL
    lea rdi, [rel buf]
    mov esi, 512
    syscall
    lea rdx, [rax - 1]
    mov byte [buf + rdx], 10
    inc rdx
    mov eax, 1
    mov edi, 1
    lea rsi, [rel buf]
    syscall
    cmp qword [rsp], 2
    jb .done
    mov eax, 2              ; open(argv[1], O_RDONLY)
    mov rdi, [rsp + 16]
    xor esi, esi
    syscall
    test eax, eax
    js .fail
    mov edi, eax
    xor eax, eax            ; read(fd, buf, 512)
    lea rsi, [rel buf]
    mov edx, 512
    syscall
    mov edx, eax
    mov eax, 1
    mov edi, 1
    syscall
.done:
    mov eax, 60
    xor edi, edi
    syscall
.fail:
    neg eax
    mov edi, eax
    mov eax, 60
    syscall
"""


def test_cwd_option_starts_the_guest_there(shared):
    """getcwd returns --cwd, relative paths resolve against it, /proc/self/cwd links to it."""
    from conftest import run_guest

    from kernel_model.system import Mount as RunMount

    tmp, share = shared
    mount = [RunMount(str(share), "/data", False)]
    run = run_guest("pwd.s", "sub/inner.txt", source=PWD_CAT, mounts=mount, cwd="/data")
    assert (run.status, run.stdout) == (0, b"/data\ninner\n")
    run = run_guest("pwd.s", "../file.txt", source=PWD_CAT, mounts=mount, cwd="/data/sub/")
    assert (run.status, run.stdout) == (0, b"/data/sub\nshared data\n")
    assert run.system.vfs.resolve("/proc/self/cwd").path == "/data/sub"


def test_cwd_at_a_mount_root_does_not_open_the_host(shared):
    """`..` from a cwd at the mount's root is the guest's parent, and links that leave the
    shared directory stay refused when reached by a relative path."""
    from conftest import run_guest

    from kernel_model.system import Mount as RunMount

    tmp, share = shared
    mount = [RunMount(str(share), "/data", False)]
    for path, errno in (("../secret", errnos.ENOENT), ("../../etc/os-release", errnos.ENOENT),
                        ("rel_escape", errnos.EACCES), ("abs_secret", errnos.EACCES),
                        ("dir_escape/x", errnos.EACCES)):
        run = run_guest("pwd.s", path, source=PWD_CAT, mounts=mount, cwd="/data")
        assert (run.status, run.stdout) == (errno, b"/data\n"), path


@pytest.mark.parametrize("cwd, words", [
    ("/nope", "No such file or directory"),
    ("/proc/self/maps", "Not a directory"),
])
def test_a_cwd_the_guest_lacks_is_one_line(cwd, words, tmp_path):
    from conftest import cli
    from test_bad_input import one_line_error

    from tui.cli import UsageError, build_parser
    from tui.launch import session_factory

    one_line_error(cli("run", "--cwd", cwd, "hello-syscall"), f"working directory {cwd}",
                   words)
    one_line_error(cli("run", "--record", str(tmp_path / "r.json"), "--cwd", cwd,
                       "hello-syscall"), f"working directory {cwd}", words)
    with pytest.raises(UsageError, match=words):  # the TUI: before its screen opens
        session_factory(build_parser().parse_args(["tui", "--cwd", cwd, "hello-syscall"]))


def test_mount_dot_shares_the_current_directory_as_the_cwd(tmp_path):
    """`syscall-lab run --mount . my_cat.s notes.txt` from the student's directory: the
    guest starts in that directory (at the same path), so `notes.txt` opens; chdir still
    works from there, and `..` leads to the guest's own tree, not the host's."""
    import subprocess
    import sys

    from conftest import ROOT

    (tmp_path / "my_cat.s").write_text(PWD_CAT)
    (tmp_path / "notes.txt").write_text("my notes\n")
    (tmp_path.parent / "beside.txt").write_text("not shared\n")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "tui.cli", "run", *args],
                              capture_output=True, cwd=tmp_path, timeout=120,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))

    r = run("--mount", ".", "my_cat.s", "notes.txt")
    assert (r.returncode, r.stdout) == (0, f"{tmp_path}\nmy notes\n".encode()), r.stderr
    r = run("--mount", ".:/work", "my_cat.s", "notes.txt")
    assert (r.returncode, r.stdout) == (0, b"/work\nmy notes\n"), r.stderr
    r = run("--mount", ".", "my_cat.s", "../beside.txt")
    assert r.returncode == errnos.ENOENT
    r = run("--mount", ".", "--cwd", "/tmp", "my_cat.s", "notes.txt")
    assert (r.returncode, r.stdout) == (errnos.ENOENT, b"/tmp\n")
    r = run("my_cat.s", "notes.txt")  # nothing shared: the guest starts at /, as before
    assert (r.returncode, r.stdout) == (errnos.ENOENT, b"/\n")


def test_tui_and_lessons_take_the_same_cwd(tmp_path, monkeypatch):
    """run_options serves run, tui, --record and lessons: --mount . sets the cwd for all."""
    from tui.cli import build_parser, run_options

    monkeypatch.chdir(tmp_path)
    for command in ("run", "tui"):
        args = build_parser().parse_args([command, "--mount", ".", "hello-syscall"])
        assert run_options(args).cwd == str(tmp_path)
        args = build_parser().parse_args([command, "--cwd", "/tmp", "hello-syscall"])
        assert run_options(args).cwd == "/tmp"


def test_no_setuid_file_appears_on_the_host(shared):
    """Files and directories the guest makes through a rw mount lose S_ISUID and S_ISGID on
    the host (whatever mode it asks for), and no chmod or chown reaches the host."""
    tmp, share = shared
    k = FakeKernel(mounts=[Mount(host=str(share), guest="/share", writable=True)], uid=0)
    k.process.umask = 0
    fd = k.open("/share/suid", O_WRONLY | O_CREAT | O_EXCL, 0o6755)
    assert fd >= 0
    assert k.call("openat", AT_FDCWD, k.cstr("/share/suid2"), O_WRONLY | O_CREAT, 0o4777) >= 0
    assert k.call("mkdir", k.cstr("/share/sgid"), 0o2775) == 0
    assert k.call("mkdirat", AT_FDCWD, k.cstr("/share/sgid2"), 0o6777) == 0
    host_umask = os.umask(0)
    os.umask(host_umask)
    for name, perms in (("suid", 0o755), ("suid2", 0o777), ("sgid", 0o775),
                        ("sgid2", 0o777)):
        mode = (share / name).stat().st_mode
        assert not mode & 0o6000, (name, oct(mode))
        assert mode & 0o777 == perms & ~host_umask, (name, oct(mode))
        assert k.stat(f"/share/{name}")["st_mode"] & 0o7777 == mode & 0o7777  # as the host
    # chmod, fchmod, fchmodat, fchmodat2 on the host: the bits asked for, less those two
    assert k.call("chmod", k.cstr("/share/suid"), 0o4755) == 0
    assert (share / "suid").stat().st_mode & 0o7777 == 0o755
    assert k.call("fchmod", fd, 0o6700) == 0
    assert (share / "suid").stat().st_mode & 0o7777 == 0o700
    assert k.call("fchmodat", AT_FDCWD, k.cstr("/share/sgid"), 0o2750) == 0
    assert (share / "sgid").stat().st_mode & 0o7777 == 0o750
    assert k.call("fchmodat2", AT_FDCWD, k.cstr("/share/suid2"), 0o4711, 0) == 0
    assert (share / "suid2").stat().st_mode & 0o7777 == 0o711
    assert k.stat("/share/suid2")["st_mode"] & 0o7777 == 0o711  # what the guest sees
    # chown: no owner changes on the host (a --mount is root-squashed): EPERM, even as root
    st = (share / "suid").stat()
    for call, args in (("chown", (k.cstr("/share/suid"), 4321, -1)),
                       ("lchown", (k.cstr("/share/suid"), -1, 4321)),
                       ("fchown", (fd, 4321, 4321)),
                       ("fchownat", (AT_FDCWD, k.cstr("/share/suid"), 4321, -1, 0))):
        assert k.call(call, *args) == E("EPERM"), call
    assert ((share / "suid").stat().st_uid, (share / "suid").stat().st_gid) == \
        (st.st_uid, st.st_gid)
    assert not (share / "suid").stat().st_mode & 0o6000


def test_std_streams_redirected_to_host_files_show_model_numbers(tmp_path):
    """fstat of a stream redirected from or to a host file: an anonymous inode's device and
    a number the model hands out, not the host's; the same host file twice (`cat f > f`)
    is one number, two files are two."""
    same, other = tmp_path / "f", tmp_path / "g"
    same.write_bytes(b"x")
    other.write_bytes(b"y")
    fds = [os.open(same, os.O_RDWR), os.open(same, os.O_RDWR), os.open(other, os.O_RDWR)]
    try:
        k = FakeKernel(std=tuple(fds))
        buf = k.alloc(256)
        seen = []
        for fd in range(3):
            assert k.call("fstat", fd, buf) == 0
            seen.append(structs.unpack("stat", "x86_64", k.read(buf, 144)))
        host = os.fstat(fds[0])
        assert all(st["st_dev"] == os.makedev(0, 14) != host.st_dev for st in seen)
        assert seen[0]["st_ino"] == seen[1]["st_ino"] != seen[2]["st_ino"]
        assert host.st_ino not in [st["st_ino"] for st in seen]
        assert seen[2]["st_size"] == 1 and seen[0]["st_mode"] & S_IFMT == S_IFREG
        via_proc = k.stat("/proc/self/fd/1")
        assert (via_proc["st_ino"], via_proc["st_dev"]) == (seen[1]["st_ino"], seen[1]["st_dev"])
    finally:
        for fd in fds:
            os.close(fd)


def test_chmod_follows_linux_rules_off_the_host(shared):
    """In /tmp chmod keeps every bit, as tmpfs does; a read-only file system refuses it with
    EROFS, another user's file with EPERM, a symlink itself with EOPNOTSUPP; a caller
    outside the file's group loses S_ISGID."""
    tmp, share = shared
    k = FakeKernel(mounts=[Mount(host=str(share), guest="/ro", writable=False)])
    fd = k.open("/tmp/f", O_WRONLY | O_CREAT, 0o644)
    assert k.call("fchmod", fd, 0o4755) == 0
    assert k.stat("/tmp/f")["st_mode"] & 0o7777 == 0o4755
    assert k.call("chmod", k.cstr("/ro/file.txt"), 0o600) == E("EROFS")
    assert k.call("chmod", k.cstr("/proc/self/status"), 0o600) == E("EPERM")
    assert k.call("chmod", k.cstr("/tmp"), 0o777) == E("EPERM")  # root's /tmp
    rw = FakeKernel(mounts=[Mount(host=str(share), guest="/rw", writable=True)],
                    uid=os.getuid())  # the guest runs as the host user
    assert rw.call("fchmodat2", AT_FDCWD, rw.cstr("/rw/rel_inside"), 0o600,
                   AT_SYMLINK_NOFOLLOW) == E("EOPNOTSUPP")
    assert rw.call("fchmodat2", AT_FDCWD, rw.cstr("/rw/file.txt"), 0o600, 0x1) == E("EINVAL")
    assert rw.call("chmod", rw.cstr("/rw/rel_inside"), 0o600) == 0  # through the link
    assert (share / "sub" / "inner.txt").stat().st_mode & 0o7777 == 0o600
    before = (tmp / "secret").stat().st_mode
    assert rw.call("chmod", rw.cstr("/rw/abs_secret"), 0o777) == E("EACCES")  # outside
    assert (tmp / "secret").stat().st_mode == before
    assert k.call("chmod", k.cstr("/tmp/f"), 0o600) == 0
    k.process.creds = k.process.creds.with_(rgid=4321, egid=4321, sgid=4321,
                                            fsgid=4321)  # no longer in the file's group
    assert k.call("chmod", k.cstr("/tmp/f"), 0o2755) == 0
    assert k.stat("/tmp/f")["st_mode"] & 0o7777 == 0o755
    assert k.call("fchmod", 99, 0o600) == E("EBADF")


FILE_TIMES = """bits 64
section .data
root: db "/", 0
path: db "/tmp/x", 0
section .bss
statbuf: resb 144
times_out: resq 4
section .text
_start:
    mov eax, 4                      ; stat("/")
    lea rdi, [rel root]
    lea rsi, [rel statbuf]
    syscall
    mov rax, [rel statbuf + 88]     ; st_mtime
    mov [rel times_out], rax
    mov eax, 2                      ; open("/tmp/x", O_WRONLY|O_CREAT, 0644)
    lea rdi, [rel path]
    mov esi, 0o101
    mov edx, 0o644
    syscall
    mov edi, eax
    mov eax, 5                      ; fstat
    lea rsi, [rel statbuf]
    syscall
    mov rax, [rel statbuf + 88]
    mov [rel times_out + 8], rax
    mov rax, [rel statbuf + 72]     ; st_atime
    mov [rel times_out + 16], rax
    mov eax, 201                    ; time(NULL): the guest's own clock
    xor edi, edi
    syscall
    mov [rel times_out + 24], rax
    mov eax, 1
    mov edi, 1
    lea rsi, [rel times_out]
    mov edx, 32
    syscall
    mov eax, 60
    xor edi, edi
    syscall
"""


@pytest.mark.parametrize("clock", ["frozen:1234567890", "virtual:1234567890"])
def test_file_times_do_not_reveal_a_frozen_or_virtual_clock(guest, clock):
    """Under a frozen or virtual clock the root's and a new /tmp file's times come from the
    file systems' own fixed epoch (2020-01-01), never from the clock the guest was given:
    only a time call reads that."""
    from kernel_model.clock import FILES_EPOCH_NS, NSEC

    r = guest("times.s", source=FILE_TIMES, clock=clock)
    assert r.status == 0
    root, tmp_m, tmp_a, now = struct.unpack("<4q", r.stdout)
    assert now == 1234567890
    epoch = FILES_EPOCH_NS // NSEC
    assert root == epoch
    assert epoch <= tmp_m < epoch + 60 and tmp_a == tmp_m


def test_file_times_follow_a_real_clock(guest):
    r = guest("times.s", source=FILE_TIMES)
    root, tmp_m, _, now = struct.unpack("<4q", r.stdout)
    assert abs(now - root) < 60 and abs(now - tmp_m) < 60

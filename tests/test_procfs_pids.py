"""/proc/<pid>/ for every process in the kernel's table: stat and status in Linux's format
(fs/proc/array.c), cmdline, environ, comm, maps, exe, fd/ and task/, a zombie's remains,
and /proc/self and /proc/thread-self following the task that asks.

Most tests drive the file syscalls through test_files' stand-in kernel, with several
Process objects in its table (a guest would be heavy for each state); the last ones run
guests: assembly that forks and reads /proc/<child>/stat as the child runs and ends
(compared with a native run), and busybox's ps."""

from __future__ import annotations

import os
import platform
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import run_guest
from test_files import PID, E, FakeKernel

from kernel_model.files.fdtable import FdTable
from kernel_model.files.inode import Cred
from kernel_model.files.uapi import (
    AT_SYMLINK_NOFOLLOW,
    DT_DIR,
    DT_LNK,
    O_CREAT,
    O_DIRECTORY,
    O_RDONLY,
    O_RDWR,
    O_WRONLY,
    S_IFDIR,
    S_IFLNK,
    S_IFMT,
)
from kernel_model.memory.mm import Mm, Vma
from kernel_model.proc.creds import Credentials
from kernel_model.proc.process import Process, SigAction
from kernel_model.proc.sched import BlockedCall
from kernel_model.proc.task import Task

SIGUSR1, SIGUSR2, SIGTERM, SIGCHLD, SIGSTOP = 10, 12, 15, 17, 19

# Linux 6.18's status lines, in order, for a process with memory, and for a zombie (no
# Umask, no memory lines), as this host's /proc/<pid>/status shows them.
STATUS_KEYS = (
    "Name Umask State Tgid Ngid Pid PPid TracerPid Uid Gid FDSize Groups NStgid NSpid "
    "NSpgid NSsid Kthread VmPeak VmSize VmLck VmPin VmHWM VmRSS RssAnon RssFile RssShmem "
    "VmData VmStk VmExe VmLib VmPTE VmSwap HugetlbPages CoreDumping THP_enabled "
    "untag_mask Threads SigQ SigPnd ShdPnd SigBlk SigIgn SigCgt CapInh CapPrm CapEff "
    "CapBnd CapAmb NoNewPrivs Seccomp Seccomp_filters Speculation_Store_Bypass "
    "SpeculationIndirectBranch Cpus_allowed Cpus_allowed_list Mems_allowed "
    "Mems_allowed_list voluntary_ctxt_switches nonvoluntary_ctxt_switches").split()
ZOMBIE_KEYS = [key for key in STATUS_KEYS if key != "Umask" and not (
    STATUS_KEYS.index("VmPeak") <= STATUS_KEYS.index(key) <= STATUS_KEYS.index("untag_mask"))]


@pytest.mark.skipif(not platform.release().startswith("6.18")
                    or not os.path.exists("/proc/self/status"),
                    reason="the lines are those of Linux 6.18, the release the model is")
def test_the_status_lines_are_the_host_s():
    native = [line.split(":")[0] for line in Path("/proc/self/status").read_text().split("\n")
              if line]
    # Only a kernel built with user shadow stacks has these, and the model is not.
    native = [key for key in native if not key.startswith("x86_Thread_features")]
    assert native == STATUS_KEYS


def _process(pid: int, ppid: int, *, name: str = "worker", uid: int = 1000) -> Process:
    mm = Mm(None, mmap_base=0)  # the memory map only: no CPU behind it
    mm.vmas = [
        Vma(0x400000, 0x401000, 5, f"/bin/{name}", dev=(0, 1), inode=9),
        Vma(0x402000, 0x404000, 3, f"/bin/{name}", dev=(0, 1), inode=9, offset=0x2000),
        Vma(0x7FFD0000, 0x7FFF1000, 3, "[stack]", grows_down=True),
    ]
    p = Process(arch="x86_64", mm=mm, machine=None, exe_path=f"/host/{name}",
                exe_bytes=b"", argv=[name, "--job", "7"], envp=[f"WHO={name}"], pid=pid,
                ppid=ppid, pgid=PID, sid=PID - 1, creds=Credentials.of_user(uid, uid),
                guest_exe=f"/bin/{name}")
    p.fds = FdTable()
    return p


class Family:
    """The stand-in kernel's process (PID) and two children: 4300 with a second thread
    (4302), 4310 alone."""

    def __init__(self):
        self.k = FakeKernel()
        self.table = self.k.vfs.processes
        self.parent = self.k.process
        self.a = _process(4300, PID)
        self.a.threads.append(Task(tid=4302, process=self.a))
        self.b = _process(4310, PID, name="other")
        for child in (self.a, self.b):
            self.table.add(child)
            self.parent.children.append(child)

    def run_as(self, task: Task) -> None:
        """`task` makes the next calls: the scheduler's current, the handlers' process."""
        self.table.current = task
        self.k.process = task.process

    def text(self, path: str) -> str:
        data = self.k.read_fd(self.k.open(path))
        assert isinstance(data, bytes), (path, data)
        return data.decode()

    def stat(self, path: str) -> list[str]:
        """The fields of a stat line, the comm in parentheses counted as one."""
        line = self.text(path)
        assert line.endswith("\n") and line.count("\n") == 1
        pid, rest = line[:-1].split(" (", 1)
        comm, rest = rest.rsplit(") ", 1)
        return [pid, comm, *rest.split(" ")]

    def status(self, path: str) -> dict[str, str]:
        text = self.text(path)
        assert text.endswith("\n")
        return dict(line.split(":\t", 1) for line in text[:-1].split("\n"))

    def names(self, path: str) -> list[str]:
        return [e["d_name"].decode() for e in self.k.dents(self.k.open(path, O_DIRECTORY))]


@pytest.fixture
def fam():
    return Family()


# -- the listing, and who /proc/self is --------------------------------------------------------
def test_ls_proc_lists_every_process_by_pid(fam):
    names = fam.names("/proc")
    assert names[:2] == [".", ".."]
    assert {"self", "thread-self", "cpuinfo"} <= set(names)
    pids = [n for n in names if n.isdigit()]
    assert pids == [str(PID), "4300", "4310"]  # thread-group ids only, ascending
    assert "4302" not in names  # a thread is not listed...
    assert fam.k.stat("/proc/4302")["st_mode"] & S_IFMT == S_IFDIR  # ...but found
    dents = {e["d_name"]: e["d_type"] for e in fam.k.dents(fam.k.open("/proc", O_DIRECTORY))}
    assert dents[b"4300"] == DT_DIR and dents[b"self"] == DT_LNK
    assert fam.k.open("/proc/4399/stat") == E("ENOENT")
    assert fam.k.open("/proc/04300/stat") == E("ENOENT")  # only a pid's own spelling


def test_self_and_thread_self_follow_the_caller(fam):
    assert fam.k.readlink("/proc/self") == str(PID)
    assert fam.k.readlink("/proc/thread-self") == f"{PID}/task/{PID}"
    second = fam.a.threads[1]
    fam.run_as(second)
    assert fam.k.readlink("/proc/self") == "4300"
    assert fam.k.readlink("/proc/thread-self") == "4300/task/4302"
    assert fam.stat("/proc/thread-self/stat")[0] == "4302"
    assert fam.status("/proc/self/status")["Pid"] == "4300"
    assert fam.text("/proc/self/cmdline") == "worker\0--job\0007\0"
    fam.run_as(fam.b.main_thread)
    assert fam.status("/proc/self/status")["Name"] == "other"
    assert fam.k.stat("/proc/thread-self", AT_SYMLINK_NOFOLLOW)["st_size"] == 0


def test_a_pid_directory_holds_what_linux_shows(fam):
    names = set(fam.names("/proc/4300"))
    assert names >= {"stat", "status", "cmdline", "comm", "environ", "maps", "exe", "fd",
                     "task", "cwd", "root", "auxv"}
    assert "task" not in fam.names("/proc/4300/task/4302")
    st = fam.k.stat("/proc/4300")
    assert st["st_mode"] == S_IFDIR | 0o555 and st["st_uid"] == 1000
    assert fam.k.stat("/proc/4300/fd")["st_mode"] == S_IFDIR | 0o500
    assert fam.k.stat("/proc/4300/environ")["st_mode"] & 0o777 == 0o400
    # Each process's entries are its own inodes; the same entry keeps its number.
    inos = {fam.k.stat(f"/proc/{pid}/stat")["st_ino"] for pid in (PID, 4300, 4310)}
    assert len(inos) == 3
    assert fam.k.stat("/proc/4300/stat")["st_ino"] == fam.k.stat("/proc/4300/stat")["st_ino"]


def test_cmdline_environ_comm_maps_exe_of_another_process(fam):
    assert fam.text("/proc/4310/cmdline") == "other\0--job\0007\0"
    assert fam.text("/proc/4310/environ") == "WHO=other\0"
    assert fam.text("/proc/4310/comm") == "other\n"
    assert fam.text("/proc/4310/maps") == fam.b.mm.maps_text()
    assert "/bin/other" in fam.text("/proc/4310/maps")
    assert fam.k.readlink("/proc/4310/exe") == "/bin/other"
    assert fam.k.readlink("/proc/4300/task/4302/exe") == "/bin/worker"
    fam.b.cwd = "/tmp"
    assert fam.k.readlink("/proc/4310/cwd") == "/tmp"
    long = _process(4320, PID, name="a-very-long-program-name")
    fam.table.add(long)
    assert fam.text("/proc/4320/comm") == "a-very-long-pro\n"  # TASK_COMM_LEN 16


# -- stat -------------------------------------------------------------------------------------
def test_stat_has_linux_s_52_fields(fam):
    f = fam.stat("/proc/4300/stat")
    assert len(f) == 52
    assert f[:8] == ["4300", "worker", "R", str(PID), str(PID), str(PID - 1), "0", "-1"]
    assert int(f[8]) == 0x400000 | 0x40  # PF_RANDOMIZE | PF_FORKNOEXEC: forked, no exec
    assert f[17:20] == ["20", "0", "2"]  # priority, nice, num_threads
    assert int(f[22]) == 0x1000 + 0x2000 + 0x21000  # vsize: the VMAs, in bytes
    assert f[24] == str((1 << 64) - 1)  # rsslim: RLIMIT_RSS unlimited
    assert f[37] == str(SIGCHLD) and f[38] == "0"  # exit_signal, the one CPU
    assert f[51] == "0"  # exit_code: still running
    me = fam.stat("/proc/self/stat")
    assert me[0] == str(PID) and int(me[8]) == 0x400000  # the first: exec'd by the shell
    thread = fam.stat("/proc/4300/task/4302/stat")
    assert thread[0] == "4302" and thread[19] == "2" and thread[37] == "-1"


def test_stat_and_status_state_letters(fam):
    a, b = fam.a, fam.b
    worker = a.main_thread
    worker.state = "S"
    worker.blocked = BlockedCall("syscall", 0, "read", 512, "data in a pipe")
    assert fam.stat("/proc/4300/stat")[2] == "S"
    assert fam.stat("/proc/4300/stat")[34] == "1"  # wchan: a flag, sleeping
    assert fam.status("/proc/4300/status")["State"] == "S (sleeping)"
    worker.blocked = BlockedCall("syscall", 58, "vfork", 513, "its child's exec or exit",
                                 interruptible=False)
    assert fam.status("/proc/4300/status")["State"] == "D (disk sleep)"
    for t in b.threads:
        t.state = "T"
    b.stop_report = SIGSTOP
    f = fam.stat("/proc/4310/stat")
    assert (f[2], f[51]) == ("T", str(SIGSTOP))  # a stopped task's exit_code: the signal
    assert fam.status("/proc/4310/status")["State"] == "T (stopped)"
    assert fam.stat("/proc/4300/task/4302/stat")[2] == "R"  # the other thread runs
    assert fam.stat("/proc/self/stat")[34] == "0"


def test_stat_and_status_signal_masks(fam):
    a = fam.a
    a.main_thread.sigmask = 1 << (SIGUSR1 - 1)
    a.main_thread.pending.append((SIGUSR2, 0, 0, {}))
    a.sigactions[SIGTERM] = SigAction(handler=1)  # SIG_IGN
    a.sigactions[SIGCHLD] = SigAction(handler=0x401000)
    f = fam.stat("/proc/4300/stat")
    assert [int(x) for x in f[30:34]] == [1 << 11, 1 << 9, 1 << 14, 1 << 16]
    s = fam.status("/proc/4300/status")
    assert s["SigPnd"] == f"{1 << 11:016x}" and s["ShdPnd"] == "0" * 16
    assert s["SigBlk"] == f"{1 << 9:016x}"
    assert s["SigIgn"] == f"{1 << 14:016x}" and s["SigCgt"] == f"{1 << 16:016x}"
    assert s["SigQ"] == "1/63541"
    t = fam.status("/proc/4300/task/4302/status")  # the other thread: its own mask
    assert t["SigPnd"] == t["SigBlk"] == "0" * 16 and t["SigIgn"] == s["SigIgn"]


# -- status -----------------------------------------------------------------------------------
def test_status_lines_in_linux_s_order(fam):
    s = fam.status("/proc/4300/status")
    assert list(s) == STATUS_KEYS
    assert s["Name"] == "worker" and s["Umask"] == "0022"
    assert s["State"] == "R (running)"
    assert (s["Tgid"], s["Pid"], s["PPid"], s["TracerPid"]) == ("4300", "4300", str(PID), "0")
    assert (s["NStgid"], s["NSpid"], s["NSpgid"], s["NSsid"]) == (
        "4300", "4300", str(PID), str(PID - 1))
    assert s["Uid"] == s["Gid"] == "1000\t1000\t1000\t1000"
    assert s["Groups"] == " " and s["FDSize"] == "64"
    assert s["Threads"] == "2"
    assert s["VmSize"] == f"{(0x1000 + 0x2000 + 0x21000) // 1024:8d} kB"
    assert s["VmStk"] == f"{0x21000 // 1024:8d} kB"
    assert s["VmData"] == f"{0x2000 // 1024:8d} kB"  # writable, private, not the stack
    assert s["CapEff"] == "0" * 16 and s["CapBnd"] == "000001ffffffffff"  # uid 1000
    assert s["Cpus_allowed_list"] == "0"
    t = fam.status("/proc/4300/task/4302/status")
    assert (t["Tgid"], t["Pid"], t["Threads"]) == ("4300", "4302", "2")


def test_status_name_is_escaped():
    fam = Family()
    odd = _process(4330, PID, name="tab\\me")
    fam.table.add(odd)
    assert fam.status("/proc/4330/status")["Name"] == "tab\\\\me"
    assert fam.stat("/proc/4330/stat")[1] == "tab\\me"  # stat shows the raw name


def test_fdsize_grows_as_the_fd_table_does(fam):
    dev_null = fam.k.vfs.open("/dev/null", O_RDWR, 0, base="/", cred=Cred.of_user(1000, 1000))
    fam.a.fds.install_at(100, dev_null)
    assert fam.status("/proc/4300/status")["FDSize"] == "128"
    fam.a.fds.install_at(255, dev_null)
    assert fam.status("/proc/4300/status")["FDSize"] == "256"  # a shell's fd 255


# -- fd/ --------------------------------------------------------------------------------------
def test_fd_directory_links(fam):
    k = fam.k
    buf = k.alloc(8)
    assert k.call("pipe2", buf, 0) == 0
    r, w = (int.from_bytes(k.read(buf + 4 * i, 4), "little") for i in range(2))
    pipe_ino = k.stat(f"/proc/self/fd/{r}")["st_ino"]
    tmp = k.open("/tmp/log", O_CREAT | O_WRONLY)
    table = fam.b.fds
    table.install_at(0, k.process.fds[0])  # /dev/null
    table.install_at(1, k.process.fds[w])
    table.install_at(5, k.process.fds[tmp])
    assert fam.names("/proc/4310/fd")[2:] == ["0", "1", "5"]
    assert k.readlink("/proc/4310/fd/0") == "/dev/null"
    assert k.readlink("/proc/4310/fd/1") == f"pipe:[{pipe_ino}]"
    assert k.readlink("/proc/4310/fd/5") == "/tmp/log"
    assert k.open("/proc/4310/fd/2") == E("ENOENT")
    # As fs/proc/fd.c: the link's bits say how the fd was opened, its size is 64, and the
    # directory's size counts the open fds; no /proc inode has blocks, all say 1 KiB.
    modes = {fd: k.stat(f"/proc/4310/fd/{fd}", AT_SYMLINK_NOFOLLOW)["st_mode"]
             for fd in (0, 1, 5)}
    assert modes == {0: S_IFLNK | 0o700, 1: S_IFLNK | 0o300, 5: S_IFLNK | 0o300}
    st = k.stat("/proc/4310/fd/0", AT_SYMLINK_NOFOLLOW)
    assert (st["st_size"], st["st_blocks"], st["st_blksize"]) == (64, 0, 1024)
    assert k.stat("/proc/4310/fd")["st_size"] == 3
    # Following the link reaches the file itself: what goes in comes out of our end.
    fd = k.open("/proc/4310/fd/1", O_WRONLY)
    assert k.write_fd(fd, b"through /proc") == 13
    assert k.read_fd(r, 64) == b"through /proc"
    assert fam.names("/proc/4300/task/4302/fd")[2:] == []  # 4300's table is empty


# -- task/ ------------------------------------------------------------------------------------
def test_task_directory_one_entry_per_thread(fam):
    assert fam.names("/proc/4300/task")[2:] == ["4300", "4302"]
    assert fam.k.stat("/proc/4300/task")["st_nlink"] == 4
    assert fam.names("/proc/4310/task")[2:] == ["4310"]
    fam.a.threads[1].state = "S"
    assert fam.stat("/proc/4300/task/4302/stat")[2] == "S"
    assert fam.stat("/proc/4300/stat")[2] == "R"  # the group's stat: the leader's state
    assert fam.status("/proc/4300/task/4302/status")["State"] == "S (sleeping)"
    fam.a.threads[1].state = "X"  # the thread exited
    assert fam.names("/proc/4300/task")[2:] == ["4300"]
    assert fam.status("/proc/4300/status")["Threads"] == "1"
    assert fam.k.open("/proc/4300/task/4302/stat") == E("ENOENT")
    assert fam.k.open("/proc/4302/stat") == E("ENOENT")


def test_a_leader_that_exits_before_its_threads_stays_a_zombie(fam):
    fam.a.main_thread.state = "X"  # exit() in the leader; 4302 runs on
    assert fam.names("/proc/4300/task")[2:] == ["4300", "4302"]
    assert fam.stat("/proc/4300/stat")[2] == "Z"
    assert fam.stat("/proc/4300/task/4302/stat")[2] == "R"


# -- a zombie, and after the reaping ----------------------------------------------------------
def _make_zombie(p: Process, code: int) -> None:
    p.exit_code = code
    p.main_thread.state = "Z"
    for t in p.threads[1:]:
        t.state = "X"


def test_a_zombie_keeps_its_directory(fam):
    a = fam.a
    a.sigactions[SIGTERM] = SigAction(handler=1)
    _make_zombie(a, 3)
    assert "4300" in fam.names("/proc")
    f = fam.stat("/proc/4300/stat")
    assert len(f) == 52 and f[2] == "Z"
    assert int(f[8]) == 0x400000 | 0x8000 | 0x40 | 0x8 | 0x4  # exiting, as Linux's 4227148
    assert f[19] == "1"  # num_threads: the leader's remains
    assert f[22:24] == ["0", "0"] and f[25:30] == ["0"] * 5  # no memory
    assert f[44:51] == ["0"] * 7
    assert f[51] == str(3 << 8)  # exit_code: the wait status
    assert f[32] == str(1 << 14)  # its signal handlers remain until it is released
    s = fam.status("/proc/4300/status")
    assert list(s) == ZOMBIE_KEYS
    assert s["State"] == "Z (zombie)" and s["FDSize"] == "0" and s["Threads"] == "1"
    assert fam.text("/proc/4300/maps") == "" and fam.text("/proc/4300/cmdline") == ""
    assert fam.text("/proc/4300/comm") == "worker\n"
    assert fam.k.open("/proc/4300/environ") == E("ESRCH")
    assert fam.k.open("/proc/4300/auxv") == E("ESRCH")
    assert fam.k.readlink("/proc/4300/exe") == E("ENOENT")
    assert fam.k.readlink("/proc/4300/cwd") == E("ENOENT")
    assert fam.names("/proc/4300/fd")[2:] == []
    assert fam.names("/proc/4300/task")[2:] == ["4300"]


def test_a_killed_zombie_says_so_in_its_flags_and_status(fam):
    fam.b.killed_by = SIGTERM
    fam.b.main_thread.state = "Z"
    f = fam.stat("/proc/4310/stat")
    assert int(f[8]) & 0x400 and f[51] == str(SIGTERM)  # PF_SIGNALED; the wait status


def test_a_reaped_process_is_gone(fam):
    fd = fam.k.open("/proc/4310/status")
    dirfd = fam.k.open("/proc/4310", O_DIRECTORY)
    _make_zombie(fam.b, 0)
    fam.b.reaped = True
    fam.table.discard(fam.b)
    assert "4310" not in fam.names("/proc")
    assert fam.k.open("/proc/4310/status") == E("ENOENT")
    assert "Name:\tother" in fam.k.read_fd(fd).decode()  # opened before: its snapshot
    assert fam.k.call("openat", dirfd, fam.k.cstr("stat"), O_RDONLY, 0) == E("ENOENT")


def test_the_run_s_own_process_once_ended(fam):
    """Its parent is the shell outside the model, which reaps it at once: gone while its
    children run on; once every task has ended the run is over, and its directory is
    there again for whoever inspects the run."""
    first = fam.parent
    first.exit_code = 0
    first.reaped = True
    first.main_thread.state = "X"
    fam.run_as(fam.a.main_thread)
    assert str(PID) not in fam.names("/proc")
    assert fam.k.open(f"/proc/{PID}/stat") == E("ENOENT")
    for p in (fam.a, fam.b):
        _make_zombie(p, 0)
    assert str(PID) in fam.names("/proc")
    assert fam.stat(f"/proc/{PID}/stat")[2] == "X"


# -- guests -----------------------------------------------------------------------------------
EXIT_ONLY = """
bits 64
section .text
global _start
_start:
    mov eax, 60
    xor edi, edi
    syscall
"""


def _cat(run, path: str) -> str:
    vfs = run.system.vfs
    p = run.system.process
    f = vfs.open(path, O_RDONLY, 0, base="/", cred=Cred.of_user(p.uid, p.gid))
    return f.read(run.system.kernel, 1 << 20).decode()


def test_stat_addresses_point_at_the_process_s_own_memory():
    """startstack is where argc is; arg_start..arg_end holds argv's strings and
    env_start..env_end envp's, in the guest's memory; the code and data bounds are the
    program's segments (a 64-bit nasm program: text at 0x401000)."""
    run = run_guest("g.s", "one", "two words", source=EXIT_ONLY, bits=64)
    f = _cat(run, "/proc/self/stat").split()
    machine, p = run.system.machine, run.system.process
    start_code, end_code, start_stack = int(f[25]), int(f[26]), int(f[27])
    assert start_stack == machine.sp  # the guest exited without touching its stack
    assert int.from_bytes(machine.read(start_stack, 8), "little") == 3  # argc
    arg_start, arg_end, env_start, env_end = (int(x) for x in f[47:51])
    assert machine.read(arg_start, arg_end - arg_start) == b"".join(
        a.encode() + b"\0" for a in p.argv)
    assert env_start == arg_end
    assert machine.read(env_start, env_end - env_start) == b"".join(
        e.encode() + b"\0" for e in p.envp)
    assert start_code == 0x401000 and end_code - start_code == 9  # the 9 bytes of code
    assert int(f[46]) == p.mm.start_brk
    assert int(f[21]) == p.main_thread.started_ns // 10_000_000  # starttime, in ticks


RETITLE = """
bits 64
section .text
global _start
_start:
    mov rdi, [rsp+8]                ; argv[0]
    mov byte [rdi], 'X'
    mov rax, [rsp]                  ; argc
    mov rsi, [rsp+rax*8+16]         ; envp[0], just past the argument strings
    mov byte [rsi-1], 'T'           ; over the NUL that ended the last argument
    mov eax, 60
    xor edi, edi
    syscall
"""


def test_cmdline_reads_the_argument_strings_from_memory():
    """A program that rewrites its argv strings is seen as it rewrote them; once the NUL
    after the last one is gone (setproctitle), cmdline is the title up to its first NUL
    (get_mm_proctitle). environ is read from memory too."""
    run = run_guest("title.s", "one", "two", source=RETITLE, bits=64)
    p = run.system.process
    argv0 = p.argv[0].encode()
    assert _cat(run, "/proc/self/cmdline").encode() == b"X" + argv0[1:] + b"\0"
    assert _cat(run, "/proc/self/environ").encode() == b"".join(
        e.encode() + b"\0" for e in p.envp)


@pytest.mark.parametrize("bits", [64, 32])
def test_i386_and_x86_64_stat_addresses(bits):
    """The same recovery of the stack's layout for both word sizes."""
    src = EXIT_ONLY if bits == 64 else EXIT_ONLY.replace("bits 64", "bits 32").replace(
        "mov eax, 60\n    xor edi, edi\n    syscall", "mov eax, 1\n    xor ebx, ebx\n    int 0x80")
    run = run_guest("g.s", "x", source=src, bits=bits)
    f = _cat(run, "/proc/self/stat").split()
    machine, word = run.system.machine, bits // 8
    assert int(f[27]) == machine.sp
    assert int.from_bytes(machine.read(int(f[27]), word), "little") == 2  # argc
    assert machine.read(int(f[47]), int(f[48]) - int(f[47])) == b"".join(
        a.encode() + b"\0" for a in run.system.process.argv)


@pytest.mark.skipif(not os.path.exists("/bin/busybox"), reason="needs a static busybox")
def test_busybox_ps_reads_the_table():
    """A real ps: it lists /proc, reads each pid's stat and cmdline."""
    run = run_guest("/bin/busybox", "ps", "-o", "pid,ppid,pgid,stat,comm,args", bits=64)
    assert run.status == 0
    lines = run.stdout.decode().splitlines()
    assert lines[1].split() == [str(PID), str(PID - 1), str(PID), "R", "busybox",
                                "/bin/busybox", "ps", "-o", "pid,ppid,pgid,stat,comm,args"]
    assert len(lines) == 2


FORK_AND_READ = Path(__file__).parent / "guests" / "proc_child_stat.s"
# The stat fields a native run must agree on (0-based): state, tty_nr, tpgid, flags,
# priority, nice, num_threads, itrealvalue, vsize, rsslim, startcode, endcode, the four
# signal masks, wchan, nswap, cnswap, exit_signal, rt_priority, policy, start_data,
# end_data, and exit_code. Pids, times, page faults, rss, the CPU and the stack's and
# arguments' randomized addresses differ between any two runs.
SAME_NATIVELY = [2, 6, 7, 8, 17, 18, 19, 20, 22, 24, 25, 26, *range(30, 38), 39, 40, 44, 45,
                 51]


def _stat_lines(out: bytes) -> tuple[list[str], list[str], list[str]]:
    lines = [line.split() for line in out.decode().splitlines()]
    assert len(lines) == 3 and all(len(f) == 52 for f in lines)
    return lines[0], lines[1], lines[2]


def test_a_guest_reads_its_child_s_stat_as_it_runs_and_ends():
    """fork; the child prints its /proc/self/stat; the parent prints /proc/<child>/stat
    before the child runs (R), after it exits (waitid WNOWAIT: Z, with the wait status),
    and opens it once more after wait4 reaped the child: ENOENT, its exit status (254)."""
    run = run_guest(FORK_AND_READ, bits=64)
    assert run.status == 254
    parent = run.system.process
    child = str(parent.pid + 1)
    runnable, own, zombie = _stat_lines(run.stdout)
    assert runnable[:8] == [child, "(proc_child_stat)", "R", str(parent.pid),
                            str(parent.pgid), str(parent.sid), "0", "-1"]
    assert own == runnable  # /proc/self in the child is the child
    assert int(runnable[8]) == 4194368  # PF_RANDOMIZE | PF_FORKNOEXEC
    assert runnable[22] != "0" and runnable[25:27] == ["4198400", "4198695"]
    assert zombie[:8] == [child, "(proc_child_stat)", "Z"] + runnable[3:8]
    assert int(zombie[8]) == 4227148  # and PF_EXITING, PF_POSTCOREDUMP, PF_NOFREEZE
    assert zombie[22:24] == ["0", "0"] and zombie[34] == "1"
    assert zombie[51] == str(7 << 8)  # the child's exit(7), as wait4 reports it
    # The parent gave the CPU up once, sleeping in waitid while the child ran.
    status = dict(line.split(":\t", 1) for line in _cat(run, "/proc/self/status").split("\n")
                  if line)
    assert (status["voluntary_ctxt_switches"], status["nonvoluntary_ctxt_switches"]) == (
        "1", "0")


@pytest.mark.skipif(not (shutil.which("nasm") and shutil.which("ld")
                         and os.path.exists("/proc/self/stat")),
                    reason="needs nasm, ld and a Linux /proc to run the guest natively")
def _default_signals() -> None:
    for signo in range(1, signal.NSIG):
        if signo not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(signo, signal.SIG_DFL)
            except (OSError, ValueError):
                pass  # a number with no signal behind it


def test_the_child_s_stat_matches_a_native_run(tmp_path):
    obj, exe = tmp_path / "g.o", tmp_path / "proc_child_stat"
    subprocess.run(["nasm", "-f", "elf64", str(FORK_AND_READ), "-o", str(obj)], check=True)
    subprocess.run(["ld", "-o", str(exe), str(obj)], check=True)
    # The native side starts as the guest does, every signal at its default (a test run
    # under nohup would otherwise hand it SIGHUP ignored, and sigignore would differ).
    native = subprocess.run([str(exe)], capture_output=True, timeout=30,
                            preexec_fn=_default_signals)
    assert native.returncode == 254
    # Natively the child may run first, or beside its parent: its own line is the one
    # saying R among the first two, whichever order they came in.
    first, second, n_zombie = _stat_lines(native.stdout)
    n_own = next(f for f in (second, first) if f[2] == "R")
    _, own, zombie = _stat_lines(run_guest(FORK_AND_READ, bits=64).stdout)
    for mine, theirs in ((own, n_own), (zombie, n_zombie)):
        assert [mine[i] for i in SAME_NATIVELY] == [theirs[i] for i in SAME_NATIVELY]

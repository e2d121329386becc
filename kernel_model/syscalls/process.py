"""Process lifetime and identity (kernel/exit.c, kernel/sys.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_model.signals.delivery import SI_TKILL, SI_USER
from kernel_model.syscalls.argkinds import Hex, Int, Ptr, Signal, UInt
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


@syscall("exit", Int(), ret="none")
def sys_exit(k: SyscallContext, code):
    return _exit(k, code)


@syscall("exit_group", Int(), ret="none")
def sys_exit_group(k: SyscallContext, code):
    return _exit(k, code)


def _exit(k: SyscallContext, code):
    k.process.exit_code = code & 0xFF
    k.stop_cpu()
    return None


@syscall("getpid")
def sys_getpid(k: SyscallContext):
    return k.process.pid


@syscall("gettid")
def sys_gettid(k: SyscallContext):
    return k.current.tid


@syscall("getppid")
def sys_getppid(k: SyscallContext):
    return k.process.ppid


@syscall("getuid")
def sys_getuid(k: SyscallContext):
    return k.process.uid


@syscall("geteuid")
def sys_geteuid(k: SyscallContext):
    return k.process.uid


@syscall("getgid")
def sys_getgid(k: SyscallContext):
    return k.process.gid


@syscall("getegid")
def sys_getegid(k: SyscallContext):
    return k.process.gid


# The i386 table also has the 32-bit-id versions.
for _name, _attr in (("getuid32", "uid"), ("geteuid32", "uid"), ("getgid32", "gid"),
                     ("getegid32", "gid")):
    syscall(_name)(lambda k, _a=_attr: getattr(k.process, _a))


@syscall("set_tid_address", Ptr())
def sys_set_tid_address(k: SyscallContext, tidptr):
    k.current.clear_child_tid = tidptr
    return k.current.tid


@syscall("set_robust_list", Ptr(), UInt())
def sys_set_robust_list(k: SyscallContext, head, length):
    expected = 24 if k.abi.bits == 64 else 12  # sizeof(struct robust_list_head)
    if length != expected:
        return -errnos.EINVAL
    k.current.robust_list = (head, length)
    return 0


@syscall("rseq", Ptr(), UInt(), Hex(), Hex())
def sys_rseq(k: SyscallContext, rseq, length, flags, sig):
    # Registering restartable sequences is accepted but never acted on: the model runs one
    # thread on one CPU and never preempts it, so no critical section is ever aborted.
    if flags & ~1 or length < 32:
        return -errnos.EINVAL
    if flags & 1:  # RSEQ_FLAG_UNREGISTER
        k.current.rseq = (0, 0, 0)
        return 0
    if k.current.rseq[0]:
        return -errnos.EBUSY
    if rseq % 32:
        return -errnos.EINVAL
    k.current.rseq = (rseq, length, sig)
    # cpu_id_start and cpu_id (offsets 0 and 4) tell the program it runs on CPU 0.
    k.write(rseq, bytes(8))
    k.note("rseq registered; syscall-lab never preempts, so it never restarts a sequence")
    return 0


@syscall("kill", Int(), Signal())
def sys_kill(k: SyscallContext, pid, sig):
    pid = k.abi.signed(pid) if pid >> 31 else pid
    return _signal_self(k, pid, sig, SI_USER)


@syscall("tkill", Int(), Signal())
def sys_tkill(k: SyscallContext, tid, sig):
    return _signal_self(k, tid, sig, SI_TKILL)


@syscall("tgkill", Int(), Int(), Signal())
def sys_tgkill(k: SyscallContext, tgid, tid, sig):
    if tgid != k.process.pid:
        return -errnos.ESRCH
    return _signal_self(k, tid, sig, SI_TKILL)


def _signal_self(k: SyscallContext, pid, sig, code):
    sig &= 0xFFFFFFFF
    if sig >= 65:
        return -errnos.EINVAL
    if pid not in (k.process.pid, 0, -1 & k.abi.mask, 0xFFFFFFFF) and k.abi.signed(pid) != -1:
        k.note("only the process itself exists in syscall-lab")
        return -errnos.ESRCH
    if sig == 0:
        return 0
    k.signals.send(sig, code, pid=k.process.pid, uid=k.process.uid, synchronous=False)
    return 0


@syscall("sched_yield")
def sys_sched_yield(k: SyscallContext):
    return 0


@syscall("sched_getaffinity", Int(), UInt(), Ptr())
def sys_sched_getaffinity(k: SyscallContext, pid, size, mask):
    word = k.abi.word
    if size < word or size % word:
        return -errnos.EINVAL
    k.write(mask, (1).to_bytes(word, "little"))  # one CPU: CPU 0
    return word


@syscall("getcpu", Ptr(), Ptr(), Ptr())
def sys_getcpu(k: SyscallContext, cpu, node, cache):
    if cpu:
        k.write(cpu, (0).to_bytes(4, "little"))
    if node:
        k.write(node, (0).to_bytes(4, "little"))
    return 0

"""System information and limits (kernel/sys.c, drivers/char/random.c)."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from kernel_model.files.etc_files import NODENAME
from kernel_model.syscalls.argkinds import Enum, Flags, InStruct, Int, OutBuf, OutStruct, UInt
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

# uname names the model, not the host: the release string is Linux's, the version says who.
UTS_SYSNAME = "Linux"
UTS_RELEASE = "6.18.0-syscall-lab"
UTS_VERSION = "#1 SMP PREEMPT_DYNAMIC syscall-lab kernel model (Python)"

RLIM_INFINITY = (1 << 64) - 1
# Linux's defaults for a login shell's child (RLIMIT_* numbering of asm-generic/resource.h).
RLIMITS = {
    0: (RLIM_INFINITY, RLIM_INFINITY),  # CPU
    1: (RLIM_INFINITY, RLIM_INFINITY),  # FSIZE
    2: (RLIM_INFINITY, RLIM_INFINITY),  # DATA
    3: (8 << 20, RLIM_INFINITY),  # STACK
    4: (0, RLIM_INFINITY),  # CORE
    5: (RLIM_INFINITY, RLIM_INFINITY),  # RSS
    6: (63541, 63541),  # NPROC
    7: (1024, 1048576),  # NOFILE
    8: (8 << 20, 8 << 20),  # MEMLOCK
    9: (RLIM_INFINITY, RLIM_INFINITY),  # AS
    10: (RLIM_INFINITY, RLIM_INFINITY),  # LOCKS
    11: (63541, 63541),  # SIGPENDING
    12: (819200, 819200),  # MSGQUEUE
    13: (0, 0),  # NICE
    14: (0, 0),  # RTPRIO
    15: (RLIM_INFINITY, RLIM_INFINITY),  # RTTIME
}


def _field(text: str) -> bytes:
    return text.encode()[:64].ljust(65, b"\0")


@syscall("uname", OutStruct("utsname"))
def sys_uname(k: SyscallContext, buf):
    machine = "x86_64" if k.arch.bits == 64 and k.abi.bits == 64 else "i686"
    nodename = NODENAME  # what /etc/hostname and /proc/sys/kernel/hostname say
    k.write(buf, b"".join(_field(s) for s in (UTS_SYSNAME, nodename, UTS_RELEASE, UTS_VERSION,
                                              machine, "(none)")))
    return 0


def _limit(k: SyscallContext, resource: int) -> tuple[int, int] | None:
    if resource in k.process.rlimits:
        return k.process.rlimits[resource]
    return RLIMITS.get(resource)


def _pack_rlimit(k: SyscallContext, cur: int, mx: int) -> bytes:
    if k.abi.bits == 64:
        return struct.pack("<QQ", cur, mx)
    clamp = lambda v: 0xFFFFFFFF if v >= 0xFFFFFFFF else v  # noqa: E731  RLIM_INFINITY
    return struct.pack("<II", clamp(cur), clamp(mx))


@syscall("prlimit64", Int(), Enum("rlimit"), InStruct("rlimit64"), OutStruct("rlimit64"))
def sys_prlimit64(k: SyscallContext, pid, resource, new, old):
    if pid not in (0, k.process.pid):
        return -errnos.ESRCH
    cur = _limit(k, resource)
    if cur is None:
        return -errnos.EINVAL
    if old:
        k.write(old, struct.pack("<QQ", *cur))
    if new:
        soft, hard = struct.unpack("<QQ", k.read(new, 16))
        if soft > hard:
            return -errnos.EINVAL
        k.process.rlimits[resource] = (soft, hard)
    return 0


@syscall("getrlimit", Enum("rlimit"), OutStruct("rlimit"))
def sys_getrlimit(k: SyscallContext, resource, buf):
    cur = _limit(k, resource)
    if cur is None:
        return -errnos.EINVAL
    if k.abi.bits == 32:  # the old i386 getrlimit clamps to 0x7fffffff
        cur = (min(cur[0], 0x7FFFFFFF), min(cur[1], 0x7FFFFFFF))
    k.write(buf, _pack_rlimit(k, *cur))
    return 0


@syscall("ugetrlimit", Enum("rlimit"), OutStruct("rlimit"))
def sys_ugetrlimit(k: SyscallContext, resource, buf):
    cur = _limit(k, resource)
    if cur is None:
        return -errnos.EINVAL
    k.write(buf, _pack_rlimit(k, *cur))
    return 0


@syscall("setrlimit", Enum("rlimit"), InStruct("rlimit"))
def sys_setrlimit(k: SyscallContext, resource, buf):
    if _limit(k, resource) is None:
        return -errnos.EINVAL
    fmt = "<QQ" if k.abi.bits == 64 else "<II"
    soft, hard = struct.unpack(fmt, k.read(buf, struct.calcsize(fmt)))
    k.process.rlimits[resource] = (soft, hard)
    return 0


@syscall("sysinfo", OutStruct("sysinfo"))
def sys_sysinfo(k: SyscallContext, buf):
    uptime = k.clock.boottime_ns() // 1_000_000_000
    mm = k.process.mm
    total = mm.limit
    shmem = getattr(mm, "outside", 0)  # /tmp's pages: shared memory, as Linux counts shmem
    free = max(0, total - mm.total - shmem)
    # uptime, loads[3], totalram, freeram, sharedram, bufferram, totalswap, freeswap,
    # procs, pad, totalhigh, freehigh, mem_unit (struct sysinfo: 112 bytes, 64 on i386)
    values = (uptime, 0, 0, 0, total, free, shmem, 0, 0, 0, 1, 0, 0, 0, 1)
    if k.abi.bits == 64:
        data = struct.pack("<q3Q6QHH4xQQI", *values).ljust(112, b"\0")
    else:
        data = struct.pack("<i3I6IHHIII", *values).ljust(64, b"\0")
    k.write(buf, data)
    return 0


GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE = 1, 2, 4


@syscall("getrandom", OutBuf(1), UInt(), Flags("grnd"))
def sys_getrandom(k: SyscallContext, buf, count, flags):
    if flags & ~7 or (flags & GRND_RANDOM and flags & GRND_INSECURE):
        return -errnos.EINVAL
    count = min(count, 0x1FFFFFF)  # the kernel returns at most 32 MiB - 1 per call
    data = k.random_bytes(count)
    k.write(buf, data)
    return count


@syscall("umask", UInt())
def sys_umask(k: SyscallContext, mask):
    old = k.process.umask
    k.process.umask = mask & 0o777
    return old


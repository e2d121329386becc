"""What the System V IPC syscalls share: the caller's credentials and time, the layout a
*ctl command uses, and finding a waiting call's record again when it runs after a wake."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_model.clock import NSEC
from kernel_model.ipc import layouts as L

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

# How a *ctl call's buffer is laid out: x86-64's structs, i386's ipc64 ones, or i386's old
# pre-IPC_64 ones (only ipc() without the IPC_64 bit asks for those).
LAYOUT_64, LAYOUT_IPC64, LAYOUT_OLD = "64", "ipc64", "old"


def now(k: SyscallContext) -> int:
    return k.clock.realtime_ns() // NSEC


def direct_cmd(k: SyscallContext, cmd: int) -> tuple[int, str]:
    """A direct *ctl syscall's command and layout: the command as given (IPC_64 in it makes
    it unknown: EINVAL), in x86-64's structs or, from i386, always the ipc64 ones (only
    ipc() reads IPC_64 as a version)."""
    return cmd, LAYOUT_64 if k.abi.bits == 64 else LAYOUT_IPC64


def layout_bits(layout: str) -> int:
    return 64 if layout == LAYOUT_64 else 32


def fresh_or_retry(k: SyscallContext):
    """This task's (object, record) when its waiting call runs again after a wake; None on
    a fresh call, which also forgets a record an interrupted earlier call left."""
    tid = k.current.tid
    if k.current.blocked is None:
        k.ipc.waiting.pop(tid, None)
        return None
    return k.ipc.waiting.get(tid)


def s32(v: int) -> int:
    """An `int` argument as the kernel's C code sees it."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def word_size(k: SyscallContext) -> int:
    return k.abi.bits // 8


def set_owner_and_mode(k: SyscallContext, obj, raw: bytes, layout: str, bits: int) -> None:
    """IPC_SET's part every kind shares (ipc_update_perm): the owner and the mode's
    permission bits from the caller's struct, and the change time."""
    uid, gid, mode = (L.unpack_old_perm(raw) if layout == LAYOUT_OLD
                      else L.unpack_perm(raw, bits))
    obj.perm.uid, obj.perm.gid = uid, gid
    obj.perm.mode = (obj.perm.mode & ~0o777) | (mode & 0o777)
    obj.ctime = now(k)

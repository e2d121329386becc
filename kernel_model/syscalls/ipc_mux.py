"""i386's ipc(2) (ipc/syscall.c, compat_ksys_ipc): one syscall for every System V IPC call,
the call number in the low 16 bits of its first argument and a version in the high 16.
Static glibc for i386 uses it for all of them; the subcalls are the ones of ipc_msg.py,
ipc_sem.py and ipc_shm.py, with these argument shuffles:

    SEMOP 1, SEMGET 2, SEMCTL 3 (ptr -> the semun word), SEMTIMEDOP 4 (fifth: timeout)
    MSGSND 11, MSGRCV 12 (version 0: ptr -> {msgp, msgtyp}; else msgp = ptr, msgtyp = fifth)
    MSGGET 13, MSGCTL 14, SHMAT 21 (the address is stored at `third`; version 1: EINVAL)
    SHMDT 22, SHMGET 23, SHMCTL 24

The *ctl calls take their layout from IPC_64 in the command (without it, i386's old
structs), as compat_ipc_parse_version does.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from kernel_model.ipc.ids import IPC_64
from kernel_model.syscalls.argkinds import Hex, Int, Ptr, UInt
from kernel_model.syscalls.ipc_common import LAYOUT_IPC64, LAYOUT_OLD
from kernel_model.syscalls.ipc_msg import do_msgctl, do_msgget, do_msgrcv, do_msgsnd
from kernel_model.syscalls.ipc_sem import do_semctl, do_semget, do_semtimedop
from kernel_model.syscalls.ipc_shm import do_shmat, do_shmctl, do_shmdt, do_shmget
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

SEMOP, SEMGET, SEMCTL, SEMTIMEDOP = 1, 2, 3, 4
MSGSND, MSGRCV, MSGGET, MSGCTL = 11, 12, 13, 14
SHMAT, SHMDT, SHMGET, SHMCTL = 21, 22, 23, 24
SUBCALLS = {SEMOP: "semop", SEMGET: "semget", SEMCTL: "semctl", SEMTIMEDOP: "semtimedop",
            MSGSND: "msgsnd", MSGRCV: "msgrcv", MSGGET: "msgget", MSGCTL: "msgctl",
            SHMAT: "shmat", SHMDT: "shmdt", SHMGET: "shmget", SHMCTL: "shmctl"}


def _parsed(cmd: int) -> tuple[int, str]:
    """compat_ipc_parse_version: the command without IPC_64, and the layout it asks."""
    return cmd & ~IPC_64, LAYOUT_IPC64 if cmd & IPC_64 else LAYOUT_OLD


@syscall("ipc", UInt(), Int(), Int(), Int(), Ptr(), Hex(), abi="i386")
def sys_ipc(k: SyscallContext, call, first, second, third, ptr, fifth):
    version, call = call >> 16, call & 0xFFFF
    if call == SEMOP:
        return do_semtimedop(k, first, ptr, second, 0)
    if call == SEMTIMEDOP:
        return do_semtimedop(k, first, ptr, second, fifth)
    if call == SEMGET:
        return do_semget(k, first, second, third)
    if call == SEMCTL:
        if not ptr:
            return -errnos.EINVAL
        pad = struct.unpack("<I", k.read(ptr, 4))[0]
        cmd, layout = _parsed(third)
        return do_semctl(k, first, second, cmd, pad, layout)
    if call == MSGSND:
        return do_msgsnd(k, first, ptr, second, third)
    if call == MSGRCV:
        if version == 0:
            if not ptr:
                return -errnos.EINVAL
            msgp, msgtyp = struct.unpack("<Ii", k.read(ptr, 8))
            return do_msgrcv(k, first, msgp, second, msgtyp, third)
        return do_msgrcv(k, first, ptr, second, fifth, third)
    if call == MSGGET:
        return do_msgget(k, first, second)
    if call == MSGCTL:
        cmd, layout = _parsed(second)
        return do_msgctl(k, first, cmd, ptr, layout)
    if call == SHMAT:
        if version == 1:
            return -errnos.EINVAL  # the iBCS2 entry, which compat never had
        addr = do_shmat(k, first, ptr, second)
        if addr < 0:
            return addr
        k.write(third, struct.pack("<I", addr & 0xFFFFFFFF))
        return 0
    if call == SHMDT:
        return do_shmdt(k, ptr)
    if call == SHMGET:
        return do_shmget(k, first, second, third)
    if call == SHMCTL:
        cmd, layout = _parsed(second)
        return do_shmctl(k, first, cmd, ptr, layout)
    return -errnos.ENOSYS

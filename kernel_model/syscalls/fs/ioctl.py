"""ioctl: the requests every file answers, then the file's own (fs/ioctl.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_model.files.inode import FsError
from kernel_model.files.uapi import FIOCLEX, FIONBIO, FIONCLEX, O_NONBLOCK, TCGETS, TIOCGWINSZ
from kernel_model.syscalls.argkinds import Enum, Fd, Hex
from kernel_model.syscalls.fs.plumbing import _fds, _u32, fs_call
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


@syscall("ioctl", Fd(), Enum("ioctl"), Hex())
@fs_call
def sys_ioctl(k: SyscallContext, fd, request, arg):
    table = _fds(k)
    fd, request = _u32(fd), _u32(request)
    f = table[fd]
    # fs/ioctl.c: do_vfs_ioctl answers these for every file before the driver sees them.
    if request in (FIOCLEX, FIONCLEX):
        table.set_cloexec(fd, request == FIOCLEX)
        return 0
    if request == FIONBIO:
        on = int.from_bytes(k.read(arg, 4), "little")
        f.set_flags(f.flags | O_NONBLOCK if on else f.flags & ~O_NONBLOCK)
        return 0
    try:
        return f.ioctl(k, request, arg)
    except FsError as e:
        if e.errno == errnos.ENOTTY and request not in (TCGETS, TIOCGWINSZ):
            k.note(f"ioctl {request:#x} is not modelled: ENOTTY")
        raise

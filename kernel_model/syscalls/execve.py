"""execve and execveat (fs/exec.c): the calls; kernel_model.proc.execve finds the program
and replaces the image, kernel_model.proc.load builds it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_model.proc.execve import AT_FDCWD, do_execveat
from kernel_model.syscalls.argkinds import DirFd, Flags, Path, Ptr
from kernel_model.syscalls.registry import syscall

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


@syscall("execve", Path(), Ptr(), Ptr())
def sys_execve(k: SyscallContext, path, argv, envp):
    return do_execveat(k, AT_FDCWD, path, argv, envp, 0)


@syscall("execveat", DirFd(), Path(), Ptr(), Ptr(), Flags("at"))
def sys_execveat(k: SyscallContext, dirfd, path, argv, envp, flags):
    return do_execveat(k, dirfd, path, argv, envp, flags)

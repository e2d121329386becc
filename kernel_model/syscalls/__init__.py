"""Syscall handlers, grouped like the kernel source. Importing this package registers them."""

from kernel_model.syscalls import (  # noqa: F401
    clone,
    execve,
    fs,
    futex,
    info,
    memory,
    poll,
    process,
    signal,
    socket,
    socket_msg,
    socket_opts,
    socketcall,
    timekeeping,
    tls,
    wait,
)

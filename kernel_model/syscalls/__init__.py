"""Syscall handlers, grouped like the kernel source. Importing this package registers them."""

from kernel_model.syscalls import (  # noqa: F401
    clone,
    execve,
    fs,
    futex,
    info,
    ipc_msg,
    ipc_mux,
    ipc_sem,
    ipc_shm,
    memory,
    poll,
    process,
    signal,
    timekeeping,
    tls,
    wait,
)

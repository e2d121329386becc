"""Syscall handlers, grouped like the kernel source. Importing this package registers them."""

from kernel_model.syscalls import (  # noqa: F401
    clone,
    creds,
    execve,
    fs,
    futex,
    info,
    ldt,

    madvise,

    ipc_msg,
    ipc_mux,
    ipc_sem,
    ipc_shm,
    memory,
    mlock,
    mremap,
    poll,
    process,
    signal,
    signal_old,

    socket,
    socket_msg,
    socket_opts,
    socketcall,
    timekeeping,
    tls,
    wait,
)

"""System V IPC (ipc/): message queues, semaphore sets and shared memory segments, one
namespace per run (the model has no IPC namespaces), named by ids and keys as Linux's are.

- ids.py: ids, keys, permissions (ipc/util.c)
- msg.py, sem.py, shm.py: the three kinds of object (ipc/msg.c, ipc/sem.c, ipc/shm.c)
- layouts.py: the structs user space reads and writes, for x86-64 and i386 (ipc64)
- namespace.py: the run's three id tables, and what a process leaves behind at exit

The syscalls that use them are in kernel_model/syscalls/ipc_*.py.
"""

from kernel_model.ipc.namespace import IpcNamespace

__all__ = ["IpcNamespace"]

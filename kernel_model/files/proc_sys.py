"""/proc/sys (kernel/sysctl.c and its tables): the values libcs and common programs read,
each the model's own: the uname strings, the host name, the limits the model enforces or
reports elsewhere (the memory cap gives threads-max and file-max as Linux derives them
from RAM), random/boot_id fixed for the run and random/uuid new at every read (both from
the run's generator, so --seed repeats them).

The model's sysctls cannot be changed: a write fails with EPERM, which the files' modes
(0644 where Linux lets root write) would otherwise allow root."""

from __future__ import annotations

from typing import Callable

from kernel_model.files.inode import Inode
from kernel_model.files.proc_nodes import ProcDir, ProcFile
from kernel_model.files.synthetic import PROC_DEV
from kernel_model.uapi import errnos

PID_MAX = 32768  # PID_MAX_DEFAULT: a kernel with few CPUs
NGROUPS_MAX = 65536
CAP_LAST_CAP = 40  # CAP_CHECKPOINT_RESTORE
OVERFLOW_ID = 65534
PIPE_MAX_SIZE = 1 << 20
NR_OPEN = 1 << 20
MAX_MAP_COUNT = 65530
PAGE = 4096


def uuid_text(random_bytes: Callable[[int], bytes]) -> str:
    """A version 4 UUID as the kernel prints it (generate_random_uuid, %pU)."""
    import uuid as uuid_module  # uuid imports platform: a cost at every start, so when read

    return str(uuid_module.UUID(bytes=random_bytes(16), version=4)) + "\n"


def sys_values(procfs) -> dict[str, dict]:
    """The tree: directories as dicts, files as (mode, text function)."""
    from kernel_model.files.etc_files import NODENAME
    from kernel_model.syscalls.info import UTS_RELEASE, UTS_SYSNAME, UTS_VERSION

    def fixed(text: str, mode: int = 0o644):
        return mode, lambda: text + "\n"

    def ram() -> int:
        return procfs.memory_limit()

    boot_id: list[str] = []  # drawn at its first read: a run that never reads it draws none

    def boot() -> str:
        if not boot_id:
            boot_id.append(uuid_text(procfs.random_bytes))
        return boot_id[0]

    return {
        "kernel": {
            "ostype": fixed(UTS_SYSNAME, 0o444),
            "osrelease": fixed(UTS_RELEASE, 0o444),
            "version": fixed(UTS_VERSION, 0o444),
            "hostname": fixed(NODENAME),
            "domainname": fixed("(none)"),
            "pid_max": fixed(str(PID_MAX)),
            "ngroups_max": fixed(str(NGROUPS_MAX), 0o444),
            "cap_last_cap": fixed(str(CAP_LAST_CAP), 0o444),
            # fork_init: a thread's 16 KiB stack may take at most 1/8 of RAM
            "threads-max": (0o644, lambda: f"{ram() // PAGE // 32}\n"),
            "overflowuid": fixed(str(OVERFLOW_ID)),
            "overflowgid": fixed(str(OVERFLOW_ID)),
            "random": {
                "boot_id": (0o444, boot),
                "uuid": (0o444, lambda: uuid_text(procfs.random_bytes)),
                "entropy_avail": fixed("256", 0o444),
                "poolsize": fixed("256", 0o444),
            },
        },
        "vm": {
            "overcommit_memory": fixed("0"),
            "max_map_count": fixed(str(MAX_MAP_COUNT)),
            "mmap_min_addr": (0o644, lambda: f"{procfs.mmap_min_addr()}\n"),
        },
        "fs": {
            "pipe-max-size": fixed(str(PIPE_MAX_SIZE)),
            # files_maxfiles_init: a tenth of RAM in KiB
            "file-max": (0o644, lambda: f"{ram() // 1024 // 10}\n"),
            "nr_open": fixed(str(NR_OPEN)),
        },
    }


def make_sys(procfs) -> ProcDir:
    """/proc/sys, each node made once (its inode number kept), each text at each open."""

    def build(path: tuple[str, ...], tree: dict) -> ProcDir:
        children: dict[str, Inode] = {}
        for name, value in sorted(tree.items()):
            if isinstance(value, dict):
                children[name] = build(path + (name,), value)
            else:
                mode, make = value
                children[name] = ProcFile(procfs.ino("sys", *path, name),
                                          (lambda make=make: make().encode()), mode=mode,
                                          created_ns=procfs.created_ns,
                                          write_errno=errnos.EPERM)
        return ProcDir(PROC_DEV, procfs.ino("sys", *path), lambda: children, mode=0o555,
                       created_ns=procfs.created_ns, strict=True)

    return build((), sys_values(procfs))

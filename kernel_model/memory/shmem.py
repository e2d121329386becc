"""Shared anonymous memory (mm/shmem.c shmem_zero_setup): what MAP_SHARED|MAP_ANONYMOUS and
a MAP_SHARED mapping of /dev/zero give. Linux backs each such mapping with its own unlinked
shmem file named "dev/zero" on the internal shm mount, so /proc/self/maps shows it as
"/dev/zero (deleted)" with device 00:01 and that file's inode number.

`map_shared_anonymous` is the one place such a mapping is made: a model that shares these
pages between processes (fork, shmat) hooks it here."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kernel_model.memory.mm import Mm, Vma

SHMEM_DEV = (0, 1)  # the kernel's internal shm mount, as /proc/self/maps prints it
SHMEM_NAME = "/dev/zero (deleted)"


def map_shared_anonymous(mm: Mm, start: int, size: int, prot: int, *, offset: int = 0,
                         maywrite: bool = True) -> Vma:
    """Map [start, start+size) as a fresh shared anonymous object (zero-filled). `offset`
    is the file offset a /dev/zero mapping was asked for (MAP_ANONYMOUS shows 0)."""
    return mm.map(start, size, prot, name=SHMEM_NAME, offset=offset, dev=SHMEM_DEV,
                  inode=mm.next_shmem_inode(), shared=True, kind="anon", maywrite=maywrite)

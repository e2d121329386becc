"""Shared memory segments (ipc/shm.c): one stretch of host memory (emu.hostmem.SharedBlock)
that every attaching process maps, so a byte one writes is the byte the others read.

An attachment is a VMA named "/SYSV<key> (deleted)" on device 00:01 whose inode is the
segment's id, as Linux shows it; shm_nattch counts such VMAs in the live address spaces
(a split attachment counts twice, as Linux's vm_ops->open counts it). IPC_RMID only marks
a segment still attached (SHM_DEST, key gone); it goes when its last attachment does.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from emu.hostmem import SharedBlock
from kernel_model.ipc.ids import Perm

SHMMIN, SHMMNI = 1, 4096
SHMMAX = SHMALL = (1 << 64) - 1 - (1 << 24)
SHMSEG = SHMMNI
SHM_RDONLY, SHM_RND, SHM_REMAP, SHM_EXEC = 0o10000, 0o20000, 0o40000, 0o100000
SHM_DEST, SHM_LOCKED = 0o1000, 0o2000
SHM_LOCK, SHM_UNLOCK, SHM_STAT, SHM_INFO, SHM_STAT_ANY = 11, 12, 13, 14, 15
SHM_DEV = (0, 1)  # the shm mount's anonymous device


@dataclass(eq=False)
class ShmSegment:
    perm: Perm
    size: int
    block: SharedBlock
    ctime: int
    cpid: int
    lpid: int = 0
    atime: int = 0
    dtime: int = 0
    name: str = ""  # its VMAs' name, fixed at creation from the key

    def __post_init__(self) -> None:
        self.name = f"/SYSV{self.perm.key & 0xFFFFFFFF:08x} (deleted)"

    def nattch(self, pool) -> int:
        """VMAs of this segment in the run's live address spaces (Mm.pool)."""
        return sum(1 for mm in pool for v in mm.vmas if is_attachment(v, self.perm.id))


SHM_KIND = "shm"  # the VMA kind of an attachment (shared anonymous memory, also on 00:01
                  # with inodes of its own, is "anon")


def is_attachment(v, ident: int | None = None) -> bool:
    """Whether VMA v maps a SysV segment (the one with this id, if given)."""
    return v.kind == SHM_KIND and v.dev == SHM_DEV and (ident is None or v.inode == ident)


class SegmentBlocks:
    """The host memory the run's segments own: a segment outlives the processes that made
    it (as on Linux), so when the run itself goes, what its segments still hold goes back
    to the host. One per run, shared by every copy of the kernel's state (the debugger's
    history copies it as a handle)."""

    HOLDER = "segment"

    def __init__(self):
        self.blocks: set[SharedBlock] = set()
        weakref.finalize(self, _drop_all, self.blocks)

    def __deepcopy__(self, memo) -> SegmentBlocks:
        return self

    def own(self, block: SharedBlock) -> None:
        block.hold(self.HOLDER)
        self.blocks.add(block)

    def give_back(self, block: SharedBlock) -> None:
        self.blocks.discard(block)
        block.drop(self.HOLDER)


def _drop_all(blocks: set[SharedBlock]) -> None:
    for block in list(blocks):
        block.drop(SegmentBlocks.HOLDER)
    blocks.clear()

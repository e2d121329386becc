"""Ids, keys and permissions of System V IPC objects (ipc/util.c, ipc/namespace.c).

An id is `seq << 15 | idx`: idx is the object's slot, handed out cyclically
(idr_alloc_cyclic below max(in_use * 3 / 2, 64)), and seq counts how often the slots have
wrapped, so a stale id names nothing (EINVAL) rather than a newer object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from kernel_model.uapi import errnos

IPC_PRIVATE = 0
IPC_CREAT, IPC_EXCL, IPC_NOWAIT = 0o1000, 0o2000, 0o4000
IPC_RMID, IPC_SET, IPC_STAT, IPC_INFO = 0, 1, 2, 3
IPC_64 = 0x100
IPCMNI_SHIFT = 15
IPC_MIN_CYCLE = 64  # RADIX_TREE_MAP_SIZE: ids cycle through at least this many slots
SEQ_MAX = 0x7FFFFFFF >> IPCMNI_SHIFT
S_IRUGO, S_IWUGO = 0o444, 0o222


@dataclass
class Perm:
    """struct kern_ipc_perm: who owns an object and who may use it."""

    key: int
    uid: int
    gid: int
    mode: int  # the low 9 bits; SHM_DEST and SHM_LOCKED ride above them for shm
    cuid: int = 0
    cgid: int = 0
    id: int = -1
    seq: int = 0
    deleted: bool = False


def may(perm: Perm, uid: int, gid: int, want: int) -> bool:
    """ipcperms: the owner's, group's or others' bits (`want` as S_IRUGO/S_IWUGO); root
    (CAP_IPC_OWNER) may do anything."""
    if uid == 0:
        return True
    granted = perm.mode
    if uid in (perm.uid, perm.cuid):
        granted >>= 6
    elif gid in (perm.gid, perm.cgid):
        granted >>= 3
    req = (want >> 6 | want >> 3 | want) & 7
    return (req & ~granted & 7) == 0


def may_change(perm: Perm, uid: int) -> bool:
    """ipcctl_obtain_check for IPC_SET/IPC_RMID: the creator, the owner or root."""
    return uid == 0 or uid in (perm.uid, perm.cuid)


T = TypeVar("T")


class Ids(Generic[T]):
    """One kind's table: slot -> object, key -> object. Objects carry `.perm`."""

    def __init__(self, mni: int):
        self.mni = mni
        self.slots: dict[int, T] = {}
        self.keys: dict[int, T] = {}
        self.seq = 0
        self.last_idx = -1
        self.next_idx = 0  # the cyclic allocator's cursor (idr_next)

    def add(self, obj: T, key: int) -> int:
        """ipc_addid: a slot and an id for obj; -ENOSPC when the table is full."""
        if len(self.slots) >= self.mni:
            return -errnos.ENOSPC
        end = min(max(len(self.slots) * 3 // 2, IPC_MIN_CYCLE), self.mni)
        idx = next((i for i in range(self.next_idx, end) if i not in self.slots), None)
        if idx is None:
            idx = next((i for i in range(0, end) if i not in self.slots), None)
        if idx is None:
            return -errnos.ENOSPC
        self.next_idx = idx + 1
        if idx <= self.last_idx:
            self.seq = 0 if self.seq + 1 >= SEQ_MAX else self.seq + 1
        self.last_idx = idx
        perm = obj.perm  # type: ignore[attr-defined]
        perm.seq = self.seq
        perm.id = (self.seq << IPCMNI_SHIFT) + idx
        self.slots[idx] = obj
        if key != IPC_PRIVATE:
            self.keys[key] = obj
        return perm.id

    def get(self, ident: int) -> T | None:
        """ipc_obtain_object_check: the object this id names, or None (EINVAL)."""
        if ident < 0:
            return None
        obj = self.slots.get(ident & ((1 << IPCMNI_SHIFT) - 1))
        if obj is None or obj.perm.id != ident:  # type: ignore[attr-defined]
            return None
        return obj

    def by_key(self, key: int) -> T | None:
        return self.keys.get(key)

    def at_index(self, idx: int) -> T | None:
        """The object in slot idx (the *_STAT commands take an index, not an id)."""
        return self.slots.get(idx)

    def forget_key(self, obj: T) -> None:
        """ipc_set_key_private: the object stays, but no key finds it any more."""
        perm = obj.perm  # type: ignore[attr-defined]
        if perm.key != IPC_PRIVATE and self.keys.get(perm.key) is obj:
            del self.keys[perm.key]
        perm.key = IPC_PRIVATE

    def remove(self, obj: T) -> None:
        """ipc_rmid: out of the table; a waiter that held it sees EIDRM."""
        perm = obj.perm  # type: ignore[attr-defined]
        self.forget_key(obj)
        self.slots.pop(perm.id & ((1 << IPCMNI_SHIFT) - 1), None)
        perm.deleted = True

    def max_idx(self) -> int:
        """ipc_get_maxidx: the highest slot in use, or -1."""
        return max(self.slots, default=-1)

    def objects(self) -> list[T]:
        return [self.slots[i] for i in sorted(self.slots)]


def lookup_or_create(ids: Ids, key: int, flg: int, uid: int, gid: int, create,
                     check=None) -> int:
    """ipcget: IPC_PRIVATE always makes a new object; a key finds its object (EEXIST with
    IPC_CREAT|IPC_EXCL, EACCES without the rights the flags' mode asks, then the kind's
    own `check`) or, with IPC_CREAT, makes one (ENOENT without). `create()` returns the
    new id or -errno."""
    if key == IPC_PRIVATE:
        return create()
    obj = ids.by_key(key)
    if obj is None:
        return create() if flg & IPC_CREAT else -errnos.ENOENT
    if flg & IPC_CREAT and flg & IPC_EXCL:
        return -errnos.EEXIST
    if not may(obj.perm, uid, gid, flg & 0o777):
        return -errnos.EACCES
    if check is not None:
        err = check(obj)
        if err:
            return err
    return obj.perm.id

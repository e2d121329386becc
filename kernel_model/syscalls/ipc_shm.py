"""Shared memory syscalls (ipc/shm.c): shmget, shmat, shmdt, shmctl. A segment is one host
allocation (kernel_model.ipc.shm); shmat maps it into the caller as a VMA of its own, and a
fork hands the same host pages down (emu.hostmem.Backing.copy_into)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.hostmem import HostMemoryError, SharedBlock, resident_bytes
from emu.machine import PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, page_up
from kernel_model.ipc import layouts as L
from kernel_model.ipc import shm as H
from kernel_model.ipc.ids import (
    IPC_INFO,
    IPC_RMID,
    IPC_SET,
    IPC_STAT,
    S_IRUGO,
    S_IWUGO,
    Perm,
    lookup_or_create,
    may,
    may_change,
)
from kernel_model.memory.mm import OutOfMemory
from kernel_model.syscalls.argkinds import Hex, Int, Ptr, UInt
from kernel_model.syscalls.ipc_common import (
    LAYOUT_OLD,
    direct_cmd,
    layout_bits,
    now,
    s32,
    set_owner_and_mode,
)
from kernel_model.syscalls.registry import syscall
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

SHMLBA = PAGE  # x86's (and the compat one)


def _task_size(k: SyscallContext) -> int:
    return 0x7FFFFFFFF000 if k.abi.bits == 64 and k.arch.bits == 64 else 0xFFFFE000


def do_shmget(k: SyscallContext, key: int, size: int, flg: int) -> int:
    key = s32(key)
    size &= (1 << k.abi.bits) - 1
    p = k.process
    ns = k.ipc
    ns.prune_shm(p.mm.pool)

    def create() -> int:
        """newseg."""
        if size < H.SHMMIN or size > H.SHMMAX:
            return -errnos.EINVAL
        pages = page_up(size) // PAGE
        total = sum(page_up(s.size) // PAGE for s in ns.shm.objects())
        if total + pages > H.SHMALL // PAGE:
            return -errnos.ENOSPC
        if len(ns.shm.slots) >= H.SHMMNI:
            return -errnos.ENOSPC
        if page_up(size) > p.mm.limit:
            # shmem_acct_size: Linux refuses what memory could never hold (ENOMEM); here
            # the bound is the guest memory cap, which the host memory behind it obeys
            k.note(f"a segment larger than syscall-lab's guest memory cap "
                   f"({p.mm.limit >> 20} MiB, --memory-limit)")
            return -errnos.ENOMEM
        try:
            block = SharedBlock(page_up(size))
        except HostMemoryError:
            k.note("the host refused the memory for this segment")
            return -errnos.ENOMEM
        c = p.creds  # owner and creator: the effective ids (ipcperms)
        perm = Perm(key=key, uid=c.euid, gid=c.egid, cuid=c.euid, cgid=c.egid, mode=flg & 0o777)
        seg = H.ShmSegment(perm, size, block, ctime=now(k), cpid=p.pid)
        ns.segment_blocks.own(seg.block)
        return ns.shm.add(seg, key)

    def check(seg) -> int:
        return -errnos.EINVAL if seg.size < size else 0

    return lookup_or_create(ns.shm, key, flg, p.creds.euid, p.creds.egid, create, check)


def do_shmat(k: SyscallContext, shmid: int, addr: int, flg: int) -> int:
    """do_shmat: the address rules, the rights, then a MAP_SHARED mapping of the segment.
    Returns the address, or -errno."""
    shmid = s32(shmid)
    if shmid < 0:
        return -errnos.EINVAL
    if addr:
        if addr & (SHMLBA - 1):
            if not flg & H.SHM_RND:
                return -errnos.EINVAL
            addr &= ~(SHMLBA - 1)
            if not addr and flg & H.SHM_REMAP:
                return -errnos.EINVAL
    elif flg & H.SHM_REMAP:
        return -errnos.EINVAL
    if flg & H.SHM_RDONLY:
        prot, want = PROT_READ, S_IRUGO
    else:
        prot, want = PROT_READ | PROT_WRITE, S_IRUGO | S_IWUGO
    if flg & H.SHM_EXEC:
        prot, want = prot | PROT_EXEC, want | 0o111
    seg = k.ipc.shm.get(shmid)
    if seg is None:
        return -errnos.EINVAL
    p = k.process
    if not may(seg.perm, p.creds.euid, p.creds.egid, want):
        return -errnos.EACCES
    if not seg.block.host:
        # Only a debugger's step back to before the segment went can show it again
        k.note("this segment's memory is gone (it was removed later in the run)")
        return -errnos.EIDRM
    mm = p.mm
    length = page_up(seg.size)
    if addr:
        if not flg & H.SHM_REMAP and not mm.is_free(addr, addr + seg.size):
            return -errnos.EINVAL
        if addr + length > _task_size(k):
            return -errnos.EINVAL
        start = addr
    else:
        found = mm.find_free(length, 0, _task_size(k))
        if found is None:
            return -errnos.ENOMEM
        start = found
    try:
        mm.map(start, length, prot, name=seg.name, dev=H.SHM_DEV, inode=seg.perm.id,
               shared=True, kind=H.SHM_KIND, maywrite=not flg & H.SHM_RDONLY)
    except OutOfMemory:
        k.note(f"syscall-lab's guest memory cap ({mm.limit >> 20} MiB) is reached")
        return -errnos.ENOMEM
    k.share_memory(start, length, seg.block)
    seg.atime = now(k)
    seg.lpid = p.pid
    return start


def do_shmdt(k: SyscallContext, addr: int) -> int:
    """ksys_shmdt: the attachment that begins at addr (a VMA of a segment whose offset
    matches), and the pieces of the same segment within its size above it."""
    if addr & (PAGE - 1):
        return -errnos.EINVAL
    mm = k.process.mm
    later = [v for v in mm.vmas if v.end > addr]
    ret, inode, size = -errnos.EINVAL, None, 0
    gone = []
    for v in later:
        ours = H.is_attachment(v) and v.start - addr == v.offset
        if inode is None:
            if ours:
                seg = next((s for s in k.ipc.shm.slots.values() if s.perm.id == v.inode),
                           None)
                size = page_up(seg.size) if seg is not None else v.end - v.start
                inode, ret = v.inode, 0
                gone.append(v)
            continue
        if v.end - addr > size:
            break
        if ours and v.inode == inode:
            gone.append(v)
    for v in gone:
        mm.unmap(v.start, v.end - v.start)
    seg = next((s for s in k.ipc.shm.slots.values() if s.perm.id == inode), None)
    if seg is not None:
        seg.dtime = now(k)
        seg.lpid = k.process.pid
    k.ipc.prune_shm(mm.pool)
    return ret


def do_shmctl(k: SyscallContext, shmid: int, cmd: int, buf: int, layout: str) -> int:
    shmid, cmd = s32(shmid), s32(cmd)
    if shmid < 0 or cmd < 0:
        return -errnos.EINVAL
    bits = layout_bits(layout)
    ns = k.ipc
    p = k.process
    pool = p.mm.pool
    ns.prune_shm(pool)
    ids = ns.shm
    if cmd == IPC_INFO:
        # copy_compat_shminfo_to_user caps shmmax at INT_MAX for an i386 caller
        shmmax = H.SHMMAX if bits == 64 else min(H.SHMMAX, 0x7FFFFFFF)
        info = L.shminfo64([shmmax, H.SHMMIN, H.SHMMNI, H.SHMSEG, H.SHMALL], bits)
        k.write(buf, info[:L.OLD_SHMINFO] if layout == LAYOUT_OLD else info)
        return max(ids.max_idx(), 0)
    if cmd == H.SHM_INFO:
        segs = ids.objects()
        tot = sum(page_up(s.size) // PAGE for s in segs)
        rss = sum(resident_bytes(s.block.host, s.block.size) // PAGE for s in segs)
        k.write(buf, L.shm_info(len(segs), [tot, rss, 0, 0, 0], bits))
        return max(ids.max_idx(), 0)
    if cmd in (IPC_STAT, H.SHM_STAT, H.SHM_STAT_ANY):
        seg = ids.at_index(shmid) if cmd != IPC_STAT else ids.get(shmid)
        if seg is None:
            return -errnos.EINVAL
        if cmd != H.SHM_STAT_ANY and not may(seg.perm, p.creds.euid, p.creds.egid, S_IRUGO):
            return -errnos.EACCES
        fields = (seg.perm, seg.size, seg.atime, seg.dtime, seg.ctime, seg.cpid, seg.lpid,
                  seg.nattch(pool))
        k.write(buf, L.old_shmid_ds(*fields) if layout == LAYOUT_OLD
                else L.shmid_ds(*fields, bits))
        return 0 if cmd == IPC_STAT else seg.perm.id
    if cmd in (H.SHM_LOCK, H.SHM_UNLOCK):
        seg = ids.get(shmid)
        if seg is None:
            return -errnos.EINVAL
        if p.creds.euid != 0 and p.creds.euid not in (seg.perm.uid, seg.perm.cuid):
            return -errnos.EPERM
        if cmd == H.SHM_LOCK:
            seg.perm.mode |= H.SHM_LOCKED
        else:
            seg.perm.mode &= ~H.SHM_LOCKED
        return 0
    if cmd in (IPC_SET, IPC_RMID):
        size = L.OLD_SHMID_DS if layout == LAYOUT_OLD else L.shmid_ds_size(bits)
        raw = k.read(buf, size) if cmd == IPC_SET else b""
        seg = ids.get(shmid)
        if seg is None:
            return -errnos.EINVAL
        if not may_change(seg.perm, p.creds.euid):
            return -errnos.EPERM
        if cmd == IPC_RMID:
            # do_shm_rmid: still attached, it is only marked (and no key finds it)
            seg.perm.mode |= H.SHM_DEST
            ids.forget_key(seg)
            ns.prune_shm(pool)
            return 0
        set_owner_and_mode(k, seg, raw, layout, bits)
        return 0
    return -errnos.EINVAL


@syscall("shmget", Hex(), UInt(), Hex())
def sys_shmget(k: SyscallContext, key, size, shmflg):
    return do_shmget(k, key, size, shmflg)


@syscall("shmat", Int(), Ptr(), Hex(), ret="hex")
def sys_shmat(k: SyscallContext, shmid, shmaddr, shmflg):
    return do_shmat(k, shmid, shmaddr, shmflg)


@syscall("shmdt", Ptr())
def sys_shmdt(k: SyscallContext, shmaddr):
    return do_shmdt(k, shmaddr)


@syscall("shmctl", Int(), Int(), Ptr())
def sys_shmctl(k: SyscallContext, shmid, cmd, buf):
    cmd, layout = direct_cmd(k, cmd)
    return do_shmctl(k, shmid, cmd, buf, layout)

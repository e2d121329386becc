"""The structs of System V IPC as user space sees them (include/uapi/asm-generic/ipcbuf.h,
msgbuf.h, shmbuf.h, arch/x86/include/uapi/asm/sembuf.h), for a 64-bit process and for an
i386 one (the ipc64 layouts, which a 64-bit kernel's compat code uses for IPC_64).

Each *64_ds is ipc64_perm followed by words: x86-64 words are 8 bytes, i386 words 4 (the
i386 times are split in a low and a high word). `bits` picks the layout.
"""

from __future__ import annotations

import struct

from kernel_model.ipc.ids import Perm


def _word(bits: int) -> str:
    return "Q" if bits == 64 else "I"


def perm_size(bits: int) -> int:
    return 48 if bits == 64 else 36


def pack_perm(p: Perm, bits: int) -> bytes:
    """ipc64_perm: key, uid, gid, cuid, cgid, mode (u32 on x86-64, u16 and padding on i386),
    seq, and two unused words."""
    if bits == 64:
        return struct.pack("<iIIIIIHHIQQ", p.key, p.uid, p.gid, p.cuid, p.cgid,
                           p.mode & 0xFFFF, p.seq & 0xFFFF, 0, 0, 0, 0)
    return struct.pack("<iIIIIHHHHII", p.key, p.uid, p.gid, p.cuid, p.cgid,
                       p.mode & 0xFFFF, 0, p.seq & 0xFFFF, 0, 0, 0)


def unpack_perm(raw: bytes, bits: int) -> tuple[int, int, int]:
    """What IPC_SET takes from ipc64_perm: uid, gid, mode."""
    _key, uid, gid, _cuid, _cgid = struct.unpack_from("<iIIII", raw)
    mode = struct.unpack_from("<I" if bits == 64 else "<H", raw, 20)[0]
    return uid, gid, mode


def _time(t: int, bits: int) -> list[int]:
    return [t] if bits == 64 else [t & 0xFFFFFFFF, (t >> 32) & 0xFFFFFFFF]


def _words(values: list[int], bits: int) -> bytes:
    mask = (1 << bits) - 1
    return struct.pack("<" + _word(bits) * len(values), *(v & mask for v in values))


def msqid_ds(p: Perm, stime: int, rtime: int, ctime: int, cbytes: int, qnum: int,
             qbytes: int, lspid: int, lrpid: int, bits: int) -> bytes:
    head = pack_perm(p, bits) + _words(_time(stime, bits) + _time(rtime, bits)
                                       + _time(ctime, bits) + [cbytes, qnum, qbytes], bits)
    return head + struct.pack("<ii", lspid, lrpid) + _words([0, 0], bits)


def msqid_ds_size(bits: int) -> int:
    return 120 if bits == 64 else 88


def msg_qbytes_in(raw: bytes, bits: int) -> int:
    """msg_qbytes from a msqid64_ds IPC_SET gives."""
    off = perm_size(bits) + (3 if bits == 64 else 6) * (bits // 8) + 2 * (bits // 8)
    return struct.unpack_from("<" + _word(bits), raw, off)[0]


def semid_ds(p: Perm, otime: int, ctime: int, nsems: int, bits: int) -> bytes:
    if bits == 64:
        return pack_perm(p, bits) + _words([otime, 0, ctime, 0, nsems, 0, 0], bits)
    return pack_perm(p, bits) + _words(_time(otime, bits) + _time(ctime, bits)
                                       + [nsems, 0, 0], bits)


def semid_ds_size(bits: int) -> int:
    return 104 if bits == 64 else 64


def shmid_ds(p: Perm, segsz: int, atime: int, dtime: int, ctime: int, cpid: int,
             lpid: int, nattch: int, bits: int) -> bytes:
    head = pack_perm(p, bits) + _words([segsz] + _time(atime, bits) + _time(dtime, bits)
                                       + _time(ctime, bits), bits)
    return head + struct.pack("<ii", cpid, lpid) + _words([nattch, 0, 0], bits)


def shmid_ds_size(bits: int) -> int:
    return 112 if bits == 64 else 84


def msginfo(values: list[int]) -> bytes:
    """struct msginfo: seven ints and an unsigned short (msgseg), padded to 32 bytes."""
    return struct.pack("<7iH2x", *values)


def seminfo(values: list[int]) -> bytes:
    return struct.pack("<10i", *values)


def shminfo64(values: list[int], bits: int) -> bytes:
    """shmmax, shmmin, shmmni, shmseg, shmall and four unused words."""
    return _words(values + [0, 0, 0, 0], bits)


def shm_info(used_ids: int, words: list[int], bits: int) -> bytes:
    """used_ids (an int), then shm_tot, shm_rss, shm_swp, swap_attempts, swap_successes."""
    return struct.pack("<i4x" if bits == 64 else "<i", used_ids) + _words(words, bits)


# -- i386's old structs: what ipc(2) reads and writes for a *ctl command without IPC_64
# (struct compat_ipc_perm, compat_msqid_ds, compat_semid_ds, compat_shmid_ds in
# include/linux/compat.h and ipc/): 16-bit ids, modes and counts, 32-bit times.

def _u16(v: int) -> int:
    return v & 0xFFFF


def _old_id(v: int) -> int:
    """high2lowuid: an id that does not fit in 16 bits shows as the overflow id."""
    return v if v <= 0xFFFF else 65534


def pack_old_perm(p: Perm) -> bytes:
    return struct.pack("<iHHHHHH", p.key, _old_id(p.uid), _old_id(p.gid), _old_id(p.cuid),
                       _old_id(p.cgid), _u16(p.mode), _u16(p.seq))


def unpack_old_perm(raw: bytes) -> tuple[int, int, int]:
    _key, uid, gid, _cuid, _cgid, mode = struct.unpack_from("<iHHHHH", raw)
    return uid, gid, mode


OLD_MSQID_DS, OLD_SEMID_DS, OLD_SHMID_DS, OLD_SHMINFO = 56, 44, 48, 20


def old_msqid_ds(p: Perm, stime: int, rtime: int, ctime: int, cbytes: int, qnum: int,
                 qbytes: int, lspid: int, lrpid: int) -> bytes:
    """msg_first, msg_last, msg_lcbytes and msg_lqbytes stay zero (the compat copy-out
    sets only the fields below)."""
    return pack_old_perm(p) + struct.pack(
        "<IIIIIIIHHHHH2x", 0, 0, stime & 0xFFFFFFFF, rtime & 0xFFFFFFFF,
        ctime & 0xFFFFFFFF, 0, 0, _u16(cbytes), _u16(qnum), _u16(qbytes), _u16(lspid),
        _u16(lrpid))


def old_msg_qbytes_in(raw: bytes) -> int:
    return struct.unpack_from("<H", raw, 48)[0]


def old_semid_ds(p: Perm, otime: int, ctime: int, nsems: int) -> bytes:
    return pack_old_perm(p) + struct.pack("<IIIIIIH2x", otime & 0xFFFFFFFF,
                                          ctime & 0xFFFFFFFF, 0, 0, 0, 0, _u16(nsems))


def old_shmid_ds(p: Perm, segsz: int, atime: int, dtime: int, ctime: int, cpid: int,
                 lpid: int, nattch: int) -> bytes:
    return pack_old_perm(p) + struct.pack(
        "<IIIIHHHHII", segsz & 0xFFFFFFFF, atime & 0xFFFFFFFF, dtime & 0xFFFFFFFF,
        ctime & 0xFFFFFFFF, _u16(cpid), _u16(lpid), _u16(nattch), 0, 0, 0)

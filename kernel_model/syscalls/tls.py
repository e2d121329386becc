"""Thread-local storage set-up: arch_prctl on x86-64 (the fs base), set_thread_area on i386
(a GDT descriptor the program then loads into gs). Both are fatal to libc if they fail."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from emu import registers as R
from emu.segments import GDT_ENTRY_TLS_MAX, GDT_ENTRY_TLS_MIN
from kernel_model.syscalls.argkinds import Enum, Hex, InOutStruct
from kernel_model.syscalls.registry import syscall
from kernel_model.syscalls.user_desc import USER_DESC, UserDesc, from_descriptor
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004
ARCH_GET_CPUID, ARCH_SET_CPUID = 0x1011, 0x1012
TASK_SIZE_MAX = 0x7FFFFFFFF000


@syscall("arch_prctl", Enum("arch_prctl"), Hex(), abi="x86_64")
def sys_arch_prctl(k: SyscallContext, code, addr):
    if k.arch.bits != 64:
        return -errnos.EINVAL
    if code in (ARCH_SET_FS, ARCH_SET_GS):
        if addr >= TASK_SIZE_MAX:
            return -errnos.EPERM
        reg = R.FS_BASE if code == ARCH_SET_FS else R.GS_BASE
        k.set_segment_base(reg, addr)
        if code == ARCH_SET_FS:
            k.current.fs_base = addr
        else:
            k.current.gs_base = addr
        return 0
    if code in (ARCH_GET_FS, ARCH_GET_GS):
        reg = R.FS_BASE if code == ARCH_GET_FS else R.GS_BASE
        k.write(addr, struct.pack("<Q", k.segment_base(reg)))
        return 0
    if code == ARCH_GET_CPUID:
        return 1  # cpuid is not faulting
    if code == ARCH_SET_CPUID:
        return 0 if addr else -errnos.ENODEV
    return -errnos.EINVAL


@syscall("set_thread_area", InOutStruct("user_desc"))
def sys_set_thread_area(k: SyscallContext, u_info):
    """do_set_thread_area(): one of the task's three TLS descriptors (GDT entries 12-14).
    From 64-bit code (int 0x80) it works the same: entry -1 picks 12 first, and a later
    `mov gs` or a far jump can use it."""
    if k.arch.bits == 64 and k.abi.bits == 32:
        k.note("set_thread_area from 64-bit code: the descriptor is installed in the GDT as "
               "for an i386 task (a 64-bit program uses it only through a segment load)")
    raw = k.read(u_info, USER_DESC.size)
    gdt = k.gdt
    entry, value = tls_descriptor(raw, gdt.entries[GDT_ENTRY_TLS_MIN:GDT_ENTRY_TLS_MAX + 1])
    if entry is None:
        return -value
    if struct.unpack("<i", raw[:4])[0] == -1:
        k.write(u_info, struct.pack("<i", entry))
    gdt.set_entry(entry, value)
    k.current.tls[entry - GDT_ENTRY_TLS_MIN] = value
    # A segment register holding the changed entry is loaded again (an x86-64 kernel does
    # it for ds, es, fs and gs at once): emptied, the register reads 0.
    gdt.reload_segments(("ds", "es", "fs", "gs"), lambda sel: sel == (entry << 3) | 3)
    return 0


def tls_descriptor(raw: bytes, tls_entries: list[int]) -> tuple[int | None, int]:
    """set_thread_area's checks and decoding of a struct user_desc (arch/x86/kernel/tls.c:
    tls_desc_okay, get_free_idx, set_tls_desc): (the GDT entry, its descriptor), or
    (None, errno). Entry -1 asks for the first free TLS slot among `tls_entries` (the three
    the task has)."""
    info = UserDesc.unpack(raw)
    empty = info.is_empty() or info.is_zero()
    # Only 32-bit, present data segments: 16-bit ones would need espfix, non-present ones
    # are attack surface (tls_desc_okay).
    if not empty and (not info.seg_32bit or info.contents > 1 or info.seg_not_present):
        return None, errnos.EINVAL
    entry = info.entry_number
    if entry == -1:
        free = [GDT_ENTRY_TLS_MIN + i for i, d in enumerate(tls_entries) if not d]
        if not free:
            return None, errnos.ESRCH
        entry = free[0]
    if not GDT_ENTRY_TLS_MIN <= entry <= GDT_ENTRY_TLS_MAX:
        return None, errnos.EINVAL
    return entry, 0 if empty else info.descriptor()


@syscall("get_thread_area", InOutStruct("user_desc"))
def sys_get_thread_area(k: SyscallContext, u_info):
    entry = struct.unpack("<i", k.read(u_info, 4))[0]
    if not GDT_ENTRY_TLS_MIN <= entry <= GDT_ENTRY_TLS_MAX:
        return -errnos.EINVAL
    k.write(u_info, from_descriptor(entry, k.gdt.entries[entry]).pack())
    return 0

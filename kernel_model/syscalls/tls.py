"""Thread-local storage set-up: arch_prctl on x86-64 (the fs base), set_thread_area on i386
(a GDT descriptor the program then loads into gs). Both are fatal to libc if they fail."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from emu import registers as R
from emu.segments import GDT_ENTRY_TLS_MAX, GDT_ENTRY_TLS_MIN, descriptor
from kernel_model.syscalls.argkinds import Enum, Hex, InOutStruct
from kernel_model.syscalls.registry import syscall
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
    if k.arch.bits == 64 and k.abi.bits == 32:
        k.note("set_thread_area from 64-bit code: the descriptor is installed, but only a "
               "32-bit segment load would use it")
    raw = k.read(u_info, 16)
    gdt = k.gdt
    entry, value = tls_descriptor(raw, gdt.entries[GDT_ENTRY_TLS_MIN:GDT_ENTRY_TLS_MAX + 1])
    if entry is None:
        return -value
    if struct.unpack("<i", raw[:4])[0] == -1:
        k.write(u_info, struct.pack("<i", entry))
    gdt.set_entry(entry, value)
    k.current.tls[entry - GDT_ENTRY_TLS_MIN] = value
    return 0


def tls_descriptor(raw: bytes, tls_entries: list[int]) -> tuple[int | None, int]:
    """set_thread_area's decoding of a struct user_desc (arch/x86/kernel/tls.c): (the GDT
    entry, its descriptor), or (None, errno). Entry -1 asks for the first free TLS slot
    among `tls_entries` (the three the task has)."""
    entry, base, limit, bits = struct.unpack("<iIII", raw)
    if entry == -1:
        free = [GDT_ENTRY_TLS_MIN + i for i, d in enumerate(tls_entries) if not d]
        if not free:
            return None, errnos.ESRCH
        entry = free[0]
    if not GDT_ENTRY_TLS_MIN <= entry <= GDT_ENTRY_TLS_MAX:
        return None, errnos.EINVAL
    seg_32bit, contents = bits & 1, (bits >> 1) & 3
    read_exec_only, limit_in_pages = (bits >> 3) & 1, (bits >> 4) & 1
    seg_not_present, useable = (bits >> 5) & 1, (bits >> 6) & 1
    empty = (base == 0 and limit == 0 and contents == 0 and read_exec_only == 1
             and seg_32bit == 0 and limit_in_pages == 0 and seg_not_present == 1
             and useable == 0)
    if empty or (base == 0 and limit == 0 and bits == 0):
        return entry, 0
    return entry, descriptor(base, limit, code=bool(contents & 2), dpl=3, big=bool(seg_32bit),
                             present=not seg_not_present, page_gran=bool(limit_in_pages))


@syscall("get_thread_area", InOutStruct("user_desc"))
def sys_get_thread_area(k: SyscallContext, u_info):
    entry = struct.unpack("<i", k.read(u_info, 4))[0]
    if not GDT_ENTRY_TLS_MIN <= entry <= GDT_ENTRY_TLS_MAX:
        return -errnos.EINVAL
    d = k.gdt.entries[entry]
    base = ((d >> 16) & 0xFFFFFF) | (((d >> 56) & 0xFF) << 24)
    limit = (d & 0xFFFF) | (((d >> 48) & 0xF) << 16)
    flags = (d >> 52) & 0xF
    access = (d >> 40) & 0xFF
    bits = ((flags >> 2) & 1) | (((access >> 2) & 3) << 1) | (((flags >> 3) & 1) << 4) | (
        (0 if access & 0x80 else 1) << 5) | (((flags >> 0) & 1) << 6)
    if not d:
        bits = (1 << 3) | (1 << 5)
    k.write(u_info, struct.pack("<iIII", entry, base, limit, bits))
    return 0

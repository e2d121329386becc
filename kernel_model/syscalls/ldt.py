"""modify_ldt: a process's own descriptor table, the LDT (arch/x86/kernel/ldt.c).

The LDT belongs to the address space: threads share it, fork copies it, execve drops it.
Its entries are selectors with the TI bit set (0x7 is entry 0 at RPL 3) and work in any
segment register and in far jumps, as on Linux. Linux keeps the table in kernel memory;
the model keeps it in LDT_SIZE bytes of the process's address space, reserved at the first
write (like the GDT's page: never in /proc/self/maps, and the guest's own accesses fault)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.segments import LDT_ENTRIES, LDT_SIZE, SELECTOR_TI
from kernel_model.syscalls.argkinds import Int, Ptr, UInt
from kernel_model.syscalls.registry import syscall
from kernel_model.syscalls.user_desc import USER_DESC, UserDesc
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext

# read_default_ldt's size on an x86-64 kernel: 128 bytes of zeros.
DEFAULT_LDT_SIZE = 128


@syscall("modify_ldt", Int(), Ptr(), UInt())
def sys_modify_ldt(k: SyscallContext, func, ptr, bytecount):
    """func 0 reads the table, 1 writes an entry the old way (a zero base and limit clear
    it; no AVL bit), 0x11 the new way, 2 reads the "default LDT" (zeros). Linux returns the
    result as an unsigned int: on x86-64 an error reads as 4294967274 (-EINVAL in 32 bits),
    not as -22, and libc's syscall() does not see an error."""
    ret = _modify_ldt(k, func, ptr, bytecount & 0xFFFFFFFFFFFFFFFF)
    return ret & 0xFFFFFFFF if k.abi.bits == 64 else ret


def _modify_ldt(k: SyscallContext, func: int, ptr: int, bytecount: int) -> int:
    if func == 0:
        return _read_ldt(k, ptr, bytecount)
    if func == 1:
        return _write_ldt(k, ptr, bytecount, oldmode=True)
    if func == 2:
        size = min(bytecount, DEFAULT_LDT_SIZE)
        k.write(ptr, bytes(size))
        return size
    if func == 0x11:
        return _write_ldt(k, ptr, bytecount, oldmode=False)
    return -errnos.ENOSYS


def _read_ldt(k: SyscallContext, ptr: int, bytecount: int) -> int:
    entries = k.gdt.ldt_entries
    if not entries:
        return 0
    bytecount = min(bytecount, LDT_SIZE)
    data = b"".join(d.to_bytes(8, "little") for d in entries)[:bytecount]
    # Zero-filled to bytecount: Linux pretends it read that much.
    k.write(ptr, data + bytes(bytecount - len(data)))
    return bytecount


def _write_ldt(k: SyscallContext, ptr: int, bytecount: int, *, oldmode: bool) -> int:
    if bytecount != USER_DESC.size:
        return -errnos.EINVAL
    info = UserDesc.unpack(k.read(ptr, USER_DESC.size))
    if not 0 <= info.entry_number < LDT_ENTRIES:
        return -errnos.EINVAL
    if info.contents == 3 and (oldmode or not info.seg_not_present):
        return -errnos.EINVAL  # conforming code only as a not-present entry, never oldmode
    if (oldmode and not info.base_addr and not info.limit) or info.is_empty():
        value = 0  # clear the entry
    else:
        value = info.descriptor()
        if oldmode:
            value &= ~(1 << 52)  # the AVL bit
    gdt = k.gdt
    if gdt.ldt_addr is None:
        addr = k.process.mm.find_free(LDT_SIZE)
        if addr is None:
            return -errnos.ENOMEM
        k.process.mm.reserved.append((addr, addr + LDT_SIZE))
        gdt.map_ldt(addr)
        k.note(f"modify_ldt: the LDT lives at {addr:#x} ({LDT_SIZE >> 10} KiB of the guest's "
               "address space the kernel model keeps for itself, where Linux uses kernel "
               "memory)")
    entries = list(gdt.ldt_entries)
    if len(entries) <= info.entry_number:
        entries += [0] * (info.entry_number + 1 - len(entries))
    entries[info.entry_number] = value
    gdt.set_ldt(entries)
    # refresh_ldt_segments(): an x86-64 kernel loads ds and es again if they are LDT
    # selectors; fs, gs and ss keep the descriptor they loaded until reloaded.
    gdt.reload_segments(("ds", "es"), lambda sel: bool(sel & SELECTOR_TI))
    return 0

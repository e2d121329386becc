"""A GDT laid out as Linux's, so segment selectors mean what they mean on Linux.

Unicorn loads a selector through the descriptor table like a real CPU: `mov gs, ax` with
0x63 only works if GDT entry 12 holds the TLS descriptor that set_thread_area installed.
The table sits on a page the kernel model never shows in /proc/self/maps.
"""

from __future__ import annotations

import struct

import unicorn
from unicorn import x86_const as X

from emu.machine import PROT_EXEC, PROT_READ, PROT_WRITE, Machine

GDT_ENTRIES = 16
# Linux's x86-64 GDT (arch/x86/include/asm/segment.h): the selectors user code sees.
GDT_ENTRY_KERNEL_CS, GDT_ENTRY_KERNEL_DS = 2, 3
GDT_ENTRY_USER32_CS, GDT_ENTRY_USER_DS, GDT_ENTRY_USER_CS = 4, 5, 6
GDT_ENTRY_TLS_MIN, GDT_ENTRY_TLS_MAX = 12, 14

USER32_CS = GDT_ENTRY_USER32_CS * 8 + 3  # 0x23
USER_DS = GDT_ENTRY_USER_DS * 8 + 3  # 0x2b
USER_CS = GDT_ENTRY_USER_CS * 8 + 3  # 0x33

_FETCH_FAULTS = (unicorn.UC_ERR_FETCH_UNMAPPED, unicorn.UC_ERR_FETCH_PROT)


def descriptor(base: int, limit: int, *, code: bool, dpl: int, long_mode: bool = False,
               big: bool = True, present: bool = True, page_gran: bool = True) -> int:
    access = (0x80 if present else 0) | (dpl << 5) | 0x10 | (0x0A if code else 0x02)
    flags = (0x8 if page_gran else 0) | (0x4 if big and not long_mode else 0) | (
        0x2 if long_mode else 0)
    return (
        (limit & 0xFFFF)
        | ((base & 0xFFFFFF) << 16)
        | (access << 40)
        | (((limit >> 16) & 0xF) << 48)
        | (flags << 52)
        | (((base >> 24) & 0xFF) << 56)
    )


class Gdt:
    def __init__(self, machine: Machine, addr: int):
        self.machine = machine
        self.addr = addr
        machine.map(addr, 0x1000, PROT_READ | PROT_WRITE | PROT_EXEC)
        self.entries = [0] * GDT_ENTRIES
        self.entries[GDT_ENTRY_KERNEL_CS] = descriptor(0, 0xFFFFF, code=True, dpl=0,
                                                       long_mode=machine.arch.bits == 64)
        self.entries[GDT_ENTRY_KERNEL_DS] = descriptor(0, 0xFFFFF, code=False, dpl=0)
        self.entries[GDT_ENTRY_USER32_CS] = descriptor(0, 0xFFFFF, code=True, dpl=3)
        self.entries[GDT_ENTRY_USER_DS] = descriptor(0, 0xFFFFF, code=False, dpl=3)
        self.entries[GDT_ENTRY_USER_CS] = descriptor(0, 0xFFFFF, code=True, dpl=3, long_mode=True)
        self._flush()
        machine.uc.reg_write(X.UC_X86_REG_GDTR, (0, addr, GDT_ENTRIES * 8 - 1, 0))

    def _flush(self) -> None:
        self.machine.write(self.addr, struct.pack(f"<{GDT_ENTRIES}Q", *self.entries))

    def set_entry(self, index: int, value: int) -> None:
        self.entries[index] = value
        self._flush()

    def enter_user_mode(self, pc: int, sp: int, eflags: int = 0x202) -> None:
        """Drop to ring 3 the way the kernel returns to a new process: an `iret` whose frame
        holds the user cs, ss, sp and pc. Unicorn starts at CPL 0, where `cli` or `hlt` would
        run instead of raising #GP, and refuses to load a ring-3 ss directly."""
        m = self.machine
        uc = m.uc
        kernel_ds = GDT_ENTRY_KERNEL_DS * 8
        uc.reg_write(X.UC_X86_REG_SS, kernel_ds)
        if m.arch.bits == 32:
            for reg in (X.UC_X86_REG_DS, X.UC_X86_REG_ES):
                uc.reg_write(reg, USER_DS)
            frame = struct.pack("<5I", pc, USER32_CS, eflags, sp, USER_DS)
            iret = b"\xcf"  # iretd
        else:
            frame = struct.pack("<5Q", pc, USER_CS, eflags, sp, USER_DS)
            iret = b"\x48\xcf"  # iretq
        tramp, frame_addr = self.addr + 0x800, self.addr + 0xF00
        m.write(tramp, iret)
        m.write(frame_addr, frame)
        m.sp = frame_addr
        stop = m.run(tramp, count=1)
        user_cs = USER32_CS if m.arch.bits == 32 else USER_CS
        # Unicorn reports a fetch fault at the new pc as part of this run: the `iret` itself
        # has completed (pc, cs, ss are the user's) and nothing may be executable there (an
        # ELF whose text is not mapped): the guest's first run faults there again, as on
        # Linux, where the process gets SIGSEGV at its entry point.
        entered = m.pc == pc and m.reg(X.UC_X86_REG_CS) == user_cs and (
            stop.kind != "error" or stop.uc_errno in _FETCH_FAULTS)
        if not entered:
            raise RuntimeError(f"could not enter user mode: {stop.message or hex(m.pc)}")

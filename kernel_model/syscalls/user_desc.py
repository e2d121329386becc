"""struct user_desc, the segment description set_thread_area and modify_ldt take, and the
descriptor the kernel builds from it (arch/x86/include/asm/desc.h: fill_ldt, LDT_empty,
LDT_zero; arch/x86/kernel/tls.c: fill_user_desc)."""

from __future__ import annotations

import struct

from emu.records import Record

USER_DESC = struct.Struct("<iIII")  # entry_number, base_addr, limit, the flag bits


class UserDesc(Record):
    _fields = (
        "entry_number", "base_addr", "limit", "seg_32bit", "contents", "read_exec_only",
        "limit_in_pages", "seg_not_present", "useable", "lm",
    )
    entry_number: int
    base_addr: int
    limit: int
    seg_32bit: int
    contents: int
    read_exec_only: int
    limit_in_pages: int
    seg_not_present: int
    useable: int
    lm: int

    def __init__(
            self, entry_number: int, base_addr: int, limit: int, seg_32bit: int, contents: int,
            read_exec_only: int, limit_in_pages: int, seg_not_present: int, useable: int, lm: int,
    ) -> None:
        object.__setattr__(self, "entry_number", entry_number)
        object.__setattr__(self, "base_addr", base_addr)
        object.__setattr__(self, "limit", limit)
        object.__setattr__(self, "seg_32bit", seg_32bit)
        object.__setattr__(self, "contents", contents)
        object.__setattr__(self, "read_exec_only", read_exec_only)
        object.__setattr__(self, "limit_in_pages", limit_in_pages)
        object.__setattr__(self, "seg_not_present", seg_not_present)
        object.__setattr__(self, "useable", useable)
        object.__setattr__(self, "lm", lm)

    @classmethod
    def unpack(cls, raw: bytes) -> UserDesc:
        entry, base, limit, bits = USER_DESC.unpack(raw[:USER_DESC.size])
        return cls(entry, base, limit, bits & 1, (bits >> 1) & 3, (bits >> 3) & 1,
                   (bits >> 4) & 1, (bits >> 5) & 1, (bits >> 6) & 1, (bits >> 7) & 1)

    def pack(self) -> bytes:
        bits = (self.seg_32bit | self.contents << 1 | self.read_exec_only << 3
                | self.limit_in_pages << 4 | self.seg_not_present << 5 | self.useable << 6
                | self.lm << 7)
        return USER_DESC.pack(self.entry_number, self.base_addr, self.limit, bits)

    def is_empty(self) -> bool:
        """LDT_empty: the documented way to ask for "no segment"."""
        return (self.base_addr == 0 and self.limit == 0 and self.contents == 0
                and self.read_exec_only == 1 and self.seg_32bit == 0
                and self.limit_in_pages == 0 and self.seg_not_present == 1
                and self.useable == 0)

    def is_zero(self) -> bool:
        """LDT_zero: all zeros but the entry number, which programs also mean as "none"."""
        return (self.base_addr == 0 and self.limit == 0 and self.contents == 0
                and self.read_exec_only == 0 and self.seg_32bit == 0
                and self.limit_in_pages == 0 and self.seg_not_present == 0
                and self.useable == 0)

    def descriptor(self) -> int:
        """fill_ldt(): DPL 3, the accessed bit set, the lm bit never (it would confuse
        user_64bit_mode), the limit's top bits and the base's split as the CPU wants."""
        type_bits = ((self.read_exec_only ^ 1) << 1) | (self.contents << 2) | 1
        access = ((self.seg_not_present ^ 1) << 7) | (3 << 5) | 0x10 | type_bits
        flags = (self.limit_in_pages << 3) | (self.seg_32bit << 2) | self.useable
        base, limit = self.base_addr, self.limit
        return ((limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (access << 40)
                | (((limit >> 16) & 0xF) << 48) | (flags << 52) | (((base >> 24) & 0xFF) << 56))


def from_descriptor(entry: int, d: int) -> UserDesc:
    """fill_user_desc(): what get_thread_area reports for a descriptor (an empty one
    reads back as read_exec_only and seg_not_present, LDT_empty's form)."""
    access, flags = (d >> 40) & 0xFF, (d >> 52) & 0xF
    type_bits = access & 0xF
    return UserDesc(
        entry_number=entry,
        base_addr=((d >> 16) & 0xFFFFFF) | (((d >> 56) & 0xFF) << 24),
        limit=(d & 0xFFFF) | (((d >> 48) & 0xF) << 16),
        seg_32bit=(flags >> 2) & 1,
        contents=type_bits >> 2,
        read_exec_only=0 if type_bits & 2 else 1,
        limit_in_pages=(flags >> 3) & 1,
        seg_not_present=0 if access & 0x80 else 1,
        useable=flags & 1,
        lm=(flags >> 1) & 1,
    )

"""Call-frame information for the vDSO: .eh_frame (one CIE, one FDE per procedure, the rules
compiled from the sources' .cfi_* directives) and .eh_frame_hdr (the binary-search table
PT_GNU_EH_FRAME points at). Debuggers and unwinders use them to walk a stack through the
vDSO; the kernel builds its vDSO with them for the same reason.

Encodings as GNU ld writes them: CIE augmentation "zR" with FDE pointers pc-relative sdata4
(0x1b); header table datarel sdata4 (0x3b)."""

from __future__ import annotations

import struct

from kernel_model.vdso.asm import Fde

DW_EH_PE_udata4 = 0x03
DW_EH_PE_sdata4 = 0x0B
DW_EH_PE_pcrel = 0x10
DW_EH_PE_datarel = 0x30

DW_CFA_advance_loc = 0x40
DW_CFA_offset = 0x80
DW_CFA_restore = 0xC0
DW_CFA_nop = 0x00
DW_CFA_advance_loc1 = 0x02
DW_CFA_advance_loc2 = 0x03
DW_CFA_advance_loc4 = 0x04
DW_CFA_offset_extended_sf = 0x11
DW_CFA_remember_state = 0x0A
DW_CFA_restore_state = 0x0B
DW_CFA_def_cfa = 0x0C
DW_CFA_def_cfa_offset = 0x0E

# bits -> (data alignment, return-address column, stack-pointer column, initial CFA offset)
ARCH = {64: (-8, 16, 7, 8), 32: (-4, 8, 4, 4)}


def uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def sleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        out.append(byte if done else byte | 0x80)
        if done:
            return bytes(out)


def _pad(entry: bytearray, align: int) -> bytes:
    """Pad an entry (its 4-byte length field included) to `align` with DW_CFA_nop and fill in
    the length."""
    while len(entry) % align:
        entry.append(DW_CFA_nop)
    struct.pack_into("<I", entry, 0, len(entry) - 4)
    return bytes(entry)


def cie(bits: int) -> bytes:
    data_align, ra, sp, cfa = ARCH[bits]
    body = bytearray(struct.pack("<II", 0, 0))  # length (later), CIE id 0
    body += bytes([1]) + b"zR\0" + uleb(1) + sleb(data_align) + bytes([ra])
    body += uleb(1) + bytes([DW_EH_PE_pcrel | DW_EH_PE_sdata4])
    body += bytes([DW_CFA_def_cfa]) + uleb(sp) + uleb(cfa)
    body += bytes([DW_CFA_offset | ra]) + uleb(1)  # return address at CFA - 1 * |data_align|
    return _pad(body, 8 if bits == 64 else 4)


def cfa_program(fde: Fde, bits: int) -> bytes:
    """The DW_CFA instructions for one procedure, from its .cfi_* directives."""
    data_align, _, _, cfa = ARCH[bits]
    out = bytearray()
    loc = fde.start
    stack: list[int] = []
    for op in fde.ops:
        delta = op.addr - loc
        if delta:
            if delta < 0x40:
                out.append(DW_CFA_advance_loc | delta)
            elif delta < 0x100:
                out += bytes([DW_CFA_advance_loc1, delta])
            elif delta < 0x10000:
                out += bytes([DW_CFA_advance_loc2]) + struct.pack("<H", delta)
            else:
                out += bytes([DW_CFA_advance_loc4]) + struct.pack("<I", delta)
            loc = op.addr
        name, args = op.op, op.args
        if name in ("def_cfa_offset", "adjust_cfa_offset"):
            cfa = args[0] if name == "def_cfa_offset" else cfa + args[0]
            out += bytes([DW_CFA_def_cfa_offset]) + uleb(cfa)
        elif name in ("offset", "rel_offset"):
            reg, off = args
            if name == "rel_offset":  # relative to the stack pointer, not the CFA
                off -= cfa
            factored, rem = divmod(off, data_align)
            if rem:
                raise ValueError(f"CFI offset {off} is not a multiple of {-data_align}")
            if reg < 64 and factored >= 0:
                out += bytes([DW_CFA_offset | reg]) + uleb(factored)
            else:
                out += bytes([DW_CFA_offset_extended_sf]) + uleb(reg) + sleb(factored)
        elif name == "restore":
            out.append(DW_CFA_restore | args[0])
        elif name == "remember_state":
            stack.append(cfa)
            out.append(DW_CFA_remember_state)
        elif name == "restore_state":
            cfa = stack.pop()
            out.append(DW_CFA_restore_state)
        else:
            raise ValueError(f"unsupported CFI directive .cfi_{name}")
    return bytes(out)


def eh_frame_size(fdes: list[Fde], bits: int) -> int:
    return len(build_eh_frame(fdes, bits, 0)[0])


def build_eh_frame(fdes: list[Fde], bits: int, addr: int) -> tuple[bytes, list[tuple[int, int]]]:
    """The .eh_frame section placed at `addr`: bytes and, per FDE, (pc_begin, FDE address)."""
    align = 8 if bits == 64 else 4
    out = bytearray(cie(bits))
    table = []
    for fde in sorted(fdes, key=lambda f: f.start):
        at = addr + len(out)
        entry = bytearray(struct.pack("<I", 0))
        entry += struct.pack("<I", len(out) + 4)  # CIE pointer: back to offset 0
        entry += struct.pack("<i", fde.start - (at + 8))  # pc_begin, pc-relative
        entry += struct.pack("<i", fde.end - fde.start)  # pc_range
        entry += uleb(0)  # augmentation data length
        entry += cfa_program(fde, bits)
        out += _pad(entry, align)
        table.append((fde.start, at))
    out += bytes(4)  # the zero terminator
    return bytes(out), table


def build_eh_frame_hdr(addr: int, eh_frame_addr: int, table: list[tuple[int, int]]) -> bytes:
    out = bytearray([1, DW_EH_PE_pcrel | DW_EH_PE_sdata4, DW_EH_PE_udata4,
                     DW_EH_PE_datarel | DW_EH_PE_sdata4])
    out += struct.pack("<i", eh_frame_addr - (addr + 4))
    out += struct.pack("<I", len(table))
    for pc, fde in sorted(table):
        out += struct.pack("<ii", pc - addr, fde - addr)
    return bytes(out)


def eh_frame_hdr_size(n_fdes: int) -> int:
    return 12 + 8 * n_fdes

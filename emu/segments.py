"""A GDT laid out as Linux's, so segment selectors mean what they mean on Linux.

Unicorn loads a selector through the descriptor table like a real CPU: `mov gs, ax` with
0x63 only works if GDT entry 12 holds the TLS descriptor that set_thread_area installed.
The table sits on a page the kernel model never shows in /proc/self/maps, and, as on Linux
(where the GDT is mapped for the kernel only), the guest's own instructions can neither read
nor write it: Unicorn has no user/supervisor pages without real paging, so the page is
PROT_NONE once user mode is entered and the memory-fault hook lets through only the CPU's
own descriptor reads (`cpu_access`).
"""

from __future__ import annotations

import struct
from contextlib import contextmanager
from functools import lru_cache

import unicorn
from unicorn import x86_const as X

from emu.machine import PAGE, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE, Machine, MemoryFault

GDT_ENTRIES = 16
# Linux's x86-64 GDT (arch/x86/include/asm/segment.h): the selectors user code sees.
GDT_ENTRY_KERNEL_CS, GDT_ENTRY_KERNEL_DS = 2, 3
GDT_ENTRY_USER32_CS, GDT_ENTRY_USER_DS, GDT_ENTRY_USER_CS = 4, 5, 6
GDT_ENTRY_TLS_MIN, GDT_ENTRY_TLS_MAX = 12, 14
# Its limit holds the CPU and NUMA node numbers (cpu | node << 12) for `lsl` (vgetcpu).
GDT_ENTRY_CPUNODE = 15
# modify_ldt's table: up to 8192 eight-byte entries (arch/x86/include/uapi/asm/ldt.h).
LDT_ENTRIES = 8192
LDT_SIZE = LDT_ENTRIES * 8
SELECTOR_TI = 4  # a selector with this bit set indexes the LDT
# The kernel model's return-to-user code, for a return that loads cs and ss (Gdt.far_return):
# below mmap_min_addr (64 KiB), where no process maps anything, and below 4 GiB, where
# compatibility-mode and i386 code can reach it. To the guest it looks unmapped.
TRAMPOLINE = 0xF000
_TR_FROM_16, _TR_FROM_32, _TR_FLAT_32, _TR_FROM_64 = 0x000, 0x020, 0x040, 0x080
_TR_FRAME, _TR_SS_SP, _TR_CS_IP = 0xF00, 0xF40, 0xF50

USER32_CS = GDT_ENTRY_USER32_CS * 8 + 3  # 0x23
USER_DS = GDT_ENTRY_USER_DS * 8 + 3  # 0x2b
USER_CS = GDT_ENTRY_USER_CS * 8 + 3  # 0x33

_FETCH_FAULTS = (unicorn.UC_ERR_FETCH_UNMAPPED, unicorn.UC_ERR_FETCH_PROT)


def descriptor(base: int, limit: int, *, code: bool, dpl: int, long_mode: bool = False,
               big: bool = True, present: bool = True, page_gran: bool = True,
               readable_or_writable: bool = True, type_bits: int | None = None,
               avl: bool = False) -> int:
    """A code or data segment descriptor. Linux sets the accessed bit in every descriptor
    it writes (desc_defs.h: _DESC_ACCESSED; fill_ldt), so `lar` shows type 0xb or 0x3 and
    the CPU never has to write it. `type_bits` overrides the 4-bit type whole."""
    if type_bits is None:
        type_bits = (0x8 if code else 0) | (0x2 if readable_or_writable else 0) | 0x1
    access = (0x80 if present else 0) | (dpl << 5) | 0x10 | type_bits
    flags = (0x8 if page_gran else 0) | (0x4 if big and not long_mode else 0) | (
        0x2 if long_mode else 0) | (0x1 if avl else 0)
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
        machine.map(addr, PAGE, PROT_NONE)  # the kernel's: see cpu_access
        machine.map(TRAMPOLINE, PAGE, PROT_NONE)
        self._kernel_mode = False  # set while the kernel model itself loads segments
        machine.hook_protected(self._on_access, addr, addr + PAGE - 1)
        machine.hook_protected(self._on_access, TRAMPOLINE, TRAMPOLINE + PAGE - 1)
        self.entries = [0] * GDT_ENTRIES
        self.entries[GDT_ENTRY_KERNEL_CS] = descriptor(0, 0xFFFFF, code=True, dpl=0,
                                                       long_mode=machine.arch.bits == 64)
        self.entries[GDT_ENTRY_KERNEL_DS] = descriptor(0, 0xFFFFF, code=False, dpl=0)
        self.entries[GDT_ENTRY_USER32_CS] = descriptor(0, 0xFFFFF, code=True, dpl=3)
        self.entries[GDT_ENTRY_USER_DS] = descriptor(0, 0xFFFFF, code=False, dpl=3)
        # An i386 process's CPU is not in long mode: there 0x33 would run as 16-bit code,
        # so it is marked not present, and a far jump to it faults (Linux would run the
        # 64-bit code: see GDT_ENTRY_USER_CS's note in kernel_model/run/cpu_faults.py).
        self.entries[GDT_ENTRY_USER_CS] = descriptor(0, 0xFFFFF, code=True, dpl=3, long_mode=True,
                                                     present=machine.arch.bits == 64)
        # setup_getcpu(): read-only expand-down data (type 5), 32-bit, byte granular; the
        # model's one CPU is 0 on node 0.
        self.entries[GDT_ENTRY_CPUNODE] = descriptor(0, 0, code=False, dpl=3, page_gran=False,
                                                     type_bits=0x5)
        machine.code_bits = self.code_bits
        self.ldt_addr: int | None = None  # where modify_ldt's table lives, once it has one
        self.ldt_entries: list[int] = []
        self._flush()
        machine.uc.reg_write(X.UC_X86_REG_GDTR, (0, addr, GDT_ENTRIES * 8 - 1, 0))

    def for_machine(self, machine: Machine) -> Gdt:
        """The same table in a forked CPU, whose memory (this page too) and GDTR were copied
        with the parent's: only the hook that guards the page is new."""
        gdt = Gdt.__new__(Gdt)
        gdt.machine = machine
        gdt.addr = self.addr
        gdt._kernel_mode = False
        gdt.entries = list(self.entries)
        gdt.ldt_addr = self.ldt_addr
        gdt.ldt_entries = list(self.ldt_entries)
        machine.code_bits = gdt.code_bits
        machine.hook_protected(gdt._on_access, self.addr, self.addr + PAGE - 1)
        machine.hook_protected(gdt._on_access, TRAMPOLINE, TRAMPOLINE + PAGE - 1)
        if self.ldt_addr is not None:
            machine.hook_protected(gdt._on_access, self.ldt_addr, self.ldt_addr + LDT_SIZE - 1)
        return gdt

    def adopt(self, parent: Gdt) -> None:
        """A reused CPU's table becomes a copy of `parent`'s (fork into a spare CPU, whose
        memory, this page and the LDT's included, was copied already)."""
        self.entries = list(parent.entries)
        if parent.ldt_addr is not None and parent.ldt_addr != self.ldt_addr:
            self.machine.hook_protected(self._on_access, parent.ldt_addr,
                                        parent.ldt_addr + LDT_SIZE - 1)
        self.ldt_addr = parent.ldt_addr
        self.ldt_entries = list(parent.ldt_entries)

    def _flush(self) -> None:
        self.machine.write(self.addr, struct.pack(f"<{GDT_ENTRIES}Q", *self.entries))

    def set_entry(self, index: int, value: int) -> None:
        self.entries[index] = value
        self._flush()

    # -- the LDT ---------------------------------------------------------------------
    def map_ldt(self, addr: int) -> None:
        """Room for the largest LDT at `addr` (LDT_SIZE bytes the kernel model reserved in
        the address space), out of the guest's reach like the GDT's page."""
        self.machine.map(addr, LDT_SIZE, PROT_NONE)
        self.machine.hook_protected(self._on_access, addr, addr + LDT_SIZE - 1)
        self.ldt_addr = addr

    def set_ldt(self, entries: list[int]) -> None:
        """Install `entries` as the LDT and point LDTR at it (install_ldt, load_mm_ldt):
        its limit covers exactly the entries, so a selector past them faults."""
        assert self.ldt_addr is not None
        self.ldt_entries = list(entries)
        if entries:
            self.machine.write(self.ldt_addr, struct.pack(f"<{len(entries)}Q", *entries))
            # 0x82: present, system type 2 (LDT); the selector is the kernel's business.
            self.machine.uc.reg_write(X.UC_X86_REG_LDTR,
                                      (0, self.ldt_addr, len(entries) * 8 - 1, 0x82))
        else:
            self.machine.uc.reg_write(X.UC_X86_REG_LDTR, (0, 0, 0, 0))

    def reload_segments(self, names: tuple[str, ...], match) -> None:
        """Load again each of the data segment registers `names` whose selector satisfies
        `match`, as the kernel's loadsegment() does after changing a descriptor: the CPU
        reads the new descriptor, and one it refuses (now empty) leaves the null selector
        (the exception fixup). Unicorn keeps the hidden part of a segment register until
        it is loaded, as a CPU does."""
        uc = self.machine.uc
        with self.kernel_access():
            for name in names:
                reg = _uc_reg(name)
                selector = uc.reg_read(reg) & 0xFFFF
                if selector > 3 and match(selector):
                    # Unicorn checks a 64-bit CPU's loads less than a CPU does: decide here.
                    if not _data_loadable(self.descriptor_of(selector)):
                        selector = 0
                    try:
                        uc.reg_write(reg, selector)
                    except unicorn.UcError:
                        uc.reg_write(reg, 0)

    def far_target(self, pc: int) -> int | None:
        """The selector the far transfer at `pc` loads into cs (jmp, call, retf, iret),
        or None if the instruction there is none of them."""
        m = self.machine
        try:
            code = m.read(pc, 15)
        except MemoryFault:
            return None
        CX = _tables()[0]
        insn = next(iter(list(_cs(self.code_bits()).disasm(code, pc, 1))), None)
        if insn is None:
            return None
        word = 4 if self.code_bits() != 16 else 2
        try:
            if insn.id in (CX.X86_INS_LJMP, CX.X86_INS_LCALL) and insn.opcode[0] in (0xEA,
                                                                                 0x9A):
                return insn.operands[0].imm & 0xFFFF
            if insn.id in (CX.X86_INS_LJMP, CX.X86_INS_LCALL, CX.X86_INS_JMP,
                           CX.X86_INS_CALL) and _far_indirect(insn):
                mem = insn.operands[0].mem
                at = self._effective_address(insn, mem) + (insn.operands[0].size - 2)
                return int.from_bytes(m.read(at, 2), "little")
            if insn.id in (CX.X86_INS_RETF, CX.X86_INS_IRETD, CX.X86_INS_IRET):
                return int.from_bytes(m.read(m.sp + word, 2), "little")
        except (MemoryFault, IndexError):
            return None
        return None

    def descriptor_of(self, selector: int) -> int | None:
        """The descriptor a selector names (GDT or LDT), None past the table's end."""
        index = selector >> 3
        table = self.ldt_entries if selector & SELECTOR_TI else self.entries
        return table[index] if index < len(table) else None

    def code_bits(self) -> int:
        """The operand size the CPU decodes with now: 64 in a long-mode code segment, 32
        in compatibility mode (cs 0x23) or an i386 process, 16 in a 16-bit segment."""
        m = self.machine
        d = self.descriptor_of(m.reg(X.UC_X86_REG_CS) & 0xFFFF) or 0
        flags = (d >> 52) & 0xF
        if m.arch.bits == 64 and flags & 0x2:
            return 64
        return 32 if flags & 0x4 else 16

    def enter_user_mode(self, pc: int, sp: int, scratch: int, eflags: int = 0x202) -> None:
        """Drop to ring 3 the way the kernel returns to a new process: an `iret` whose frame
        holds the user cs, ss, sp and pc. Unicorn starts at CPL 0, where `cli` or `hlt` would
        run instead of raising #GP, and refuses to load a ring-3 ss directly. The `iret` and
        its frame sit on `scratch`, a free page mapped only while it runs."""
        self._kernel_mode = True
        try:
            self._iret_to_user(pc, sp, scratch, eflags)
        finally:
            self._kernel_mode = False

    def _iret_to_user(self, pc: int, sp: int, scratch: int, eflags: int) -> None:
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
        m.map(scratch, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC)
        try:
            tramp, frame_addr = scratch + 0x800, scratch + 0xF00
            m.write(tramp, iret)
            m.write(frame_addr, frame)
            m.sp = frame_addr
            stop = m.run(tramp, count=1)
        finally:
            m.unmap(scratch, PAGE)
        user_cs = USER32_CS if m.arch.bits == 32 else USER_CS
        # Unicorn reports a fetch fault at the new pc as part of this run: the `iret` itself
        # has completed (pc, cs, ss are the user's) and nothing may be executable there (an
        # ELF whose text is not mapped): the guest's first run faults there again, as on
        # Linux, where the process gets SIGSEGV at its entry point.
        entered = m.pc == pc and m.reg(X.UC_X86_REG_CS) == user_cs and (
            stop.kind != "error" or stop.uc_errno in _FETCH_FAULTS)
        if not entered:
            raise RuntimeError(f"could not enter user mode: {stop.message or hex(m.pc)}")

    # -- returns to user mode that load cs and ss ------------------------------------
    def iret_fault(self, cs: int, ss: int, pc: int = 0) -> tuple[int, int] | None:
        """The exception an `iret` to cs:ss at CPL 3 raises, as (vector, error code), or
        None when both load. In the CPU's order: cs must name a code segment of DPL 3
        (conforming: at most 3), else #GP(cs); present, else #NP(cs); then ss a writable
        data segment of DPL 3, else #GP(ss), present, else #SS(ss). A null ss passes only
        to 64-bit code."""
        gp, np_, ss_fault = 13, 11, 12
        d = self.descriptor_of(cs) if cs & 0xFFFC else None
        access = (d >> 40) & 0xFF if d else 0
        if not d or cs & 3 != 3 or not access & 0x10 or not access & 0x08:
            return gp, cs & 0xFFFC
        dpl = (access >> 5) & 3
        if (dpl > 3 if access & 0x04 else dpl != 3):
            return gp, cs & 0xFFFC
        flags = (d >> 52) & 0xF
        long_mode = self.machine.arch.bits == 64 and flags & 0x2
        if long_mode and flags & 0x4:
            return gp, cs & 0xFFFC  # L and D both set: reserved
        if not access & 0x80 and not self._i386_cs64(cs):
            return np_, cs & 0xFFFC
        if long_mode and (pc >> 47) not in (0, (1 << 17) - 1):
            return gp, 0  # a non-canonical rip: `iretq` refuses it
        if not ss & 0xFFFC:
            # A null ss with RPL 3: Intel's iretq (and Unicorn's) refuse it even to 64-bit
            # code; AMD's loads it. The model's CPU can only do the former.
            return None if long_mode and ss & 3 != 3 else (gp, 0)
        d = self.descriptor_of(ss)
        access = (d >> 40) & 0xFF if d else 0
        if not d or ss & 3 != 3 or (access & 0x1A) != 0x12 or (access >> 5) & 3 != 3:
            return gp, ss & 0xFFFC
        if not access & 0x80:
            return ss_fault, ss & 0xFFFC
        return None

    def _i386_cs64(self, cs: int) -> bool:
        """cs 0x33 in an i386 process, whose CPU is a 32-bit one: not present for the
        guest's own far jumps (which fault), but the kernel's return loads it, as 16-bit
        code (README, Simplifications)."""
        return self.machine.arch.bits == 32 and cs >> 3 == GDT_ENTRY_USER_CS \
            and not cs & SELECTOR_TI

    def far_return(self, pc: int, sp: int, cs: int, ss: int) -> None:
        """Return to user mode at cs:pc with ss:sp, as the kernel's `iret` does, when cs or
        ss differ from the CPU's: Unicorn switches between 64-bit, compatibility and
        16-bit code only by the CPU's own far transfers (writing cs does not), so the
        switch happens at the start of the next run, by the kernel model's own code on
        the trampoline page. The caller has checked the selectors (iret_fault)."""
        self.machine.far_return = (cs, ss)
        self.machine.before_run = lambda: self._far_return_now(pc, sp, cs, ss)

    def _far_return_now(self, pc: int, sp: int, cs: int, ss: int) -> None:
        m = self.machine
        uc = m.uc
        m.far_return = None
        now_cs = uc.reg_read(X.UC_X86_REG_CS) & 0xFFFF
        bits = self.code_bits()
        base = _base(self.descriptor_of(now_cs) or 0) if m.arch.bits == 32 or bits != 64 else 0
        t = TRAMPOLINE
        flat32 = USER32_CS
        if m.arch.bits == 64:
            # 64-bit code: `iretq` pops rip, cs, rflags, rsp, ss; compatibility or 16-bit
            # code first jumps to it in cs 0x33.
            code = {
                _TR_FROM_16: b"\x66\xea" + struct.pack("<IH", t + _TR_FROM_64, USER_CS),
                _TR_FROM_32: b"\xea" + struct.pack("<IH", t + _TR_FROM_64, USER_CS),
                _TR_FROM_64: b"\x48\xcf",
            }
            frame = struct.pack("<5Q", pc, cs, m.reg(X.UC_X86_REG_EFLAGS), sp, ss)
            steps = {64: 1, 32: 2, 16: 2}[bits]
        else:
            # i386: in flat 32-bit code, `lss esp` then `jmp far` (an `iret` at the same
            # privilege would not load ss).
            code = {
                _TR_FROM_16: b"\x66\xea" + struct.pack("<IH", t + _TR_FLAT_32, flat32),
                _TR_FROM_32: b"\xea" + struct.pack("<IH", t + _TR_FLAT_32, flat32),
                _TR_FLAT_32: b"\x2e\x0f\xb2\x25" + struct.pack("<I", t + _TR_SS_SP)
                + b"\x2e\xff\x2d" + struct.pack("<I", t + _TR_CS_IP),
            }
            frame = b""
            steps = 2 if bits == 32 and now_cs == flat32 else 3
        entry = t + (_TR_FROM_64 if bits == 64 else _TR_FLAT_32 if m.arch.bits == 32 and
                     now_cs == flat32 else _TR_FROM_16 if bits == 16 else _TR_FROM_32)
        present_cs64 = self._i386_cs64(cs)
        if present_cs64:
            self.set_entry(GDT_ENTRY_USER_CS, self.entries[GDT_ENTRY_USER_CS] | (1 << 47))
        with self.kernel_access():
            m.protect(t, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC)
            try:
                for offset, data in code.items():
                    m.write(t + offset, data)
                m.write(t + _TR_SS_SP, struct.pack("<IH", sp & 0xFFFFFFFF, ss))
                m.write(t + _TR_CS_IP, struct.pack("<IH", pc & 0xFFFFFFFF, cs))
                if frame:
                    m.write(t + _TR_FRAME, frame)
                    m.sp = t + _TR_FRAME
                m.run(entry - base, count=steps)
            finally:
                m.write(t, bytes(PAGE))
                m.protect(t, PAGE, PROT_NONE)
                m.flush_tlb()
                if present_cs64:
                    self.set_entry(GDT_ENTRY_USER_CS,
                                   self.entries[GDT_ENTRY_USER_CS] & ~(1 << 47))
        # To a 16-bit stack segment the CPU's `iret` loads only sp's low 16 bits; Linux's
        # espfix64 makes the rest the user's own: the whole value, as the frame had it.
        m.sp = sp
        got = (uc.reg_read(X.UC_X86_REG_CS) & 0xFFFF, uc.reg_read(X.UC_X86_REG_SS) & 0xFFFF)
        if got != (cs, ss) or m.pc != pc:
            raise RuntimeError(f"could not return to {cs:#x}:{pc:#x} (ss {ss:#x}): the CPU "
                               f"is at {got[0]:#x}:{m.pc:#x}, ss {got[1]:#x}")

    def allows(self, access: int, addr: int, size: int) -> bool:
        """The hook's answer, for a fault handler that Unicorn asks first."""
        return self._on_access(None, access, addr, size, 0, None)

    def _on_access(self, _uc, _access, addr: int, size: int, _value, _user_data) -> bool:
        """Unicorn asks before any access to the page: True lets the CPU's own through; a
        refused one goes on to the next hook (the kernel's fault handler). Outside a run, or
        inside kernel_access, it is the kernel model loading a segment register itself:
        always allowed (a refusal there would unwind through Unicorn, corrupting the host
        process's memory)."""
        if not self.holds(addr):
            return False  # a hook left from an LDT an earlier process of a reused CPU had
        if self._kernel_mode or not self.machine.running:
            return True
        return self.cpu_access(self.machine.pc, addr, size,
                               write=_access == unicorn.UC_MEM_WRITE_PROT)

    @contextmanager
    def kernel_access(self):
        """For the kernel model's own segment loads from inside a hook (sigreturn)."""
        old, self._kernel_mode = self._kernel_mode, True
        try:
            yield
        finally:
            self._kernel_mode = old

    def holds(self, addr: int) -> bool:
        if TRAMPOLINE <= addr < TRAMPOLINE + PAGE:
            return True
        if self.ldt_addr is not None and self.ldt_addr <= addr < self.ldt_addr + LDT_SIZE:
            return True
        return self.addr <= addr < self.addr + PAGE

    def cpu_access(self, pc: int, addr: int, size: int, write: bool = False) -> bool:
        """Whether an access to the table's page, made by the instruction at `pc`, is the
        CPU's own descriptor read (or accessed-bit write) during a segment load, which
        Linux's CPU makes through the kernel mapping, rather than one of the instruction's
        own memory operands, which on Linux faults (the page is not a user page).

        Unicorn brings `pc` up to date before each memory operand's access, but not before
        the descriptor reads of `lar`, `lsl`, `verr`, `verw` and far transfers: there it
        may still name an earlier instruction, even one of an earlier block. So when the
        instruction at `pc` neither loads a descriptor nor has an operand that reaches the
        page, the access is the CPU's only if it has a descriptor read's shape: 4 aligned
        bytes, read (every descriptor the model writes has its accessed bit set already)."""
        m = self.machine
        try:
            code = m.read(pc, 15)
        except MemoryFault:
            return False
        # The whole list: capstone frees its buffer (the operands) when the generator ends.
        insn = next(iter(list(_cs(self.code_bits()).disasm(code, pc, 1))), None)
        if insn is None or not self._no_own_operand(insn, addr, size):
            return False
        if _loads_descriptor(insn):
            return True
        return not write and size == 4 and addr % 4 == 0

    def _no_own_operand(self, insn, addr: int, size: int) -> bool:
        """True unless one of the instruction's own memory operands (or its stack) may be
        what reached [addr, addr + size)."""
        CX, _loads, stack_users, _segment_regs = _tables()
        end = addr + size
        for op in insn.operands:
            if op.type == CX.X86_OP_MEM:
                ea = self._effective_address(insn, op.mem)
                if ea < end and addr < ea + 16:
                    return False
        if insn.id in stack_users or insn.id in (CX.X86_INS_CALL, CX.X86_INS_PUSH):
            sp = self.machine.sp
            if sp - 32 < end and addr < sp + 48:
                return False
        return True

    def _effective_address(self, insn, mem) -> int:
        """The linear address of a memory operand: in 64-bit code only fs and gs add a
        base; in 32-bit code every segment does (an LDT segment may have any base)."""
        CX = _tables()[0]
        m = self.machine
        bits = self.code_bits()
        ea = mem.disp
        if mem.base == CX.X86_REG_RIP:
            ea += insn.address + insn.size
        elif mem.base:
            ea += m.reg(_uc_reg(insn.reg_name(mem.base)))
        if mem.index:
            ea += m.reg(_uc_reg(insn.reg_name(mem.index))) * mem.scale
        if bits != 64:
            ea &= 0xFFFFFFFF
        segment = insn.reg_name(mem.segment) if mem.segment else (
            "ss" if mem.base in (CX.X86_REG_ESP, CX.X86_REG_EBP, CX.X86_REG_SP, CX.X86_REG_BP)
            else "ds")
        if bits != 64 or segment in ("fs", "gs"):
            ea += self._segment_base(segment)
        return ea & ((1 << m.arch.bits) - 1)

    def _segment_base(self, name: str) -> int:
        m = self.machine
        if m.arch.bits == 64 and name in ("fs", "gs") and self.code_bits() == 64:
            return m.reg(X.UC_X86_REG_FS_BASE if name == "fs" else X.UC_X86_REG_GS_BASE)
        selector = m.reg(_uc_reg(name)) & 0xFFFF
        d = self.descriptor_of(selector) or 0 if selector > 3 else 0
        return ((d >> 16) & 0xFFFFFF) | (((d >> 56) & 0xFF) << 24)


def _base(d: int) -> int:
    return ((d >> 16) & 0xFFFFFF) | (((d >> 56) & 0xFF) << 24)


def _data_loadable(d: int | None) -> bool:
    """Whether `mov ds/es/fs/gs` at CPL 3 accepts the descriptor: present, a code or data
    segment (not a system one), readable if code, DPL 3 unless conforming code."""
    if not d:
        return False
    access = (d >> 40) & 0xFF
    present, segment, code = access & 0x80, access & 0x10, access & 0x08
    if not (present and segment):
        return False
    if code and not access & 0x02:
        return False
    conforming = code and access & 0x04
    return bool(conforming) or (access >> 5) & 3 == 3


def _loads_descriptor(insn) -> bool:
    CX, loads, _stack_users, segment_regs = _tables()
    if insn.id not in loads:
        return False
    if insn.id in (CX.X86_INS_CALL, CX.X86_INS_JMP):
        return _far_indirect(insn)
    if insn.id in (CX.X86_INS_MOV, CX.X86_INS_POP):
        return any(op.type == CX.X86_OP_REG and op.reg in segment_regs for op in insn.operands)
    return True


def _far_indirect(insn) -> bool:
    """`call far [m]` / `jmp far [m]` (FF /3, FF /5), which capstone names call and jmp."""
    return insn.opcode[0] == 0xFF and (insn.modrm >> 3) & 7 in (3, 5)


@lru_cache(maxsize=3)
def _cs(bits: int):
    import capstone  # only when the guest touches the GDT page: not on every run's startup

    mode = {64: capstone.CS_MODE_64, 32: capstone.CS_MODE_32, 16: capstone.CS_MODE_16}[bits]
    cs = capstone.Cs(capstone.CS_ARCH_X86, mode)
    cs.detail = True
    return cs


@lru_cache(maxsize=1)
def _tables():
    from capstone import x86_const as CX

    # Instructions that make the CPU read a descriptor: segment-register loads, far transfers,
    # and the descriptor queries user mode may make (lar, lsl, verr, verw).
    loads = {CX.X86_INS_CALL, CX.X86_INS_JMP, CX.X86_INS_MOV, CX.X86_INS_POP,
                      CX.X86_INS_LDS, CX.X86_INS_LES, CX.X86_INS_LFS, CX.X86_INS_LGS,
                      CX.X86_INS_LSS, CX.X86_INS_LCALL,
                      CX.X86_INS_LJMP, CX.X86_INS_RETF, CX.X86_INS_RETFQ, CX.X86_INS_IRET,
                      CX.X86_INS_IRETD, CX.X86_INS_IRETQ, CX.X86_INS_LAR, CX.X86_INS_LSL,
                      CX.X86_INS_VERR, CX.X86_INS_VERW}
    # Of those, the ones that also read or write the stack (its bytes are the guest's own).
    stack_users = {CX.X86_INS_POP, CX.X86_INS_LCALL, CX.X86_INS_RETF, CX.X86_INS_RETFQ,
                    CX.X86_INS_IRET, CX.X86_INS_IRETD, CX.X86_INS_IRETQ}
    segment_regs = {CX.X86_REG_CS, CX.X86_REG_DS, CX.X86_REG_ES, CX.X86_REG_FS, CX.X86_REG_GS,
                     CX.X86_REG_SS}
    return CX, loads, stack_users, segment_regs


def _uc_reg(name: str) -> int:
    return getattr(X, "UC_X86_REG_" + name.upper())

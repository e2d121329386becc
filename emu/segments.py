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
        machine.map(addr, PAGE, PROT_NONE)  # the kernel's: see cpu_access
        self._kernel_mode = False  # set while the kernel model itself loads segments
        machine.hook_protected(self._on_access, addr, addr + PAGE - 1)
        self.entries = [0] * GDT_ENTRIES
        self.entries[GDT_ENTRY_KERNEL_CS] = descriptor(0, 0xFFFFF, code=True, dpl=0,
                                                       long_mode=machine.arch.bits == 64)
        self.entries[GDT_ENTRY_KERNEL_DS] = descriptor(0, 0xFFFFF, code=False, dpl=0)
        self.entries[GDT_ENTRY_USER32_CS] = descriptor(0, 0xFFFFF, code=True, dpl=3)
        self.entries[GDT_ENTRY_USER_DS] = descriptor(0, 0xFFFFF, code=False, dpl=3)
        self.entries[GDT_ENTRY_USER_CS] = descriptor(0, 0xFFFFF, code=True, dpl=3, long_mode=True)
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
        machine.hook_protected(gdt._on_access, self.addr, self.addr + PAGE - 1)
        return gdt

    def _flush(self) -> None:
        self.machine.write(self.addr, struct.pack(f"<{GDT_ENTRIES}Q", *self.entries))

    def set_entry(self, index: int, value: int) -> None:
        self.entries[index] = value
        self._flush()

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

    def _on_access(self, _uc, _access, addr: int, size: int, _value, _user_data) -> bool:
        """Unicorn asks before any access to the page: True lets the CPU's own through; a
        refused one goes on to the next hook (the kernel's fault handler). Outside a run, or
        inside kernel_access, it is the kernel model loading a segment register itself:
        always allowed (a refusal there would unwind through Unicorn, corrupting the host
        process's memory)."""
        if self._kernel_mode or not self.machine.running:
            return True
        return self.cpu_access(self.machine.pc, addr, size)

    @contextmanager
    def kernel_access(self):
        """For the kernel model's own segment loads from inside a hook (sigreturn)."""
        old, self._kernel_mode = self._kernel_mode, True
        try:
            yield
        finally:
            self._kernel_mode = old

    def holds(self, addr: int) -> bool:
        return self.addr <= addr < self.addr + PAGE

    def cpu_access(self, pc: int, addr: int, size: int) -> bool:
        """Whether an access to the table's page, made by the instruction at `pc`, is the
        CPU's own descriptor read (or accessed-bit write) during a segment load, which
        Linux's CPU makes through the kernel mapping, rather than one of the instruction's
        own memory operands, which on Linux faults (the page is not a user page)."""
        m = self.machine
        CX, loads, stack_users, segment_regs = _tables()
        try:
            code = m.read(pc, 15)
        except MemoryFault:
            return False
        # The whole list: capstone frees its buffer (the operands) when the generator ends.
        insn = next(iter(list(_cs(m.arch.bits).disasm(code, pc, 1))), None)
        if insn is None or insn.id not in loads:
            return False
        if insn.id in (CX.X86_INS_CALL, CX.X86_INS_JMP) and not _far_indirect(insn):
            return False
        if insn.id in (CX.X86_INS_MOV, CX.X86_INS_POP) and not any(
                op.type == CX.X86_OP_REG and op.reg in segment_regs for op in insn.operands):
            return False
        end = addr + size
        for op in insn.operands:
            if op.type == CX.X86_OP_MEM:
                ea = self._effective_address(insn, op.mem)
                if ea < end and addr < ea + 16:
                    return False
        if insn.id in stack_users or insn.id == CX.X86_INS_CALL:
            sp = m.sp
            if sp - 32 < end and addr < sp + 48:
                return False
        return True

    def _effective_address(self, insn, mem) -> int:
        CX = _tables()[0]
        m = self.machine
        mask = (1 << m.arch.bits) - 1
        ea = mem.disp
        if mem.base == CX.X86_REG_RIP:
            ea += insn.address + insn.size
        elif mem.base:
            ea += m.reg(_uc_reg(insn.reg_name(mem.base)))
        if mem.index:
            ea += m.reg(_uc_reg(insn.reg_name(mem.index))) * mem.scale
        if mem.segment in (CX.X86_REG_FS, CX.X86_REG_GS):
            ea += self._segment_base(insn.reg_name(mem.segment))
        return ea & mask

    def _segment_base(self, name: str) -> int:
        m = self.machine
        if m.arch.bits == 64:
            return m.reg(X.UC_X86_REG_FS_BASE if name == "fs" else X.UC_X86_REG_GS_BASE)
        index = m.reg(X.UC_X86_REG_FS if name == "fs" else X.UC_X86_REG_GS) >> 3
        d = self.entries[index] if index < GDT_ENTRIES else 0
        return ((d >> 16) & 0xFFFFFF) | (((d >> 56) & 0xFF) << 24)


def _far_indirect(insn) -> bool:
    """`call far [m]` / `jmp far [m]` (FF /3, FF /5), which capstone names call and jmp."""
    return insn.opcode[0] == 0xFF and (insn.modrm >> 3) & 7 in (3, 5)


@lru_cache(maxsize=2)
def _cs(bits: int):
    import capstone  # only when the guest touches the GDT page: not on every run's startup

    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64 if bits == 64 else
                     capstone.CS_MODE_32)
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

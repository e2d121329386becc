"""The CPU's side of a stop: Unicorn's hooks for faults, exceptions, ports and bad memory,
kept as the one cause the next `take` reports, translated to what Linux's CPU would raise.

Linux: arch/x86/kernel/traps.c (exc_general_protection, exc_invalid_op, exc_debug_user),
arch/x86/mm/fault.c (do_user_addr_fault, bad_area), arch/x86/entry/vsyscall/vsyscall_64.c.
"""

from __future__ import annotations

from emu.machine import (
    ERR_INSN_INVALID,
    ERR_PROT,
    MEM_FETCH_PROT,
    MEM_FETCH_UNMAPPED,
    MEM_READ_UNMAPPED,
    MEM_WRITE_UNMAPPED,
    PAGE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    Machine,
    MemoryFault,
)
from emu.registers import EFLAGS
from kernel_model.proc import exec as binfmt
from kernel_model.run.causes import Fault, VsyscallFetch
from kernel_model.signals import delivery as signals
from kernel_model.signals.frame_layout import EFLAGS_TF
from kernel_model.trace.events import KernelNote
from kernel_model.vsyscall import emulated as vsyscall

# Vectors the CPU raises that exception_signal maps to something other than SIGSEGV: an
# `int N` naming one of them is the #GP of a DPL-0 gate instead.
_KERNEL_ONLY_VECTORS = frozenset({0, 1, 6, 16, 19})
_PREFIXES = frozenset(b"\x66\x67\xf2\xf3\x2e\x36\x3e\x26\x64\x65\xf0")
_UNMAPPED = (MEM_READ_UNMAPPED, MEM_WRITE_UNMAPPED, MEM_FETCH_UNMAPPED)


class CpuFaults:
    """Installs the fault hooks on a System's machine and keeps what they saw."""

    def __init__(self, system):
        self.system = system
        self._fault: Fault | None = None
        self._vsyscall_fetch: int | None = None  # a fetch that faulted in the vsyscall page
        # A fault seen inside an instruction hook, which cannot stop the CPU at the
        # instruction: (the fault, the saved context or pc to go back to).
        self._early: tuple | None = None
        self._refused_gdt = False  # the TLB must be flushed before the guest goes on
        self.equip(system.machine)

    def equip(self, m: Machine) -> None:
        """The fault hooks on a CPU: the first process's, or a forked one's."""
        int80 = self.system.kernel.int80_entry(m)
        kernel = self.system.kernel
        general = self._on_interrupt

        def on_interrupt(_handle, intno: int, _user_data) -> None:
            try:
                # `int 0x80` first, with little in its way: a syscall like any other.
                if intno == 0x80 and self._early is None:
                    int80()
                    if kernel.current.state != "R":
                        m.stop()
                    return
                general(m, intno)
            except BaseException as e:
                m.hook_failed(e)

        m.hook_interrupt_fast(on_interrupt)
        if self.system.loader.vsyscall_mode(m.arch) == "xonly":
            m.hook_code_fast(vsyscall.fetch_trap(kernel, m, self._vsyscall_trap, self._counted),
                             vsyscall.VSYSCALL_ADDR,
                             vsyscall.VSYSCALL_ADDR + vsyscall.VSYSCALL_SIZE - 1)
        m.hook_bad_memory(self._on_bad_memory)
        m.hook_bad_instruction(self._on_bad_instruction)
        m.hook_ports(self._on_port)
        if m.arch.bits == 32:
            m.hook_syscall(self._on_syscall32)

    def forget(self) -> None:
        """Drop any cause an earlier run left (a replay, a restored state)."""
        self.take(None)

    def take(self, stop) -> Fault | VsyscallFetch | None:
        """Why the last emu_start stopped, if the guest caused it, and forget it."""
        system = self.system
        cause: Fault | VsyscallFetch | None = None
        if self._early is not None:
            fault, where = self._early
            if isinstance(where, int):
                system.machine.pc = where
            else:
                system.machine.restore_context(where)
            cause = fault
        elif self._vsyscall_fetch is not None:
            cause = VsyscallFetch(self._vsyscall_fetch)
        elif self._fault is not None:
            cause = self._fault
        elif stop is not None and stop.kind == "error":
            cause = self._classify_error(stop.uc_errno)
        self._fault = None
        self._vsyscall_fetch = None
        self._early = None
        system.kernel.halted = False
        system.kernel.step_trap_skipped_at = None  # raised in the run that set it, or never
        if self._refused_gdt:
            self._refused_gdt = False
            system.machine.flush_tlb()  # else the refused access would pass next time
        if isinstance(cause, Fault):
            if system.counter is not None:
                system.counter.retract_from(system.machine.pc)
            cause = self._as_linux(cause)
        return cause

    def _as_linux(self, fault: Fault) -> Fault:
        """Unicorn's CPU raises #UD for some instructions where Linux's raises something
        else (QEMU leaves them unimplemented): the signal Linux sends instead."""
        if fault.signo != signals.SIGILL:
            return fault
        m = self.system.machine
        pc = m.pc
        op, length = _opcode(m, pc)
        if op[:1] == b"\xf1":
            # icebp (int1): a #DB trap, reported after the instruction (exc_debug_user).
            m.pc = pc + length
            return Fault(signals.SIGTRAP, signals.TRAP_BRKPT, pc + length)
        if op[:1] == b"\xcd":
            # `int 6`, which Unicorn reports as the #UD itself: the gate is DPL 0, so #GP.
            return Fault(signals.SIGSEGV, signals.SI_KERNEL, 0)
        if op[:2] == b"\x0f\x33" or (op[:2] == b"\x0f\x07" and m.arch.bits == 64):
            # rdpmc with CR4.PCE clear, sysret at CPL 3: #GP (sysret in 32-bit code stays a
            # #UD on Intel).
            return Fault(signals.SIGSEGV, signals.SI_KERNEL, 0)
        return fault

    # -- the hooks ----------------------------------------------------------------------
    def _on_port(self, uc, *_args) -> int:
        """`in`/`out` in user mode with no I/O permission: #GP, SIGSEGV (Unicorn lets every
        port through). The CPU stops only at the end of its translated block, so the
        registers as they were at the instruction are put back (take)."""
        if self._early is None:
            self._early = (Fault(signals.SIGSEGV, signals.SI_KERNEL, 0),
                           self.system.machine.save_context())
            self.system.kernel.halted = True
        uc.emu_stop()
        return 0

    def _counted(self) -> bool:
        """Whether the run counts instructions (--max-insns, stepping): the vsyscall fast
        path then leaves the call to emulate(), which counts it."""
        return self.system.counter is not None

    def _vsyscall_trap(self, addr: int) -> None:
        """The CPU is about to run code in the vsyscall page that the fast path left to the
        run loop: stop there, as the fetch fault did before the page had a CPU side."""
        self._vsyscall_fetch = addr
        self.system.machine.stop()

    def _on_syscall32(self, uc, _user_data) -> None:
        """`syscall` in 32-bit code: #UD on an Intel CPU, the model's (Unicorn skips it)."""
        pc = self.system.machine.pc  # still the instruction's: Unicorn adds its length after
        self.system.kernel.emit(KernelNote(
            "syscall in 32-bit code: an Intel CPU raises #UD (SIGILL); only AMD's enter the "
            "kernel with it"))
        if self._early is None:
            self._early = (Fault(signals.SIGILL, signals.ILL_ILLOPN, pc), pc)
        uc.emu_stop()

    def _on_interrupt(self, m: Machine, intno: int) -> None:
        """An interrupt or exception Unicorn raised on CPU `m` (int 0x80 has its own path
        in equip's hook, this one too when a fault came first)."""
        if self._early is not None:
            return  # after a fault in the same block (see _on_port): already stopping
        system = self.system
        if intno == 0x80:
            system.kernel.on_int80()
            if system.kernel.current.state != "R":
                m.stop()
            return
        pc = system.machine.pc
        if intno == 1 and pc == system.kernel.step_trap_skipped_at:
            # The #DB Unicorn raises as a `syscall`/`sysenter` returns with TF set: Linux's
            # return (IRET) traps only after the next instruction, which Unicorn does too.
            system.kernel.step_trap_skipped_at = None
            return
        if intno == 1 and system.machine.reg(EFLAGS) & EFLAGS_TF:
            # A single step (exc_debug_user: send_sigtrap with TRAP_TRACE and the next
            # instruction's address), not an `int 1` whose bytes happen to end there.
            self._fault = Fault(signals.SIGTRAP, signals.TRAP_TRACE, pc)
            if system.counter is not None:
                system.counter.block_done()  # (with TF a block is one instruction: it ran)
            m.stop()
            return
        if intno in _KERNEL_ONLY_VECTORS and self._software_int(intno, pc):
            # `int N` through a gate user mode may not use (DPL 0: only int3, into and
            # int 0x80 have DPL 3): #GP at the `int`, where Unicorn reports the vector
            # itself, past the instruction, as if the CPU had raised it.
            self._early = (Fault(signals.SIGSEGV, signals.SI_KERNEL, 0), pc - 2)
            m.stop()
            return
        if intno == 11 and system.arch.bits == 32 and \
                (system.gdt.far_target(pc) or 0) | 3 == 0x33:
            # i386 code jumping to the 64-bit code segment ("heaven's gate"): Linux runs it,
            # but an i386 process's CPU here is a 32-bit one (README, Simplifications).
            system.kernel.emit(KernelNote(
                "far jump to cs 0x33 in an i386 process: Linux would run 64-bit code, which "
                "the model's 32-bit CPU for i386 processes cannot: SIGSEGV instead"))
        self._fault = Fault(*signals.exception_signal(intno, pc))
        m.stop()

    def _software_int(self, intno: int, pc: int) -> bool:
        """Whether Unicorn stopped just past an `int N` for this vector, rather than at an
        instruction that raised it (a divide, for #DE)."""
        machine = self.system.machine
        try:
            before = machine.read(pc - 2, 2)
        except MemoryFault:
            return False
        if before != bytes([0xCD, intno]):
            return False
        if intno == 0:
            op, _length = _opcode(machine, pc)
            if op[:1] in (b"\xf6", b"\xf7") and len(op) > 1 and (op[1] >> 3) & 7 in (6, 7):
                return False  # a div/idiv right after the bytes: its own #DE
        return True

    def _on_bad_memory(self, uc, access: int, addr: int, size: int, value: int, _ud) -> bool:
        system = self.system
        if system.gdt.holds(addr):
            if system.gdt.allows(access, addr, size):
                return True  # the CPU's own descriptor read (an LDT's hook comes after this)
            # The kernel's page (the CPU's descriptor reads were let through before this
            # hook): the guest's own access faults as a user access to a kernel address.
            self._fault = Fault(signals.SIGSEGV, signals.SEGV_MAPERR, addr)
            self._refused_gdt = True
            return False
        if system.arch.bits == 64 and (1 << 47) <= addr < (1 << 64) - (1 << 47):
            # Non-canonical (the virtual TLB reports the whole address): a #GP, SIGSEGV
            # with si_code SI_KERNEL.
            self._fault = Fault(signals.SIGSEGV, signals.SI_KERNEL, 0)
            return False
        unmapped = access in _UNMAPPED
        if access in (MEM_FETCH_PROT, MEM_FETCH_UNMAPPED) and vsyscall.in_page(addr) and \
                system.vsyscall_mode in ("emulate", "xonly"):
            # Executing the page traps; the kernel emulates the call (emulate_vsyscall).
            self._vsyscall_fetch = addr
            return False
        if unmapped and binfmt.grow_stack(self.system.mm, addr):
            return True
        vma = system.mm.find(addr)
        if vma is not None and not vma.backed and vma.name == "[vvar_vclock]" and \
                access == MEM_READ_UNMAPPED:
            # A read the VMA allows, answered by its fault handler with VM_FAULT_SIGBUS
            # (writes and fetches are refused by the VMA's permissions first: SEGV_ACCERR).
            self._fault = Fault(signals.SIGBUS, signals.BUS_ADRERR, addr)
            return False
        if vma is not None and vma.past_eof and _allowed(access, vma.prot):
            # A file page past the file's end: the fault handler finds no page (SIGBUS).
            self._fault = Fault(signals.SIGBUS, signals.BUS_ADRERR, addr)
            return False
        if vma is not None and not vma.backed and not vsyscall.in_page(addr):
            unmapped = False  # a VMA is there: the access is refused, not unmapped
        code = signals.SEGV_MAPERR if unmapped else signals.SEGV_ACCERR
        if vsyscall.in_page(addr):
            code = signals.SEGV_MAPERR  # the gate page has no VMA a read could be refused by
        self._fault = Fault(signals.SIGSEGV, code, addr)
        return False

    def _on_bad_instruction(self, uc, _user_data) -> bool:
        self._fault = Fault(signals.SIGILL, signals.ILL_ILLOPN, self.system.machine.pc)
        return False

    def _classify_error(self, uc_errno: int) -> Fault:
        pc = self.system.machine.pc
        if uc_errno == ERR_INSN_INVALID:
            return Fault(signals.SIGILL, signals.ILL_ILLOPN, pc)
        if uc_errno in ERR_PROT:
            return Fault(signals.SIGSEGV, signals.SEGV_ACCERR, pc)
        return Fault(signals.SIGSEGV, signals.SEGV_MAPERR, pc)


def _allowed(access: int, prot: int) -> bool:
    """Whether a VMA's permissions let this access through to its fault handler (x86: a
    writable or executable page is readable too)."""
    if access in (MEM_FETCH_PROT, MEM_FETCH_UNMAPPED):
        return bool(prot & PROT_EXEC)
    if access == MEM_WRITE_UNMAPPED:
        return bool(prot & PROT_WRITE)
    return bool(prot & (PROT_READ | PROT_WRITE | PROT_EXEC))


def _opcode(machine: Machine, pc: int) -> tuple[bytes, int]:
    """The bytes at pc from the opcode on (legacy prefixes and REX skipped), and the
    instruction's length when it is a one-byte opcode."""
    raw = b""
    for n in (15, PAGE - (pc & (PAGE - 1))):
        try:
            raw = machine.read(pc, min(n, 15))
            break
        except MemoryFault:
            continue
    i = 0
    while i < len(raw) and (raw[i] in _PREFIXES or (
            machine.arch.bits == 64 and 0x40 <= raw[i] <= 0x4F)):
        i += 1
    return raw[i:], i + 1

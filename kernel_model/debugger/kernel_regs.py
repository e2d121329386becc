"""The CPU's registers while a transition runs in the kernel, as Linux sets them up: what the
Registers pane shows during a walk's kernel phases (the Transition pane lists the same
changes, made here, so the two always agree).

Unicorn never runs the kernel (docs/kernel_facts.md §7), so these are modelled from the hardware's
rules (Intel SDM vol. 2: SYSCALL, SYSENTER, INT n) and from how Linux programs the MSRs and
the IDT (arch/x86/kernel/cpu/common.c, arch/x86/kernel/idt.c). A kernel address is shown by
its symbol's name: the model has no kernel image, and KASLR would move it anyway.

An i386 process runs on the same 64-bit kernel (its entries are asm_int80_emulation and
entry_SYSENTER_compat), so it enters with the x86-64 kernel's selectors too.
"""

from __future__ import annotations

from kernel_model.debugger.view_records import Change

# arch/x86/include/asm/segment.h (x86-64): GDT entries 2 and 3.
KERNEL_CS, KERNEL_DS = 0x10, 0x18
# IA32_FMASK as syscall_init() programs it: CF PF AF ZF SF TF IF DF OF IOPL NT RF AC ID.
SYSCALL_FMASK = 0x257FD5
# What an interrupt gate clears on the way in: TF, IF, NT, RF, VM.
GATE_CLEARS = 0x34300
# What `sysenter` clears: IF, RF, VM.
SYSENTER_CLEARS = 0x30200

KERNEL_STACK = "kernel stack"

Regs = tuple[tuple[str, "int | str"], ...]


def _names(bits: int) -> tuple[str, str, str]:
    return ("rip", "rsp", "rflags") if bits == 64 else ("eip", "esp", "eflags")


def freeze(regs: dict) -> Regs:
    return tuple(regs.items())


class Entry:
    """The registers of one crossing, phase after phase: each method returns the
    Transition pane's changes for that phase and leaves `regs` as the CPU has them after it."""

    def __init__(self, before: dict, bits: int):
        self.bits = bits
        self.regs = dict(before)
        self.pc, self.sp, self.flags = _names(bits)

    def _set(self, name: str, value, why: str = "") -> Change:
        """Set a register; its line in the Transition pane shows the same value (a number,
        or the text standing for a kernel address), with why in brackets."""
        key = "eflags" if name in ("rflags", "eflags") else name
        old = self.regs.get(key)
        self.regs[key] = value
        return Change(name, _hex(old), _hex(value) + (f" ({why})" if why else ""))

    def _ring0(self, cs: int, ss: int, ss_why: str, clears: int, why: str) -> list[Change]:
        flags = self.regs.get("eflags", 0)
        return [Change("CPL", "3", "0"), self._set("cs", cs, "__KERNEL_CS"),
                self._set("ss", ss, ss_why), self._set(self.flags, flags & ~clears, why)]

    def syscall(self, rcx: int, r11: int) -> list[Change]:
        """`syscall`: rcx <- the next rip, r11 <- rflags, rflags masked with IA32_FMASK,
        cs and ss from IA32_STAR, rip from IA32_LSTAR; the stack is not switched."""
        changes = [self._set("rcx", rcx), self._set("r11", r11)]
        changes += self._ring0(KERNEL_CS, KERNEL_DS, "__KERNEL_DS, from IA32_STAR",
                               SYSCALL_FMASK, "masked by IA32_FMASK")
        changes.append(self._set("rip", "IA32_LSTAR = entry_SYSCALL_64"))
        return changes

    def gate(self, entry: str, vector: str) -> list[Change]:
        """`int 0x80` (or a fault) through an IDT interrupt gate in 64-bit mode: ss becomes a
        null selector, the stack is TSS.sp0's, the gate clears IF and TF."""
        changes = self._ring0(KERNEL_CS, 0, "a null selector, in 64-bit mode", GATE_CLEARS,
                              "the gate clears IF and TF")
        changes.append(self._set(self.sp, f"{KERNEL_STACK} (TSS.sp0)"))
        changes.append(self._set(self.pc, f"{vector} = {entry}"))
        return changes

    def sysenter(self) -> list[Change]:
        """`sysenter`: cs from IA32_SYSENTER_CS (ss is the next selector), esp and eip from
        IA32_SYSENTER_ESP and IA32_SYSENTER_EIP; IF, RF and VM cleared."""
        changes = self._ring0(KERNEL_CS, KERNEL_DS, "__KERNEL_DS, IA32_SYSENTER_CS + 8",
                              SYSENTER_CLEARS, "IF cleared")
        changes.append(self._set(self.sp, f"IA32_SYSENTER_ESP ({KERNEL_STACK})"))
        changes.append(self._set(self.pc, "IA32_SYSENTER_EIP = entry_SYSENTER_compat"))
        return changes

    def to_task_stack(self) -> list[Change]:
        """entry_SYSCALL_64's first instructions: swapgs, then the task's kernel stack."""
        changes = []
        if "gs_base" in self.regs:
            changes.append(self._set("gs_base", "kernel per-CPU area (swapgs)"))
        changes.append(self._set(self.sp, f"{KERNEL_STACK} (cpu_current_top_of_stack)"))
        return changes

    def running(self, where: str) -> None:
        """The kernel moved on to the function `where` (no change worth a line)."""
        self.regs[self.pc] = where


def _hex(value) -> str:
    if value is None:
        return "?"
    return value if isinstance(value, str) else f"{value:#x}"

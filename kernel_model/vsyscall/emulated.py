"""The x86-64 vsyscall page (arch/x86/entry/vsyscall/vsyscall_64.c): three entry points at a
fixed address that never moves, 0xffffffffff600000 + 0x000 (gettimeofday), + 0x400 (time),
+ 0x800 (getcpu).

Modes (the `vsyscall=` boot parameter, docs/kernel_facts.md §4):
- native: real code in the page, reading the kernel's time variables kept in the page;
- emulate: the page is readable but executing it faults, and the kernel emulates the call;
- xonly: as emulate, but reading the page faults too (today's default);
- none: no page at all.
"""

from __future__ import annotations

import struct

from emu import registers as R
from emu.machine import PROT_EXEC, PROT_READ, PROT_WRITE, MemoryFault
from kernel_model.signals.frame_layout import EFLAGS_TF
from kernel_model.syscalls.argkinds import OutStruct
from kernel_model.trace.events import VsyscallCalled
from kernel_model.trace.lines import vsyscall_text
from kernel_model.trace.user_calls import CallInProgress, UserCallDef, call_text
from kernel_model.uapi import errnos
from kernel_model.vdso.call_watch import CallWatcher

VSYSCALL_ADDR = 0xFFFFFFFFFF600000
VSYSCALL_SIZE = 0x1000
ENTRIES = {0: "gettimeofday", 1: "time", 2: "getcpu"}
# The entries with the syscalls' argument kinds, decoded by the strace decoder.
SIGNATURES = {
    0: UserCallDef("gettimeofday", (OutStruct("timeval"), OutStruct("timezone"))),
    1: UserCallDef("time", (OutStruct("time_t"),)),
    2: UserCallDef("getcpu", (OutStruct("uint"), OutStruct("uint"))),
}
_BY_NAME = {d.name: d for d in SIGNATURES.values()}
TASK_SIZE_MAX = 0x7FFFFFFFF000
NSEC = 1_000_000_000
_ARGS = (R.RDI, R.RSI)
_RET = (R.RAX, R.RIP, R.RSP)
# Which arguments are user pointers, per entry (0: rdi, 1: rsi).
_POINTERS = {0: (0, 1), 1: (0,), 2: (0, 1)}


def in_page(addr: int) -> bool:
    return VSYSCALL_ADDR <= addr < VSYSCALL_ADDR + VSYSCALL_SIZE


def map_page(mm, mode: str, clock, tick_jobs: list) -> None:
    """Put the page in the address space as the mode wants it. The VMA's permissions are
    what /proc/self/maps shows; the machine's are what the CPU enforces. The native page's
    time data joins `tick_jobs` (what the timer tick refreshes)."""
    machine = mm.machine
    if mode == "none":
        return
    if mode == "native":
        from kernel_model.vdso.vvar import Timekeeper
        from kernel_model.vsyscall.native import NativeTimeData, native_page

        mm.map(VSYSCALL_ADDR, VSYSCALL_SIZE, PROT_READ | PROT_EXEC, name="[vsyscall]",
               kind="vsyscall", host_backed=True)  # the timer thread updates its data
        machine.write_host(VSYSCALL_ADDR, native_page())
        data = NativeTimeData(Timekeeper(clock), machine.write_host)
        data.update(machine.write_host)
        tick_jobs.append(data.tick)
        clock.on_change.append(data.tick)
        return
    if mode == "xonly":
        # Listed --xp, but nothing there for the CPU: every fetch faults into the emulation
        # and every read is a SIGSEGV, as on Linux.
        mm.map(VSYSCALL_ADDR, VSYSCALL_SIZE, PROT_EXEC, name="[vsyscall]", kind="vsyscall",
               backed=False)
        # For the CPU alone: an execute-only page where it fetches the vsyscall page from,
        # so that a call lands in the fetch hook (fetch_trap) without leaving Unicorn. Its
        # bytes never run and nothing can read them: reads still fault as before.
        machine.map(VSYSCALL_ADDR, VSYSCALL_SIZE, PROT_EXEC)
        return
    mm.map(VSYSCALL_ADDR, VSYSCALL_SIZE, PROT_READ | PROT_EXEC, name="[vsyscall]",
           kind="vsyscall")
    # emulate: readable, never executable: calls trap.
    machine.protect(VSYSCALL_ADDR, VSYSCALL_SIZE, PROT_READ)
    machine.write(VSYSCALL_ADDR, emulate_page())


def emulate_page() -> bytes:
    """What a reader sees in emulate mode: vsyscall_emu_64.S, the three entry points as real
    syscalls (`mov $NR, %rax; syscall; ret`) that never run (the page is not executable), the
    rest int3 filler."""
    page = bytearray(b"\xcc" * VSYSCALL_SIZE)
    for slot, nr in ((0, 96), (1, 201), (2, 309)):  # gettimeofday, time, getcpu (x86-64)
        stub = b"\x48\xc7\xc0" + struct.pack("<I", nr) + b"\x0f\x05\xc3"
        page[slot * 0x400:slot * 0x400 + len(stub)] = stub
    return bytes(page)


def emulate(k, mode: str, address: int) -> None:
    """emulate_vsyscall(): called when the CPU faulted fetching `address` in the page.
    Either performs the call and emulates `ret` (only rax, rip and rsp change) or queues the
    SIGSEGV Linux sends."""
    from kernel_model.signals import delivery as signals  # a cycle at import time

    m = k.machine
    offset = address - VSYSCALL_ADDR
    if offset & ~0xC00:
        k.emit_note(f"misaligned vsyscall (exploit attempt or buggy program) at {address:#x}")
        k.signals.force(signals.SIGSEGV, signals.SI_KERNEL, 0)
        return
    nr = offset >> 10
    if nr not in ENTRIES:
        k.signals.force(signals.SIGSEGV, signals.SI_KERNEL, 0)
        return
    name = ENTRIES[nr]
    if k.on_trap is not None:
        k.on_trap("vsyscall emulated")
    sp = m.sp
    try:
        caller = m.read_u64(sp)
        if not k.process.mm.is_accessible(sp, 8, PROT_READ):
            raise ValueError
    except Exception:
        k.emit_note("vsyscall with bad stack (exploit attempt?)")
        k.signals.force(signals.SIGSEGV, signals.SI_KERNEL, 0)
        return
    rdi, rsi = m.regs(_ARGS)
    # write_ok_or_segv(): a pointer outside user space is a fault at that address.
    for ptr in _POINTERS[nr]:
        ptr = rsi if ptr else rdi
        if ptr and ptr >= TASK_SIZE_MAX:
            k.signals.force(signals.SIGSEGV, signals.SEGV_MAPERR, ptr)
            return
    ret = _perform(k, nr, rdi, rsi)
    if ret == -errnos.EFAULT:
        k.emit_note("vsyscall fault (exploit attempt?)")
        k.signals.force(signals.SIGSEGV, signals.SI_KERNEL, 0)
        return
    tracing = k.tracing
    rax_before = m.reg(R.RAX) if tracing else 0
    # Emulate a `ret`: only rax, rip and rsp change (rcx and r11 survive, unlike `syscall`).
    m.set_regs(_RET, (ret, caller, sp + 8))
    if not tracing:
        return  # nobody listens: no line to decode
    from kernel_model.entry.costs import cost_of

    cost = cost_of("vsyscall emulated")
    text = call_text(SIGNATURES[nr], "x86_64", (rdi, rsi), ret, m)
    k.emit(VsyscallCalled(name=name, mode=mode, args=(rdi, rsi), ret=ret,
                          pc=address, return_pc=caller,
                          text=vsyscall_text(text, ret, "emulated"),
                          changes=(("rax", rax_before, ret), ("rip", address, caller),
                                   ("rsp", sp, sp + 8)),
                          cost_ns=cost.ns, cost_source=cost.source))


# What each entry writes through its pointers (rdi, rsi): sizes, 0 for no pointer.
_OUT_SIZES = {0: (16, 8), 1: (8, 0), 2: (4, 4)}


def fetch_trap(k, m, fault, counted):
    """The CPU's hook on the vsyscall page (xonly mode): it runs before any instruction
    there would. A call the untraced fast path can finish is emulated right here, as
    emulate() does it, without stopping the CPU; anything else (a trace, a count, a step,
    a bad entry point or pointer, a trap flag) goes to `fault(addr)`, which stops the CPU
    for the run loop's emulate(), exactly as before. `k` is the kernel; `counted()` says
    whether the run counts instructions."""
    load, _, v = m.reg_io((R.RSP, R.RDI, R.RSI, R.EFLAGS))
    _, store, out = m.reg_io((R.RAX, R.RSP))
    set_reg = m.set_reg
    read_u64 = m.word_reader(8)
    write = m.write
    failed = m.hook_failed
    # Per place checked (the stack, rdi, rsi): the list of VMAs, its length, and the VMA
    # that allowed the last check. Mm replaces its list or inserts into it (which lengthens
    # it), and a Vma never changes: while both hold, the same VMA answers again.
    seen: list[list] = [[None, 0, None], [None, 0, None], [None, 0, None]]

    def allowed(mm, addr: int, size: int, prot: int, place: int) -> bool:
        """mm.is_accessible(addr, size, prot), without the lookup when nothing moved."""
        last = seen[place]
        vmas = mm.vmas
        vma = last[2]
        if vmas is last[0] and len(vmas) == last[1] and vma.start <= addr and \
                addr + size <= vma.end:
            return True
        if not mm.is_accessible(addr, size, prot):
            return False
        vma = mm.find(addr)
        if vma is not None and addr + size <= vma.end:
            last[:] = [vmas, len(vmas), vma]
        return True

    def fast(addr: int) -> bool:
        offset = addr - VSYSCALL_ADDR
        if offset not in (0, 0x400, 0x800) or k.listeners or k.on_trap is not None or \
                m.counting or counted():
            return False
        load()
        sp, rdi, rsi, rflags = v
        if rflags & EFLAGS_TF:
            return False  # the single-step trap after the emulated ret: the general path
        mm = k.process.mm
        if not allowed(mm, sp, 8, PROT_READ, 0):
            return False
        try:
            caller = read_u64(sp)
        except MemoryFault:
            return False
        nr = offset >> 10
        for place, ptr, size in zip((1, 2), (rdi, rsi), _OUT_SIZES[nr], strict=True):
            if size and ptr and (ptr >= TASK_SIZE_MAX or
                                 not allowed(mm, ptr, size, PROT_WRITE, place)):
                return False  # SIGSEGV: emulate() says which
        if nr == 2:
            ret = 0
            for ptr in (rdi, rsi):
                if ptr:
                    write(ptr, _ZERO_U32)
        else:
            ns = k.clock.realtime_ns()
            sec = ns // NSEC
            if nr == 0:
                ret = 0
                if rdi:
                    write(rdi, struct.pack("<qq", sec, (ns % NSEC) // 1000))
                if rsi:
                    write(rsi, _ZERO_TZ)
            else:
                ret = sec
                if rdi:
                    write(rdi, struct.pack("<q", sec))
        # The emulated `ret`: only rax, rip and rsp change. The pc on its own: from a code
        # hook, Unicorn's batched write does not move the pc (its single write does).
        out[0] = ret
        out[1] = sp + 8
        store()
        set_reg(R.RIP, caller)
        return True

    def on_fetch(_handle, addr: int, _size: int, _user_data) -> None:
        try:
            if not fast(addr):
                fault(addr)
        except BaseException as e:
            failed(e)

    return on_fetch


_ZERO_U32 = bytes(4)
_ZERO_TZ = bytes(8)  # struct timezone: minuteswest and dsttime, both 0


def _perform(k, nr: int, a0: int, a1: int) -> int:
    """Run the real handler's work and return its result."""
    clock = k.clock

    def put(addr: int, data: bytes) -> bool:
        if not k.process.mm.is_accessible(addr, len(data), 2):
            return False
        k.machine.write(addr, data)
        return True

    if nr == 0:
        ns = clock.realtime_ns()
        sec, usec = ns // NSEC, (ns % NSEC) // 1000
        if a0 and not put(a0, struct.pack("<qq", sec, usec)):
            return -errnos.EFAULT
        if a1 and not put(a1, bytes(8)):
            return -errnos.EFAULT
        return 0
    if nr == 1:
        sec = clock.realtime_ns() // NSEC
        if a0 and not put(a0, struct.pack("<q", sec)):
            return -errnos.EFAULT
        return sec
    for ptr in (a0, a1):
        if ptr and not put(ptr, struct.pack("<I", 0)):
            return -errnos.EFAULT
    return 0


class NativeWatcher(CallWatcher):
    """With vsyscall=native the page's code runs in user mode: nothing traps, so the trace
    sees a call only through hooks on the three entry points."""

    def __init__(self, machine, kernel):
        super().__init__(machine)
        self.kernel = kernel
        for nr in ENTRIES:
            self.watch_entry(VSYSCALL_ADDR + (nr << 10), nr)

    def on_entry(self, nr: int, pc: int) -> CallInProgress:
        from emu import registers as R

        args = tuple(self.machine.regs((R.RDI, R.RSI)))
        return CallInProgress(ENTRIES[nr], args, pc)

    def on_return(self, call: CallInProgress) -> None:
        from emu import registers as R
        from kernel_model.entry.costs import cost_of

        ret = self.machine.reg(R.RAX)
        text = call_text(_BY_NAME[call.name], "x86_64", call.args, ret, self.machine)
        cost = cost_of("vsyscall native")
        self.kernel.emit(VsyscallCalled(
            name=call.name, mode="native", args=call.args, ret=ret, pc=call.pc,
            return_pc=call.return_pc,
            text=vsyscall_text(text, ret, "native: ran in user mode"),
            changes=(), cost_ns=cost.ns, cost_source=cost.source))

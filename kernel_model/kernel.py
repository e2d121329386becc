"""The kernel model's trap handling: the entry paths, the table lookup and the return path.

Each entry path applies the CPU's architectural effects itself (Unicorn makes no ring
transition: docs/kernel_facts.md §7), picks the ABI from *how* the program entered, indexes that
ABI's table, runs the handler and writes the result back as the real return path would.
With no listener attached nothing is recorded, so a plain run pays only for the handler.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Callable

from emu import hostmem
from emu import register_file as RF
from emu import registers as R
from emu.hostmem import HostMemoryError, SharedBlock
from emu.machine import PROT_READ, PROT_WRITE, Machine, MemoryFault
from kernel_model.entry.abi import I386_ABI, X86_64_ABI, Abi
from kernel_model.entry.costs import cost_of
from kernel_model.entry.mechanism import Mechanism
from kernel_model.ipc import IpcNamespace
from kernel_model.proc.exec import grow_stack
from kernel_model.proc.futex import FutexTable
from kernel_model.proc.sched import Blocked, BlockedCall, Scheduler
from kernel_model.proc.table import ProcessTable
from kernel_model.proc.task import Task
from kernel_model.proc.wait import Waiter
from kernel_model.signals.delivery import SignalState
from kernel_model.signals.frame_layout import EFLAGS_TF
from kernel_model.syscalls.deferred import dispatch_entry
from kernel_model.syscalls.registry import SyscallDef
from kernel_model.trace.events import (
    KernelNote,
    MemAccess,
    RegChange,
    StackPush,
    SyscallBlocked,
    SyscallEntered,
    SyscallReturned,
    TaskSwitched,
)
from kernel_model.uapi import errnos

if TYPE_CHECKING:
    from kernel_model.proc.load import Loader

RAX, RCX, R11, RIP, RSP = (R.RAX, R.RCX, R.R11,
                           R.RIP, R.RSP)
EAX, EIP, ESP, EBP = R.EAX, R.EIP, R.ESP, R.EBP
EFLAGS = R.EFLAGS
X32_SYSCALL_BIT = 0x40000000  # __X32_SYSCALL_BIT: an x32 number in the x86-64 `syscall`

# Registers the `syscall` path reads in one batch: number, six arguments, pc, flags.
_SYSCALL64_IN = (RAX, R.RDI, R.RSI, R.RDX, R.R10,
                 R.R8, R.R9, RIP, EFLAGS)
_SYSCALL64_OUT = (RAX, RCX, R11)
_SYSCALL64_HEAD = (RAX, RIP, EFLAGS, R.CS)
USER_CS = 0x33  # 64-bit code: `syscall` elsewhere (compatibility mode) is #UD on Intel
_SYSCALL64_ARGS = [_SYSCALL64_IN[1:1 + n] for n in range(7)]
_I386_IN = (EAX, R.EBX, R.ECX, R.EDX, R.ESI,
            R.EDI, EBP)
_SYSENTER_IN = _I386_IN + (EFLAGS,)

SYSCALL_INSN_LEN = 2  # syscall, sysenter and int 0x80 are all two bytes
# The argument registers as register-file words (emu/register_file.py).
_SYSCALL64_SLOTS = (RF.RDI, RF.RSI, RF.RDX, RF.R10, RF.R8, RF.R9)
_I386_SLOTS = (RF.RBX, RF.RCX, RF.RDX, RF.RSI, RF.RDI, RF.RBP)


EFLAGS_AC = 1 << 18  # alignment check


class GuestFault(Exception):
    """A handler touched a bad user pointer: the call fails with EFAULT."""


class KernelModelError(Exception):
    """Anything else a handler raised: a bug in syscall-lab, never the guest's doing, so it
    ends the run (one line naming the syscall) instead of turning into a guest fault."""

    def __init__(self, syscall: str, error: BaseException):
        detail = " ".join(str(error).split())
        super().__init__(f"the {syscall} handler raised {type(error).__name__}"
                         + (f": {detail}" if detail else ""))
        self.syscall = syscall
        self.error = error


def _entry_rows(table: list[SyscallDef | None], slots: tuple[int, ...]
                ) -> list[tuple[Callable, Callable | None, int, SyscallDef] | None]:
    """(handler, its arguments' getter, nargs, the definition) by number, for the hot
    paths: the getter takes the register file's words and gives the arguments from `slots`
    (None: the call takes none)."""
    getters: list[Callable | None] = [None]
    for n in range(1, len(slots) + 1):
        getters.append(operator.itemgetter(*slots[:n]) if n > 1 else
                       (lambda w, at=slots[0]: (w[at],)))
    return [None if d is None else (d.handler, getters[min(d.nargs, len(slots))], d.nargs, d)
            for d in table]


def _set_result(signed: memoryview, words: memoryview, ret: int) -> None:
    """rax <- ret: a negative errno, or any value up to 2**64."""
    try:
        signed[0] = ret
    except ValueError:  # at or past 2**63
        words[0] = ret & 0xFFFFFFFFFFFFFFFF


class Kernel:
    """The kernel model: its process table, the services handlers use (clock, VFS,
    randomness, the GDT, signals) and the entry paths. Every attribute is set here; a
    handler sees it through kernel_model.syscalls.context.SyscallContext."""

    def __init__(self, processes: ProcessTable, *, clock, vfs, rng, gdt,
                 string_limit: int = 32, sysenter_landing_pad: int | None = None,
                 on_trap: Callable | None = None, on_first_listener: Callable | None = None,
                 max_tasks: int = 256):
        self.processes = processes
        # The running task's process and the CPU it runs on: plain attributes, for the hot
        # path; _switch_to sets them with processes.current.
        self.process = processes.current.process
        self.machine: Machine = self.process.machine
        self.arch = self.machine.arch
        machine = self.machine
        self.clock = clock  # what handlers read: the vDSO's timeline once it is mapped
        self.vfs = vfs
        self.rng = rng
        self.gdt = gdt  # the CPU's descriptor table (the TLS entries of the running task)
        self.signals = SignalState(self)
        self.sched = Scheduler()
        self.futexes = FutexTable()
        self.ipc = IpcNamespace()  # System V message queues, semaphores, shared memory
        proc = getattr(vfs, "proc", None)
        if proc is not None:
            proc.sysvipc = lambda kind: self.ipc.proc_text(kind, self.process.mm.pool)
        self.yield_requested = False  # sched_yield asked for the next task
        self.max_tasks = max_tasks
        # (major, minor) of the era modelled (--kernel): calls whose rules changed ask it.
        self.version: tuple[int, int] = (6, 18)
        # Set by the System: equip a forked process's new CPU with its hooks, and follow
        # the CPU that runs (the instruction counter).
        self.on_new_machine: Callable | None = None
        self.on_switch: Callable | None = None
        self.on_forget_machine: Callable | None = None
        # Builds a new image for execve (kernel_model.proc.load.Loader); set by the System.
        self.loader: Loader | None = None
        self.on_reuse_machine: Callable | None = None
        # Released CPUs kept for reuse by fork, with their descriptor tables.
        self.spare_machines: list[tuple[Machine, object]] = []
        self._blocked_now: Blocked | None = None  # set by _run_handler for the trap path
        # Where a blocked handler waits (a real clock's sleep, a read of a host pipe).
        self.waiter = Waiter(signal_pending=self.signals.interrupting)
        self.listeners: list[Callable] = []
        self.string_limit = string_limit
        self.seq = 0
        self.abi: Abi = X86_64_ABI if machine.arch.bits == 64 else I386_ABI
        self._dispatch = {abi.name: self._build_dispatch(abi) for abi in (X86_64_ABI, I386_ABI)}
        self._dispatch_x86_64 = self._dispatch["x86_64"]
        self._dispatch_i386 = self._dispatch["i386"]
        # The entry paths' (handler, arguments' getter, nargs, definition) tables, by ABI and
        # argument registers: made at the first CPU's equip, shared by every CPU after.
        self._fast_tables: dict[tuple[str, tuple[int, ...]], list] = {}
        self._recording: list[MemAccess] | None = None
        self.mechanism = ""  # the entry path of the trap being handled
        # Where `sysenter` returns: the landing pad inside the vDSO's __kernel_vsyscall.
        # None when no vDSO is mapped (Linux then returns to a bogus address).
        self.sysenter_landing_pad = sysenter_landing_pad
        self.notes: list[str] = []
        self._after_trap: list = []
        self.alignment_noted = False  # EFLAGS.AC seen once: the trace says it is not modelled
        # Where Unicorn will raise a single-step #DB that Linux's CPU does not: at the return
        # address of a `syscall` or `sysenter` that goes back to user mode with TF set. Linux
        # returns by IRET then, and the first trap comes after the next instruction
        # (docs/kernel_facts.md, "Single-step traps"). The run loop drops that one #DB.
        self.step_trap_skipped_at: int | None = None
        # Set when an earlier instruction of the block being run has faulted (System._early):
        # the CPU goes on to the block's end, but no trap after the fault may be serviced.
        self.halted = False
        # Called when the first listener attaches: the system adds the hooks that only a
        # trace needs (the vDSO watcher), so an untraced run has none.
        self.on_first_listener = on_first_listener
        # Called with the mechanism at each trap, before its handler (a virtual clock charges
        # the crossing's modelled cost); None on the hot path of a real-clock run.
        self.on_trap = on_trap
        self.equip(machine)

    def equip(self, machine: Machine) -> None:
        """The trap hooks on a CPU: the first process's, or a forked one's."""
        if machine.arch.bits == 64:
            machine.hook_syscall_fast(self._syscall_entry(machine))
            machine.hook_sysenter(self._on_sysenter_64)
        else:
            machine.hook_sysenter_fast(self._sysenter_entry(machine))

    # -- processes ------------------------------------------------------------------
    @property
    def current(self) -> Task:
        """The running task (Linux's `current`)."""
        return self.processes.current

    @property
    def gdt_of_current(self):
        return self.process.gdt or self.gdt

    def switch_to(self, task: Task, why: str = "") -> None:
        """Context switch (kernel/sched/core.c: context_switch): save the running task's
        registers, load the next one's, and with them its address space (its Machine: the
        model's CR3) and its TLS."""
        prev = self.processes.current
        if task is prev:
            return
        # schedule()'s count (/proc/<pid>/status): a task leaving the CPU still runnable
        # was preempted (or yielded); one that sleeps, stops or ends gave it up.
        if prev.state == "R":
            prev.nivcsw += 1
        else:
            prev.nvcsw += 1
        if prev.state not in ("X",) and prev.process.machine is not None:
            prev.context = prev.process.machine.save_context()
            if prev.process.gdt is not None and self.arch.bits == 32:
                prev.tls = prev.process.gdt.entries[12:15]
        self._switch_to(task)
        gone = prev.process
        if gone.exited and gone.mm_users[0] <= 0 and gone.machine is not self.machine:
            self.forget_machine(gone.machine)  # it exited on its own CPU: freed once off it
        if task.process.sysenter_pad is not None:
            self.sysenter_landing_pad = task.process.sysenter_pad
        if self.on_switch is not None:
            self.on_switch(self.machine)
        if task.context is not None:
            self.machine.restore_context(task.context)
            task.context = None
        gdt = task.process.gdt
        if gdt is not None:
            self.gdt = gdt
            if self.arch.bits == 32 and gdt.entries[12:15] != task.tls:
                for i, value in enumerate(task.tls):
                    gdt.set_entry(12 + i, value)
                # A segment register keeps the descriptor it loaded (its hidden base): load
                # the thread's own again, as __switch_to's load_TLS and loadsegment(gs) do.
                m = self.machine
                with gdt.kernel_access():
                    for seg in (R.FS, R.GS):
                        selector = m.reg(seg)
                        if 12 <= selector >> 3 <= 14:
                            m.set_reg(seg, selector)
            if gdt.ldt_entries:
                # __switch_to loads the next task's selectors again: one whose LDT entry
                # another thread changed or cleared meanwhile reads anew (0 if cleared).
                gdt.reload_segments(("ds", "es", "fs", "gs"), lambda sel: bool(sel & 4))
        self.sched.switches += 1
        if self.listeners:
            self.emit(TaskSwitched(prev.process.pid, prev.tid, task.process.pid, task.tid,
                                   why, prev.state))

    def yield_cpu(self) -> None:
        """sched_yield: the CPU goes to the next runnable task, if any."""
        if self.sched.others_runnable(self.current):
            self.yield_requested = True
            self.machine.stop()

    def note_fork(self, task: Task, flags: int) -> None:
        """The trace's record of a new task (the Processes pane, `strace -f`'s new pid)."""
        if self.listeners:
            from kernel_model.trace.events import ProcessForked

            thread = task.process is self.process
            self.emit(ProcessForked(self.process.pid, self.current.tid, task.process.pid,
                                    task.tid, thread, flags,
                                    f"{'thread' if thread else 'process'} {task.tid} created"))

    # -- lifetimes (kernel_model.proc.exit) --------------------------------------------
    def kill_process(self, process, signo: int) -> None:
        """A fatal signal's default action: the whole process ends."""
        from kernel_model.proc.exit import exit_group

        exit_group(self, process, signo=signo)

    def stop_process(self, process, signo: int) -> None:
        if process is self.processes.first:
            # Its parent is the shell outside the model, which has no job control here:
            # the run ends stopped (System.finish says so).
            process.stopped_by = signo
            for task in process.threads:
                if task.state == "R":
                    self.sched.stop(task)
            self.machine.stop()
            return
        from kernel_model.proc.exit import stop_process

        stop_process(self, process, signo)

    def continue_process(self, process, report: bool) -> None:
        from kernel_model.proc.exit import continue_process

        continue_process(self, process, report)

    def forget_machine(self, machine: Machine, gdt=None) -> None:
        """An address space nobody uses any more: its memory goes back to the host, and the
        CPU is kept for the next fork (see take_spare_machine) or dropped. `gdt`: its
        descriptor table, when no process says it any more (execve replaced it)."""
        if self.on_forget_machine is not None:
            self.on_forget_machine(machine)
        if machine in [m for m, _gdt in self.spare_machines]:
            return
        if machine is self.processes.first.machine:
            return  # the run's own process: its memory stays for the screens after it
        if not self.listeners and len(self.spare_machines) < 4:
            gdt = gdt or next((p.gdt for p in self.processes if p.machine is machine), None)
            self.spare_machines.append((machine, gdt))
            machine.clear_memory()
        else:
            machine.release()

    def take_spare_machine(self, like: Machine):
        """A released CPU of the same mode, with its hooks, or None. Untraced runs only: a
        traced run's CPUs carry watchers of the vDSO they were made for."""
        for i, (machine, gdt) in enumerate(self.spare_machines):
            if machine.arch is like.arch:
                del self.spare_machines[i]
                return machine, gdt
        return None

    def _switch_to(self, task: Task) -> None:
        self.processes.current = task
        self.process = task.process
        self.machine = task.process.machine
        self.arch = self.machine.arch

    # -- the running task's CPU, as handlers may touch it ----------------------------
    def stop_cpu(self) -> None:
        """End the CPU's run after this trap (the task exited, or must take a signal)."""
        self.machine.stop()

    def user_sp(self) -> int:
        return self.machine.sp

    def segment_base(self, reg: int) -> int:
        return self.machine.reg(reg)

    def set_segment_base(self, reg: int, base: int) -> None:
        self.machine.set_reg(reg, base)

    def populate(self, addr: int, data: bytes) -> None:
        """Fill freshly mapped pages (a file's contents), whatever their protection."""
        self.machine.write(addr, data)

    def discard(self, addr: int, size: int, keep_shared: bool = True) -> None:
        """Give private pages back to the host: they read as zeros again. Shared ones keep
        their bytes (as MADV_DONTNEED leaves a shmem page's data) unless keep_shared is
        False (MADV_REMOVE punches a hole in the shared object, for every sharer)."""
        self.machine.discard(addr, size, keep_shared=keep_shared)

    def share_memory(self, addr: int, size: int, block: SharedBlock | None = None,
                     offset: int = 0) -> bool:
        """Back the mapped range with host memory other address spaces map too: `block`
        from `offset` (a SysV segment), or a new block (MAP_SHARED, which a fork then
        shares). False, with a note, where it cannot be (inside the stack's reserve)."""
        try:
            self.machine.share(addr, size, block, offset)
        except ValueError:
            self.note("this shared mapping lies in the stack's reserved room: syscall-lab "
                      "keeps it private, so a fork copies it")
            return False
        except HostMemoryError:
            self.note("the host refused memory to share this mapping: syscall-lab keeps it "
                      "private, so a fork copies it")
            return False
        return True

    def resident(self, addr: int, size: int) -> bytes:
        """mincore: one byte per page of [addr, addr+size), 1 where the page is in memory."""
        return hostmem.resident(self.machine.backing, addr, addr + size)

    def grow_stack(self, addr: int) -> bool:
        return grow_stack(self.process.mm, addr)

    # -- listeners ------------------------------------------------------------------
    def attach(self, listener: Callable) -> None:
        first = not self.listeners
        self.listeners.append(listener)
        if first and self.on_first_listener is not None:
            self.on_first_listener()

    def emit(self, event) -> None:
        for listener in self.listeners:
            listener(event)

    def emit_after_trap(self, event) -> None:
        """An event that follows the call being handled (a process's `+++ exited` line
        after its exit_group line): held until the call's own line is out."""
        if self._recording is not None:
            self._after_trap.append(event)
        else:
            self.emit(event)

    @property
    def tracing(self) -> bool:
        return bool(self.listeners)

    @staticmethod
    def _build_dispatch(abi: Abi) -> list[SyscallDef | None]:
        size = max(abi.table) + 1
        table: list[SyscallDef | None] = [None] * size
        for nr, name in abi.table.items():
            # The handler, or a stand-in that imports its module at the first call
            table[nr] = dispatch_entry(abi.name, name)
        return table

    def _fast_table(self, abi: str, slots: tuple[int, ...]) -> list:
        table = self._fast_tables.get((abi, slots))
        if table is None:
            table = self._fast_tables[(abi, slots)] = _entry_rows(self._dispatch[abi], slots)
        return table

    def replace_definition(self, old: SyscallDef, new: SyscallDef) -> None:
        """A handler module was imported at its first call (syscalls/deferred.py): its
        definition takes the stand-in's place in every table the entry paths look in."""
        for table in self._dispatch.values():
            for i, entry in enumerate(table):
                if entry is old:
                    table[i] = new
        for (_, slots), fast in self._fast_tables.items():
            replacement = _entry_rows([new], slots)[0]
            for i, item in enumerate(fast):
                if item is not None and item[3] is old:
                    fast[i] = replacement

    def handler_for(self, abi: Abi, nr: int) -> SyscallDef | None:
        table = self._dispatch[abi.name]
        return table[nr] if 0 <= nr < len(table) else None

    # -- entry paths ----------------------------------------------------------------
    # Each CPU gets its own closures (`_syscall_entry`, `_sysenter_entry`, `int80_entry`):
    # the untraced path of a trap in one function, every per-call lookup hoisted out. They
    # read and write the registers in place (emu/register_file.py: the CPU's own memory, or
    # a copy that `read`/`write` move through Unicorn when that is not available). A trace,
    # a virtual clock (on_trap) or a halted block takes the general path below.
    def _syscall_entry(self, m: Machine) -> Callable[[int, int], None]:
        rf = m.registers
        w, signed = rf.words, rf.signed
        read, flags_cs = rf.reader((RF.RAX, RF.RDI, RF.RSI, RF.RDX, RF.R10, RF.R8, RF.R9,
                                    RF.PC), extra=(EFLAGS, R.CS))
        write = rf.writer((RF.RAX, RF.RCX, RF.R11))
        handlers = self._fast_table("x86_64", _SYSCALL64_SLOTS)
        size = len(handlers)
        general = self._on_syscall
        raised = self._handler_raised
        failed = m.hook_failed
        enosys = -errnos.ENOSYS
        abi, user_cs, tf, insn_len = X86_64_ABI, USER_CS, EFLAGS_TF, SYSCALL_INSN_LEN

        def on_syscall(_handle, _user_data) -> None:
            try:
                if self.listeners or self.on_trap is not None or self.halted:
                    general(None, None)
                    return
                if read is not None:
                    read()
                self.abi = abi
                self.mechanism = "syscall"
                pc = w[16]
                rflags = flags_cs[0]
                if flags_cs[1] != user_cs or rflags & tf:
                    if flags_cs[1] != user_cs:
                        self._syscall_not_64bit(pc)
                        return
                    self.step_trap_skipped_at = pc + insn_len
                nr = w[0] & 0xFFFFFFFF  # the upper half of rax is ignored (Abi.number)
                entry = handlers[nr] if nr < size else None
                ret: int | None
                if entry is None:
                    ret = enosys
                else:
                    handler, args, _, sdef = entry
                    if args is None:
                        try:
                            ret = handler(self)
                        except Exception as e:
                            ret = raised(e, sdef, ())
                    else:
                        values = args(w)
                        try:
                            ret = handler(self, *values)
                        except Exception as e:
                            ret = raised(e, sdef, values)
                if ret is not None:  # None: no result to write, the registers stay as they are
                    try:
                        signed[0] = ret  # rax: a negative errno, or any value
                    except ValueError:  # at or past 2**63
                        w[0] = ret & 0xFFFFFFFFFFFFFFFF
                    w[1] = pc + insn_len  # rcx: where sysret returns
                    w[11] = rflags  # r11
                    if write is not None:
                        write()
            except BaseException as e:
                failed(e)

        return on_syscall

    def int80_entry(self, m: Machine) -> Callable[[], None]:
        """`int 0x80` on CPU m (the interrupt hook calls it, pc already past the insn)."""
        rf = m.registers
        w, signed = rf.words, rf.signed
        read, _ = rf.reader((RF.RAX,) + _I386_SLOTS)
        write = rf.writer((RF.RAX,))
        handlers = self._fast_table("i386", _I386_SLOTS)
        size = len(handlers)
        raised = self._handler_raised
        enosys = -errnos.ENOSYS
        wide = m.arch.bits == 64
        abi = I386_ABI

        def on_int80() -> None:
            if self.listeners or self.on_trap is not None:
                self.on_int80()
                return
            if read is not None:
                read()
            self.abi = abi
            self.mechanism = "int 0x80"
            nr = w[0] & 0xFFFFFFFF  # negative numbers are past the table's end: ENOSYS
            entry = handlers[nr] if nr < size else None
            ret: int | None
            if entry is None:
                ret = enosys
            else:
                handler, args, _, sdef = entry
                # From 64-bit code only the low 32 bits of each register count.
                values = () if args is None else [a & 0xFFFFFFFF for a in args(w)] if wide \
                    else args(w)
                try:
                    ret = handler(self, *values)
                except Exception as e:
                    ret = raised(e, sdef, values)
            if ret is not None:
                if wide:
                    _set_result(signed, w, ret)
                else:
                    w[0] = ret & 0xFFFFFFFF
                if write is not None:
                    write()

        return on_int80

    def _sysenter_entry(self, m: Machine) -> Callable[[int, int], None]:
        rf = m.registers
        w = rf.words
        read, _ = rf.reader((RF.RAX,) + _I386_SLOTS + (RF.FLAGS,))
        # The pc written in place is simply where the CPU goes on; through Unicorn it is a
        # jump (the CPU loop left and entered again): slower, the same place.
        write = rf.writer((RF.RAX, RF.RSP, RF.RBP, RF.PC))
        handlers = self._fast_table("i386", _I386_SLOTS[:5])
        size = len(handlers)
        raised = self._handler_raised
        failed = m.hook_failed
        enosys = -errnos.ENOSYS
        general = self._on_sysenter
        read_u32 = m.word_reader(4)
        abi, tf, insn_len = I386_ABI, EFLAGS_TF, SYSCALL_INSN_LEN

        def on_sysenter(_handle, _user_data) -> None:
            try:
                if self.listeners or self.on_trap is not None or self.halted:
                    general(None, None)
                    return
                if read is not None:
                    read()
                user_sp = w[5]  # __kernel_vsyscall did `mov ebp, esp` before sysenter
                try:
                    arg6 = read_u32(user_sp)
                except MemoryFault:
                    general(None, None)  # no call at all: _on_sysenter says why
                    return
                self.abi = abi
                self.mechanism = "sysenter"
                pad = self.sysenter_landing_pad or 0
                if w[17] & tf:
                    self.step_trap_skipped_at = pad
                nr = w[0] & 0xFFFFFFFF
                entry = handlers[nr] if nr < size else None
                ret: int | None
                if entry is None:
                    ret = enosys
                else:
                    handler, args, n, sdef = entry
                    values = () if args is None else args(w)
                    if n == 6:  # the sixth from the user stack, where ebp was pushed
                        values = (*values, arg6)
                    try:
                        ret = handler(self, *values)
                    except Exception as e:
                        ret = raised(e, sdef, values)
                if ret is None:
                    return
                # As _on_sysenter: to the landing pad (0 with no vDSO), less the length the
                # CPU adds after this hook.
                w[0] = ret & 0xFFFFFFFF
                w[4] = user_sp
                w[5] = arg6
                w[16] = (pad - insn_len) & 0xFFFFFFFF
                if write is not None:
                    write()
            except BaseException as e:
                failed(e)

        return on_sysenter

    def _on_sysenter_64(self, uc, _user_data) -> None:
        """`sysenter` in a 64-bit process (only compatibility-mode code gets this far): not
        modelled. An AMD CPU raises #UD; an Intel one would enter the kernel, which returns
        to the i386 vDSO's landing pad, which a 64-bit process has not got. SIGILL, said."""
        from kernel_model.signals.delivery import ILL_ILLOPN, SIGILL

        pc = self.machine.pc
        self.mechanism = "sysenter"  # resume_at: Unicorn adds its length after this hook
        self.emit_note("sysenter in a 64-bit process is not modelled: SIGILL, as an AMD CPU "
                  "gives (an Intel one would enter the kernel and return into nothing)")
        self.resume_at(pc)
        self.signals.force(SIGILL, ILL_ILLOPN, pc)
        self.machine.stop()

    def _syscall_not_64bit(self, pc: int) -> None:
        """`syscall` in compatibility-mode code (cs 0x23 or an LDT segment): an Intel CPU
        raises #UD there, SIGILL at the instruction (AMD's would enter the compat path)."""
        from kernel_model.signals.delivery import ILL_ILLOPN, SIGILL

        self.resume_at(pc)
        self.signals.force(SIGILL, ILL_ILLOPN, pc)
        self.machine.stop()

    def _on_syscall(self, uc, _user_data) -> None:
        """x86-64 `syscall`: rcx <- next rip, r11 <- rflags, then sys_call_table[rax]."""
        if self.halted:
            return
        m = self.machine
        # In Unicorn's syscall hook rip is still the `syscall` instruction; Unicorn adds its
        # length after the hook returns (see resume_at).
        self.abi = X86_64_ABI
        self.mechanism = "syscall"
        if self.on_trap is not None:
            self.on_trap("syscall")
        if not self.listeners:
            # The hot path: read only what this handler needs, write the three results.
            nr, pc, rflags, cs = m.regs(_SYSCALL64_HEAD)
            if cs & 0xFFFF != USER_CS:
                self._syscall_not_64bit(pc)
                return
            if rflags & EFLAGS_TF:
                self.step_trap_skipped_at = pc + SYSCALL_INSN_LEN
            table = self._dispatch_x86_64
            nr &= 0xFFFFFFFF  # an int: the upper half of rax is ignored (Abi.number)
            sdef = table[nr] if nr < len(table) else None
            ret: int | None  # None: no result to write, the registers stay as they are
            if sdef is None:
                ret = -errnos.ENOSYS
            elif sdef.nargs:
                ret = self._run_handler(sdef, m.regs(_SYSCALL64_ARGS[sdef.nargs]))
            else:
                ret = self._run_handler(sdef, ())
            if ret is not None:
                m.set_regs3(_SYSCALL64_OUT, ret, pc + SYSCALL_INSN_LEN, rflags)
            return
        nr, a0, a1, a2, a3, a4, a5, pc, rflags = m.regs(_SYSCALL64_IN)
        if m.reg(R.CS) & 0xFFFF != USER_CS:
            self._syscall_not_64bit(pc)
            return
        rip = pc + SYSCALL_INSN_LEN
        if rflags & EFLAGS_TF:
            self.step_trap_skipped_at = rip
        args = (a0, a1, a2, a3, a4, a5)
        nr = X86_64_ABI.number(nr)
        regs = m.snapshot_regs()
        effects = (
            RegChange("rcx", regs["rcx"], rip),
            RegChange("r11", regs["r11"], rflags),
            RegChange("cpl", 3, 0),
            RegChange("rip", pc, 0),  # to IA32_LSTAR: the kernel's address is not shown
        )
        m.set_regs((RCX, R11), (rip, rflags))  # the CPU's own effects happen first
        ret = self._traced_call("syscall", X86_64_ABI, "entry_SYSCALL_64", nr, args, pc, regs,
                                effects, return_pc=rip, return_effects=(
                                    RegChange("rip", 0, rip), RegChange("rflags", 0, rflags),
                                    RegChange("cpl", 0, 3)))
        if ret is not None:
            m.set_reg(RAX, ret)

    def on_int80(self) -> None:
        """`int 0x80`: the i386 table whatever the mode; from 64-bit code only the low 32
        bits of each register count. The interrupt hook calls this with pc past the insn."""
        m = self.machine
        vals = m.regs(_I386_IN)
        nr = I386_ABI.number(vals[0])
        self.abi = I386_ABI
        self.mechanism = "int 0x80"
        if self.on_trap is not None:
            self.on_trap("int 0x80")
        args = tuple(v & 0xFFFFFFFF for v in vals[1:])
        ret_reg = RAX if m.arch.bits == 64 else EAX
        if not self.listeners:  # (a virtual clock's trap: int80_entry's path is the hot one)
            ret = self._call(I386_ABI, nr, args)
            if ret is not None:
                m.set_reg(ret_reg, ret if m.arch.bits == 64 else ret & 0xFFFFFFFF)
            return
        return_pc = m.pc
        pc = return_pc - SYSCALL_INSN_LEN
        regs = m.snapshot_regs()
        sp = regs["rsp"] if "rsp" in regs else regs["esp"]
        frame = (
            StackPush("ss", 0x2B),
            StackPush("esp" if m.arch.bits == 32 else "rsp", sp),
            StackPush("eflags", regs["eflags"]),
            StackPush("cs", 0x23 if m.arch.bits == 32 else 0x33),
            StackPush("eip" if m.arch.bits == 32 else "rip", return_pc),
            RegChange("cpl", 3, 0),
        )
        ret = self._traced_call("int 0x80", I386_ABI, "asm_int80_emulation", nr, args, pc, regs,
                                frame, return_pc=return_pc,
                                return_effects=(RegChange("cpl", 0, 3),))
        if ret is not None:
            m.set_reg(ret_reg, ret if m.arch.bits == 64 else ret & 0xFFFFFFFF)

    def _on_sysenter(self, uc, _user_data) -> None:
        """i386 `sysenter` (Intel, via __kernel_vsyscall): the kernel takes the user stack
        from ebp, arg6 from [ebp], and returns to the vDSO's landing pad, not to the caller."""
        if self.halted:
            return
        m = self.machine
        vals = m.regs(_SYSENTER_IN)
        nr = I386_ABI.number(vals[0])
        user_sp = vals[6]  # __kernel_vsyscall did `mov ebp, esp` before sysenter
        self.abi = I386_ABI
        self.mechanism = "sysenter"
        if self.on_trap is not None:
            self.on_trap("sysenter")
        pad = self.sysenter_landing_pad
        if vals[7] & EFLAGS_TF:
            self.step_trap_skipped_at = pad or 0
        try:
            arg6 = m.read_u32(user_sp)
        except MemoryFault:
            # Linux's __do_fast_syscall_32 reads the stashed ebp before any syscall work: if
            # it cannot, eax = -EFAULT and back to the landing pad, with no call (a tracer
            # sees none) and the registers as they came (esp = ebp).
            self.emit_note(f"sysenter: the user stack at ebp ({user_sp:#x}) cannot be read "
                           f"for the sixth argument: -EFAULT, no system call made, as Linux "
                           f"(__do_fast_syscall_32)")
            m.set_regs((EAX, ESP, m.arch.pc_reg),
                       (-errnos.EFAULT & 0xFFFFFFFF, user_sp, (pad or 0) - SYSCALL_INSN_LEN))
            return
        args = tuple(vals[1:6]) + (arg6,)
        if self.listeners:
            pc = m.pc  # as for `syscall`, Unicorn's hook sees eip still at the instruction
            regs = m.snapshot_regs()
            effects = (
                RegChange("esp", regs["esp"], 0),  # <- IA32_SYSENTER_ESP (kernel stack)
                RegChange("eip", pc, 0),  # <- IA32_SYSENTER_EIP (entry_SYSENTER_compat)
                RegChange("cpl", 3, 0),
            )
            ret = self._traced_call("sysenter", I386_ABI, "entry_SYSENTER_compat", nr, args, pc,
                                    regs, effects, return_pc=pad or 0, return_effects=(
                                        RegChange("eip", 0, pad or 0),
                                        RegChange("esp", 0, user_sp),
                                        RegChange("ebp", user_sp, arg6),
                                        RegChange("cpl", 0, 3)))
        else:
            ret = self._call(I386_ABI, nr, args)
        if ret is None:
            return
        # With no vDSO the kernel still "returns" to where the landing pad would be: 0.
        # (On this CPU: after an execve the kernel's is the new image's.) One batched write
        # with the pc: each call into Unicorn costs about a microsecond here.
        m.set_regs((EAX, ESP, EBP, m.arch.pc_reg),
                   (ret & 0xFFFFFFFF, user_sp, arg6, (pad or 0) - SYSCALL_INSN_LEN))

    def resume_at(self, pc: int) -> None:
        """Make user mode continue at `pc` when the current trap returns (sigreturn, the
        sysenter landing pad). Unicorn adds the instruction's length to the pc after a
        `syscall` or `sysenter` hook, but `int 0x80` reaches its hook with the pc already past
        the instruction. Called after the flags are restored: with TF set, Unicorn would
        trap at `pc` at once, where Linux's IRET traps after the next instruction."""
        if self.mechanism in ("syscall", "sysenter"):
            if self.machine.reg(EFLAGS) & EFLAGS_TF:
                self.step_trap_skipped_at = pc
            pc -= SYSCALL_INSN_LEN
        self.machine.pc = pc

    # -- dispatch -------------------------------------------------------------------
    def _call(self, abi: Abi, nr: int, args: tuple[int, ...]) -> int | None:
        table = self._dispatch[abi.name]
        sdef = table[nr] if 0 <= nr < len(table) else None
        if sdef is None:
            return -errnos.ENOSYS
        return self._run_handler(sdef, args)

    def _run_handler(self, sdef: SyscallDef, args) -> int | None:
        try:
            return sdef.handler(self, *args[:sdef.nargs])
        except Exception as e:
            return self._handler_raised(e, sdef, args)

    def _handler_raised(self, e: Exception, sdef: SyscallDef, args) -> int | None:
        """What a handler's exception means: it waits (None: the task sleeps), a bad user
        pointer or name, or a bug in the model (KernelModelError, raised)."""
        if isinstance(e, Blocked):
            self._block(e, sdef, args)
            return None
        if isinstance(e, NameTooLong):
            return -errnos.ENAMETOOLONG
        if isinstance(e, GuestFault):
            return -errnos.EFAULT
        raise KernelModelError(sdef.name, e) from e

    def _block(self, wait: Blocked, sdef: SyscallDef, args) -> None:
        """The handler must wait: the task sleeps and the CPU stops; the run loop runs
        another task, and calls the handler again (retry_blocked) once this one is woken."""
        task = self.processes.current
        m = self.machine
        insn = m.pc if self.mechanism in ("syscall", "sysenter") else m.pc - SYSCALL_INSN_LEN
        call = task.blocked
        if call is None:
            nr = m.reg(RAX if m.arch.bits == 64 else EAX)  # orig_ax: all of it, for a restart
            call = task.blocked = BlockedCall(Mechanism(self.mechanism), nr, sdef.name,
                                              wait.restart,
                                              wait.what, deadline_ns=wait.deadline_ns)
            call.sdef, call.args, call.abi, call.insn = sdef, tuple(args), self.abi, insn
            call.interruptible = wait.interruptible
            call.rflags = m.reg(EFLAGS)
            if self.mechanism == "sysenter":
                call.user_sp = m.reg(EBP)
            self._blocked_now = wait
        else:
            call.what, call.deadline_ns, call.restart = wait.what, wait.deadline_ns, wait.restart
        self.sched.block(task, wait.queue)
        m.stop()

    def retry_blocked(self, task: Task, interrupted: bool = False) -> bool:
        """Run a woken task's waiting call again, in its context (it is current). True when
        the call ended (its result written, as its return path would), False when it must
        wait again. `interrupted`: a signal is to be delivered, so a call that would wait
        again ends instead, with EINTR or a restart (the caller decides which by
        `end_interrupted`)."""
        call = task.blocked
        assert call is not None and task is self.processes.current
        self.abi = call.abi
        self.mechanism = call.mechanism
        try:
            ret = call.sdef.handler(self, *call.args[:call.sdef.nargs])
        except Blocked as wait:
            call.what, call.deadline_ns, call.restart = wait.what, wait.deadline_ns, wait.restart
            if interrupted:
                return False
            self.sched.block(task, wait.queue)
            return False
        except NameTooLong:
            ret = -errnos.ENAMETOOLONG
        except GuestFault:
            ret = -errnos.EFAULT
        except Exception as e:
            raise KernelModelError(call.sdef.name, e) from e
        task.blocked = None
        self._emit_resumed(call, ret)
        if ret is not None:
            self._return_from(call, ret)
        return True

    def end_interrupted(self, task: Task, restart: bool) -> None:
        """A signal ends the wait: restart the call (pc back on the trap instruction, the
        number back in eax, as Linux's signal code does with -ERESTART*), or return
        -EINTR."""
        call = task.blocked
        assert call is not None
        task.blocked = None
        code = call.restart
        self._emit_resumed(call, -code if restart else -errnos.EINTR, interrupted=True)
        m = self.machine
        if not restart:
            self._return_from(call, -errnos.EINTR)
            return
        if call.mechanism == "sysenter":
            # Through the vDSO's `int $0x80` just before the landing pad: Linux's way to
            # restart a sysenter call (arch/x86/entry/vdso/vdso32/system_call.S).
            self._return_from(call, call.nr)
            m.pc = (self.sysenter_landing_pad or SYSCALL_INSN_LEN) - SYSCALL_INSN_LEN
        else:
            m.set_reg(RAX if m.arch.bits == 64 else EAX, call.nr)
            m.pc = call.insn

    def _return_from(self, call: BlockedCall, ret: int) -> None:
        """Write a finished call's result as its entry path's return would."""
        m = self.machine
        after = call.insn + SYSCALL_INSN_LEN
        if call.mechanism == "syscall":
            m.set_regs((RAX, RCX, R11), (ret, after, call.rflags))
            m.pc = after
        elif call.mechanism == "sysenter":
            arg6 = m.read_u32(call.user_sp)
            m.set_regs((EAX, ESP, EBP), (ret & 0xFFFFFFFF, call.user_sp, arg6))
            m.pc = self.sysenter_landing_pad or 0
        else:
            m.set_reg(RAX if m.arch.bits == 64 else EAX,
                      ret if m.arch.bits == 64 else ret & 0xFFFFFFFF)
            m.pc = after

    def _emit_resumed(self, call: BlockedCall, ret: int | None, interrupted: bool = False
                      ) -> None:
        if not self.listeners or not call.seq:
            return
        from kernel_model.trace import strace

        sdef, abi = call.sdef, call.abi
        mem = _TraceReader(self.machine, self.process.mm)
        if interrupted:
            texts = call.entry_texts or []
            line_call = strace.format_call(call.name, [t if t is not None else
                                                       strace.addr_text(a) for t, a in
                                                       zip(texts, call.args, strict=False)])
        else:
            line_call = strace.format_call(call.name, strace.decode_exit(
                sdef, abi, call.args, ret, mem, call.entry_texts, self.string_limit))
        signed_ret = None if ret is None else abi.signed(ret)
        full = strace.format_line(line_call, signed_ret, sdef.ret, abi)
        shown = getattr(call.entry_texts, "shown_name", None) or call.name  # ipc()'s call
        text = strace.format_resumed(shown, call.unfinished, full)
        cost = cost_of(call.mechanism, self.machine.arch.bits)
        self.seq += 1
        self.emit(SyscallReturned(self.seq, call.mechanism, abi.name, abi.number(call.nr),
                                  call.name, call.args, signed_ret, call.insn,
                                  self.machine.pc, text, (), (), "", cost.ns, cost.source,
                                  resumed_from=call.seq))

    def _traced_call(self, mechanism, abi, entry, nr, args, pc, regs, cpu_effects, *,
                     return_pc, return_effects) -> int | None:
        from kernel_model.trace import strace  # only traced runs decode arguments

        self.seq += 1
        seq = self.seq
        name = abi.table.get(nr)
        sdef = self.handler_for(abi, nr)
        self.emit(SyscallEntered(seq, mechanism, abi.name, abi.table_name, entry, nr, name,
                                 sdef is not None, args, pc, regs, cpu_effects))
        mem = _TraceReader(self.machine, self.process.mm)
        entry_texts = strace.decode_entry(sdef, abi, args, mem, self.string_limit) if sdef else None
        sigreturn = name in ("rt_sigreturn", "sigreturn") and sdef is not None
        if sigreturn:
            # strace shows the mask the frame restores, and the rax the frame restores.
            from kernel_model.signals import frame as sigframe

            restored = sigframe.sigreturn_mask(self, name == "rt_sigreturn")
        self._recording = []
        note = ""
        ret: int | None
        try:
            if sdef is None:
                ret = -errnos.ENOSYS
                note = ("no such syscall in " + abi.table_name if name is None
                        else f"{name} is not implemented in syscall-lab")
                if name is None and abi is X86_64_ABI and nr > 0 and nr & X32_SYSCALL_BIT:
                    note = (f"bit 30 of rax is set: an x32 syscall number (x32's "
                            f"{nr & ~X32_SYSCALL_BIT}); the x32 ABI is not built in "
                            "(CONFIG_X86_X32_ABI), so ENOSYS. strace shows it by its x32 "
                            "name, after a line saying the process runs in x32 mode")
            else:
                ret = self._run_handler(sdef, args)
            effects = tuple(self._recording)
        finally:
            self._recording = None
        blocked, self._blocked_now = self._blocked_now, None
        waiting = self.current.blocked
        if blocked is not None and waiting is not None:
            # Waiting: `<unfinished ...>` now, `<... resumed>` when the call ends.
            waiting.seq = seq
            waiting.entry_texts = entry_texts
            waiting.unfinished = strace.format_unfinished(name, entry_texts)
            self.emit(SyscallBlocked(seq, name or "", blocked.what, waiting.unfinished,
                                     self.process.pid, self.current.tid))
            return None
        if regs.get("eflags", 0) & EFLAGS_AC and not self.alignment_noted:
            # Unicorn (as QEMU's TCG) never raises #AC: say so rather than differ silently.
            self.alignment_noted = True
            self.notes.append("EFLAGS.AC is set, but syscall-lab does not model alignment "
                              "checking: an unaligned access will not raise SIGBUS as on Linux")
        if self.notes:
            note = "; ".join(filter(None, [note, *self.notes]))
            self.notes.clear()
        if name is None:
            # strace shows the number as the kernel's int, widened to an unsigned long
            call = strace.format_unknown(nr & 0xFFFFFFFFFFFFFFFF, args)
            ret_kind = "int"
        elif sdef is None:
            call = strace.format_raw(name, args, abi.name)
            ret_kind = "int"
        else:
            arg_texts = strace.decode_exit(sdef, abi, args, ret, mem, entry_texts,
                                           self.string_limit)
            call = strace.format_call(name, arg_texts)
            ret_kind = sdef.ret
        signed_ret = None if ret is None else abi.signed(ret)
        if sigreturn and not self.process.exited and restored is not None:
            mask = strace.sigset_text(restored.to_bytes(8, "little"))
            call = strace.format_call(name, [f"{{mask={mask}}}"])
            reg = RAX if self.machine.arch.bits == 64 and abi.bits == 64 else EAX
            signed_ret = abi.signed(self.machine.reg(reg))
            ret_kind = "int"
        text = strace.format_line(call, signed_ret, ret_kind, abi)
        cost = cost_of(mechanism, self.machine.arch.bits)
        self.emit(SyscallReturned(seq, mechanism, abi.name, nr, name, args, signed_ret, pc,
                                  return_pc, text, effects, return_effects, note, cost.ns,
                                  cost.source))
        while self._after_trap:
            self.emit(self._after_trap.pop(0))
        return ret

    # -- user memory, as copy_from_user / copy_to_user see it -----------------------
    def check(self, addr: int, size: int, prot: int) -> None:
        if size and not self.process.mm.is_accessible(addr, size, prot):
            raise GuestFault

    def read(self, addr: int, size: int) -> bytes:
        if size == 0:
            return b""
        self.check(addr, size, PROT_READ)
        if self._recording is not None:
            self._recording.append(MemAccess(addr, size, False))
        try:
            return self.machine.read(addr, size)
        except MemoryFault:
            raise GuestFault from None

    def write(self, addr: int, data: bytes) -> None:
        if not data:
            return
        self.check(addr, len(data), PROT_WRITE)
        if self._recording is not None:
            self._recording.append(MemAccess(addr, len(data), True))
        try:
            self.machine.write(addr, data)
        except MemoryFault:
            raise GuestFault from None

    def read_cstring(self, addr: int, limit: int = 4096) -> bytes:
        """A NUL-terminated string (a path): EFAULT if unmapped before the NUL,
        ENAMETOOLONG past `limit`."""
        start = addr
        out = bytearray()
        while len(out) < limit:
            if not self.process.mm.is_accessible(addr, 1, PROT_READ):
                raise GuestFault
            chunk_len = min(0x1000 - (addr & 0xFFF), limit - len(out))
            try:
                chunk = self.machine.read(addr, chunk_len)
            except MemoryFault:  # a VMA the CPU cannot read here (the vsyscall page)
                raise GuestFault from None
            nul = chunk.find(b"\0")
            if nul >= 0:
                out += chunk[:nul]
                if self._recording is not None:
                    self._recording.append(MemAccess(start, len(out) + 1, False))
                return bytes(out)
            out += chunk
            addr += chunk_len
        raise NameTooLong

    def read_word(self, addr: int, abi: Abi | None = None) -> int:
        abi = abi or self.abi
        return int.from_bytes(self.read(addr, abi.word), "little")

    def write_word(self, addr: int, value: int, abi: Abi | None = None) -> None:
        abi = abi or self.abi
        self.write(addr, (value & abi.mask).to_bytes(abi.word, "little"))

    def random_bytes(self, n: int) -> bytes:
        """Randomness for the guest: reproducible under --seed, os.urandom-seeded otherwise."""
        return self.rng.randbytes(n)

    def emit_note(self, text: str) -> None:
        """A kernel message outside any syscall (what Linux would print to dmesg)."""
        if self.listeners:
            self.emit(KernelNote(text))

    def note(self, text: str) -> None:
        """A remark for the trace about the current call (a simplification, a refusal)."""
        if self.listeners:
            self.notes.append(text)


class NameTooLong(GuestFault):
    """A path longer than PATH_MAX: ENAMETOOLONG, not EFAULT."""


class _TraceReader:
    """Guest memory for the strace decoder: reads without recording or permission checks
    (strace reads through ptrace, not as the process), but not of a page nothing may read
    (the xonly vsyscall page: ptrace cannot read it either, and strace prints the pointer)."""

    def __init__(self, machine: Machine, mm):
        self.machine = machine
        self.mm = mm

    def _refuse(self, addr: int, size: int) -> None:
        vma = self.mm.find(addr)
        if vma is not None and not vma.backed:
            raise MemoryFault(addr, size, False)

    def read(self, addr: int, size: int) -> bytes:
        self._refuse(addr, size)
        return self.machine.read(addr, size)

    def read_cstring(self, addr: int, limit: int = 4096) -> bytes:
        self._refuse(addr, 1)
        return self.machine.read_cstring(addr, limit)

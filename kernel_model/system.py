"""One guest process on one machine: load the program, run it, turn faults into signals.

This is the headless core every front end drives (the command line, the TUI, the grader):
`System.create(...)` then `run()`, with events flowing to whatever listeners are attached.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field

from emu import faults
from emu import registers as R
from emu.arch import Arch
from emu.counter import InstructionCounter
from emu.elf import ElfImage
from emu.machine import PAGE, Machine, MemoryFault
from emu.segments import Gdt
from kernel_model.clock import Clock, KnownCount
from kernel_model.kernel import Kernel
from kernel_model.memory.mm import DEFAULT_MEMORY_LIMIT, Mm, OutOfMemory
from kernel_model.proc import exec as binfmt
from kernel_model.proc.process import Process
from kernel_model.proc.table import ProcessTable
from kernel_model.proc.wait import RunLimit, ready_fds
from kernel_model.signals import delivery as signals
from kernel_model.trace.events import KernelNote, ProcessExited, ProcessStarted, RunStopped
from kernel_model.vdso.eras import DEFAULT_ERA, era_named
from kernel_model.vsyscall import emulated as vsyscall

# The GDT and the kernel model's return-to-user trampoline: in the last page below the
# 64-bit non-canonical hole (TASK_SIZE_MAX: no user mapping may go there), and for i386
# processes in the page above their 4 GiB - 8 KiB address space. User mode cannot touch it
# (emu/segments.py, Gdt.cpu_access).
GDT_ADDR = {64: 0x7FFFFFFFF000, 32: 0xFFFFE000}
TICK_US = 4000  # HZ=250: how often the timer thread refreshes the clock data user mode reads


@dataclass
class Mount:
    host: str
    guest: str
    writable: bool = False


@dataclass
class RunOptions:
    seed: int | None = None
    clock: str = "real"  # "real", "frozen:EPOCH", "virtual" or "virtual:EPOCH"
    mounts: list[Mount] = field(default_factory=list)
    max_insns: int | None = None
    timeout: float | None = None  # seconds
    memory_limit: int = DEFAULT_MEMORY_LIMIT
    tmpfs_limit: int | None = None  # /tmp's size (tmpfs size=); None: the memory limit
    string_limit: int = 32
    env: list[str] | None = None
    cwd: str = "/"
    stdin_fd: int = 0
    stdout_fd: int = 1
    stderr_fd: int = 2
    kernel: str = DEFAULT_ERA  # the era preset (kernel_model.vdso.eras)
    vsyscall: str | None = None  # native|emulate|xonly|none; None: the era's default
    vdso: bool | None = None  # False: like the vdso=0 boot parameter; None: the era's default
    # A virtual clock counts instructions with a block hook, unless the driver keeps the
    # count itself (the stepping session: no hook, so its free runs keep full speed).
    count_hook: bool = True


class System:
    """Assembles one run: the options, the loader's work (binfmt: the image, the stack, the
    vDSO and vsyscall pages), the first process, the kernel that owns it, and the hooks
    and listeners around them. Nothing below it is handed the System."""

    def __init__(self, image: ElfImage, exe_path: str, argv: list[str], options: RunOptions,
                 *, symbols: dict[int, str] | None = None):
        self.options = options
        self.image = image
        arch: Arch = image.arch
        self.arch = arch
        self.rng = random.Random(options.seed)
        self.era = era_named(options.kernel)
        self.vsyscall_mode = (options.vsyscall or self.era.vsyscall) if arch.bits == 64 \
            else "none"
        # Only a vsyscall page the CPU executes or reads needs Unicorn's slower virtual TLB.
        self.machine = Machine(arch, high_addresses=self.vsyscall_mode in ("native", "emulate"))
        pie_size = image.highest - image.lowest if image.is_pie else 0
        layout = binfmt.choose_layout(arch, self.rng, pie_size)
        self.layout = layout
        self.mm = Mm(self.machine, mmap_base=layout.mmap_base, limit=options.memory_limit)
        gdt_addr = GDT_ADDR[arch.bits]
        self.gdt = Gdt(self.machine, gdt_addr)
        self.mm.reserved.append((gdt_addr, gdt_addr + PAGE))
        env = options.env if options.env is not None else default_env()
        self.process = Process(arch=arch.name, mm=self.mm, machine=self.machine,
                               exe_path=exe_path, exe_bytes=image.raw, argv=list(argv),
                               envp=list(env), cwd=options.cwd)
        processes = ProcessTable(self.process)
        self.clock = Clock.parse(options.clock)
        from kernel_model.files.fdtable import FdTable
        from kernel_model.files.vfs import Vfs, tmpfs_budget

        self.vfs = Vfs(options.mounts, processes=processes, clock=self.clock, rng=self.rng,
                       tmp_budget=tmpfs_budget(options.tmpfs_limit, self.mm))
        self.process.cwd = self.vfs.working_directory(options.cwd)
        p = self.process
        p.guest_exe, p.exe_dev, p.exe_ino = self.vfs.place_program(exe_path)
        self.process.fds = FdTable.standard(options.stdin_fd, options.stdout_fd,
                                            options.stderr_fd)

        # binfmt_elf: segments, brk, stack. An image Linux would fail to map past execve's
        # point of no return is not mapped: the process is killed with SIGSEGV before its
        # first instruction (exec_failure).
        bias = layout.load_bias - image.lowest if image.is_pie else 0
        self.exec_failure = binfmt.exec_failure(image, bias, arch.bits)
        name = argv[0] if argv else exe_path
        bss_end = 0
        if self.exec_failure is None:
            bss_end = binfmt.map_image(self.mm, image, bias, p.guest_exe, p.exe_dev,
                                       p.exe_ino, name)
        if image.is_pie:
            # Static PIE: brk moves out of the mmap area to ELF_ET_DYN_BASE (binfmt_elf.c).
            brk_base = 0x555555554000 if arch.bits == 64 else 0x56555000
        else:
            brk_base = bss_end
        self.mm.start_brk = self.mm.brk = binfmt.page_up(brk_base) + layout.brk_random
        self.process.symbols = {a + bias: n for a, n in (symbols or image.symbols).items()}

        # arch_setup_additional_pages(): the vDSO (and its data) in the mmap area, then the
        # vsyscall page, which every x86-64 process shares at its fixed address.
        want_vdso = options.vdso if options.vdso is not None else (
            self.era.vdso64 if arch.bits == 64 else True)
        self.vdso = None
        self.tick_jobs: list = []  # what the timer tick keeps current (vDSO data, vsyscall page)
        sysinfo = None
        try:
            if want_vdso:
                from kernel_model.vdso.mapping import map_vdso

                self.vdso = map_vdso(self.mm, arch, self.era, self.clock)
                self.tick_jobs.append(self.vdso.tick)
                sysinfo = (self.vdso.symbol("__kernel_vsyscall") or 0, self.vdso.base)
            vsyscall.map_page(self.mm, self.vsyscall_mode, self.clock, self.tick_jobs)
            head, tail = binfmt.auxv_entries(arch, image, bias, self.process.uid,
                                             self.process.gid, sysinfo)
            sp, auxv = binfmt.build_stack(self.mm, arch, layout, self.process.argv,
                                          self.process.envp, head, tail, p.guest_exe, self.rng)
        except binfmt.ExecKilled as e:
            self.exec_failure = str(e)
            sp, auxv = layout.stack_top, []
        except OutOfMemory:
            raise binfmt.CannotLoad(
                f"{name}: cannot load: the program, its stack and the vDSO do not fit the "
                f"guest memory limit of {self.mm.limit >> 20} MiB (--memory-limit): ENOMEM, "
                "Cannot allocate memory") from None
        self.process.auxv = auxv
        self.entry = (image.entry + bias) & arch.mask
        if self.exec_failure is None:
            # The iret into user mode runs from a page no mapping holds yet (i386: the last
            # one, above the process's 4 GiB - 8 KiB).
            scratch = self.mm.find_free(PAGE) if arch.bits == 64 else 0xFFFFF000
            self.gdt.enter_user_mode(self.entry, sp, scratch)
        else:
            self.process.killed_by = signals.SIGSEGV
        self._zero_registers(sp)

        hooked = self.clock.virtual and options.count_hook
        self.kernel = Kernel(
            processes, clock=getattr(self.vdso, "timeline", None) or self.clock, vfs=self.vfs,
            rng=self.rng, gdt=self.gdt, string_limit=options.string_limit,
            sysenter_landing_pad=getattr(self.vdso, "sysenter_landing_pad", None),
            on_trap=_charger(self.clock, arch.bits) if self.clock.virtual else None,
            on_first_listener=self._watch_vdso)
        # The kernel's, named here too for the run loop and the debugger.
        self.signals = self.kernel.signals
        self.waiter = self.kernel.waiter
        self.machine.hook_interrupt(self._on_interrupt)
        self.machine.hook_bad_memory(self._on_bad_memory)
        self.machine.hook_bad_instruction(self._on_bad_instruction)
        self.machine.hook_ports(self._on_port)
        if arch.bits == 32:
            self.machine.hook_syscall(self._on_syscall32)
        self.counter = InstructionCounter(self.machine, options.max_insns) \
            if options.max_insns is not None or hooked else None
        if self.clock.virtual:
            # The guest's progress is its time: instructions (counted), crossings (charged
            # at each trap), and the TSC its rdtsc reads (the vDSO's clock source).
            self.clock.counter = self.counter if hooked else KnownCount()
            self.machine.hook_rdtsc(self.clock.tsc)
        self.started = False
        self.vdso_watcher = None
        self.vsyscall_watcher = None
        self._fault: tuple[int, int, int] | None = None  # (signo, code, addr)
        self._vsyscall_fetch: int | None = None  # a fetch that faulted in the vsyscall page
        # A fault seen inside an instruction hook, which cannot stop the CPU at the
        # instruction: (signal, the saved context or pc to go back to).
        self._early: tuple | None = None
        self._refused_gdt = False  # the TLB must be flushed before the guest goes on

    def _watch_vdso(self) -> None:
        """Hooks only a trace needs: calls into user-mode kernel code (vDSO, native vsyscall
        page) make no trap, so the trace sees them only through hooks on their entries."""
        if self.vdso is not None and self.vdso_watcher is None:
            from kernel_model.vdso.watch import VdsoWatcher

            self.vdso_watcher = VdsoWatcher(self.machine, self.vdso, self.kernel)
        if self.vsyscall_mode == "native" and self.vsyscall_watcher is None:
            self.vsyscall_watcher = vsyscall.NativeWatcher(self.machine, self.kernel)

    def _zero_registers(self, sp: int) -> None:
        """docs/kernel_facts.md §2: every general register 0 at entry, rdx included."""
        m = self.machine
        for name, reg in m.arch.gprs:
            if name not in ("rip", "eip", "rsp", "esp"):
                m.set_reg(reg, 0)
        m.sp = sp
        m.set_reg(R.EFLAGS, 0x202)

    # -- start and run -----------------------------------------------------------
    def start(self) -> None:
        if self.started:
            return
        self.started = True
        p = self.process
        self.kernel.emit(ProcessStarted(self.arch.name, p.exe_path, tuple(p.argv), tuple(p.envp),
                                        tuple(p.auxv), self.entry, self.machine.sp, p.pid))
        if self.exec_failure is not None:
            # force_fatal_sig: no signal-delivery stop a tracer could see, only the death.
            self.kernel.emit_note(f"execve failed past the point of no return: "
                                  f"{self.exec_failure}; Linux kills the process with "
                                  "SIGSEGV")

    def run(self) -> int:
        """Run to the end (exit, a fatal signal, or a limit) and return the exit status."""
        self.start()
        m = self.machine
        with _KernelTimer(self) as timer:
            while not self.process.exited:
                try:
                    stop = m.run(m.pc)
                except RunLimit:
                    timer.expired = True  # the deadline passed while a handler waited
                if timer.expired:
                    return self._limit("timeout", f"stopped after {self.options.timeout:g} "
                                                  "s (--timeout): the guest did not finish")
                if self.process.exited:
                    break
                if self.counter is not None and self.counter.exceeded:
                    return self._limit("max-insns", f"stopped after {self.counter.count} "
                                                    f"instructions (--max-insns)")
                cause = self.take_stop_cause(stop)
                if cause is not None:
                    self.enter_kernel(cause)
                elif self.signals.deliverable():
                    pass  # a signal the kernel queued stopped the CPU
                elif timer.interrupted:
                    raise KeyboardInterrupt
                else:
                    # emu_start returned on its own: `hlt` in user mode is a #GP, like any
                    # privileged instruction.
                    self.signals.force(signals.SIGSEGV, signals.SI_KERNEL, 0)
                self.signals.deliver_pending()
        return self.finish()

    def _limit(self, reason: str, text: str) -> int:
        self.kernel.emit(RunStopped(reason, self.machine.pc, text))
        self.process.killed_by = None
        self.limit_reason = text
        return 2

    def finish(self) -> int:
        p = self.process
        if p.stopped_by is not None:
            # Linux leaves the process stopped, alive; strace says this, the shell "Stopped"
            # with $? 128+N. Alone and without job control, the model can only end here.
            name = signals.name(p.stopped_by)
            self.kernel.emit(RunStopped("stopped", self.machine.pc, f"--- stopped by {name} ---"))
            self.limit_reason = (f"stopped by {name} (the model has no job control: SIGCONT "
                                 "from another process would continue it)")
            p.fds.close_all()
            return p.status
        if p.killed_by is not None:
            text = f"+++ killed by {signals.name(p.killed_by)} +++"
            self.kernel.emit(ProcessExited(p.status, None, p.killed_by, text))
        else:
            text = f"+++ exited with {p.status} +++"
            self.kernel.emit(ProcessExited(p.status, p.status, None, text))
        p.fds.close_all()
        return p.status

    # -- faults ------------------------------------------------------------------
    def fault_pending(self) -> bool:
        """Whether an instruction hook saw a fault the CPU ran past (see _on_port)."""
        return self._early is not None

    def take_stop_cause(self, stop) -> tuple | None:
        """Why the last emu_start stopped, if the guest caused it, and forget it:
        ("vsyscall", address) for a fetch in the vsyscall page the kernel emulates, or
        ("fault", (signo, si_code, si_addr)) for a fault that becomes a signal."""
        cause = None
        if self._early is not None:
            fault, where = self._early
            if isinstance(where, int):
                self.machine.pc = where
            else:
                self.machine.restore_context(where)
            cause = ("fault", fault)
        elif self._vsyscall_fetch is not None:
            cause = ("vsyscall", self._vsyscall_fetch)
        elif self._fault is not None:
            cause = ("fault", self._fault)
        elif stop is not None and stop.kind == "error":
            cause = ("fault", self._classify_error(stop.uc_errno))
        self._fault = None
        self._vsyscall_fetch = None
        self._early = None
        self.kernel.halted = False
        if self._refused_gdt:
            self._refused_gdt = False
            self.machine.flush_tlb()  # else the refused access would pass next time
        if cause is not None and cause[0] == "fault":
            if self.counter is not None:
                self.counter.retract_from(self.machine.pc)
            cause = ("fault", self._as_linux(cause[1]))
        return cause

    def _as_linux(self, fault: tuple[int, int, int]) -> tuple[int, int, int]:
        """Unicorn's CPU raises #UD for some instructions where Linux's raises something
        else (QEMU leaves them unimplemented): the signal Linux sends instead."""
        if fault[0] != signals.SIGILL:
            return fault
        m = self.machine
        pc = m.pc
        op, length = _opcode(m, pc)
        if op[:1] == b"\xf1":
            # icebp (int1): a #DB trap, reported after the instruction (exc_debug_user).
            m.pc = pc + length
            return signals.SIGTRAP, signals.TRAP_BRKPT, pc + length
        if op[:1] == b"\xcd":
            # `int 6`, which Unicorn reports as the #UD itself: the gate is DPL 0, so #GP.
            return signals.SIGSEGV, signals.SI_KERNEL, 0
        if op[:2] == b"\x0f\x33" or (op[:2] == b"\x0f\x07" and self.arch.bits == 64):
            # rdpmc with CR4.PCE clear, sysret at CPL 3: #GP (sysret in 32-bit code stays a
            # #UD on Intel).
            return signals.SIGSEGV, signals.SI_KERNEL, 0
        return fault

    def _on_port(self, uc, *_args) -> int:
        """`in`/`out` in user mode with no I/O permission: #GP, SIGSEGV (Unicorn lets every
        port through). The CPU stops only at the end of its translated block, so the
        registers as they were at the instruction are put back (take_stop_cause)."""
        if self._early is None:
            self._early = ((signals.SIGSEGV, signals.SI_KERNEL, 0), self.machine.save_context())
            self.kernel.halted = True
        uc.emu_stop()
        return 0

    def _on_syscall32(self, uc, _user_data) -> None:
        """`syscall` in 32-bit code: #UD on an Intel CPU, the model's (Unicorn skips it)."""
        pc = self.machine.pc  # still the instruction's: Unicorn adds its length afterwards
        self.kernel.emit(KernelNote("syscall in 32-bit code: an Intel CPU raises #UD (SIGILL); "
                                    "only AMD's enter the kernel with it"))
        if self._early is None:
            self._early = ((signals.SIGILL, signals.ILL_ILLOPN, pc), pc)
        uc.emu_stop()

    def enter_kernel(self, cause: tuple) -> None:
        """The kernel's side of a stop cause: emulate the vsyscall, or queue the signal
        (delivered by signals.deliver_pending on the way back to user mode)."""
        kind, detail = cause
        if kind == "vsyscall":
            vsyscall.emulate(self.kernel, self.vsyscall_mode, detail)
        else:
            self.signals.force(*detail)

    def _on_interrupt(self, uc, intno: int, _user_data) -> None:
        if self._early is not None:
            return  # after a fault in the same block (see _on_port): already stopping
        if intno == 0x80:
            self.kernel.on_int80()
            if self.process.exited:
                uc.emu_stop()
            return
        pc = self.machine.pc
        if intno in _KERNEL_ONLY_VECTORS and self._software_int(intno, pc):
            # `int N` through a gate user mode may not use (DPL 0: only int3, into and
            # int 0x80 have DPL 3): #GP at the `int`, where Unicorn reports the vector
            # itself, past the instruction, as if the CPU had raised it.
            self._early = ((signals.SIGSEGV, signals.SI_KERNEL, 0), pc - 2)
            uc.emu_stop()
            return
        fault = signals.exception_signal(intno, pc)
        self._fault = fault
        uc.emu_stop()

    def _software_int(self, intno: int, pc: int) -> bool:
        """Whether Unicorn stopped just past an `int N` for this vector, rather than at an
        instruction that raised it (a divide, for #DE)."""
        try:
            before = self.machine.read(pc - 2, 2)
        except MemoryFault:
            return False
        if before != bytes([0xCD, intno]):
            return False
        if intno == 0:
            op, _length = _opcode(self.machine, pc)
            if op[:1] in (b"\xf6", b"\xf7") and len(op) > 1 and (op[1] >> 3) & 7 in (6, 7):
                return False  # a div/idiv right after the bytes: its own #DE
        return True

    def _on_bad_memory(self, uc, access: int, addr: int, size: int, value: int, _ud) -> bool:
        if self.gdt.holds(addr):
            # The kernel's page (the CPU's descriptor reads were let through before this
            # hook): the guest's own access faults as a user access to a kernel address.
            self._fault = (signals.SIGSEGV, signals.SEGV_MAPERR, addr)
            self._refused_gdt = True
            return False
        if self.arch.bits == 64 and (1 << 47) <= addr < (1 << 64) - (1 << 47):
            # Unicorn's default TLB reports an address cut to 52 bits: a canonical kernel
            # address (bits 47-63 all set) comes back with only bits 47-51 set. Anything else
            # past user space is non-canonical: a #GP, SIGSEGV with si_code SI_KERNEL.
            if addr >> 47 == 0x1F:
                addr |= ((1 << 64) - 1) ^ ((1 << 52) - 1)
            else:
                self._fault = (signals.SIGSEGV, signals.SI_KERNEL, 0)
                return False
        unmapped = access in (faults.MEM_READ_UNMAPPED, faults.MEM_WRITE_UNMAPPED,
                              faults.MEM_FETCH_UNMAPPED)
        if access in (faults.MEM_FETCH_PROT, faults.MEM_FETCH_UNMAPPED) and \
                vsyscall.in_page(addr) and self.vsyscall_mode in ("emulate", "xonly"):
            # Executing the page traps; the kernel emulates the call (emulate_vsyscall).
            self._vsyscall_fetch = addr
            return False
        if unmapped and binfmt.grow_stack(self.mm, addr):
            return True
        vma = self.mm.find(addr)
        if vma is not None and not vma.backed and vma.name == "[vvar_vclock]" and \
                access == faults.MEM_READ_UNMAPPED:
            # A read the VMA allows, answered by its fault handler with VM_FAULT_SIGBUS
            # (writes and fetches are refused by the VMA's permissions first: SEGV_ACCERR).
            self._fault = (signals.SIGBUS, signals.BUS_ADRERR, addr)
            return False
        if vma is not None and not vma.backed and not vsyscall.in_page(addr):
            unmapped = False  # a VMA is there: the access is refused, not unmapped
        code = signals.SEGV_MAPERR if unmapped else signals.SEGV_ACCERR
        if vsyscall.in_page(addr):
            code = signals.SEGV_MAPERR  # the gate page has no VMA a read could be refused by
        self._fault = (signals.SIGSEGV, code, addr)
        return False

    def _on_bad_instruction(self, uc, _user_data) -> bool:
        self._fault = (signals.SIGILL, signals.ILL_ILLOPN, self.machine.pc)
        return False

    def _classify_error(self, uc_errno: int) -> tuple[int, int, int]:
        pc = self.machine.pc
        if uc_errno == faults.ERR_INSN_INVALID:
            return signals.SIGILL, signals.ILL_ILLOPN, pc
        if uc_errno in (faults.ERR_READ_PROT, faults.ERR_WRITE_PROT,
                        faults.ERR_FETCH_PROT):
            return signals.SIGSEGV, signals.SEGV_ACCERR, pc
        return signals.SIGSEGV, signals.SEGV_MAPERR, pc

class _KernelTimer:
    """A host thread beside the CPU, for what a real kernel does asynchronously: the timer
    tick (the clock data user mode reads, written straight into host-backed pages while the
    CPU runs), the --timeout deadline, and Ctrl-C (the C-level signal handler writes to a
    wakeup fd even while the main thread is inside Unicorn, where Python code cannot run).

    It never stops the CPU to let it go on: Unicorn 2.1.4 re-executes part of a block
    interrupted from another thread (a `lock inc` loop counts too far). The deadline and
    Ctrl-C end the run, so there stopping is safe."""

    def __init__(self, system: System):
        self.system = system
        self.expired = False
        self.interrupted = False
        timeout = system.options.timeout
        self.deadline = time.monotonic() + timeout if timeout else None
        self._done = threading.Event()
        self._wake_r = self._wake_w = None
        self._old_wakeup = None

    def __enter__(self) -> _KernelTimer:
        self.system.waiter.deadline = self.deadline
        self.system.waiter.interrupted = False
        if threading.current_thread() is threading.main_thread():
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_w, False)
            self._old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        # A virtual clock's page is refreshed at crossings, by the guest's own time: a host
        # timer would make its bytes depend on the host's speed.
        self.jobs = () if self.system.clock.virtual else self.system.tick_jobs
        if self.jobs or self.deadline is not None or self._wake_r is not None:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        else:
            self._thread = None
        return self

    def __exit__(self, *exc) -> None:
        self.system.waiter.deadline = None
        self._done.set()
        if self._wake_w is not None:
            os.write(self._wake_w, b"\0")  # wake the thread's poll
        if self._thread is not None:
            self._thread.join()
        if self._wake_r is not None:
            signal.set_wakeup_fd(self._old_wakeup)
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _loop(self) -> None:
        tick = TICK_US / 1e6
        m = self.system.machine
        while not self._done.is_set():
            wait = tick if self.deadline is None else max(0.0, min(
                tick, self.deadline - time.monotonic()))
            if self._wake_r is not None:
                ready, _ = ready_fds([self._wake_r], (), wait)
                if ready and not self._done.is_set():
                    data = os.read(self._wake_r, 64)
                    if any(b == signal.SIGINT for b in data):
                        self.interrupted = True
                        self.system.waiter.interrupt()  # a handler may be waiting
                        m.stop()
                        return
            else:
                self._done.wait(wait)
            if self._done.is_set():
                return
            for job in self.jobs:
                job()
            if self.deadline is not None and time.monotonic() >= self.deadline:
                self.expired = True
                self.system.waiter.kick()
                m.stop()
                return


# Vectors the CPU raises that exception_signal maps to something other than SIGSEGV: an
# `int N` naming one of them is the #GP of a DPL-0 gate instead.
_KERNEL_ONLY_VECTORS = frozenset({0, 1, 6, 16, 19})
_PREFIXES = frozenset(b"\x66\x67\xf2\xf3\x2e\x36\x3e\x26\x64\x65\xf0")


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


def _charger(clock, bits: int):
    """What the kernel calls at each trap under a virtual clock: the crossing's modelled cost
    moves the guest's time."""
    from kernel_model.entry.costs import cost_of

    def charge(mechanism: str) -> None:
        clock.charge_ns(cost_of(mechanism, bits).ns)

    return charge


def default_env() -> list[str]:
    """A small, honest environment: not the host's (which may hold secrets)."""
    return ["HOME=/", "PATH=/usr/local/bin:/usr/bin:/bin", "TERM=" + os.environ.get(
        "TERM", "xterm"), "LANG=C.UTF-8"]

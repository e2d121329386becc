"""One guest process on one machine: load the program, run it, turn faults into signals.

This is the headless core every front end drives (the command line, the TUI, the grader):
`System.create(...)` then `run()`, with events flowing to whatever listeners are attached.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from emu.arch import Arch
from emu.counter import InstructionCounter
from emu.elf import ElfImage
from emu.machine import Machine
from emu.segments import Gdt
from kernel_model.clock import Clock, KnownCount
from kernel_model.kernel import Kernel
from kernel_model.memory.mm import DEFAULT_MEMORY_LIMIT, Mm
from kernel_model.proc.creds import Credentials
from kernel_model.proc.load import ExeFile, Loader, Space
from kernel_model.proc.process import Process
from kernel_model.proc.table import ProcessTable
from kernel_model.run import loop
from kernel_model.run.cpu_faults import CpuFaults
from kernel_model.signals import delivery as signals
from kernel_model.trace.events import ProcessExited, ProcessStarted, RunStopped
from kernel_model.vdso.eras import DEFAULT_ERA, era_named
from kernel_model.vsyscall import emulated as vsyscall

if TYPE_CHECKING:
    from kernel_model.vdso.watch import VdsoWatcher



class CannotStart(ValueError):
    """The first program's execve fails before it runs (its PT_INTERP loader is missing or
    bad): `errno` is execve's error, str() says why in one line."""

    def __init__(self, errno: int, why: str):
        super().__init__(why)
        self.errno = errno


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
    user: tuple[int, int] | None = None  # --user UID:GID; None: root (0:0)
    max_tasks: int = 256  # RLIMIT_NPROC-like: fork and clone fail with EAGAIN beyond it
    timeslice: int = 0  # instructions a task runs before another runnable one; 0: default
    # The host directory shown read-only at /usr/lib/syscall-lab/bin (execve finds the
    # bundled programs there); None: the bundled programs' own (programs/bin); "": none.
    bundled: str | None = None
    # The library directories (/lib, /usr/lib, ...) and /etc/ld.so.cache a dynamically
    # linked program needs, read-only (kernel_model.files.sysroot): the host's own, or
    # those under `sysroot`; host_libs=False: none of them.
    host_libs: bool = True
    sysroot: str | None = None


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
        self.clock = Clock.parse(options.clock)
        self.tick_jobs: list = []  # what the timer tick keeps current (vDSO data, vsyscall page)
        # The loader (kernel_model.proc.load) builds this image and every one execve makes.
        self.loader = Loader(era=self.era, vsyscall_option=options.vsyscall,
                             vdso_option=options.vdso, memory_limit=options.memory_limit,
                             clock=self.clock, rng=self.rng, tick_jobs=self.tick_jobs)
        self.vsyscall_mode = self.loader.vsyscall_mode(arch)
        space = self.loader.address_space(image)
        # Until the kernel exists (then its running task's: see the properties below).
        self._space0: Space | None = space
        self.layout = space.layout
        env = options.env if options.env is not None else default_env()
        self.process = Process(arch=arch.name, mm=self.mm, machine=self.machine,
                               exe_path=exe_path, exe_bytes=image.raw, argv=list(argv),
                               envp=list(env), cwd=options.cwd,
                               creds=Credentials.of_user(*(options.user or (0, 0))))
        self.process.gdt = space.gdt
        processes = ProcessTable(self.process)
        self.process.main_thread.started_ns = self.clock.boottime_ns()
        from kernel_model.files.fdtable import FdTable
        from kernel_model.files.sysroot import Sysroot
        from kernel_model.files.vfs import Vfs, tmpfs_budget

        self.vfs = Vfs(options.mounts, processes=processes, clock=self.clock, rng=self.rng,
                       tmp_budget=tmpfs_budget(options.tmpfs_limit, self.mm),
                       bundled=options.bundled,
                       libs=Sysroot(options.sysroot or "/") if options.host_libs else None)
        self.process.cwd = self.vfs.working_directory(options.cwd)
        p = self.process
        p.guest_exe, p.exe_dev, p.exe_ino = self.vfs.place_program(exe_path)
        self.process.fds = FdTable.standard(options.stdin_fd, options.stdout_fd,
                                            options.stderr_fd)

        # binfmt_elf: segments, brk, the vDSO, the vsyscall page, the stack. An image Linux
        # would fail to map past execve's point of no return is not mapped: the process is
        # killed with SIGSEGV before its first instruction (exec_failure).
        # A dynamically linked program's loader comes from the guest's tree, as execve's
        # does (execve's error, e.g. ENOENT when there is no such loader).
        from kernel_model.proc.execve import ExecFailed, open_interpreter

        try:
            interp = open_interpreter(self.vfs, image, p.creds)
        except ExecFailed as e:
            raise CannotStart(e.errno, str(e)) from None
        new = self.loader.populate(space, image, ExeFile(p.guest_exe, p.exe_dev, p.exe_ino,
                                                         exe_path),
                                   argv=p.argv, envp=p.envp, execfn=p.guest_exe, uid=p.uid,
                                   gid=p.gid, symbols=symbols,
                                   name=argv[0] if argv else exe_path, interp=interp)
        self.exec_failure = new.failure
        self.vdso = new.vdso
        self.process.symbols = new.symbols
        self.process.auxv = new.auxv
        self.entry = new.entry
        if self.exec_failure is not None:
            self.process.killed_by = signals.SIGSEGV

        hooked = self.clock.virtual and options.count_hook
        self.kernel = Kernel(
            processes, clock=getattr(self.vdso, "timeline", None) or self.clock, vfs=self.vfs,
            rng=self.rng, gdt=self.gdt, string_limit=options.string_limit,
            sysenter_landing_pad=getattr(self.vdso, "sysenter_landing_pad", None),
            on_trap=_charger(self.clock, arch.bits) if self.clock.virtual else None,
            on_first_listener=self._watch_vdso, max_tasks=options.max_tasks)
        self.kernel.version = self.era.version
        self._space0 = None  # the kernel holds the first CPU now: an exec may let it go
        if options.timeslice:
            self.kernel.sched.timeslice = options.timeslice
        self.kernel.loader = self.loader
        self.kernel.on_new_machine = self._equip_machine
        self.kernel.on_switch = self._follow_machine
        self.kernel.on_forget_machine = self._forget_machine
        self.kernel.on_reuse_machine = self._reuse_machine
        self.process.sysenter_pad = new.sysenter_pad
        self.process.vdso_symbols = dict(new.vdso_symbols)
        # The kernel's, named here too for the run loop and the debugger.
        self.signals = self.kernel.signals
        self.waiter = self.kernel.waiter
        self.cpu_faults = CpuFaults(self)  # the CPU's fault hooks (kernel_model.run)
        self.counter = InstructionCounter(self.machine, options.max_insns) \
            if options.max_insns is not None or hooked else None
        if self.clock.virtual:
            # The guest's progress is its time: instructions (counted), crossings (charged
            # at each trap), and the TSC its rdtsc reads (the vDSO's clock source).
            self.clock.counter = self.counter if hooked else KnownCount()
            self.machine.hook_rdtsc(self.clock.tsc)
        self.started = False
        self.deadlock: str | None = None  # why the run ended with every task blocked
        self.vdso_watcher: VdsoWatcher | None = None
        self.watchers: list = []  # the vDSO watchers of forked processes' CPUs
        self.vsyscall_watcher: vsyscall.NativeWatcher | None = None

    # The running task's CPU, address space and descriptor table: the first process's until
    # fork makes others (kernel_model.proc.fork), then whichever task the kernel runs.
    @property
    def machine(self) -> Machine:
        kernel = self.__dict__.get("kernel")
        if kernel is not None:
            return kernel.machine
        assert self._space0 is not None
        return self._space0.machine

    @property
    def mm(self) -> Mm:
        kernel = self.__dict__.get("kernel")
        if kernel is not None:
            return kernel.process.mm
        assert self._space0 is not None
        return self._space0.mm

    @property
    def gdt(self) -> Gdt:
        kernel = self.__dict__.get("kernel")
        if kernel is not None:
            return kernel.gdt
        assert self._space0 is not None
        return self._space0.gdt

    def _equip_machine(self, machine: Machine) -> None:
        """A new process's CPU (forked, or a new image after execve) gets the hooks the
        first one has: faults, the virtual clock's TSC, the instruction counter, the vDSO's
        data page, and (traced) the vDSO watchers."""
        self.cpu_faults.equip(machine)
        if self.clock.virtual:
            machine.hook_rdtsc(self.clock.tsc)
        if self.counter is not None:
            self.counter.attach(machine)
        # A fork runs inside its parent's trap: the kernel's CPU is the parent's.
        self.loader.forked(self.kernel.machine, machine)
        if self.kernel.listeners:
            from kernel_model.vdso.watch import VdsoWatcher

            vdso = self.loader.vdso_for(machine)
            if vdso is not None:
                self.watchers.append(VdsoWatcher(machine, vdso, self.kernel))
            if self.vsyscall_mode == "native" and machine.arch.bits == 64:
                self.watchers.append(vsyscall.NativeWatcher(machine, self.kernel))

    def _forget_machine(self, machine: Machine) -> None:
        """A gone process's CPU (it exited, or exec'd): the tick stops writing it and no
        watcher of a trace keeps it. Its hooks stay (the kernel may reuse it for a fork:
        Kernel.take_spare_machine, which also gives its memory back)."""
        self.loader.forget(machine)
        gone = [w for w in [*self.watchers, self.vdso_watcher, self.vsyscall_watcher]
                if w is not None and getattr(w, "machine", None) is machine]
        for w in gone:  # a watcher listens to the kernel's events: it would keep the CPU
            listener = getattr(w, "_on_event", None)
            if listener is not None and listener in self.kernel.listeners:
                self.kernel.listeners.remove(listener)
        self.watchers = [w for w in self.watchers if w not in gone]
        # The first process's watchers go with its CPU too (it exec'd, or exited).
        if self.vdso_watcher in gone:
            self.vdso_watcher = None
        if self.vsyscall_watcher in gone:
            self.vsyscall_watcher = None

    def _reuse_machine(self, machine: Machine) -> None:
        """A released CPU a fork takes again: it maps its parent's vDSO, whose data page the
        tick writes (the fork runs in its parent's trap: the kernel's CPU is the parent's)."""
        self.loader.forked(self.kernel.machine, machine)

    def _follow_machine(self, machine: Machine) -> None:
        if self.counter is not None:
            self.counter.follow(machine)

    def _watch_vdso(self) -> None:
        """Hooks only a trace needs: calls into user-mode kernel code (vDSO, native vsyscall
        page) make no trap, so the trace sees them only through hooks on their entries."""
        if self.vdso is not None and self.vdso_watcher is None:
            from kernel_model.vdso.watch import VdsoWatcher

            self.vdso_watcher = VdsoWatcher(self.machine, self.vdso, self.kernel)
        if self.vsyscall_mode == "native" and self.vsyscall_watcher is None:
            self.vsyscall_watcher = vsyscall.NativeWatcher(self.machine, self.kernel)

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
            # Dead before its first instruction: nothing for the scheduler to run.
            self.kernel.sched.remove(self.kernel.current, "Z")

    def run(self) -> int:
        """Run to the end (exit, a fatal signal, or a limit) and return the exit status
        (kernel_model.run.loop: the one run loop)."""
        return loop.run(self)

    def stop_at_limit(self, reason: str, text: str) -> int:
        self.kernel.emit(RunStopped(reason, self.machine.pc, text))
        self.process.killed_by = None
        self.limit_reason = text
        return 2

    def finish(self) -> int:
        p = self.process
        if self.deadlock is not None and not p.exited:
            return self.stop_at_limit("deadlock", self.deadlock)
        fds = p.fds
        assert fds is not None  # set up in __init__
        if p.stopped_by is not None:
            # Linux leaves the process stopped, alive; strace says this, the shell "Stopped"
            # with $? 128+N. Alone and without job control, the model can only end here.
            name = signals.name(p.stopped_by)
            self.kernel.emit(RunStopped("stopped", self.machine.pc, f"--- stopped by {name} ---"))
            self.limit_reason = (f"stopped by {name} (the model has no job control: SIGCONT "
                                 "from another process would continue it)")
            fds.close_all()
            return p.status
        if p.exiting:
            return p.status  # exit_group has said it and closed the files (proc/exit.py)
        if p.killed_by is not None:
            text = f"+++ killed by {signals.name(p.killed_by)} +++"
            self.kernel.emit(ProcessExited(p.status, None, p.killed_by, text, p.pid))
        else:
            text = f"+++ exited with {p.status} +++"
            self.kernel.emit(ProcessExited(p.status, p.status, None, text, p.pid))
        fds.close_all()
        return p.status



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

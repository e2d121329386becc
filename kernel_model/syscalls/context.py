"""What a syscall handler may use: the running task and its process, user memory as
copy_from_user/copy_to_user see it, and the kernel's services. The Kernel satisfies it;
a test's stand-in may too. Handlers never see the System that assembled the run, nor the
Machine: what they need of the CPU is declared here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from emu.arch import Arch
    from emu.hostmem import SharedBlock
    from emu.segments import Gdt
    from kernel_model.entry.abi import Abi
    from kernel_model.files.vfs import Vfs
    from kernel_model.ipc import IpcNamespace
    from kernel_model.proc.futex import FutexTable
    from kernel_model.proc.process import Process
    from kernel_model.proc.sched import Scheduler
    from kernel_model.proc.table import ProcessTable
    from kernel_model.proc.task import Task
    from kernel_model.proc.wait import Waiter
    from kernel_model.signals.delivery import SignalState


class ClockReading(Protocol):
    """What handlers read of a clock: kernel_model.clock.Clock, or the vDSO's timeline
    (kernel_model.vdso.mapping.VdsoTimeline) once it is mapped."""

    kind: str  # real, frozen or virtual: whether a sleep waits on the host

    def realtime_ns(self) -> int: ...
    def monotonic_ns(self) -> int: ...
    def boottime_ns(self) -> int: ...
    def cputime_ns(self) -> int: ...
    def coarse_ns(self, clock_id: int) -> int: ...  # the REALTIME/MONOTONIC_COARSE tick base
    def sleep_ns(self, ns: int) -> None: ...


class SyscallContext(Protocol):
    # Who is calling, and how it entered.
    abi: Abi  # the table the trap chose (int 0x80 from 64-bit code: i386)
    arch: Arch  # the process's own architecture
    process: Process

    @property
    def current(self) -> Task: ...

    # The kernel's processes and their scheduling.
    processes: ProcessTable
    sched: Scheduler
    futexes: FutexTable
    ipc: IpcNamespace
    max_tasks: int
    version: tuple[int, int]  # the era modelled (--kernel): (6, 18) by default

    def yield_cpu(self) -> None: ...
    def note_fork(self, task: Task, flags: int) -> None: ...

    # The kernel's services.
    clock: ClockReading  # kernel_model.clock.Clock, or the vDSO's timeline once mapped
    vfs: Vfs
    gdt: Gdt
    signals: SignalState
    waiter: Waiter  # where a blocking call waits (kernel_model.proc.wait.waiter_of)

    # User memory: GuestFault (EFAULT) on a bad pointer.
    def read(self, addr: int, size: int) -> bytes: ...
    def write(self, addr: int, data: bytes) -> None: ...
    def read_cstring(self, addr: int, limit: int = 4096) -> bytes: ...
    def write_word(self, addr: int, value: int, abi: Abi | None = None) -> None: ...
    def random_bytes(self, n: int) -> bytes: ...

    # The running task's CPU, as far as a handler may touch it.
    def stop_cpu(self) -> None: ...
    def user_sp(self) -> int: ...
    def segment_base(self, reg: int) -> int: ...
    def set_segment_base(self, reg: int, base: int) -> None: ...
    def populate(self, addr: int, data: bytes) -> None: ...
    def discard(self, addr: int, size: int, keep_shared: bool = True) -> None: ...
    def resident(self, addr: int, size: int) -> bytes: ...
    def share_memory(self, addr: int, size: int, block: SharedBlock | None = None,
                     offset: int = 0) -> bool: ...

    # The trace: a remark about the current call.
    def note(self, text: str) -> None: ...


if TYPE_CHECKING:
    from kernel_model.kernel import Kernel

    def _kernel_is_a_context(k: Kernel) -> SyscallContext:
        return k  # mypy checks that the Kernel provides every member declared above

    from kernel_model.clock import Clock
    from kernel_model.vdso.mapping import VdsoTimeline

    def _clocks_read(c: Clock, t: VdsoTimeline) -> list[ClockReading]:
        return [c, t]  # and that both clocks a handler may see are ClockReadings

"""A thread of execution (Linux's task_struct, the per-thread half): its id, its signal
mask and alternate stack, its TLS, and what it registered with the kernel for itself.

The registers live in the process's Machine while the task runs, and in `context` (the
CPU state Unicorn saves) while it does not; everything Linux keeps per thread that the model
tracks lives here, so a second thread is a second Task, not a copy of the process."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kernel_model.proc.process import Process
    from kernel_model.proc.sched import BlockedCall, Queues

SS_DISABLE = 2


@dataclass(eq=False)
class Task:
    tid: int
    process: Process = field(repr=False)
    sigmask: int = 0  # current->blocked
    # The mask to restore after a call that waits with a temporary one (sigsuspend, ppoll,
    # pselect6, epoll_pwait): the handler's frame saves it instead of the temporary mask
    # (set_restore_sigmask / sigmask_to_save), or delivery puts it back if none runs.
    saved_sigmask: int | None = None
    altstack: tuple[int, int, int] = (0, SS_DISABLE, 0)  # ss_sp, ss_flags, ss_size
    clear_child_tid: int = 0  # set_tid_address
    robust_list: tuple[int, int] = (0, 0)  # head, length
    rseq: tuple[int, int, int] = (0, 0, 0)  # area, length, signature
    # TLS: the fs/gs bases arch_prctl set (thread.fsbase/gsbase); the i386 TLS descriptors
    # (thread.tls_array) are installed in the kernel's GDT while the task runs.
    fs_base: int = 0
    gs_base: int = 0
    # The last trap, as current->thread keeps it for the signal frame's sigcontext.
    trap_nr: int = 0
    error_code: int = 0
    cr2: int = 0
    # The scheduler's view (kernel_model.proc.sched): R running or runnable, S waiting,
    # T stopped, Z zombie (its process not yet reaped), X gone.
    state: str = "R"
    queue: Queues = field(default=None, repr=False)  # the queue(s) it sleeps on
    blocked: BlockedCall | None = None  # the syscall it waits in
    context: Any = field(default=None, repr=False)  # its registers while off the CPU
    insns: int = 0  # instructions it has run (counted at each switch)
    started_ns: int = 0  # when it was created, on the boot-time clock (/proc's starttime)
    nvcsw: int = 0  # times it gave up the CPU (slept, stopped) for another task
    nivcsw: int = 0  # times another task took the CPU from it while it could run
    # Signals sent to this thread alone (tkill, a fault): (signo, code, addr, info).
    pending: list = field(default_factory=list, repr=False)
    # A futex wait: the bitset it waits for, and whether a wake (not a signal or a
    # timeout) ended it.
    futex_bitset: int = 0xFFFFFFFF
    futex_woken: bool = False
    vfork_child: Process | None = field(default=None, repr=False)  # waiting for its exec/exit
    # i386: the three GDT TLS descriptors set_thread_area gave it (thread.tls_array).
    tls: list[int] = field(default_factory=lambda: [0, 0, 0])

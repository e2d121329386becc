"""A context switch told in phases, like a syscall's walk (transition.py): what took the CPU
from one task (a trap, or the timer interrupt at the end of its slice), its registers saved
in the task, schedule() choosing the next one and why, the address-space switch (CR3: in
the model, another process's Machine) and the TLS switch, and the return to user mode in
the other task. Built from the switch mark the session recorded: the TaskSwitched event, what
the session noted of the task it left (mark.info["switch"]), and the registers on both sides.

Costs: one published total (kernel_model/entry/costs.py, "context switch" or "thread switch"),
shared out between the phases by where the work is: the shares are this model's, not measured.
"""

from __future__ import annotations

from kernel_model.debugger.kernel_regs import Entry, freeze
from kernel_model.debugger.view_records import Change, Phase, Transition
from kernel_model.entry.costs import cost_of
from kernel_model.trace.events import (
    ProcessExited,
    SignalDelivered,
    SyscallReturned,
    TaskSwitched,
)

# How the switch's cost is shared between the phases (trap, save, schedule, mm, tls, return).
SHARES = (0.1, 0.1, 0.3, 0.25, 0.05, 0.2)
# The local APIC timer's vector on x86-64 Linux (arch/x86/include/asm/irq_vectors.h).
LOCAL_TIMER_VECTOR = 0xEC


def h(value) -> str:
    if value is None:
        return "?"
    return value if isinstance(value, str) else f"{value:#x}"


def from_switch(mark, before: dict, after: dict, session) -> Transition:
    """The phases of the context switch recorded at `mark`."""
    bits = session.bits
    info = mark.info.get("switch", {})
    switched = next((e for e in mark.events if isinstance(e, TaskSwitched)), None)
    if switched is None:
        # The kernel picked the same task again (its wait ended by a deadline) or the run
        # ended: no other task took the CPU.
        ended = next((e for e in mark.events if isinstance(e, ProcessExited)), None)
        text = ended.text if ended is not None else (
            "schedule() found no other task to run: the same one goes on.")
        return Transition("switch", "no context switch", (Phase(
            "schedule", "schedule(): nothing else to run", (text,)),), None, "")
    same_mm = bool(info.get("same_mm"))
    cost = cost_of("thread switch" if same_mm else "context switch")
    ns = [cost.ns * s for s in SHARES]
    if same_mm:  # no CR3 write: its share goes to schedule()
        ns[2] += ns[3]
        ns[3] = 0.0
    prev = f"pid {switched.prev_pid}" + (
        f" (thread {switched.prev_tid})" if switched.prev_tid != switched.prev_pid else "")
    nxt = f"pid {switched.pid}" + (
        f" (thread {switched.tid})" if switched.tid != switched.pid else "")
    pc, sp = ("rip", "rsp") if bits == 64 else ("eip", "esp")
    cpu = Entry(before, bits)
    phases = [
        _trap_phase(info, switched, prev, cpu, ns[0]),
        _save_phase(info, before, prev, bits, ns[1], cpu),
        _schedule_phase(switched, prev, nxt, session, ns[2], cpu),
        _mm_phase(same_mm, switched, nxt, ns[3], cpu),
        _tls_phase(info, after, nxt, bits, ns[4], session, cpu),
        _return_phase(mark, info, switched, nxt, after, pc, sp, ns[5]),
    ]
    title = f"context switch: {prev} -> {nxt} ({switched.why})"
    return Transition("switch", title, tuple(phases), cost.ns, cost.source,
                      banner="No trap of its own: the kernel runs another task.")


def _trap_phase(info: dict, switched: TaskSwitched, prev: str, cpu: Entry,
                ns: float) -> Phase:
    why = switched.why
    title: str
    text: tuple[str, ...]
    if info.get("timer"):
        changes = cpu.gate("asm_sysvec_apic_timer_interrupt",
                           f"IDT[{LOCAL_TIMER_VECTOR:#x}]")
        text = ("The local APIC timer interrupts the task in user mode: the CPU enters the "
                f"kernel through IDT vector {LOCAL_TIMER_VECTOR:#x}, pushing the task's ss, "
                "rsp, flags, cs and rip.",
                f"The tick finds {prev}'s time slice used up ({why}) while another task is "
                "runnable, and asks for a reschedule (TIF_NEED_RESCHED): on the way out of "
                "the interrupt the kernel calls schedule().")
        return Phase("trap", "The timer interrupt", text, tuple(changes), ns, kernel=True,
                     regs=freeze(cpu.regs))
    if info.get("state") == "S":
        call = info.get("blocked") or "its call"
        text = (f"{prev} is in the kernel already, in {call}, which must wait: "
                f"{info.get('what') or why}.",
                "The task sleeps (TASK_INTERRUPTIBLE) on a wait queue, and its call calls "
                "schedule() itself: whoever makes the condition true wakes it, and the call "
                "runs again.")
        title = f"The trap: {call} waits"
    elif info.get("state") in ("Z", "X"):
        text = (f"{prev} has ended: do_exit released what it held and left the task dead "
                "(or a zombie for its parent to reap). Its last act is to call schedule(), "
                "which never returns to it.",)
        title = "The trap: the task has exited"
    elif info.get("state") == "T":
        text = (f"{prev} was stopped by a signal: it gives up the CPU until SIGCONT.",)
        title = "The trap: the task is stopped"
    else:
        text = (f"{prev} is in the kernel after a call ({why}): it stays runnable but gives "
                "the CPU to the next task.",)
        title = "The trap: the task gives up the CPU"
    cpu.running("schedule")
    return Phase("trap", title, text, (Change("CPL", "0", "0 (in the kernel already)"),), ns,
                 kernel=True, regs=freeze(cpu.regs))


def _save_phase(info: dict, before: dict, prev: str, bits: int, ns: float,
                cpu: Entry) -> Phase:
    names = ("rip", "rsp", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "eflags") if \
        bits == 64 else ("eip", "esp", "eax", "ebx", "ecx", "edx", "esi", "edi", "ebp",
                         "eflags")
    lines = [f"{n:<6} {h(before.get(n))}" for n in names]
    fs = info.get("fs_base")
    if bits == 64 and fs is not None:
        lines.append(f"fs_base {h(fs)}  (thread.fsbase)")
    text = (f"{prev}'s user registers are on its own kernel stack (pt_regs, pushed when it "
            "entered the kernel); __switch_to_asm pushes the callee-saved registers and "
            "stores the kernel stack pointer in its task_struct (thread.sp).",
            "In the model the task keeps its CPU state (a Unicorn context) in Task.context "
            "until it runs again.")
    cpu.running("__switch_to_asm")
    return Phase("save", "The registers saved in the task", text, (), ns, tuple(lines),
                 kernel=True, regs=freeze(cpu.regs))


def _schedule_phase(switched: TaskSwitched, prev: str, nxt: str, session, ns: float,
                    cpu: Entry) -> Phase:
    states = {"R": "runnable", "S": "waiting", "T": "stopped", "Z": "a zombie", "X": "gone"}
    text = (f"schedule() takes {prev} off the CPU ({switched.why}; it is "
            f"{states.get(switched.prev_state, switched.prev_state)} now) and picks {nxt}: "
            "the task at the front of the run queue.",
            "The model's rule (kernel_model/proc/sched.py): one CPU, first in first out; a "
            "preempted or woken task goes to the back.")
    details = []
    try:
        for t in session.kernel.processes.tasks():
            if t.state == "X":
                continue
            what = f"  waits: {t.blocked.what}" if t.state == "S" and t.blocked else ""
            mark = "->" if t.tid == switched.tid else "  "
            details.append(f"{mark} {t.tid:<6} {t.state}{what}")
    except AttributeError:
        pass
    cpu.running("__schedule")
    return Phase("schedule", f"schedule() chooses {nxt}", text, (), ns, tuple(details),
                 kernel=True, regs=freeze(cpu.regs))


def _mm_phase(same_mm: bool, switched: TaskSwitched, nxt: str, ns: float,
              cpu: Entry) -> Phase:
    cpu.running("switch_mm_irqs_off")
    if same_mm:
        return Phase("mm", "The address space stays",
                     ("Both are threads of one process: they share one mm, so switch_mm "
                      "writes nothing to CR3 and the TLB stays warm.",), (), ns,
                     kernel=True, regs=freeze(cpu.regs))
    text = (f"switch_mm loads CR3 with the page tables of {nxt}: from the next instruction "
            "on, every user address means that process's memory. (PCIDs keep the old TLB "
            "entries tagged rather than flushed.)",
            "In the model each process has its own CPU and memory (a Machine): the kernel "
            "now runs the next task on that one.")
    return Phase("mm", "The address space: CR3", text,
                 (Change("CR3", f"pid {switched.prev_pid}'s page tables",
                         f"pid {switched.pid}'s page tables"),), ns, kernel=True,
                 regs=freeze(cpu.regs))


def _tls_phase(info: dict, after: dict, nxt: str, bits: int, ns: float, session,
               cpu: Entry) -> Phase:
    cpu.running("__switch_to")
    if bits == 64:
        old, new = info.get("fs_base"), after.get("fs_base")
        text = ("__switch_to loads the next task's thread-local storage base: fs_base (with "
                "wrfsbase, or the MSR), where its C library keeps errno, the stack guard "
                "and its thread's data.",)
        changes: tuple[Change, ...] = (Change("fs_base", h(old), h(new)),)
        return Phase("tls", "TLS: fs_base", text, changes, ns, kernel=True,
                     regs=freeze(cpu.regs))
    old_tls = info.get("tls") or []
    new_tls = []
    try:
        new_tls = list(session.kernel.current.tls)
    except AttributeError:
        pass
    changes = tuple(Change(f"GDT[{12 + i}]", h(a), h(b)) for i, (a, b) in
                    enumerate(zip(old_tls, new_tls, strict=False)) if a != b)
    text = ("__switch_to's load_TLS copies the next thread's three TLS descriptors "
            "(set_thread_area's) into GDT entries 12-14, and gs is loaded again so its "
            "hidden base is the new thread's.",)
    return Phase("tls", "TLS: the GDT's TLS entries", text, changes, ns, kernel=True,
                 regs=freeze(cpu.regs))


def _return_phase(mark, info: dict, switched: TaskSwitched, nxt: str, after: dict,
                  pc: str, sp: str, ns: float) -> Phase:
    resumed = next((e for e in mark.events if isinstance(e, SyscallReturned)
                    and e.resumed_from), None)
    signal = next((e for e in mark.events if isinstance(e, SignalDelivered)), None)
    text: tuple[str, ...]
    if info.get("first_run"):
        text = (f"{nxt} runs for the first time: it returns through ret_from_fork, with 0 in "
                "its result register (the child's side of fork/clone), to user mode.",)
    elif resumed is not None:
        text = (f"{nxt} returns from schedule() inside its own waiting call, which runs "
                f"again and now ends: {resumed.text.strip()}",
                "Then its entry path's return takes it back to user mode.")
    else:
        text = (f"{nxt} returns from schedule() where it left the CPU, and its entry path "
                "(or the interrupt) returns to user mode.",)
    if signal is not None:
        text += (f"On the way out a signal is delivered: {signal.text}",)
    changes = (Change(pc, "kernel", h(after.get(pc))), Change(sp, "kernel stack",
                                                             h(after.get(sp))),
               Change("CPL", "0", "3"))
    return Phase("return", f"Back to user mode in {nxt}", text, changes, ns, kernel=False)

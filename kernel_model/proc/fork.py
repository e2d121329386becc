"""fork, vfork and clone (kernel/fork.c copy_process): a new task, in a new process with a
copy of the caller's address space, files and signal handlers, or sharing them, flag by flag.

What a flag shares here, as in Linux:
- CLONE_VM: the address space (the Machine and its Mm); without it the child gets a copy
  (emu.machine.Machine.fork: an eager copy of the pages the parent touched; Unicorn cannot
  share host pages copy-on-write between two CPUs).
- CLONE_FILES: the fd table; without it, a copy whose entries share the open files.
- CLONE_SIGHAND: the signal dispositions; CLONE_THREAD: the process itself (a new thread).
- CLONE_FS: cwd and umask (the model keeps them per process: shared only with CLONE_THREAD).
The child's registers are the parent's as its trap returns, with 0 in the return register.
"""

from __future__ import annotations

import struct
from dataclasses import replace

from emu import registers as R
from kernel_model.files.fdtable import FdTable
from kernel_model.proc.process import Process
from kernel_model.proc.task import SS_DISABLE, Task
from kernel_model.uapi import errnos

CSIGNAL = 0xFF
CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_PIDFD, CLONE_PTRACE, CLONE_VFORK, CLONE_PARENT = 0x1000, 0x2000, 0x4000, 0x8000
CLONE_THREAD, CLONE_NEWNS, CLONE_SYSVSEM, CLONE_SETTLS = 0x10000, 0x20000, 0x40000, 0x80000
CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID = 0x100000, 0x200000
CLONE_DETACHED, CLONE_UNTRACED, CLONE_CHILD_SETTID = 0x400000, 0x800000, 0x1000000
CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER = (0x2000000, 0x4000000,
                                                              0x8000000, 0x10000000)
CLONE_NEWPID, CLONE_NEWNET, CLONE_IO = 0x20000000, 0x40000000, 0x80000000
NAMESPACES = (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER
              | CLONE_NEWPID | CLONE_NEWNET)
SIGCHLD = 17


class CloneRefused(Exception):
    """copy_process refuses: the errno to return, and (for the trace) why."""

    def __init__(self, errno: int, why: str = ""):
        super().__init__(why)
        self.errno = errno
        self.why = why


def check_flags(flags: int) -> None:
    """copy_process's consistency rules (kernel/fork.c), in its order."""
    if flags & (CLONE_NEWNS | CLONE_FS) == (CLONE_NEWNS | CLONE_FS):
        raise CloneRefused(errnos.EINVAL)
    if flags & CLONE_THREAD and not flags & CLONE_SIGHAND:
        raise CloneRefused(errnos.EINVAL)
    if flags & CLONE_SIGHAND and not flags & CLONE_VM:
        raise CloneRefused(errnos.EINVAL)
    if flags & NAMESPACES:
        raise CloneRefused(errnos.EPERM, "namespaces are not modelled in syscall-lab")


def copy_process(k, flags: int, stack: int, parent_tid: int, child_tid: int, tls: int,
                 exit_signal: int | None = None) -> Task:
    """Create the child task (runnable, at the back of the run queue) and return it; the
    caller returns its tid. `k` is the Kernel; the caller is its current task, inside its
    trap (the hook has not written the return yet)."""
    check_flags(flags)
    live = sum(1 for t in k.processes.tasks() if t.state not in ("Z", "X"))
    if live >= k.max_tasks:
        raise CloneRefused(errnos.EAGAIN, f"the model's task limit ({k.max_tasks}, "
                                          "--max-tasks) is reached, as RLIMIT_NPROC would")
    parent = k.current
    pp = parent.process
    tid = k.processes.new_pid()
    m = k.machine
    if flags & CLONE_THREAD:
        process = pp
        child = Task(tid=tid, process=pp, sigmask=parent.sigmask)
        pp.threads.append(child)
        machine = m
    else:
        if flags & CLONE_VM:
            machine, mm, gdt = m, pp.mm, pp.gdt
        else:
            mm0 = pp.mm
            if mm0.total * 2 + mm0.outside + mm0.others() > mm0.limit:
                raise CloneRefused(errnos.ENOMEM, f"a copy of the {mm0.total >> 10} KiB "
                                   "address space does not fit the guest memory limit "
                                   "(--memory-limit), which counts every process")
            spare = k.take_spare_machine(m)
            if spare is not None:
                machine = m.fork(into=spare[0])
                gdt = spare[1]
                if gdt is not None and pp.gdt is not None:
                    gdt.adopt(pp.gdt)
                if k.on_reuse_machine is not None:
                    k.on_reuse_machine(machine)
            else:
                machine = m.fork()
                gdt = pp.gdt.for_machine(machine) if pp.gdt is not None else None
                k.equip(machine)
                if k.on_new_machine is not None:
                    k.on_new_machine(machine)
            mm = mm0.copy_for(machine)
        if flags & CLONE_FILES:
            fds = pp.fds
            if fds is not None:
                fds.users += 1
        else:
            fds = _copy_fds(pp.fds)
        if flags & CLONE_SIGHAND:
            sigactions = pp.sigactions
        else:
            sigactions = {n: replace(a) for n, a in pp.sigactions.items()}
        ppid = pp.ppid if flags & CLONE_PARENT else pp.pid
        process = Process(arch=pp.arch, mm=mm, machine=machine, exe_path=pp.exe_path,
                          exe_bytes=pp.exe_bytes, argv=list(pp.argv), envp=list(pp.envp),
                          pid=tid, ppid=ppid, pgid=pp.pgid, sid=pp.sid, creds=pp.creds,
                          cwd=pp.cwd, umask=pp.umask, auxv=list(pp.auxv), sigactions=sigactions,
                          fds=fds, rlimits=dict(pp.rlimits), symbols=pp.symbols,
                          guest_exe=pp.guest_exe, exe_dev=pp.exe_dev, exe_ino=pp.exe_ino)
        process.gdt = gdt
        process.sysenter_pad = pp.sysenter_pad
        process.vdso_symbols = pp.vdso_symbols
        process.exit_signal = (flags & CSIGNAL) if exit_signal is None else exit_signal
        process.mm_users = pp.mm_users if flags & CLONE_VM else [1]
        if flags & CLONE_VM:
            pp.mm_users[0] += 1
        real_parent = k.processes.get(ppid)
        if real_parent is not None:
            real_parent.children.append(process)
        k.processes.add(process)
        child = process.main_thread
        child.sigmask = parent.sigmask
    if flags & CLONE_VM and not flags & CLONE_VFORK:
        child.altstack = (0, SS_DISABLE, 0)  # a new stack: the old alternate one is not its
    else:
        child.altstack = parent.altstack
    child.tls = list(pp.gdt.entries[12:15]) if pp.gdt is not None and k.arch.bits == 32 \
        else list(parent.tls)
    _child_registers(k, child, machine, flags, stack, tls)
    child.started_ns = k.clock.boottime_ns()
    if flags & CLONE_CHILD_CLEARTID:
        child.clear_child_tid = child_tid
    if flags & CLONE_CHILD_SETTID:
        _put_u32(k, machine, child_tid, tid)
    if flags & CLONE_PARENT_SETTID:
        _put_u32(k, m, parent_tid, tid)
    k.sched.enqueue(child)
    return child


def _copy_fds(fds: FdTable | None) -> FdTable | None:
    if fds is None:
        return None
    table = FdTable()
    for fd in fds.fds():
        table.install_at(fd, fds[fd], cloexec=fds.get_cloexec(fd))
    return table


def _put_u32(k, machine, addr: int, value: int) -> None:
    try:
        machine.write(addr, struct.pack("<I", value & 0xFFFFFFFF))
    except Exception:  # noqa: BLE001  a bad pointer is the caller's: Linux ignores it here
        k.note(f"could not store the tid at {addr:#x}")


def _child_registers(k, child: Task, machine, flags: int, stack: int, tls: int) -> None:
    """The child's CPU state: the parent's as its syscall returns, with 0 as the result,
    the new stack and TLS if given. Written into the child's machine, or (sharing the
    parent's machine) into a context the child takes when it first runs."""
    parent_machine = k.machine
    shared = machine is parent_machine
    saved = parent_machine.save_context() if shared else None
    try:
        _set_return(k, machine, 0)
        if stack:
            machine.sp = stack
        if flags & CLONE_SETTLS:
            if machine.arch.bits == 64:
                machine.set_reg(R.FS_BASE, tls)
            else:
                _set_i386_tls(k, child, machine, tls)
        child.context = machine.save_context()
    finally:
        if saved is not None:
            parent_machine.restore_context(saved)


def _set_return(k, machine, value: int) -> None:
    """What the entry path's return writes, for the child (kernel.Kernel's _return_from)."""
    mech = k.mechanism
    pc = machine.pc
    if mech == "syscall":
        after = pc + 2  # the hook sees the `syscall` instruction itself
        machine.set_regs((R.RAX, R.RCX, R.R11), (value, after, machine.reg(R.EFLAGS)))
        machine.pc = after
    elif mech == "sysenter":
        user_sp = machine.reg(R.EBP)
        arg6 = machine.read_u32(user_sp)
        machine.set_regs((R.EAX, R.ESP, R.EBP), (value, user_sp, arg6))
        machine.pc = k.sysenter_landing_pad or 0
    else:  # int 0x80: the hook already sees the pc past the instruction
        machine.set_reg(R.RAX if machine.arch.bits == 64 else R.EAX, value)


def _set_i386_tls(k, child: Task, machine, u_info: int) -> None:
    """CLONE_SETTLS on i386: a user_desc, as set_thread_area takes it, for the child."""
    from kernel_model.syscalls.tls import tls_descriptor

    try:
        raw = machine.read(u_info, 16)
    except Exception:  # noqa: BLE001
        return
    entry, value = tls_descriptor(raw, child.tls)
    if entry is None:
        return
    child.tls[entry - 12] = value
    process = child.process
    if process.gdt is not None and process.gdt.machine is machine and \
            machine is not k.machine:
        process.gdt.set_entry(entry, value)

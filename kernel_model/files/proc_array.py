"""/proc/<pid>/stat and /proc/<pid>/status (fs/proc/array.c: do_task_stat,
proc_pid_status), field for field in Linux 6.18's order and format, from the model's tasks.

Resident pages are those the process has touched (proc_mem.py reads that from the host
memory behind the guest's), VmPeak the most the process ever mapped, VmHWM the most it was
seen resident. What the model does not track is reported as Linux reports a quiet,
unremarkable task: page faults and child times are 0, and capabilities are those of the
process's uid (all for root, none otherwise). CPU time is the modelled time of the
instructions each task ran (kernel_model.clock.INSN_PS), in the USER_HZ ticks (100 a
second) Linux reports. Context switches are the model scheduler's, from one task to
another (a CPU left idle while a lone task sleeps is no switch here)."""

from __future__ import annotations

import os

from emu.machine import PROT_EXEC, PROT_WRITE
from kernel_model.clock import INSN_PS
from kernel_model.files.proc_layout import mm_layout
from kernel_model.files.proc_mem import rss_split

PAGE = 4096
TICK_NS = 10_000_000  # USER_HZ = 100
RLIM_INFINITY = (1 << 64) - 1
RLIMIT_RSS, RLIMIT_SIGPENDING = 5, 11
# task->flags (include/linux/sched.h)
PF_EXITING, PF_POSTCOREDUMP, PF_FORKNOEXEC, PF_SIGNALED = 0x4, 0x8, 0x40, 0x400
PF_NOFREEZE, PF_RANDOMIZE = 0x8000, 0x400000
CAP_FULL = (1 << 41) - 1  # CAP_LAST_CAP is 40 (CAP_CHECKPOINT_RESTORE)
NODES_WORDS = 32  # CONFIG_NODES_SHIFT=10: Mems_allowed prints 1024 bits

STATE_NAMES = {"R": "R (running)", "S": "S (sleeping)", "D": "D (disk sleep)",
               "T": "T (stopped)", "t": "t (tracing stop)", "X": "X (dead)",
               "Z": "Z (zombie)"}


# -- what a task looks like from outside ----------------------------------------------------
def task_state(task) -> str:
    """The letter ps shows. A wait only SIGKILL ends (vfork's, TASK_KILLABLE) is D; a
    thread-group leader that exited before its threads stays a zombie until they end."""
    state = task.state
    blocked = task.blocked
    if state == "S" and blocked is not None and not blocked.interruptible:
        return "D"
    process = task.process
    if state == "X" and task is process.main_thread and not process.reaped:
        return "Z"
    return state


def visible_threads(process) -> list:
    """The threads /proc/<pid>/task lists: the live ones, and the leader even once it has
    exited (it is released with the last thread)."""
    return [t for t in process.threads if t is process.main_thread or t.state != "X"]


def is_zombie(process) -> bool:
    """Ended, not yet reaped: its memory and files are gone (exit_mm, exit_files)."""
    ended = process.exit_code is not None or process.killed_by is not None
    return ended and not process.reaped


def has_mm(process) -> bool:
    """Whether /proc shows the process's memory: all but a zombie's (the one reaped
    process /proc still shows, the run's own, is shown as it was when it ended)."""
    return not is_zombie(process)


def comm(process) -> str:
    """TASK_COMM_LEN 16: the program's name as exec set it, at most 15 bytes."""
    name = os.path.basename(process.guest_exe or process.exe_path)
    return os.fsencode(name)[:15].decode("utf-8", "replace")


def _sig_bits(signos) -> int:
    mask = 0
    for signo in signos:
        if 1 <= signo <= 64:
            mask |= 1 << (signo - 1)
    return mask


def pending_mask(task) -> int:
    return _sig_bits(p[0] for p in task.pending)


def ignored_caught(process) -> tuple[int, int]:
    """SigIgn and SigCgt: handlers SIG_IGN (1) and handlers proper (addresses)."""
    ign = _sig_bits(n for n, a in process.sigactions.items() if a.handler == 1)
    cgt = _sig_bits(n for n, a in process.sigactions.items() if a.handler > 1)
    return ign, cgt


def _rlimit(process, resource: int) -> int:
    from kernel_model.syscalls.info import RLIMITS

    return process.rlimits.get(resource, RLIMITS.get(resource, (RLIM_INFINITY, 0)))[0]


def _cpu_ticks(tasks) -> int:
    return sum(t.insns for t in tasks) * INSN_PS // 1000 // TICK_NS


def task_flags(task, table) -> int:
    process = task.process
    flags = PF_RANDOMIZE
    # copy_process sets PF_FORKNOEXEC in every new task; exec clears it. The first
    # process was exec'd by the shell that ran syscall-lab.
    if task is not process.main_thread or (process is not table.first
                                           and not process.exec_done):
        flags |= PF_FORKNOEXEC
    if not has_mm(process) or task_state(task) in ("Z", "X"):
        flags |= PF_EXITING | PF_POSTCOREDUMP | PF_NOFREEZE  # do_exit
        if process.killed_by is not None:
            flags |= PF_SIGNALED
    return flags


def task_exit_code(task) -> int:
    """task->exit_code: the wait status once a zombie, the stop signal while stopped."""
    process = task.process
    if not has_mm(process):
        return process.wait_status
    if task.state == "T" and process.stop_report is not None:
        return process.stop_report
    return 0


# -- the address space ----------------------------------------------------------------------
def _vmas(process) -> list:
    return [v for v in process.mm.vmas if v.name != "[vsyscall]"]  # the gate area: no VMA


def _page_tables_kb(vmas) -> int:
    """mm_pgtables_bytes: one 4 KiB table per 2 MiB (PTEs), 1 GiB (PMDs) and 512 GiB
    (PUDs) span the mappings reach."""
    tables = 0
    for shift in (21, 30, 39):
        spans: set[int] = set()
        for v in vmas:
            spans.update(range(v.start >> shift, ((v.end - 1) >> shift) + 1))
        tables += len(spans)
    return tables * PAGE // 1024


def statm_text(process) -> str:
    """fs/proc/task_mmu.c task_statm: size, resident, shared (file and shmem pages), text,
    lib (always 0), data (data and stack), dt (always 0), in pages."""
    vmas = _vmas(process)
    anon, file, shmem = rss_split(process)
    sizes = _sizes(process, vmas)
    fields = (sum(v.size for v in vmas), anon + file + shmem, file + shmem, sizes["text"], 0,
              sizes["data"] + sizes["stack"], 0)
    return " ".join(str(f // PAGE) for f in fields) + "\n"


def _sizes(process, vmas) -> dict[str, int]:
    """task_mem's classes: data is private, writable and not the stack (VmData); exec_vm
    is executable and read-only (VmExe is the program's text of it, VmLib the rest)."""
    layout = mm_layout(process)
    text = 0
    if layout.end_code:
        text = (-(-layout.end_code // PAGE) * PAGE - (layout.start_code & ~(PAGE - 1)))
    return {
        "data": sum(v.size for v in vmas if v.prot & PROT_WRITE and not v.shared
                    and not v.grows_down),
        "stack": sum(v.size for v in vmas if v.grows_down),
        "exec": sum(v.size for v in vmas if v.prot & PROT_EXEC and not v.prot & PROT_WRITE
                    and not v.grows_down),
        "text": text,
    }


def _mem_lines(process) -> str:
    vmas = _vmas(process)
    total = sum(v.end - v.start for v in vmas)
    sizes = _sizes(process, vmas)
    data, stack, exec_vm, text = sizes["data"], sizes["stack"], sizes["exec"], sizes["text"]
    anon, file, shmem = rss_split(process)
    rss = anon + file + shmem
    mm = process.mm
    mm.rss_peak = max(getattr(mm, "rss_peak", 0), rss)  # seen at the reads only
    gate = sum(v.size for v in mm.vmas if v.name == "[vsyscall]")
    peak = max(getattr(mm, "peak", 0) - gate, total)
    lines = [("VmPeak", peak), ("VmSize", total), ("VmLck", 0), ("VmPin", 0),
             ("VmHWM", mm.rss_peak), ("VmRSS", rss), ("RssAnon", anon), ("RssFile", file),
             ("RssShmem", shmem),
             ("VmData", data), ("VmStk", stack), ("VmExe", text),
             ("VmLib", max(exec_vm - text, 0)), ("VmPTE", _page_tables_kb(vmas) * 1024),
             ("VmSwap", 0), ("HugetlbPages", 0)]
    out = "".join(f"{name}:\t{size // 1024:8d} kB\n" for name, size in lines)
    return (out + "CoreDumping:\t0\nTHP_enabled:\t1\n"
            "untag_mask:\t0xffffffffffffffff\n")  # an x86-64 kernel, LAM unused


# -- the two texts ----------------------------------------------------------------------------
def stat_text(task, table, *, whole: bool) -> str:
    """One line, 52 fields (do_task_stat). `whole`: /proc/<pid>/stat, whose times add up
    the whole thread group; task/<tid>/stat counts the one thread."""
    process = task.process
    state = task_state(task)
    alive = has_mm(process)
    layout = mm_layout(process) if alive else None
    vsize = sum(v.size for v in _vmas(process)) if alive else 0
    ign, cgt = ignored_caught(process)
    utime = _cpu_ticks(process.threads if whole else [task])
    mem = ((layout.start_code, layout.end_code, layout.start_stack) if layout
           else (0, 0, 0))
    tail = ((layout.start_data, layout.end_data, layout.start_brk, layout.arg_start,
             layout.arg_end, layout.env_start, layout.env_end) if layout else (0,) * 7)
    fields = [
        state, process.ppid, process.pgid, process.sid,
        0, -1,  # tty_nr (no controlling terminal in the model), tpgid
        task_flags(task, table),
        0, 0, 0, 0,  # minflt cminflt majflt cmajflt
        utime, 0, 0, 0,  # utime stime cutime cstime
        20, 0,  # priority (120 - 100: SCHED_OTHER, nice 0), nice
        len(visible_threads(process)), 0,  # num_threads, itrealvalue
        task.started_ns // TICK_NS,
        vsize, sum(rss_split(process)) // PAGE if alive else 0,  # vsize, rss in pages
        _rlimit(process, RLIMIT_RSS),
        *mem,
        0, 0,  # kstkesp, kstkeip: only shown for a task dumping core
        # The old signal fields, decimal and only the first 31 signals.
        pending_mask(task) & 0x7FFFFFFF, task.sigmask & 0x7FFFFFFF,
        ign & 0x7FFFFFFF, cgt & 0x7FFFFFFF,
        0 if state == "R" else 1,  # wchan: a 0/1 flag, never the address
        0, 0,  # nswap, cnswap
        process.exit_signal if task is process.main_thread else -1,
        0, 0, 0,  # processor (the model's one CPU), rt_priority, policy (SCHED_OTHER)
        0, 0, 0,  # delayacct_blkio_ticks, guest_time, cguest_time
        *tail,
        task_exit_code(task),
    ]
    return f"{task.tid} ({comm(process)}) " + " ".join(str(f) for f in fields) + "\n"


def _escaped(name: str) -> str:
    return name.replace("\\", "\\\\").replace("\n", "\\n")


def fd_size(fds) -> int:
    """max_fds of the fd table: the embedded 64 slots, then 1 KiB arrays of pointers grown
    in powers of two (fs/file.c: alloc_fdtable)."""
    if fds is None:
        return 0
    top = max(fds.fds(), default=0)
    if top < 64:
        return 64
    n = 1
    while n < top // 128 + 1:
        n *= 2
    return n * 128


def status_text(task, table) -> str:
    process = task.process
    alive = has_mm(process)
    uid, gid = process.uid, process.gid
    # real, effective, saved and file-system ids, and the supplementary groups, where the
    # process keeps credentials of its own (kernel_model/proc/creds.py); else one id
    creds = getattr(process, "creds", None)
    uids = [getattr(creds, f, uid) for f in ("ruid", "euid", "suid", "fsuid")]
    gids = [getattr(creds, f, gid) for f in ("rgid", "egid", "sgid", "fsgid")]
    groups = "".join(f"{g} " for g in getattr(creds, "groups", ())) or " "
    ign, cgt = ignored_caught(process)
    queued = sum(len(t.pending) for t in table.tasks()  # an ended task's are flushed
                 if t.process.uid == uid and t.state not in ("Z", "X"))
    caps = CAP_FULL if uids[1] == 0 else 0  # the effective uid's (cap_emulate_setxuid)
    out = [f"Name:\t{_escaped(comm(process))}\n"]
    if alive:
        out.append(f"Umask:\t{process.umask:04o}\n")
    out.append(
        f"State:\t{STATE_NAMES[task_state(task)]}\n"
        f"Tgid:\t{process.pid}\n"
        "Ngid:\t0\n"
        f"Pid:\t{task.tid}\n"
        f"PPid:\t{process.ppid}\n"
        "TracerPid:\t0\n"
        "Uid:\t" + "\t".join(map(str, uids)) + "\n"
        "Gid:\t" + "\t".join(map(str, gids)) + "\n"
        f"FDSize:\t{fd_size(process.fds) if alive else 0}\n"
        f"Groups:\t{groups}\n"
        f"NStgid:\t{process.pid}\n"
        f"NSpid:\t{task.tid}\n"
        f"NSpgid:\t{process.pgid}\n"
        f"NSsid:\t{process.sid}\n"
        "Kthread:\t0\n")
    if alive:
        out.append(_mem_lines(process))
    out.append(
        f"Threads:\t{len(visible_threads(process))}\n"
        f"SigQ:\t{queued}/{_rlimit(process, RLIMIT_SIGPENDING)}\n"
        f"SigPnd:\t{pending_mask(task):016x}\n"
        "ShdPnd:\t0000000000000000\n"  # the model queues every signal on a thread
        f"SigBlk:\t{task.sigmask:016x}\n"
        f"SigIgn:\t{ign:016x}\n"
        f"SigCgt:\t{cgt:016x}\n"
        "CapInh:\t0000000000000000\n"
        f"CapPrm:\t{caps:016x}\n"
        f"CapEff:\t{caps:016x}\n"
        f"CapBnd:\t{CAP_FULL:016x}\n"
        "CapAmb:\t0000000000000000\n"
        "NoNewPrivs:\t0\n"
        "Seccomp:\t0\n"
        "Seccomp_filters:\t0\n"
        "Speculation_Store_Bypass:\tthread vulnerable\n"
        "SpeculationIndirectBranch:\tconditional enabled\n"
        "Cpus_allowed:\t1\n"  # the model's one CPU
        "Cpus_allowed_list:\t0\n"
        "Mems_allowed:\t" + ",".join(["00000000"] * (NODES_WORDS - 1) + ["00000001"]) + "\n"
        "Mems_allowed_list:\t0\n"
        f"voluntary_ctxt_switches:\t{task.nvcsw}\n"  # the one task's, even for the group
        f"nonvoluntary_ctxt_switches:\t{task.nivcsw}\n")
    return "".join(out)

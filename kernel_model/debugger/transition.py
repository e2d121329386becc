"""A transition told in phases: what the CPU and the kernel did between one user instruction
and the next, built from the events the kernel model recorded (and, for calls into the vDSO
or the vsyscall page, from the instructions the session stepped through).

Pure data: each Phase has a title, one or two plain sentences, the changes it makes
(registers, privilege level, stack) and its modelled cost. The screen only lays it out.

Costs: docs/kernel_facts.md §6 measures whole round trips, not phases. The crossing's cost
is shown on the phases that pay it (entry and return) as a share of the measured total, and
the total is always shown with its source, so the paths (syscall, int 0x80, sysenter, vDSO,
vsyscall) can be compared side by side.
"""

from __future__ import annotations

from kernel_model.debugger.kernel_regs import Entry, freeze
from kernel_model.debugger.view_records import Change, Phase, TableRow, Transition
from kernel_model.entry.costs import COSTS, cost_of
from kernel_model.entry.mechanism import Mechanism
from kernel_model.trace.events import (
    MemAccess,
    ProcessExited,
    ProcessForked,
    RegChange,
    SignalDelivered,
    StackPush,
    SyscallBlocked,
    SyscallEntered,
    SyscallReturned,
    VdsoCalled,
    VsyscallCalled,
)


def h(value: int | None) -> str:
    return "?" if value is None else f"{value:#x}"


def comparison() -> tuple[tuple[str, float], ...]:
    """The measured costs of the ways to get the time or make a call, for a side-by-side
    bar (docs/kernel_facts.md §6)."""
    return ((Mechanism.SYSCALL, COSTS["syscall"].ns),
            (Mechanism.INT80, COSTS["int 0x80"].ns), (Mechanism.SYSENTER, COSTS["sysenter"].ns),
            ("vDSO", COSTS["vdso"].ns),
            ("vsyscall (emulated)", COSTS["vsyscall emulated"].ns))


def split_args(call: str) -> tuple[str, list[str]]:
    """'write(1, "a, b", 3)' -> ('write', ['1', '"a, b"', '3']), respecting quotes and
    brackets (strace's own text is the most faithful decoding we have)."""
    name, _, rest = call.partition("(")
    depth = 0
    quote = False
    args: list[str] = []
    cur = ""
    i = 0
    body = rest
    while i < len(body):
        ch = body[i]
        if quote:
            cur += ch
            if ch == "\\" and i + 1 < len(body):
                cur += body[i + 1]
                i += 2
                continue
            if ch == '"':
                quote = False
        elif ch == '"':
            quote = True
            cur += ch
        elif ch in "([{":
            depth += 1
            cur += ch
        elif ch in ")]}":
            if depth == 0 and ch == ")":
                if cur.strip():
                    args.append(cur.strip())
                return name.strip(), args
            depth -= 1
            cur += ch
        elif ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += ch
        i += 1
    if cur.strip():
        args.append(cur.strip())
    return name.strip(), args


def table_rows(abi_name: str, nr: int, radius: int = 3) -> tuple[TableRow, ...]:
    from kernel_model.entry.abi import ABIS
    from kernel_model.syscalls.registry import lookup

    abi = ABIS[abi_name]
    prefix = "__x64_sys_" if abi_name == "x86_64" else "__ia32_sys_"
    rows = []
    for n in range(max(0, nr - radius), nr + radius + 1):
        name = abi.table.get(n)
        if name is None:
            if n == nr:
                rows.append(TableRow(n, "(none)", "sys_ni_syscall", False, True))
            continue
        rows.append(TableRow(n, name, prefix + name, lookup(abi_name, name) is not None,
                             n == nr))
    return tuple(rows)


# -- crossings into the kernel -------------------------------------------------------------

def from_crossing(mark, before: dict, after: dict, session) -> Transition:
    """The phases of the crossing recorded at `mark` (a syscall, int 0x80 or sysenter)."""
    entered = next((e for e in mark.events if isinstance(e, SyscallEntered)), None)
    returned = next((e for e in mark.events if isinstance(e, SyscallReturned)), None)
    extra = [e for e in mark.events if isinstance(e, (SignalDelivered, ProcessExited))]
    bits = session.bits
    if entered is None:
        return Transition(mark.kind, "(no syscall recorded)", (Phase(
            "none", "No crossing", ("The kernel model recorded nothing here.",)),), None, "")
    mech = entered.mechanism
    cost = cost_of(mech, bits)
    share = {Mechanism.SYSCALL: (0.4, 0.2, 0.4), Mechanism.INT80: (0.3, 0.2, 0.5),
             Mechanism.SYSENTER: (0.4, 0.2, 0.4)}[mech]
    entry_ns, work_ns, exit_ns = (cost.ns * s for s in share)
    blocked = next((e for e in mark.events if isinstance(e, SyscallBlocked)), None)
    title = returned.text.strip() if returned is not None else blocked.text if \
        blocked is not None else f"{entered.name}(...)"
    phases = [user_phase(entered, before, bits)]
    cpu = Entry(before, bits)
    if mech == Mechanism.SYSCALL:
        phases += syscall_entry(entered, cpu, entry_ns)
    elif mech == Mechanism.INT80:
        phases += int80_entry(entered, cpu, entry_ns)
    else:
        phases += sysenter_entry(entered, before, cpu, session, entry_ns)
    phases.append(pt_regs_phase(entered, before, bits, cpu))
    phases.append(table_phase(entered, cpu))
    phases.append(handler_phase(entered, returned, work_ns, cpu))
    forked = next((e for e in mark.events if isinstance(e, ProcessForked)), None)
    if forked is not None:
        phases.append(fork_phase(forked, session, cpu))
    if blocked is not None and returned is None:
        phases.append(wait_phase(blocked, exit_ns))
    else:
        phases.append(return_phase(entered, returned, before, after, bits, exit_ns, extra))
    return Transition(mech,
                      title, tuple(phases), cost.ns, cost.source, comparison=comparison())


def _arg_regs(abi: str) -> tuple[str, ...]:
    return ("rdi", "rsi", "rdx", "r10", "r8", "r9") if abi == "x86_64" else (
        "ebx", "ecx", "edx", "esi", "edi", "ebp")


def _nr_register(e: SyscallEntered) -> int:
    """The number register as the program left it (pt_regs' orig_ax keeps all of it);
    e.nr is the int the table is indexed with."""
    if e.abi != "x86_64":
        return e.nr
    return e.regs.get("rax", e.nr) if e.regs else e.nr


def user_phase(e: SyscallEntered, before: dict, bits: int) -> Phase:
    nr_reg = "rax" if e.abi == "x86_64" else "eax"
    regs = _arg_regs(e.abi)
    name = e.name or "(no such syscall)"
    table = e.table
    full = _nr_register(e)
    shown_nr = f"{e.nr:<5}" if full == e.nr else f"{full:#x}"
    lines = [f"{nr_reg} = {shown_nr} -> {table}[{e.nr}] = {name}"]
    for i, r in enumerate(regs):
        shown = e.args[i] if i < len(e.args) else None
        lines.append(f"{r:>3} = {h(shown)}  (argument {i + 1})")
    warning = ""
    if e.mechanism == Mechanism.INT80 and bits == 64:
        cut = []
        for r in ("rbx", "rcx", "rdx", "rsi", "rdi", "rbp"):
            v = before.get(r, 0)
            if v >> 32:
                cut.append(f"{r}={v:#x} -> e{r[1:]}={v & 0xFFFFFFFF:#x}")
        warning = ("int 0x80 from 64-bit code: the i386 table, and only the low 32 bits of "
                   "each register count" + (": " + "; ".join(cut) if cut else "."))
    if full != e.nr:
        warning = "; ".join(filter(None, [warning, (
            f"{nr_reg} = {full:#x}: the dispatcher takes the number as a 32-bit int, so "
            f"the table sees {e.nr}" + (" (bit 30 set: an x32 number, which this kernel "
                                        "does not serve)" if e.nr > 0 and
                                        e.nr & 0x40000000 else ""))]))
    how = {Mechanism.SYSCALL: "then executes `syscall`.",
           Mechanism.INT80: "then executes `int 0x80`.",
           Mechanism.SYSENTER: "then calls __kernel_vsyscall, which ends in `sysenter`.",
           }[e.mechanism]
    text = (f"User mode (CPL 3). The program put the syscall number in {nr_reg} and the "
            f"arguments in {', '.join(regs)}, {how}",)
    return Phase("user", f"User registers and the {e.abi} ABI", text, (), 0.0, tuple(lines),
                 warning=warning)


def syscall_entry(e: SyscallEntered, cpu: Entry, ns: float) -> list[Phase]:
    saved = {c.name: c.new for c in e.cpu_effects if isinstance(c, RegChange)}
    changes = cpu.syscall(saved["rcx"], saved["r11"])
    text = ("`syscall` saves the return address in rcx and the flags in r11, masks flags "
            "with IA32_FMASK, switches to ring 0 and jumps to the address in the IA32_LSTAR "
            "MSR: entry_SYSCALL_64.",
            "It pushes nothing and keeps the user stack pointer: the kernel must switch "
            "stacks itself.")
    return [Phase("cpu", "The CPU: syscall", text, tuple(changes), ns, kernel=True,
                  regs=freeze(cpu.regs))]


def int80_entry(e: SyscallEntered, cpu: Entry, ns: float) -> list[Phase]:
    changes = cpu.gate("asm_int80_emulation", "IDT[0x80]")
    gate = Phase(
        "gate", "The IDT gate for vector 0x80",
        ("`int 0x80` makes the CPU look up entry 0x80 of the interrupt descriptor table: a "
         "gate with DPL 3, so user code may use it, pointing at asm_int80_emulation "
         "(entry_INT80_compat before Linux 6.7).",
         "The CPU switches to ring 0 and to the kernel stack named in the TSS."),
        tuple(changes), ns * 0.5, kernel=True, regs=freeze(cpu.regs))
    pushes = [c for c in e.cpu_effects if isinstance(c, StackPush)]
    lines = []
    for i, p in enumerate(reversed(pushes)):  # 8-byte slots: the gate is a 64-bit kernel's
        where = "top" if i == 0 else f"+{8 * i}"
        lines.append(f"{where:>4}  {p.name:<6} {h(p.value)}")
    frame = Phase(
        "frame", "The frame the CPU pushes",
        ("On the kernel stack the CPU pushes the user's ss and stack pointer, the flags, cs "
         "and the return address, 8 bytes each (the kernel runs in 64-bit mode, even for "
         "an i386 process): what `iret` will pop to come back.",),
        tuple(Change("stack", "", f"push {p.name} = {h(p.value)}") for p in pushes),
        ns * 0.5, tuple(lines), kernel=True, regs=freeze(cpu.regs))
    return [gate, frame]


def sysenter_entry(e: SyscallEntered, before: dict, cpu: Entry, session,
                   ns: float) -> list[Phase]:
    esp = before.get("esp", 0)
    ebp = before.get("ebp", 0)
    lines = []
    try:
        m = session.machine
        saved = [("saved ebp", 0), ("saved edx", 4), ("saved ecx", 8), ("return address", 12)]
        for label, off in saved:
            lines.append(f"[{esp + off:#010x}] {label:<15} {m.read_u32(esp + off):#x}")
    except Exception:
        pass
    stub = Phase(
        "pushes", "__kernel_vsyscall: the pushes",
        ("The vDSO's __kernel_vsyscall saved ecx, edx and ebp on the user stack and copied "
         "esp into ebp: `sysenter` itself remembers no stack and no return address.",),
        (Change("ebp", "user ebp", f"{ebp:#x} (the user stack pointer)"),),
        0.0, tuple(lines))
    enter = Phase(
        "cpu", "The CPU: sysenter",
        ("`sysenter` loads cs from IA32_SYSENTER_CS (and ss, the next selector), esp from "
         "IA32_SYSENTER_ESP (the kernel stack) and eip from IA32_SYSENTER_EIP "
         "(entry_SYSENTER_compat), in ring 0.",
         "Nothing is saved: the kernel finds the user stack in ebp and the sixth argument "
         "at [ebp]."),
        tuple(cpu.sysenter()), ns, kernel=True, regs=freeze(cpu.regs))
    return [stub, enter]


def pt_regs_phase(e: SyscallEntered, before: dict, bits: int, cpu: Entry) -> Phase:
    order: tuple[str, ...]
    if e.abi == "x86_64":
        order = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax",
                 "rcx", "rdx", "rsi", "rdi")
    else:
        order = ("ebx", "ecx", "edx", "esi", "edi", "ebp", "eax")
    lines = []
    now = cpu.regs  # what the CPU holds now: after `syscall`, rcx and r11 are its own
    for r in order:
        v = now.get(r)
        if v is None and bits == 64:
            v = now.get("r" + r[1:])
        lines.append(f"{r:<4} {h(v)}")
    full = _nr_register(e)
    lines.append(f"orig_{'rax' if e.abi == 'x86_64' else 'eax'} "
                 f"{e.nr if full == e.nr else hex(full)}  (the number register as it was, "
                 "kept for restarts and ptrace)")
    where = {Mechanism.SYSCALL: "entry_SYSCALL_64 switches to the kernel stack and pushes",
             Mechanism.INT80: "asm_int80_emulation pushes, below the CPU's frame,",
             Mechanism.SYSENTER: "entry_SYSENTER_compat builds the frame the CPU did not, "
                                 "and pushes"}
    text = (f"{where[e.mechanism]} the user registers as struct pt_regs, so the return "
            "path can restore every one of them.",)
    changes = cpu.to_task_stack() if e.mechanism == Mechanism.SYSCALL else []
    return Phase("pt_regs", "The kernel saves pt_regs", text, tuple(changes), None,
                 tuple(lines), kernel=True, regs=freeze(cpu.regs))


def table_phase(e: SyscallEntered, cpu: Entry) -> Phase:
    rows = table_rows(e.abi, e.nr)
    dispatcher = "do_syscall_64" if e.abi == "x86_64" else "do_int80_syscall_32" if \
        e.mechanism == Mechanism.INT80 else "do_fast_syscall_32"
    if e.name is None:
        text = (f"{dispatcher} finds no entry {e.nr} in {e.table}: the result is -ENOSYS.",)
    elif not e.implemented:
        text = (f"{dispatcher} calls {e.table}[{e.nr}], {e.name}: real in Linux, not "
                "modelled here, so -ENOSYS.",)
    else:
        text = (f"{dispatcher} checks the number against the table's size and calls "
                f"{e.table}[{e.nr}]: {e.name}.",)
    cpu.running(dispatcher)
    return Phase("table", f"{e.table}[{e.nr}]", text, (), None, table=rows,
                 table_name=e.table, kernel=True, regs=freeze(cpu.regs))


def handler_phase(e: SyscallEntered, r: SyscallReturned | None, ns: float,
                  cpu: Entry) -> Phase:
    details = []
    if r is not None:
        _name, args = split_args(r.text[:r.text.rfind("=")].rstrip())
        regs = _arg_regs(e.abi)
        for i, a in enumerate(args):
            details.append(f"{regs[i] if i < len(regs) else '?':>3}: {a}")
        for eff in r.effects:
            if isinstance(eff, MemAccess):
                verb = "wrote" if eff.write else "read"
                details.append(f"{verb} {eff.size} bytes at {eff.addr:#x}")
        if r.note:
            details.append(f"note: {r.note}")
    result = "never returns" if r is None or r.ret is None else f"returns {r.ret}"
    title = f"The handler: {e.name or e.nr}"
    text: tuple[str, ...] = (
        f"The kernel runs {e.name or 'nothing'} with the decoded arguments: it {result}.",)
    if r is not None and r.ret is not None and -4095 <= r.ret < 0:
        text += ("A negative value is -errno: the C library turns it into -1 and errno.",)
    cpu.running(next((row.handler for row in table_rows(e.abi, e.nr, 0)), "sys_ni_syscall"))
    return Phase("handler", title, text, (), ns, tuple(details), kernel=True,
                 regs=freeze(cpu.regs))


def fork_phase(e: ProcessForked, session, cpu: Entry) -> Phase:
    """copy_process: the new task, a copy of the caller (or sharing with it, flag by
    flag)."""
    from kernel_model.proc import fork as F

    flags = e.flags
    shared = [what for flag, what in ((F.CLONE_VM, "the address space"),
                                      (F.CLONE_FILES, "the fd table"),
                                      (F.CLONE_SIGHAND, "the signal handlers"),
                                      (F.CLONE_FS, "cwd and umask")) if flags & flag]
    if e.thread:
        title = f"copy_process: thread {e.tid}"
        text = (f"A new thread, tid {e.tid}, in the same process (CLONE_THREAD): it shares "
                f"{', '.join(shared) or 'everything'} with its creator.",
                "It gets its own registers (a copy of the caller's, 0 in the result "
                "register, the new stack and TLS clone was given), its own signal mask, and "
                "a place at the back of the run queue.")
    else:
        copied = [what for flag, what in ((F.CLONE_VM, "the address space"),
                                          (F.CLONE_FILES, "the fd table"),
                                          (F.CLONE_SIGHAND, "the signal handlers"))
                  if not flags & flag]
        title = f"copy_process: child pid {e.pid}, a copy"
        text = (f"The child, pid {e.pid}, is a copy of its parent {e.parent_pid}: "
                f"{', '.join(copied) or 'nothing'} copied"
                + (f", {', '.join(shared)} shared" if shared else "") + ".",
                "Its address space is a copy of every page the parent touched (the model "
                "copies them at once, on a new CPU; Linux shares them copy-on-write); its "
                "registers are the parent's as the call returns, with 0 in the result "
                "register. It waits at the back of the run queue: the parent goes on.")
    details = []
    try:
        child = session.kernel.processes.get(e.pid)
        if child is not None and not e.thread:
            vmas = list(child.mm.vmas)
            details.append(f"the child's mappings, copied ({len(vmas)}):")
            for v in vmas[:8]:
                details.append(f"{v.start:#x}-{v.end:#x} {v.name}")
    except AttributeError:
        pass
    cpu.running("copy_process")
    return Phase("fork", title, text, (), None, tuple(details), kernel=True,
                 regs=freeze(cpu.regs))


def wait_phase(b: SyscallBlocked, ns: float) -> Phase:
    """A call that must wait: no return to user mode yet; the scheduler runs another task."""
    return Phase("wait", "The call waits: no return yet",
                 (f"The handler cannot finish now: it waits for {b.what}. The task sleeps on "
                  "a wait queue and the kernel switches to another task (the next step).",
                  "When it is woken the call runs again and returns then: strace shows "
                  f"`{b.text}` now and a `<... resumed>` line later."), (), ns, kernel=True)


def return_phase(e: SyscallEntered, r: SyscallReturned | None, before: dict, after: dict,
                 bits: int, ns: float, extra) -> Phase:
    ret_reg = "rax" if bits == 64 else "eax"
    pc_reg = "rip" if bits == 64 else "eip"
    if r is None or r.ret is None or any(isinstance(x, ProcessExited) for x in extra):
        exit_text = next((x.text for x in extra if isinstance(x, ProcessExited)), "")
        return Phase("return", "No return: the process ends",
                     ("The task exits: the kernel tears down the address space and never "
                      "goes back to user mode.", exit_text), (), ns, kernel=True)
    changes = [Change(ret_reg, h(before.get(ret_reg)), f"{h(after.get(ret_reg))} "
                      f"(= {r.ret})"),
               Change(pc_reg, "kernel", h(after.get(pc_reg))),
               Change("CPL", "0", "3")]
    text: tuple[str, ...]
    sig = [x for x in extra if isinstance(x, SignalDelivered)]
    if e.mechanism == Mechanism.SYSCALL:
        title = "sysret: back to user mode"
        text = ("`sysret` reloads rip from rcx and rflags from r11 and drops to ring 3; the "
                "result is in rax.",)
        changes.insert(2, Change("rflags", "kernel", h(after.get("eflags"))))
    elif e.mechanism == Mechanism.INT80:
        title = "iret: back to user mode"
        text = ("`iret` pops eip, cs, eflags, esp and ss from the frame: the slow part of "
                "int 0x80 (a same-ring IRET alone is ~78 ns).",
                f"The result is in {ret_reg}; every other register is as it was.")
    else:
        pad = r.return_pc
        title = "Back to the landing pad"
        text = (f"The kernel returns (sysexit) to the landing pad in __kernel_vsyscall at "
                f"{pad:#x}, not to the caller: esp <- ebp, and the stub pops ebp, edx, ecx "
                "and returns.",)
        changes.append(Change("esp", "kernel stack", h(after.get("esp"))))
    if sig:
        text += (f"On the way out a signal is delivered: {sig[0].text}",)
    return Phase("return", title, text, tuple(changes), ns, kernel=False)


# -- calls that do not cross: the vDSO and the vsyscall page ---------------------------------

def from_call(kind: str, target: int | None, trace: list[dict], before: dict,
              session, title: str | None = None) -> Transition:
    if kind == "vsyscall":
        return _vsyscall(target, trace, before, session)
    return _vdso(target, trace, before, session, title)


def short(text: str) -> str:
    for size in ("qword ptr ", "dword ptr ", "word ptr ", "byte ptr "):
        text = text.replace(size, "")
    return text


def _insn_line(entry) -> str:
    i = entry["insn"]
    return short(i.text) if i is not None else "(bad)"


CLOCK_NAMES = {0: "REALTIME", 1: "MONOTONIC", 4: "MONOTONIC_RAW", 5: "REALTIME_COARSE",
               6: "MONOTONIC_COARSE", 7: "BOOTTIME", 11: "TAI"}


def vvar_field(offset: int) -> str:
    """The name of the vdso_time_data field at `offset` (kernel_model/vdso/vvar.py)."""
    try:
        from kernel_model.vdso import vvar as V
    except ImportError:
        return f"+{offset:#x}"
    if offset < V.CS_BASES * V.VC_SIZE:
        which, o = divmod(offset, V.VC_SIZE)
        prefix = "" if which == 0 else "raw."
        names = {V.VC_SEQ: "seq", V.VC_CLOCK_MODE: "clock_mode",
                 V.VC_CYCLE_LAST: "cycle_last", V.VC_MAX_CYCLES: "max_cycles",
                 V.VC_MASK: "mask", V.VC_MULT: "mult", V.VC_SHIFT: "shift"}
        if o in names:
            return prefix + names[o]
        if o >= V.VC_BASETIME:
            cid, part = divmod(o - V.VC_BASETIME, V.VC_TS_SIZE)
            return f"{prefix}basetime[{CLOCK_NAMES.get(cid, cid)}].{'sec' if part < 8 else 'nsec'}"
    if offset == V.VD_TZ_MINUTESWEST:
        return "tz_minuteswest"
    if offset == V.VD_CPU:
        return "cpu"
    return f"+{offset:#x}"


def _vdso(target, trace, before, session, title=None) -> Transition:
    bits = session.bits
    name = session.vdso_name(target) or "vDSO function"
    vdso = session.system.vdso
    cost = cost_of("vdso", bits)
    call_entry = trace[0] if trace else None
    body = trace[1:-1] if len(trace) > 2 else trace[1:]
    ret = trace[-1] if len(trace) > 1 else None
    # Group the body: before rdtsc (the seqlock and the clock's data read from [vvar]),
    # rdtsc itself, after it (the arithmetic, and the sequence count checked again).
    vvar_lines: list[str] = []
    tsc_lines: list[str] = []
    math_lines: list[str] = []
    seen_tsc = False
    base = vdso.vvar if vdso else 0
    for entry in body:
        i = entry["insn"]
        line = _insn_line(entry)
        if i is not None and i.kind in ("rdtsc", "rdtscp"):
            seen_tsc = True
            after = entry["after"]
            lo, hi = ("rax", "rdx") if bits == 64 else ("eax", "edx")
            tsc = ((after.get(hi, 0) & 0xFFFFFFFF) << 32) | (after.get(lo, 0) & 0xFFFFFFFF)
            tsc_lines.append(f"{line}  ->  edx:eax = {tsc} cycles")
            continue
        if entry["reads"]:
            vals = ", ".join(f"{vvar_field(a - base)} = {v:#x}" if v > 9 else
                             f"{vvar_field(a - base)} = {v}" for a, _s, v in entry["reads"])
            line = f"{line:<24} {vals}"
        (math_lines if seen_tsc else vvar_lines).append(line)
    rv = None
    if ret is not None:
        rv = ret["after"].get("rax" if bits == 64 else "eax")
    pc_reg = "rip" if bits == 64 else "eip"
    base = vdso.base if vdso else 0
    jumped = call_entry is not None and getattr(call_entry["insn"], "kind", "") == "jump"
    how = (f"A jump, not a call: the PLT slot (the first time, the loader's lazy "
           f"resolver) goes on to {name}, which glibc's IFUNC chose, so the return address "
           f"is still the caller's. It lies in the shared object the kernel mapped at "
           f"{base:#x} (a random base). No crossing: the CPU stays in ring 3."
           if jumped else
           f"A plain call into the vDSO, the shared object the kernel mapped at "
           f"{base:#x} (a random base). No crossing: the CPU stays in ring 3.")
    phases = [
        Phase("call", f"{'jmp' if jumped else 'call'} {name}: into [vdso]", (how,),
              (Change(pc_reg, h(call_entry["pc"]) if call_entry else "?", h(target)),
               Change("CPL", "3", "3 (no change)")), 0.0),
        Phase("vvar", "The seqlock read of [vvar]",
              ("The function reads the kernel's time data from the [vvar] page below the "
               "image: first the sequence count (odd while the kernel writes), then the "
               "clock's base, mult and shift.",),
              (), cost.ns * 0.3, ((f"... {len(vvar_lines) - 14} earlier",)
                                  if len(vvar_lines) > 14 else ()) + tuple(vvar_lines[-14:])
              or ("(no [vvar] read recorded)",)),
        Phase("tsc", "rdtsc: the CPU's time-stamp counter",
              ("`rdtsc` reads the cycle counter, which runs at a fixed rate: no kernel "
               "needed.",), (), cost.ns * 0.3, tuple(tsc_lines) or ("(no rdtsc: a coarse "
                                                                     "clock or a fallback)",)),
        Phase("math", "The arithmetic",
              ("ns = base + ((cycles - cycle_last) * mult >> shift), then the sequence "
               "count is checked again: unchanged means the data was consistent.",),
              (), cost.ns * 0.3, tuple(math_lines[:16]) + (
                  (f"... {len(math_lines) - 16} more",) if len(math_lines) > 16 else ())),
        Phase("ret", "ret: the answer, in user mode",
              (f"The function returns {rv if rv is None else _signed(rv, bits)} to the "
               "caller. The kernel never ran.",),
              (Change(pc_reg, "vdso", h(ret["after"].get(pc_reg) if ret else None)),),
              cost.ns * 0.1),
    ]
    events = [e for entry in trace for e in entry["mark"].events if isinstance(e, VdsoCalled)]
    title = title or (events[-1].text if events else f"[{Mechanism.VDSO}] {name}(...)")
    return Transition(Mechanism.VDSO, title, tuple(phases), cost.ns, cost.source,
                      banner="The kernel never ran: strace will not see this call.",
                      crossed=False, comparison=comparison())


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _vsyscall(target, trace, before, session) -> Transition:
    mode = session.system.vsyscall_mode
    entries = {0: "gettimeofday", 0x400: "time", 0x800: "getcpu"}
    off = (target or 0) - 0xFFFFFFFFFF600000
    name = entries.get(off, "misaligned entry")
    events = [e for entry in trace for e in entry["mark"].events]
    emulated = next((e for e in events if isinstance(e, VsyscallCalled)), None)
    signal = next((e for e in events if isinstance(e, SignalDelivered)), None)
    call = Phase("call", f"call {target:#x}: the vsyscall page" if target else "call",
                 (f"A call to a fixed address that never moves: {name} at "
                  f"0xffffffffff600000+{off:#x}. Every process on the machine has the page "
                  "at the same place (which is why it is an exploit's friend).",),
                 (Change("rip", h(trace[0]["pc"]) if trace else "?", h(target)),), 0.0)
    if mode == "native":
        body = tuple(_insn_line(e) for e in trace[1:])
        cost = cost_of("vsyscall native")
        phases = (call, Phase("native", "Native: real code in the page",
                              ("Before Linux 3.1 the page held code and the kernel's time "
                               "variables: the call runs in user mode, like the vDSO.",),
                              (), cost.ns, body[:16] + ((f"... {len(body) - 16} more",)
                                                        if len(body) > 16 else ())))
        return Transition(Mechanism.VSYSCALL, f"[vsyscall] {name} (native)", phases, cost.ns,
                          cost.source, banner="No crossing: the page's code runs in ring 3.",
                          crossed=False, comparison=comparison())
    if mode == "none" or emulated is None:
        text = signal.text if signal else "no emulation happened"
        phases = (call, Phase("fault", "The fetch faults: SIGSEGV",
                              ("With vsyscall=none there is no page at all: the call faults "
                               "and the kernel sends SIGSEGV."
                               if mode == "none" else "The kernel refused to emulate this "
                               "call: SIGSEGV.", text), (Change("CPL", "3", "0"),), None,
                              kernel=True))
        return Transition(Mechanism.VSYSCALL, f"[vsyscall] {name}: SIGSEGV", phases, None, "",
                          comparison=comparison())
    cost = cost_of("vsyscall emulated")
    perms = ("/proc/self/maps shows it --xp, but no page table maps it: it cannot even be "
             "read") if mode == "xonly" else ("/proc/self/maps shows it r-xp, but the page "
                                              "table maps it readable only")
    # the CPU at the fault: the call has pushed its return address and jumped to the page
    cpu = Entry(dict(before, rip=target, rsp=before.get("rsp", 0) - 8), 64)
    fault = Phase("fault", "The instruction fetch faults",
                  (f"vsyscall={mode}: {perms}. Fetching the first instruction is a page "
                   "fault, and the CPU enters the kernel's page fault handler.",),
                  tuple(cpu.gate("asm_exc_page_fault", "IDT[14]")), cost.ns * 0.35,
                  kernel=True, regs=freeze(cpu.regs))
    cpu.running("emulate_vsyscall")
    emu = Phase("emulate", "emulate_vsyscall()",
                ("The fault handler sees an address in the vsyscall page and emulates the "
                 "call: it checks the entry is aligned, reads the return address from [rsp], "
                 "checks the pointers, then runs the real handler.",),
                (), cost.ns * 0.3, (emulated.text,), kernel=True, regs=freeze(cpu.regs))
    changes = tuple(Change(n, h(a), h(b)) for n, a, b in emulated.changes) + (
        Change("CPL", "0", "3"),)
    back = Phase("ret", "The emulated ret",
                 ("The kernel writes the result to rax, sets rip to the return address and "
                  "adds 8 to rsp, as `ret` would: only rax, rip and rsp change (rcx and r11 "
                  "survive, unlike `syscall`). strace does not see it.",),
                 changes, cost.ns * 0.35)
    return Transition(Mechanism.VSYSCALL, emulated.text, (call, fault, emu, back), cost.ns,
                      cost.source, comparison=comparison())

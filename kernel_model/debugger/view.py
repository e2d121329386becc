"""What the screen shows at a stop, as one immutable snapshot: registers, code around the pc,
the stack, the memory map, the events and output so far, the transition being walked and the
state of the history. Built on the session's thread; the screen only reads it.
"""

from __future__ import annotations

from emu.machine import PROT_EXEC
from kernel_model.debugger import insn as insns
from kernel_model.debugger.objects import LoadedObjects, objects_of
from kernel_model.debugger.stepping import Switch
from kernel_model.debugger.view_events import event_lines, output_chunks
from kernel_model.debugger.view_records import (  # noqa: F401  (part of this module's interface)
    CodeLine,
    EventLine,
    HistoryInfo,
    MapLine,
    OutputChunk,
    ProcessLine,
    StackWord,
    StopView,
    WalkView,
)
from kernel_model.entry.abi import preview_trap
from kernel_model.entry.mechanism import TRAPS

CODE_BEFORE = 12
CODE_AFTER = 30
STACK_WORDS = 16


class Symbolizer:
    """Addresses to "name+offset" over every loaded object (objects.LoadedObjects): the
    program's names plain (`main+0x10`, only inside the VMA that holds the symbol: an address
    in [heap] is never "_end+0x1234"), a library's qualified (`puts@libc.so.6+0x1a`), the
    vDSO's plain (`__vdso_clock_gettime`)."""

    def __init__(self, objects: LoadedObjects, mm):
        self.objects = objects
        self.mm = mm

    def label(self, addr: int) -> str:
        return self.objects.label(addr)

    def symbol(self, addr: int, *, qualify: bool = True) -> tuple[str, int] | None:
        return self.objects.symbol(addr, self.mm.find(addr), qualify=qualify)

    def where(self, addr: int) -> str:
        return self.objects.symbolize(addr, self.mm.find(addr))

    def start(self, addr: int) -> int | None:
        """Where the symbol holding `addr` starts, if a symbol holds it."""
        return self.objects.symbol_start(addr, self.mm.find(addr))

    def object_name(self, addr: int) -> str:
        return self.objects.object_name(addr)


def symbolizer(session) -> Symbolizer:
    # objects_of follows new mappings (ld.so mapping libc) at the cost of comparing the
    # named VMAs; the symbol tables themselves are read once per file.
    return Symbolizer(objects_of(session), session.system.mm)


def _code(session, sym: Symbolizer, pc: int) -> tuple[CodeLine, ...]:
    m = session.machine
    bits = session.bits
    mm = session.system.mm
    prog = session.program
    asm = prog.assembled if prog is not None else None
    start = _sync_start(session, sym, pc)
    try:
        data = m.read(start, pc - start + CODE_AFTER * insns.MAX_INSN)
    except Exception:
        data = b""
        for cut in range(pc - start + CODE_AFTER * insns.MAX_INSN, 0, -16):
            try:
                data = m.read(start, cut)
                break
            except Exception:
                continue
    decoded = insns.disassemble(data, start, bits, 400)
    idx = next((i for i, d in enumerate(decoded) if d.address == pc), None)
    if idx is None:  # no sync: start at the pc
        try:
            data = m.read(pc, CODE_AFTER * insns.MAX_INSN)
        except Exception:
            data = b""
        decoded = insns.disassemble(data, pc, bits, CODE_AFTER)
        idx = 0
    shown = decoded[max(0, idx - CODE_BEFORE): idx + CODE_AFTER]
    shown = _until_padding(shown, asm, pc)
    bps = {b.address for b in session.breakpoints if b.address is not None and b.enabled}
    out = []
    for d in shown:
        source = ""
        if asm is not None and d.address in asm.lines:
            line_no = asm.lines[d.address]
            if 0 < line_no <= len(asm.source):
                source = asm.source[line_no - 1].strip()
        vma = mm.find(d.address)
        out.append(CodeLine(d.address, d.raw, d.text, insns.att_text(d.raw, d.address, bits),
                            sym.label(d.address), sym.where(d.address), source,
                            d.address == pc, d.address in bps, d.kind,
                            vma.name if vma is not None else "", _ref(d, sym)))
    return tuple(out)


def _until_padding(shown: list, asm, pc: int) -> list:
    """Cut the listing where the code ends: past an assembly program's last instruction (when
    the pc is in it, not in a library it mapped), or at the zero bytes that pad a section
    (they decode as `add [rax], al`)."""
    out: list = []
    zeros = 0
    for d in shown:
        if asm is not None and pc in asm.sizes and d.address > pc and \
                d.address not in asm.sizes:
            break
        zeros = zeros + 1 if d.raw == b"\0\0" else 0
        if zeros >= 2 and d.address > pc:
            out.pop()
            break
        out.append(d)
    return out


def _ref(d, sym: Symbolizer) -> str:
    """The symbol an operand names, as gdb prints `<name+off>`: a call or jump target, or a
    rip-relative address."""
    target = None
    if d.target is not None and d.target[0] == "imm":
        target = d.target[1]
    elif "rip + " in d.op_str or "rip - " in d.op_str:
        import re

        m = re.search(r"rip ([+-]) (0x[0-9a-f]+|\d+)", d.op_str)
        if m:
            disp = int(m.group(2), 0)
            target = d.address + d.size + (disp if m.group(1) == "+" else -disp)
    if target is None:
        return ""
    where = sym.where(target)
    return f"<{where}>" if where else ""


def _sync_start(session, sym: Symbolizer, pc: int) -> int:
    """An address before pc from which linear disassembly lands exactly on pc."""
    prog = session.program
    asm = prog.assembled if prog is not None else None
    if asm is not None and pc in asm.sizes:
        starts = sorted(a for a in asm.sizes if a <= pc)
        return starts[max(0, len(starts) - CODE_BEFORE - 1)]
    begin = sym.start(pc)
    if begin is not None and 0 <= pc - begin <= 0x400:
        vma = session.system.mm.find(pc)
        if vma is not None and vma.start <= begin:
            return begin
    m = session.machine
    for back in range(64, 0, -1):
        start = pc - back
        try:
            data = m.read(start, back + insns.MAX_INSN)
        except Exception:
            continue
        decoded = insns.disassemble(data, start, session.bits, 80)
        if any(d.address == pc for d in decoded) and len(
                [d for d in decoded if d.address < pc]) >= min(CODE_BEFORE, back // 4):
            return start
    return pc


def _stack(session, sym: Symbolizer, regs: dict) -> tuple[StackWord, ...]:
    m = session.machine
    word = m.arch.word
    sp = regs["rsp" if session.bits == 64 else "esp"]
    fp = regs["rbp" if session.bits == 64 else "ebp"]
    out = []
    for i in range(STACK_WORDS):
        addr = sp + i * word
        try:
            value = m.read_word(addr)
        except Exception:
            break
        out.append(StackWord(addr, value, _annotate(session, sym, value), addr == sp,
                             addr == fp))
    return tuple(out)


def _annotate(session, sym: Symbolizer, value: int) -> str:
    mm = session.system.mm
    vma = mm.find(value)
    if vma is None:
        return ""
    if vma.prot & PROT_EXEC:
        where = sym.where(value)
        after_call = _follows_call(session, value)
        if after_call:
            return f"return to {where or hex(value)}"
        return f"-> {where}" if where else f"-> code {vma.name or ''}".rstrip()
    region = vma.name or vma.kind
    preview = _string_preview(session, value)
    text = f"-> {region}" if region else "-> data"
    return f"{text} {preview}" if preview else text


def _follows_call(session, value: int) -> bool:
    m = session.machine
    for back in (5, 2, 3, 6, 7):
        try:
            code = m.read(value - back, back)
        except Exception:
            continue
        d = insns.decode(code, value - back, session.bits)
        if d is not None and d.kind == "call" and d.size == back:
            return True
    return False


def _string_preview(session, addr: int) -> str:
    try:
        data = session.machine.read_cstring(addr, 24)
    except Exception:
        return ""
    if len(data) < 3 or any(b < 0x20 and b not in (9, 10) or b > 0x7E for b in data):
        return ""
    text = data.decode("ascii").replace("\n", "\\n").replace("\t", "\\t")
    return f'"{text}"' + ("..." if len(data) >= 24 else "")


def _maps(session, pc: int, sp: int) -> tuple[MapLine, ...]:
    out = []
    for v in session.system.mm.listed():
        out.append(MapLine(v.start, v.end, v.perms(), v.name, v.kind, v.maps_line(),
                           v.start <= pc < v.end, v.start <= sp < v.end))
    return tuple(out)


def _position(ordinal: int, marks: int, n: int) -> str:
    """Where in history, in words: a saved point is the state kept at the start and after
    each crossing; n instructions after it are replayed from it."""
    where = "the start" if ordinal == 0 else f"saved point {ordinal + 1} of {marks}"
    if not n:
        return f"at {where}"
    return f"{n} instruction{'s' if n != 1 else ''} after {where}"


def task_insns(session) -> dict[int, int] | None:
    """User instructions each task has run up to the current point (tid -> count), from the
    counts kept on the marks (each stretch between two marks runs one task); None when a
    stretch on the way was run freely and not counted yet."""
    from kernel_model.debugger.stepping import instructions_of

    t = session.timeline
    mark, n = session.pos
    chain = []
    known = mark
    while "task_insns" not in known.extra:
        if known.length is None:
            return None  # a stretch on the way not counted (the pass below would stop there)
        chain.append(known)
        prev = t.prev(known)
        if prev is None:
            return None
        known = prev
    counts = dict(known.extra["task_insns"])
    prev = known
    for m in reversed(chain):
        length = m.length
        if length is None:
            return None
        tid = prev.extra.get("tid")
        counts[tid] = counts.get(tid, 0) + length + instructions_of(m)
        m.extra["task_insns"] = dict(counts)  # kept: the next view starts from it
        prev = m
    if n is None:
        return None
    if n:
        tid = mark.extra.get("tid")
        counts[tid] = counts.get(tid, 0) + n
    return counts


def processes(session) -> tuple[ProcessLine, ...]:
    """The Processes pane's rows: every task not yet gone, the running one marked."""
    k = session.kernel
    counts = task_insns(session)
    current = k.current
    rows = []
    for p in k.processes:
        name = p.argv[0].rsplit("/", 1)[-1] if p.argv else p.exe_path.rsplit("/", 1)[-1]
        for t in p.threads:
            if t.state == "X":
                continue
            waits = ""
            if t.state == "S":
                waits = t.blocked.what if t.blocked is not None else "a signal"
            elif t.state == "Z":
                waits = "its parent's wait"
            insns = counts.get(t.tid, 0) if counts is not None else None
            rows.append(ProcessLine(p.pid, t.tid, p.ppid, t.state, waits, insns,
                                    t is current, name))
    return tuple(rows)


def build_view(session) -> StopView:
    regs = session.regs()
    bits = session.bits
    pc = regs["rip" if bits == 64 else "eip"]
    sp = regs["rsp" if bits == 64 else "esp"]
    sym = symbolizer(session)
    t = session.timeline
    mark, n = session.pos
    history = HistoryInfo(
        marks=len(t), used=t.used, budget=t.budget, dropped=t.dropped, thinned=t.thinned,
        at_live_end=session.at_live_end(),
        can_go_back=not (mark.ordinal == 0 and n == 0),
        horizon=session.horizon_text(),
        position=_position(mark.ordinal, len(t), n))
    walk = None
    if session.walk is not None:
        w = session.walk
        walk = WalkView(w.transition, w.phase, w.before)
    exited = session._exited()
    pending = session.pending_here()
    waiting = False
    if not exited and session.walk is None:
        up = session.upcoming()
        if up is not None and up[0] in TRAPS:
            waiting = session.stdin_wait(up[0])
    else:
        up = None
    return StopView(
        program=session.kernel.process.exe_path,
        arch=session.system.arch.name, bits=bits, pc=pc, sp=sp, regs=regs,
        previous=session.previous_regs,
        code=_code(session, sym, pc),
        stack=_stack(session, sym, regs),
        maps=_maps(session, pc, sp),
        events=event_lines(session),
        output=output_chunks(session),
        upcoming=up,
        walk=walk,
        exited=exited,
        exit_text=session.exit_text() if exited else "",
        history=history,
        breakpoints=tuple(b.spec for b in session.breakpoints),
        waiting_input=waiting,
        pending_fault=pending.text(pc) if hasattr(pending, "text") else "",
        symbol=sym.where(pc),
        upcoming_name=(sym.where(up[1]) if up is not None and up[1] is not None else ""),
        upcoming_trap=preview_trap(up[0], regs, bits) if up is not None and up[0] in TRAPS
        else None,
        clock=session.system.clock.describe(),
        processes=processes(session),
        pending_switch=(("the timer interrupt: " if pending.timer else "") + pending.why)
        if isinstance(pending, Switch) and session.walk is None else "",
    )

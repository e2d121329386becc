"""The session's registers in the g/p packets' layout (tdesc.LAYOUTS), and writes to
them and to memory, which are allowed only at the live end of history (where the guest
really is): in the past they would contradict what a replay recomputes."""

from __future__ import annotations

from emu.arch import REG_IDS
from kernel_model.debugger.gdbstub import fpregs
from kernel_model.debugger.gdbstub.tdesc import LAYOUTS, Reg
from kernel_model.debugger.stepping import TRAP_KINDS
from kernel_model.trace.events import SyscallEntered


class NotWritable(Exception):
    pass


def orig_ax(session) -> int:
    """Linux's orig_rax as ptrace shows it: the syscall's number at a stop right after a
    trap instruction (a stepi over `syscall` traps on the way out of the kernel, with
    pt_regs' orig_ax still set), -1 at every other stop (before the trap too: nothing
    has entered the kernel yet). Checked against Linux with gdb on a static program
    (docs/kernel_facts.md §20).
    The number is the one the table was indexed with (docs/kernel_facts.md §10: Linux keeps all
    64 bits of rax there; they differ only for a number with its upper half set)."""
    held = session.pending_here()
    if getattr(held, "call_nr", None) is not None:
        return held.call_nr  # a signal stop in a waiting call: still inside it, as on Linux
    mark, n = session.pos
    if n == 0 and mark.applied and mark.kind in TRAP_KINDS:
        entered = [e for e in mark.events if isinstance(e, SyscallEntered)]
        if entered:
            return entered[-1].nr
    return -1


def encode(reg: Reg, value: int | None) -> str:
    if value is None:
        return "xx" * reg.size  # unavailable: gdb prints <unavailable>
    return (value & ((1 << (reg.size * 8)) - 1)).to_bytes(reg.size, "little").hex()


def values(session, view: dict[str, int] | None = None) -> list[int | None]:
    """The registers in the layout's order; `view` replaces some (entry_view.py: what
    Linux shows at a syscall-entry stop; "orig" stands for orig_rax/orig_eax)."""
    regs = session.regs()
    orig = None
    image = None
    out: list[int | None] = []
    for r in LAYOUTS[session.bits]:
        if r.source == "reg":
            out.append(regs.get(r.name, 0))
        elif r.source == "fpu":
            if image is None:
                image = fpregs.image(session.machine)
            out.append(fpregs.read(image, r.name, session.bits))
        elif r.source == "orig":
            if orig is None:
                orig = orig_ax(session)
            out.append(orig)
        else:
            out.append(None)
        if view:
            key = "orig" if r.source == "orig" else r.name
            if key in view:
                out[-1] = view[key]
    return out


def g_packet(session, view: dict[str, int] | None = None) -> str:
    regs = LAYOUTS[session.bits]
    return "".join(encode(r, v) for r, v in zip(regs, values(session, view), strict=True))


def p_packet(session, n: int, view: dict[str, int] | None = None) -> str | None:
    regs = LAYOUTS[session.bits]
    if not 0 <= n < len(regs):
        return None
    return encode(regs[n], values(session, view)[n])


def record_edit(session) -> None:
    """After a write at the live end: the edited state becomes a point of history
    (DebugSession.record_edit), so going back and forth again finds the edit."""
    session.record_edit()


def check_writable(session) -> None:
    """Refuses a write in the past; at the live end, keeps the point as it is before the
    write (the edit is recorded after it, on top of that point)."""
    if not session.at_live_end():
        raise NotWritable("only at the live end of history (go forward to it first)")
    session._freeze()


def set_register(session, n: int, data: bytes, view: dict[str, int] | None = None) -> None:
    regs = LAYOUTS[session.bits]
    if not 0 <= n < len(regs):
        raise NotWritable("no such register")
    r = regs[n]
    if len(data) != r.size:
        raise NotWritable("wrong register size")
    value = int.from_bytes(data, "little")
    if values(session, view)[n] != value:
        _write(session, _through_view(session, [(r, value)], view))


def set_all(session, data: bytes, view: dict[str, int] | None = None) -> None:
    regs = LAYOUTS[session.bits]
    at = 0
    changes = []
    for r, now in zip(regs, values(session, view), strict=True):
        chunk = data[at:at + r.size]
        at += r.size
        if len(chunk) < r.size:
            break
        value = int.from_bytes(chunk, "little")
        if r.source in ("reg", "fpu", "orig") and now != value:
            changes.append((r, value))
    changes = _through_view(session, changes, view)
    if changes:
        _write(session, changes)


def _through_view(session, changes: list[tuple[Reg, int]],
                  view: dict[str, int] | None) -> list[tuple[Reg, int]]:
    """Writes as they act on the real state. Outside a syscall-entry stop, orig_rax is
    not written (gdb writes it back with the others). At one, as on Linux: orig_rax is
    the number the call will use (the trap's rax), rax is a placeholder the return
    overwrites, and what the entry instruction already set (rip, rcx, r11, ebp) stays."""
    ax = "rax" if session.bits == 64 else "eax"
    out = []
    for r, value in changes:
        key = "orig" if r.source == "orig" else r.name
        if not view or key not in view:
            if r.source != "orig":
                out.append((r, value))
            continue
        if key == "orig":
            target = next(x for x in LAYOUTS[session.bits] if x.name == ax)
            out.append((target, value))
            view["orig"] = value & ((1 << session.bits) - 1)
        elif key != ax:
            raise NotWritable(f"at a syscall-entry stop the kernel has already set {key}")
    return out


def _write(session, changes: list[tuple[Reg, int]]) -> None:
    """Set registers (at the live end only) and record the edit once: the x87/SSE ones go
    through one FXSAVE image."""
    check_writable(session)
    m = session.machine
    image = None
    for r, value in changes:
        if r.source == "fpu":
            if image is None:
                image = fpregs.image(m)
            fpregs.write(image, r.name, value, session.bits)
    for r, value in changes:
        if r.source == "reg":
            m.set_reg(REG_IDS[r.name], value)
    if image is not None:
        fpregs.load(m, image)
    record_edit(session)


def read_memory(session, addr: int, size: int) -> bytes:
    """Bytes inside the process's mappings (as ptrace reads), up to the first that is not;
    empty when the first is not."""
    mm = session.system.mm
    out = b""
    a, end = addr, addr + size
    while a < end:
        vma = mm.find(a)
        if vma is None or not vma.backed:
            break
        n = min(end, vma.end) - a
        try:
            out += session.machine.read(a, n)
        except Exception:
            break
        a += n
    return out


def write_memory(session, addr: int, data: bytes) -> None:
    if not data:
        return
    if read_memory(session, addr, len(data)) == data:
        return
    if len(read_memory(session, addr, len(data))) != len(data):
        raise NotWritable(f"cannot access memory at {addr:#x}")
    check_writable(session)
    session.machine.write(addr, data)
    session.machine.flush_translations()  # the guest may run code gdb just wrote
    record_edit(session)

"""Feedback aimed at the likely mistake: where an instruction is in the student's source,
which register held a wrong value, why a run died, and the classic traps (a missing newline,
64-bit numbers through `int 0x80`, a 64-bit pointer cut to 32 bits, falling off the end).

Every function here reads a finished run (events, output, the program) and returns
sentences; none of them decides pass or fail."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kernel_model.entry.mechanism import Mechanism
from kernel_model.uapi.errnos import ERRNOS

ARG_REGS = {64: ("rdi", "rsi", "rdx", "r10", "r8", "r9"),
            32: ("ebx", "ecx", "edx", "esi", "edi", "ebp")}
# i386 argument registers seen from a 64-bit program (int 0x80 uses their low halves).
WIDE = {"ebx": "rbx", "ecx": "rcx", "edx": "rdx", "esi": "rsi", "edi": "rdi", "ebp": "rbp",
        "eax": "rax"}
ORDINALS = ("1st", "2nd", "3rd", "4th", "5th", "6th")
# What a beginner calls on purpose: a call outside this set whose number means one of these in
# the other table is most likely the other table's number.
COMMON = {"read", "write", "open", "openat", "close", "exit", "exit_group", "getpid", "brk",
          "mmap", "munmap", "time", "gettimeofday", "clock_gettime", "nanosleep",
          "rt_sigaction", "kill", "getppid", "uname", "lseek", "execve", "fork"}
VSYSCALL_ADDR, VSYSCALL_END = 0xFFFFFFFFFF600000, 0xFFFFFFFFFF601000


@dataclass
class Context:
    """What every diagnosis needs besides the run: the solution and its architecture."""

    program: object  # emu.program.Program
    bits: int
    budget: int | None
    timeout: float
    calls: tuple[str, ...] = ()  # the syscalls the exercise expects (its transcript's)
    exhaustive: bool = False  # the transcript lists every call (no `...` gap)


def where(ctx: Context, pc: int, system=None, code: bool = True) -> str:
    """'line 12 (`syscall`)', or where else pc is (the vDSO, the vsyscall page)."""
    asm = ctx.program.assembled
    if asm is not None and pc in asm.lines:
        line = asm.lines[pc]
        text = asm.source[line - 1].split(";")[0].strip() if line <= len(asm.source) else ""
        return f"line {line} (`{text}`)" if text and code else f"line {line}"
    vdso = getattr(system, "vdso", None)
    if vdso is not None and vdso.contains(pc):
        fn = vdso.function_at(pc)
        return f"{pc:#x} in the vDSO" + (f" ({fn})" if fn else "")
    if VSYSCALL_ADDR <= pc < VSYSCALL_END:
        return f"{pc:#x} in the vsyscall page"
    return f"{pc:#x}"


def _text_end(ctx: Context) -> tuple[int, int] | None:
    """The address range of the program's instructions (start, end of the last one)."""
    asm = ctx.program.assembled
    if asm is None or not asm.lines:
        return None
    last = max(asm.lines)
    return min(asm.lines), last + asm.sizes.get(last, 1)


def _last_line(ctx: Context) -> int | None:
    asm = ctx.program.assembled
    return asm.lines[max(asm.lines)] if asm is not None and asm.lines else None


def _crossings(outcome):
    from kernel_model.trace.events import SyscallEntered, SyscallReturned

    entered = {e.seq: e for e in outcome.events if isinstance(e, SyscallEntered)}
    return [(entered.get(e.seq), e) for e in outcome.events if isinstance(e, SyscallReturned)]


def _entries(outcome):
    from kernel_model.trace.events import SyscallEntered

    return [e for e in outcome.events if isinstance(e, SyscallEntered)]


def reg_value(entry, reg: str, bits: int) -> tuple[str, int]:
    """The register's name and value at the trap, widened to the 64-bit register when a
    64-bit program used an i386 entry (so a truncated value shows in full)."""
    regs = entry.regs
    if bits == 64 and reg in WIDE:
        return WIDE[reg], regs.get(WIDE[reg], 0)
    return reg, regs.get(reg, 0)


def arg_register(entry, index: int, bits: int) -> tuple[str, int] | None:
    if entry is None or index >= 6:
        return None
    table = ARG_REGS[64] if entry.abi == "x86_64" else ARG_REGS[32]
    return reg_value(entry, table[index], bits)


def _num(value: int) -> str:
    return str(value) if -4096 < value < 4096 else f"{value:#x}"


# -- how a run ended -----------------------------------------------------------------------
def death(outcome, ctx: Context) -> list[str]:
    """Why the run did not end with exit: killed, stopped by a limit, or an emulator error."""
    from kernel_model.trace.events import RunStopped, SignalDelivered

    if outcome.error:
        return [f"syscall-lab itself failed during this run ({outcome.error}): a bug in the "
                "emulator, not in your program; please report it"]
    stop = next((e for e in outcome.events if isinstance(e, RunStopped)), None)
    if stop is not None and stop.reason == "max-insns":
        return [f"stopped after {outcome.instructions} instructions (the grader's limit for a "
                f"runaway program) at {where(ctx, stop.pc, _system(outcome))}: a loop that "
                "never ends? (check the loop's exit condition)"]
    if stop is not None and stop.reason == "deadlock":
        # the kernel's line names who waits for what: "pid 4243 waits in read (...)"
        text = stop.text.strip()
        if " waits in read (" in text and "pipe" in text:
            text += (": a read of a pipe returns 0 (end of file) only once every write end "
                     "is closed, the reader's own copy included")
        return [text]
    if stop is not None and stop.reason == "stopped":
        return [f"the program stopped itself ({stop.text.strip('- ')}) at "
                f"{where(ctx, stop.pc, _system(outcome))}: nothing would ever continue it"]
    if stop is not None:
        return [f"stopped after {ctx.timeout:g} s at {where(ctx, stop.pc, _system(outcome))}: "
                "the program did not finish (an endless loop, or waiting forever?)"]
    kill = next((e for e in reversed(outcome.events)
                 if isinstance(e, SignalDelivered) and e.action == "killed"), None)
    if kill is None:
        return []
    return _killed(kill, outcome, ctx)


def _system(outcome):
    return getattr(outcome, "system", None)


def _killed(sig, outcome, ctx: Context) -> list[str]:
    system = _system(outcome)
    mode = getattr(system, "vsyscall_mode", "xonly")
    in_page = VSYSCALL_ADDR <= sig.pc < VSYSCALL_END
    head = f"killed by {sig.name} ({sig.code_name})"
    if sig.name == "SIGSEGV" and in_page:
        off = sig.pc - VSYSCALL_ADDR
        if mode == "none":
            return [f"{head} calling {sig.pc:#x}: this run has no vsyscall page "
                    "(vsyscall=none), so the call lands on nothing"]
        return [f"{head} calling the vsyscall page at offset {off:#x}: only +0x000 "
                "(gettimeofday), +0x400 (time) and +0x800 (getcpu) are entries; the kernel "
                "kills a call anywhere else (\"misaligned vsyscall\")"]
    if sig.name == "SIGSEGV" and VSYSCALL_ADDR <= sig.addr < VSYSCALL_END:
        if mode == "xonly":
            return [f"{head} reading {sig.addr:#x} at {where(ctx, sig.pc, system)}: in "
                    "vsyscall=xonly mode (the default since Linux 5.3) the vsyscall page is "
                    "execute-only: a `call` to one of its entries works (the fetch faults and "
                    "the kernel emulates the call), but reading its bytes is a SIGSEGV; there is "
                    "no code there to read any more, only a trap"]
        if mode == "none":
            return [f"{head} at {sig.addr:#x}: this run has no vsyscall page (vsyscall=none)"]
    span = _text_end(ctx)
    asm = ctx.program.assembled
    if span is not None and asm is not None and sig.pc not in asm.lines and \
            span[1] <= sig.pc < span[1] + 0x1000:
        return [f"{head} at {sig.pc:#x}, just past your last instruction (line "
                f"{_last_line(ctx)}): the CPU ran on into the bytes after your code. A program "
                "does not stop at its end: finish with the exit syscall (exit or exit_group)"]
    if sig.name == "SIGSEGV" and sig.addr == sig.pc:
        return [f"{head}: the CPU jumped to {sig.pc:#x}, where there is no code (a call or "
                "`ret` to a bad address: a value that is not a code address, or a stack that "
                "was not as `ret` expected?)"]
    if sig.name == "SIGSEGV":
        what = f"address {sig.addr:#x}"
        if sig.addr < 0x10000:
            what += " (a small number used as a pointer: a length, an fd or a result where " \
                    "an address belongs?)"
        elif sig.addr >= (1 << 64) - 4095:
            err = (1 << 64) - sig.addr
            what += (f" (that is -{err}, -{ERRNOS.get(err, ('an errno',))[0]}: a failed "
                     "syscall's result used as an address; check rax for -4095..-1 first)")
        return [f"{head} at {where(ctx, sig.pc, system)}, accessing {what}"]
    if sig.name == "SIGILL":
        return [f"{head} at {where(ctx, sig.pc, system)}: not a valid instruction here "
                "(data executed as code, or a jump to the wrong place?)"]
    return [f"{head} at {where(ctx, sig.pc, system)}"]


def exit_call(outcome):
    """The SyscallEntered of the exit/exit_group that ended the run, if any."""
    for e in reversed(_entries(outcome)):
        if e.name in ("exit", "exit_group"):
            return e
    return None


def wrong_status(outcome, ctx: Context, expected: int) -> list[str]:
    """'exit status 1, expected 42: at exit_group (line 9: `syscall`), rdi held 1'."""
    entry = exit_call(outcome)
    head = f"exit status {outcome.code}, expected {expected}"
    if entry is None:
        return [head]
    reg, value = arg_register(entry, 0, ctx.bits)
    msg = (f"{head}: at {entry.name} ({where(ctx, entry.pc, _system(outcome), code=False)}), "
           f"{reg} held {_num(value)}")
    if value & 0xFF != value:
        msg += f"; only its low 8 bits become the status ({value & 0xFF})"
    if value & 0xFF == expected & 0xFF and value != expected:
        msg += " (that is why it looked right)"
    return [msg]


# -- notes about the whole run ---------------------------------------------------------------
def notes(outcome, ctx: Context) -> list[tuple[str, str | None]]:
    """Run-wide observations, each with the check it explains best (None: the first
    failed check)."""
    out: list[tuple[str, str | None]] = []
    seen = set()
    for entry, ret in _crossings(outcome):
        if entry is None:
            continue
        key, prefer = None, None
        asm = ctx.program.assembled
        if entry.mechanism == "sysenter" and asm is not None and entry.pc in asm.lines:
            key, prefer = ("raw sysenter",), "exit"
            text = (f"a raw `sysenter` at {where(ctx, entry.pc, None)}: the kernel returns "
                    "from sysenter to the landing pad inside the vDSO's __kernel_vsyscall "
                    "(`pop ebp; pop edx; pop ecx; ret`), never to the next instruction, so "
                    "the program jumps to whatever those pops leave. Call __kernel_vsyscall "
                    "(its address is AT_SYSINFO, 32, in the auxiliary vector) instead")
        elif ret.ret == -14 and entry.mechanism in (Mechanism.INT80, Mechanism.SYSENTER) \
                and ctx.bits == 64:
            key, text = ("efault", ret.name), _truncation(entry, ret, ctx)
        elif ret.ret == -38:
            key, text = ("enosys", entry.nr, entry.mechanism), _enosys(entry, ctx, outcome)
        elif (text := unexpected_call(entry, ret, ctx, outcome)) is not None:
            key = ("unexpected", entry.nr, entry.mechanism)
        elif ret.ret in (-14, -9):  # EFAULT, EBADF: a value in the wrong place
            key = ("failed", ret.ret)
            text = _bad_pointer(entry, ret, ctx, outcome) if ret.ret == -14 else \
                _bad_fd(entry, ret, ctx, outcome)
        else:
            confusion = table_confusion(entry, expected_name=None)
            key, text = ("table", entry.nr, entry.mechanism), confusion
        if text and key not in seen:
            seen.add(key)
            out.append((text, prefer))
    return out


def _call_at(entry, ret, ctx: Context, outcome) -> str:
    """"`write(1, 0x6c6c6548, 7) = -1 EFAULT (Bad address)` at line 38 (`syscall`)"."""
    from programs.grading.transcript import normalize

    line = normalize(ret.text)
    if len(line) > 100:
        line = line[:95] + "[...]"
    return f"`{line}` at {where(ctx, entry.pc, _system(outcome))}"


def unexpected_call(entry, ret, ctx: Context, outcome) -> str | None:
    """A syscall the exercise never asks for, most often the wrong number: name what it is
    in this table, the wanted call's number, and the other table's meaning. Surprising
    only when the number means a wanted call never made in the other table, or it failed,
    or the transcript lists every call (elsewhere a program may make calls of its own)."""
    from kernel_model.entry.abi import ABIS

    if not ctx.calls or entry.name in ctx.calls:
        return None
    i386 = entry.abi == "i386"
    here, other = (ABIS["i386"], ABIS["x86_64"]) if i386 else (ABIS["x86_64"], ABIS["i386"])
    made = {e.name for e in _entries(outcome)}
    missing = [n for n in ctx.calls if n not in made]
    other_name = other.table.get(entry.nr)
    failed = ret.ret is not None and ret.ret < 0
    if other_name not in missing and not failed and not ctx.exhaustive:
        return None
    missing = missing or list(ctx.calls)
    want = other_name if other_name in missing else missing[0]
    right = here.number_of(want)
    reg = "eax" if i386 else "rax"
    table, that = ("i386", "x86-64") if i386 else ("x86-64", "i386")
    what = f"is {entry.name}" if entry.name else "is no syscall"
    text = f"{_call_at(entry, ret, ctx, outcome)}: {reg}={entry.nr} {what} on {table}"
    text += f"; {want} is {right}" if right is not None else f"; {table} has no {want}"
    if other_name == want:
        mech = "`syscall`'s" if i386 else "`int 0x80`'s"
        text += (f" ({entry.nr} is {want} only in the {that} table, {mech}: the two tables "
                 "number the calls differently)")
    return text


def text_bytes(value: int, size: int) -> bytes | None:
    """The text a register holds when a string's bytes were loaded instead of its address
    (`mov rsi, [msg]`): printable bytes, little-endian, up to a terminating 0."""
    data = (value & ((1 << 8 * size) - 1)).to_bytes(size, "little").split(b"\0")[0]
    if len(data) >= 2 and all(32 <= b < 127 or b in (9, 10) for b in data):
        return data
    return None


def _bad_pointer(entry, ret, ctx: Context, outcome) -> str:
    size = 8 if entry.abi == "x86_64" else 4
    for i in range(len(entry.args)):
        reg = arg_register(entry, i, ctx.bits)
        data = text_bytes(reg[1], size) if reg else None
        if data is not None:
            load = "[msg]"
            return (f"{_call_at(entry, ret, ctx, outcome)}: {reg[0]} held {reg[1]:#x}, the "
                    f"bytes {_q(data)}: you passed the string's bytes, not its address "
                    f"(`mov {reg[0]}, {load}` loads what is at msg; `lea {reg[0]}, {load}` "
                    "loads its address)")
    return (f"{_call_at(entry, ret, ctx, outcome)}: a pointer argument points at no mapped "
            "memory (a length, an fd or a result where an address belongs?)")


def _bad_fd(entry, ret, ctx: Context, outcome) -> str:
    reg = arg_register(entry, 0, ctx.bits)
    held = f" ({reg[0]} held {_num(reg[1])})" if reg else ""
    return (f"{_call_at(entry, ret, ctx, outcome)}: that fd is not open{held}: 0 is stdin, "
            "1 stdout, 2 stderr, and a file's fd is what open returned")


def _truncation(entry, ret, ctx: Context) -> str | None:
    for i, reg in enumerate(ARG_REGS[32][:len(entry.args)]):
        wide, full = reg_value(entry, reg, 64)
        if full >> 32:
            return (f"{ret.name or entry.nr} through `int 0x80` returned -14 (EFAULT, Bad "
                    f"address) at {where(ctx, entry.pc, None)}: `int 0x80` passes only the low "
                    f"32 bits of each register, so {wide} = {full:#x} (the {ORDINALS[i]} "
                    f"argument) reached the kernel as {full & 0xFFFFFFFF:#x}, where nothing is "
                    "mapped. From 64-bit code, pass buffers that live below 4 GiB (.data or "
                    ".bss), never the stack or argv")
    return (f"{ret.name or entry.nr} through `int 0x80` returned -14 (EFAULT, Bad address): "
            "a pointer argument points at no mapped memory")


def _enosys(entry, ctx: Context, outcome) -> str:
    table = "i386" if entry.abi == "i386" else "x86-64"
    reg = "eax" if entry.abi == "i386" else "rax"
    if entry.name is None:
        return (f"{reg}={entry.nr} through `{entry.mechanism}` at "
                f"{where(ctx, entry.pc, _system(outcome))}: no syscall has that number in the "
                f"{table} table, so the kernel answered -38 (ENOSYS)")
    return (f"{entry.name} (nr {entry.nr}) returned -38 (ENOSYS): syscall-lab does not "
            "implement it")


def table_confusion(entry, expected_name: str | None) -> str | None:
    """A number that means the expected call (or a common one) only in the other table."""
    from kernel_model.entry.abi import ABIS

    i386 = entry.abi == "i386"
    here, other = (ABIS["i386"], ABIS["x86_64"]) if i386 else (ABIS["x86_64"], ABIS["i386"])
    other_name = other.table.get(entry.nr)
    if other_name is None or other_name == entry.name:
        return None
    if expected_name is not None:
        if other_name != expected_name:
            return None
    elif entry.name in COMMON or other_name not in COMMON:
        return None
    reg = "eax" if i386 else "rax"
    want = expected_name or other_name
    right = here.number_of(want)
    mech = "`int 0x80`" if entry.mechanism == Mechanism.INT80 else f"`{entry.mechanism}`"
    this_table = "i386 table" if i386 else "x86-64 table"
    that = "the x86-64 table (the `syscall` instruction's)" if i386 else \
        "the i386 table (`int 0x80`'s)"
    return (f"{reg}={entry.nr} through {mech} selects {entry.name} in the {this_table}; "
            f"{entry.nr} is {other_name} only in {that}. Here {want} is number {right}")


# -- output ------------------------------------------------------------------------------
def writes_to(outcome, fd: int):
    return [(entry, ret) for entry, ret in _crossings(outcome)
            if ret.name in ("write", "writev") and ret.args and ret.args[0] == fd]


def output_diff(expected: bytes, observed: bytes, fd: int, outcome, ctx: Context) -> list[str]:
    name = {1: "stdout", 2: "stderr"}.get(fd, f"fd {fd}")
    writes = writes_to(outcome, fd)
    out: list[str] = []
    if not observed:
        failed = [(e, r) for e, r in writes if r.ret is not None and r.ret < 0]
        if failed:
            e, r = failed[0]
            err = ERRNOS.get(-r.ret, (str(-r.ret), ""))[0]
            out.append(f"nothing reached {name}: write({fd}, ...) failed with {err} at "
                       f"{where(ctx, r.pc, _system(outcome))}")
        elif not writes:
            other = 2 if fd == 1 else 1
            if writes_to(outcome, other):
                out.append(f"nothing was written to {name} (fd {fd}); your writes went to fd "
                           f"{other}")
            else:
                out.append(f"nothing was written to {name} (no write({fd}, ...) at all)")
        return out
    if not expected:
        other = {1: "stderr (fd 2)", 2: "stdout (fd 1)"}.get(fd, "another fd")
        out.append(f"nothing belongs on {name} in this run, but the program wrote "
                   f"{_q(observed)} there (should it go to {other}?)")
        return out
    if observed + b"\n" == expected:
        if len(writes) == 1 and writes[0][1].ret is not None:
            n = writes[0][1].ret
            out.append(f"write({fd}, ...) wrote {n} bytes, expected {n + 1}: did you count the "
                       "newline?")
        else:
            out.append("the newline at the end is missing")
        return out
    if observed.startswith(expected):
        extra = observed[len(expected):]
        if extra.strip(b"\0") == b"":
            out.append(f"{len(extra)} NUL byte(s) after the expected text: the length given to "
                       "write counts bytes that are not text (the string's terminating 0? a "
                       "whole buffer instead of the count read returned?)")
        else:
            out.append(f"{len(extra)} unexpected byte(s) after the expected text: "
                       f"{_q(extra)}")
        return out
    if expected.startswith(observed):
        out.append(f"the output stops after {len(observed)} of {len(expected)} bytes")
        return out
    i = next(i for i in range(min(len(expected), len(observed)) + 1)
             if i == len(expected) or i == len(observed) or expected[i] != observed[i])
    by = _writer_of(writes, i)
    out.append(f"first difference at byte {i}: expected {_q(expected[i:i + 12])}, got "
               f"{_q(observed[i:i + 12])}"
               + (f", written by {_call_at(by[0], by[1], ctx, outcome)}" if by else ""))
    if i < len(observed) and observed[i] == 0:
        out.append("a 0 byte was written: the count given to write included a string's "
                   "terminating NUL (stop counting at the 0, not after it)")
    return out


def _writer_of(writes, offset: int):
    """The (entry, return) of the write that put byte `offset` of the stream there."""
    done = 0
    for entry, ret in writes:
        if entry is None or ret.ret is None or ret.ret <= 0:
            continue
        if done <= offset < done + ret.ret:
            return entry, ret
        done += ret.ret
    return None


def _q(data: bytes, limit: int = 60) -> str:
    from kernel_model.trace.strace import quote

    text = quote(data[:limit])
    return text + ("..." if len(data) > limit else "")


def quote_output(data: bytes, limit: int = 60) -> str:
    return _q(data, limit)


# -- a differing trace line ------------------------------------------------------------------
def arg_diff(expected: str, observed: str, entry, ctx: Context) -> list[str]:
    """Which argument or result differs between an expected line (bound names filled in;
    `<x>` still open) and the observed one, and the register that carried it."""
    from programs.grading.transcript import HOLE, VALUE, human_value, split_call

    e, o = split_call(expected), split_call(observed)
    if e is None or o is None:
        return []
    ename, eargs, eret = e
    oname, oargs, oret = o
    if ename != oname:
        text = table_confusion(entry, ename) if entry is not None else None
        return [text] if text else []
    if len(eargs) != len(oargs):
        return [f"{oname} got {len(oargs)} arguments, expected {len(eargs)}"]

    def same(pattern: str, actual: str) -> bool:
        parts, pos = [], 0
        for m in HOLE.finditer(pattern):
            parts.append(re.escape(pattern[pos:m.start()]))
            parts.append("(?:" + (m.group(2) if m.group(2) is not None else VALUE) + ")")
            pos = m.end()
        parts.append(re.escape(pattern[pos:]))
        try:
            return re.fullmatch("".join(parts), actual) is not None
        except re.error:
            return False

    for i, (pa, aa) in enumerate(zip(eargs, oargs, strict=True)):
        if not same(pa, aa):
            reg = arg_register(entry, i, ctx.bits)
            held = f" ({reg[0]} held {_num(reg[1])})" if reg else ""
            msg = f"{oname}'s {ORDINALS[i] if i < 6 else str(i + 1)} argument: expected " \
                  f"{_cut(human_value(pa))}, got {_cut(aa)}{held}"
            hint = _value_hint(pa, aa, eargs, oname)
            return [msg + (f": {hint}" if hint else "")]
    if not same(eret, oret):
        if HOLE.fullmatch(eret) and re.match(r"-1 E[A-Z0-9]+", oret):
            return [f"{oname} failed: it returned {oret}, where the exercise expects it to "
                    "succeed"]
        return [f"{oname} returned {oret}, expected {human_value(eret)}"]
    return []


def _cut(value: str, limit: int = 48) -> str:
    return value if len(value) <= limit else value[:limit - 5] + "[...]"


def _value_hint(expected: str, actual: str, eargs: list[str], name: str) -> str:
    if expected.startswith('"') and actual.startswith('"'):
        if actual[:-1] + '\\n"' == expected:
            return "the newline is missing"
        if actual.endswith('\\0"') and actual[:-3] + '"' == expected:
            return "the terminating NUL was written too"
    if expected.lstrip("-").isdigit() and actual.lstrip("-").isdigit():
        diff = int(expected) - int(actual)
        ends_nl = any(a.endswith('\\n"') for a in eargs)
        if diff == 1 and name == "write" and ends_nl:
            return "did you count the newline?"
        if abs(diff) == 1:
            return "off by one"
    return ""

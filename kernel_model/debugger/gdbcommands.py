"""The gdb commands of the TUI's `:` line, answered as gdb answers them: `x/FMT ADDR`,
`print[/FMT] EXPR`, `info registers [REG...]`, `info breakpoints`, `info proc mappings`,
`break`, `catch syscall`, `delete [N...]`, `help`; an unknown command gets gdb's
`Undefined command: "foo".` and the list of the known ones.

Output formats follow gdb on x86 Linux (compared line by line with gdb 13.1 on
programs/bin/hello.glibc-*): tab-separated `x` lines with `<symbol+offset>`, `=> ` at the pc
in `x/i`, gdb's string escapes and `<repeats N times>`, `info registers`' three columns, the
breakpoint and mapping tables. A failure is gdb's one line (`Cannot access memory at address
0x0`), never an exception. Machine-free: the guest is seen through a GdbSession."""

from __future__ import annotations

import re
import struct
from functools import lru_cache
from typing import Protocol

import capstone

from kernel_model.debugger.gdbexpr import evaluate
from kernel_model.debugger.gdbvalues import (
    GdbError,
    GdbTarget,
    Value,
    address_text,
    as_signed,
    char_literal,
    fit,
    flags_text,
    format_value,
    register,
    register_names,
    string_literal,
)
from kernel_model.debugger.insn import MAX_INSN, decode
from kernel_model.debugger.stepping import split_pid


class GdbSession(GdbTarget, Protocol):
    """A GdbTarget with the rest of what the commands show or change."""

    pid: int

    def maps(self) -> list[tuple[int, int, str, int, str]]: ...  # start end perms offset name
    def process_info(self) -> list[tuple[str, str]]: ...  # cmdline, cwd, exe
    def breakpoints(self) -> list: ...  # session.Breakpoint (number, spec, address, syscall)
    def add_breakpoint(self, spec: str): ...  # ValueError when the spec names nothing
    def remove_breakpoint(self, b) -> None: ...
    def syscall_number(self, name: str) -> int | None: ...
    def source_line(self, addr: int) -> tuple[str, int] | None: ...


# What `help` and an unknown command list (the stepping commands are added by the caller).
COMMANDS = (
    ("x/FMT ADDR", "examine memory: x/4gx $rsp, x/s $rsi, x/8i $rip (FMT: count, x d u o "
     "t a c s i z, size b h w g)"),
    ("print[/FMT] EXPR, p", "a value: p $rax, p/x $rsp+8, p *(long *)$rsp, p &msg, p $1"),
    ("whatis EXPR", "its type, as gdb names it: whatis $rsp, whatis $eax"),
    ("info registers [REG...], i r", "registers: name, hex, natural (i r rip)"),
    ("info breakpoints, i b", "the breakpoint table"),
    ("info proc mappings", "the memory map, as gdb shows /proc/PID/maps"),
    ("break LOC, b", "a breakpoint: b _start, b *0x401000, b *$rip+4; b LOC pid N: in "
     "process N only"),
    ("catch syscall NAME", "stop before every call of that syscall (catch syscall NAME pid "
     "N: process N's only)"),
    ("delete [N...], d", "delete breakpoints N (all without N)"),
    ("clear LOC", "delete the breakpoints at LOC: clear _start, clear *0x401000"),
)

WORDS = {"x": "x", "print": "print", "p": "print", "inspect": "print",
         "info": "info", "i": "info", "inf": "info", "delete": "delete", "d": "delete",
         "del": "delete", "break": "break", "b": "break", "br": "break", "tbreak": "break",
         "catch": "catch", "clear": "clear", "whatis": "whatis", "help": "help", "h": "help"}

# gdb's short forms of the stepping commands, as the TUI's controls name them.
STEPPING_ALIASES = {"s": "step", "n": "next", "c": "continue", "fin": "finish", "q": "quit",
                    "r": "run", "rsi": "rs", "reverse-stepi": "rs", "stepi": "si",
                    "nexti": "ni"}

MAX_UNITS = 1024  # what one x shows at most
PER_LINE = {"b": 8, "h": 8, "w": 4, "g": 2}
SIZES = {"b": 1, "h": 2, "w": 4, "g": 8}


class GdbConsole:
    """The command line's state between commands, as gdb keeps it: the value history ($1,
    $2...), the last `x` format and size, and where a bare `x` continues."""

    def __init__(self):
        self.history: list[Value] = []
        self.fmt = "x"
        self.size = "w"
        self.next_x: int | None = None
        self.last = ""
        self._bits = 64

    @staticmethod
    def handles(line: str) -> bool:
        """Whether `line` is one of these commands (otherwise a stepping command, or
        unknown)."""
        word = _word(line)[0]
        return word in WORDS or not line.strip()

    @staticmethod
    def changes_breakpoints(line: str) -> bool:
        return WORDS.get(_word(line)[0]) in ("break", "catch", "delete", "clear")

    def execute(self, line: str, target: GdbSession, others: tuple[str, ...] = ()) -> list[str]:
        """The output lines of one command; gdb's message for any error."""
        if not line.strip():
            if not self.last.startswith("x"):
                return []
            line = "x"  # Enter repeats x, continuing after what it showed
        word, rest = _word(line)
        self.last = line
        self._bits = target.bits
        try:
            cmd = WORDS.get(word)
            if cmd is None:
                return undefined(word, others)
            return self._RUN[cmd](self, rest, target)
        except GdbError as e:
            return [str(e)]
        except Exception as e:  # a bug of ours: one line, and the TUI goes on
            return [f"internal error: {type(e).__name__}: {e}"]

    # -- x -------------------------------------------------------------------------------
    def cmd_x(self, rest: str, t: GdbSession) -> list[str]:
        count, fmt, size, rest = self._format(rest, for_x=True)
        if rest:
            addr = address_of(evaluate(rest, t, self.history), t)
        elif self.next_x is not None:
            addr = self.next_x
        else:
            raise GdbError("Argument required (starting display address).")
        note = []
        if abs(count) > MAX_UNITS:  # the console runs on the screen's thread: keep it short
            note = [f"(the first {MAX_UNITS} shown: a count of {abs(count)} is more than the "
                    "console shows)"]
            count = MAX_UNITS if count > 0 else -MAX_UNITS
        if count < 0:
            if fmt in "si":
                raise GdbError("Examining backwards is not supported for x/s and x/i here.")
            count = -count
            addr -= count * SIZES[size]
        if fmt == "s":
            return self._x_strings(addr, count, t) + note
        if fmt == "i":
            return self._x_insns(addr, count, t) + note
        return self._x_units(addr, count, fmt, size, t) + note

    def _format(self, rest: str, for_x: bool):
        """(count, format letter, size letter, the rest) from `/FMT rest`."""
        rest = rest.strip()
        count, fmt, size = 1, "", ""
        if rest.startswith("/"):
            m = re.match(r"/(-?\d*)(\S*)", rest)
            assert m is not None, "both groups may be empty: any /FMT matches"
            if m.group(1) not in ("", "-"):
                count = int(m.group(1))
            for ch in m.group(2):
                if ch in SIZES:
                    size = ch
                elif ch in "xduotacfsiz":
                    fmt = ch
                else:
                    raise GdbError(f'Undefined output format "{ch}".')
            rest = rest[m.end():].strip()
        if not for_x:
            if count != 1:
                raise GdbError('Item count other than 1 is meaningless in "print" command.')
            if size:
                raise GdbError('Size letters are meaningless in "print" command.')
            if fmt == "i":
                raise GdbError('Format letter "i" is meaningless in "print" command.')
            return count, fmt, size, rest
        fmt = fmt or self.fmt
        if fmt == "a":
            size = "g" if self._word_size() == 8 else "w"
        elif fmt in ("c", "s") and not size:
            size = "b"
        elif fmt == "f" and not size:
            size = self.size if self.size in ("w", "g") else "g"
        size = size or self.size
        self.fmt = fmt
        if fmt not in ("s", "i"):
            self.size = size
        return count, fmt, size, rest

    def _word_size(self) -> int:
        return self._bits // 8

    def _x_units(self, addr: int, count: int, fmt: str, size: str, t: GdbSession) -> list[str]:
        n = SIZES[size]
        per_line = PER_LINE[size]
        lines: list[str] = []
        line = ""
        for k in range(count):
            a = addr + k * n
            if k % per_line == 0:
                if line:
                    lines.append(line)
                line = address_text(a, t) + ":"
            try:
                data = t.read(a, n)
            except GdbError as e:
                lines.append(f"{line}\t{e}")
                self.next_x = a
                return lines
            line += "\t" + x_item(int.from_bytes(data, "little"), n, fmt, t)
        if line:
            lines.append(line)
        self.next_x = addr + count * n
        return lines

    def _x_strings(self, addr: int, count: int, t: GdbSession) -> list[str]:
        lines = []
        for _ in range(count):
            data = bytearray()
            error = ""
            more = False
            used = 0
            while True:
                if len(data) >= 200:
                    more = True
                    used = len(data)
                    break
                try:
                    b = t.read(addr + len(data), 1)
                except GdbError as e:
                    error = f"<error: {e}>"
                    used = len(data)
                    break
                if b == b"\0":
                    used = len(data) + 1
                    break
                data += b
            text = string_literal(bytes(data), more) if data or not error else ""
            text = f"{text}{error}" if text else error
            lines.append(f"{address_text(addr, t)}:\t{text}")
            addr += used
            if error:
                break
        self.next_x = addr
        return lines

    def _x_insns(self, addr: int, count: int, t: GdbSession) -> list[str]:
        pc = _pc(t)
        lines = []
        for _ in range(count):
            mark = "=> " if addr == pc else "   "
            code = read_upto(t, addr, MAX_INSN)
            if not code:
                lines.append(f"{mark}{address_text(addr, t)}:\tCannot access memory at "
                             f"address {addr:#x}")
                break
            size, text = disassemble_one(code, addr, t)
            lines.append(f"{mark}{address_text(addr, t)}:\t{text}")
            addr += size
        self.next_x = addr
        return lines

    # -- print ------------------------------------------------------------------------
    def cmd_print(self, rest: str, t: GdbSession) -> list[str]:
        _count, fmt, _size, rest = self._format(rest, for_x=False)
        v = evaluate(rest or "$", t, self.history)  # a bare print shows the last value
        text = format_value(v, t, fmt)
        self.history.append(v)
        return [f"${len(self.history)} = {text}"]

    def cmd_whatis(self, rest: str, t: GdbSession) -> list[str]:
        if not rest.strip():
            raise GdbError("Argument required (one or more choice items).")
        from kernel_model.debugger.gdbexpr import Evaluator

        e = Evaluator(rest, t, self.history)
        if e.peek() == ("op", "(") and e.is_type(1):  # whatis (long *): a type itself
            e.take()
            t_named = e.parse_type()
            if e.i == len(e.tokens):
                return [f"type = {t_named.name}"]
        return [f"type = {Evaluator(rest, t, self.history).run().type.name}"]

    # -- info --------------------------------------------------------------------------
    def cmd_info(self, rest: str, t: GdbSession) -> list[str]:
        sub, _, args = rest.strip().partition(" ")
        args = args.strip()
        if not sub:
            return ["List of info subcommands:", ""] + [
                "info registers, info r -- The integer registers and their contents.",
                "info breakpoints, info b -- Status of the breakpoints and catchpoints.",
                "info proc mappings -- The memory map of the process."]
        if sub == "r" or "registers".startswith(sub) and len(sub) >= 3:
            return self.info_registers(args, t)
        if sub == "b" or "breakpoints".startswith(sub) and len(sub) >= 2:
            return info_breakpoints(t)
        if "proc".startswith(sub) and len(sub) >= 3:
            if not args:
                return [f"process {t.pid}"] + [f"{k} = '{v}'" for k, v in t.process_info()]
            if "mappings".startswith(args.split()[0]):
                return info_mappings(t)
            raise GdbError(f'Undefined info proc command: "{args}".  Try "help info proc".')
        raise GdbError(f'Undefined info command: "{sub}".  Known: info registers, '
                       "info breakpoints, info proc mappings.")

    def info_registers(self, args: str, t: GdbSession) -> list[str]:
        regs = t.regs()
        names = [a.removeprefix("$") for a in args.split()] or list(register_names(t.bits))
        values = []
        for name in names:
            v = register(name, regs, t.bits)
            if v is None:
                raise GdbError(f"Invalid register `{name}'")
            values.append((name, v))
        return [register_line(name, v, t) for name, v in values]

    # -- breakpoints --------------------------------------------------------------------
    def cmd_break(self, rest: str, t: GdbSession) -> list[str]:
        rest, pid = split_pid(rest.strip())
        suffix = f" pid {pid}" if pid is not None else ""
        if rest.startswith("*"):
            spec = hex(address_of(evaluate(rest[1:], t, self.history), t))
        elif not rest:
            spec = hex(_pc(t))
        else:
            spec = rest
        try:
            b = t.add_breakpoint(spec + suffix)
        except ValueError as e:
            if "replay" in str(e):
                raise GdbError(str(e)) from None
            raise GdbError(f'Function "{rest}" not defined.') from None
        if b.address is None:  # gdb's pending breakpoint: set when a library defines it
            return [f"Breakpoint {b.number} ({rest}) pending."]
        where = t.source_line(b.address)
        line = f"Breakpoint {b.number} at {b.address:#x}"
        return [line + (f": file {where[0]}, line {where[1]}." if where else "")]

    def cmd_catch(self, rest: str, t: GdbSession) -> list[str]:
        rest, pid = split_pid(rest.strip())
        suffix = f" pid {pid}" if pid is not None else ""
        what, _, name = rest.strip().partition(" ")
        name = name.strip()
        if what != "syscall":
            raise GdbError(f'Undefined catch command: "{what}".  Try "help catch".')
        if not name:
            raise GdbError("catch syscall needs a name here (catch syscall write).")
        nr = t.syscall_number(name)
        if nr is None:
            raise GdbError(f"Unknown syscall name '{name}'.")
        try:
            b = t.add_breakpoint(f"syscall {name}{suffix}")
        except ValueError as e:
            raise GdbError(str(e)) from None
        return [f"Catchpoint {b.number} (syscall '{name}' [{nr}])" + (
            f" in pid {pid}" if pid is not None else "")]

    def cmd_delete(self, rest: str, t: GdbSession) -> list[str]:
        bps = list(t.breakpoints())
        args = rest.replace("breakpoints", "").split()
        if not args:
            for b in bps:
                t.remove_breakpoint(b)
            return []
        numbers: list[int] = []
        for a in args:
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", a)
            if m is None:
                raise GdbError("Args must be numbers or '$' variables.")
            lo = int(m.group(1))
            numbers += range(lo, int(m.group(2) or lo) + 1)
        out = []
        for n in numbers:
            b = next((b for b in bps if b.number == n), None)
            if b is None:
                out.append(f"No breakpoint number {n}.")
            else:
                t.remove_breakpoint(b)
                bps.remove(b)
        return out

    def cmd_clear(self, rest: str, t: GdbSession) -> list[str]:
        rest = rest.strip()
        addr: int | None
        if rest.startswith("*"):
            addr = address_of(evaluate(rest[1:], t, self.history), t)
        elif not rest:
            addr = _pc(t)
        else:
            addr = t.lookup(rest)
        gone = [b for b in t.breakpoints() if addr is not None and b.address == addr]
        if not gone:
            raise GdbError(f"No breakpoint at {rest or 'this line'}.")
        for b in gone:
            t.remove_breakpoint(b)
        many = "s" if len(gone) > 1 else ""
        return [f"Deleted breakpoint{many} " + "".join(f"{b.number} " for b in gone)]

    # -- help --------------------------------------------------------------------------
    def cmd_help(self, rest: str, t: GdbSession) -> list[str]:
        width = max(len(c) for c, _ in COMMANDS)
        return [f"{c:<{width}}  {h}" for c, h in COMMANDS]

    # What runs each command WORDS names.
    _RUN = {"x": cmd_x, "print": cmd_print, "whatis": cmd_whatis, "info": cmd_info,
            "break": cmd_break, "catch": cmd_catch, "delete": cmd_delete, "clear": cmd_clear,
            "help": cmd_help}


def _word(line: str) -> tuple[str, str]:
    m = re.match(r"\s*([A-Za-z_-]+)", line)
    if m is None:
        return line.strip().split(" ")[0] if line.strip() else "", ""
    return m.group(1), line[m.end():]


def _pc(t: GdbTarget) -> int:
    return t.regs()["rip" if t.bits == 64 else "eip"]


def undefined(word: str, others: tuple[str, ...]) -> list[str]:
    known = ["x", "print (p)", "info registers", "info breakpoints", "info proc mappings",
             "break (b)", "catch syscall", "delete (d)", "clear", "whatis", "help", *others]
    return [f'Undefined command: "{word}".  Known commands:', ", ".join(known) + "."]


def address_of(v: Value, t: GdbTarget) -> int:
    """Where `x` or `break *` points for a value (gdb refuses an untyped data symbol)."""
    if v.type.code == "data":
        raise GdbError(f"'{v.symbol}' has unknown type; cast it to its declared type")
    if v.type.code == "void":
        raise GdbError("Attempt to take contents of a non-pointer value.")
    if v.type.code in ("int", "char") and v.type.signed:
        return as_signed(v) & ((1 << t.bits) - 1)
    return fit(v.value, v.type) if v.type.code != "text" else v.value


def x_item(value: int, size: int, fmt: str, t: GdbTarget) -> str:
    """One unit of `x`: gdb pads x, z and t to the unit's width, not d, u, o."""
    bits = 8 * size
    if fmt in ("x", "z"):
        return "0x" + format(value, f"0{2 * size}x")
    if fmt == "d":
        return str(value - (1 << bits) if value >> (bits - 1) else value)
    if fmt == "u":
        return str(value)
    if fmt == "o":
        return "0" + format(value, "o") if value else "0"
    if fmt == "t":
        return format(value, f"0{bits}b")
    if fmt == "c":
        b = value & 0xFF
        return f"{b - 256 if b > 127 else b} {char_literal(b)}"
    if fmt == "a":
        return address_text(value, t)
    if fmt == "f":  # gdb prints floats with %.9g and doubles with %.17g
        if size == 4:
            return "%.9g" % struct.unpack("<f", value.to_bytes(4, "little"))[0]
        if size == 8:
            return "%.17g" % struct.unpack("<d", value.to_bytes(8, "little"))[0]
        return str(value - (1 << bits) if value >> (bits - 1) else value)
    raise GdbError(f'Undefined output format "{fmt}".')


def register_line(name: str, v: Value, t: GdbTarget) -> str:
    """`rip            0x401550            0x401550 <_start>` (gdb's columns 15 and 34)."""
    raw = fit(v.value, v.type)
    code = v.type.code
    if code == "ptr" and v.type.target is not None and v.type.target.code == "func":
        natural = address_text(raw, t)
    elif code == "ptr":
        natural = hex(raw)
    elif code == "flags":
        natural = flags_text(raw)
    else:
        natural = str(as_signed(v))
    return f"{name:<15}{hex(raw):<19} {natural}"


def info_breakpoints(t: GdbSession) -> list[str]:
    bps = t.breakpoints()
    if not bps:
        return ["No breakpoints or watchpoints."]
    width = 18 if t.bits == 64 else 10
    out = [f"Num     Type           Disp Enb {'Address':<{width}} What"]
    for b in bps:
        enb = "y" if b.enabled else "n"
        if b.syscall is not None:
            out.append(f"{b.number:<8}{'catchpoint':<15}keep {enb:<4}{'':<{width}} "
                       f'syscall "{b.syscall}" ')
            out += _pid_only(b)
            out += _hits("catchpoint", b.hits)
            continue
        if b.address is None:
            out.append(f"{b.number:<8}{'breakpoint':<15}keep {enb:<4}{'<PENDING>':<{width}} "
                       f"{b.spec}")
            continue
        where = t.source_line(b.address)
        sym = t.symbol(b.address)
        if where and sym:
            what = f"in {sym[0]} at {where[0]}:{where[1]}"
        elif sym:
            what = f"<{sym[0]}{f'+{sym[1]}' if sym[1] else ''}>"
        else:
            what = ""
        addr = "0x" + format(b.address, f"0{width - 2}x")
        out.append(f"{b.number:<8}{'breakpoint':<15}keep {enb:<4}{addr} {what}".rstrip())
        out += _pid_only(b)
        out += _hits("breakpoint", b.hits)
    return out


def _pid_only(b) -> list[str]:
    """gdb's "stop only in thread N" line, for a breakpoint limited to one process."""
    pid = getattr(b, "pid", None)
    return [f"\tstop only in pid {pid}"] if pid is not None else []


def _hits(kind: str, n: int) -> list[str]:
    return [f"\t{kind} already hit {n} time{'s' if n > 1 else ''}"] if n else []


def info_mappings(t: GdbSession) -> list[str]:
    """gdb's table of /proc/PID/maps (linux-tdep.c): wider columns for a 64-bit process."""
    out = [f"process {t.pid}", "Mapped address spaces:", ""]
    if t.bits == 64:
        out.append("          Start Addr           End Addr       Size     Offset  Perms  "
                   "objfile")
        row = "  {:>18} {:>18} {:>10} {:>10}  {:<5}  {}"
    else:
        out.append("\tStart Addr   End Addr       Size     Offset  Perms   objfile")
        row = "\t{:>10} {:>10} {:>10} {:>10}  {:<5}  {}"
    for start, end, perms, offset, name in t.maps():
        out.append(row.format(hex(start), hex(end), hex(end - start), hex(offset), perms,
                              name))
    return out


# -- disassembly as gdb prints it ----------------------------------------------------------

def read_upto(t: GdbTarget, addr: int, n: int) -> bytes:
    """Up to n bytes from addr, fewer where the mapping ends."""
    while n > 0:
        try:
            return t.read(addr, n)
        except GdbError:
            n = min(n - 1, 0x1000 - (addr & 0xFFF)) if n > 1 else 0
    return b""


@lru_cache(maxsize=4)
def _cs(bits: int, att: bool) -> capstone.Cs:
    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64 if bits == 64 else
                     capstone.CS_MODE_32)
    if att:
        cs.syntax = capstone.CS_OPT_SYNTAX_ATT
    return cs


_SIZE_PTR = re.compile(r"\b(byte|word|dword|qword|tbyte|xword|xmmword|ymmword|zmmword) ptr\b")
_DECIMAL = re.compile(r"(?<![\w(*%.])(\d+)(?![\w)])")
_RIP = re.compile(r"(?:\[rip ([+-]) (0x[0-9a-f]+|\d+)\])|(?:(-?)(0x[0-9a-f]+|\d+)\(%rip\))")


def _att_mnemonic(mnemonic: str, ops: str, d) -> str:
    """Capstone writes every AT&T mnemonic with its size suffix (`xorl %ebp,%ebp`); gdb
    (binutils) only where no register operand gives the size, and never on call, ret, jmp,
    push, pop and leave in 64-bit code."""
    if d is None or mnemonic[-1:] not in ("b", "w", "l", "q"):
        return mnemonic
    base = mnemonic[:-1]
    if d.mnemonic != base:
        return mnemonic  # movzbl, cltq...: the suffix is part of the name
    if base in ("call", "ret", "jmp", "push", "pop", "leave"):
        return base
    if any(op.startswith("%") for op in _top_level(ops)):
        return base
    return mnemonic


def _top_level(ops: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in ops:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return out + [cur] if cur else out


def disassemble_one(code: bytes, addr: int, t: GdbTarget) -> tuple[int, str]:
    """(size, text) of the instruction at addr, laid out as gdb does: the mnemonic in a
    6-column field, operands without spaces after commas, numbers in hex, `<symbol>` after a
    branch target and `# 0xADDR` after a rip-relative operand."""
    ci = next(_cs(t.bits, t.att).disasm(code, addr, 1), None)
    if ci is None:
        return 1, "(bad)"
    ops = ci.op_str.replace(", ", ",")
    d = decode(code, addr, t.bits)
    mnemonic = _att_mnemonic(ci.mnemonic, ops, d) if t.att else ci.mnemonic
    if not t.att:
        ops = ops.replace(" + ", "+").replace(" - ", "-").replace(" * ", "*")
        ops = _SIZE_PTR.sub(lambda m: m.group(0).upper(), ops)
    ops = _DECIMAL.sub(lambda m: hex(int(m.group(1))), ops)
    text = f"{mnemonic:<6} {ops}".rstrip() if ops else mnemonic
    m = _RIP.search(ci.op_str)
    if d is not None and d.kind in ("call", "jump") and d.target and d.target[0] == "imm":
        target = d.target[1]
        sym = t.symbol(target)
        if sym is not None:
            text += f" <{sym[0]}{f'+{sym[1]}' if sym[1] else ''}>"
    elif m is not None:
        if m.group(2) is not None:
            disp = int(m.group(2), 0) * (-1 if m.group(1) == "-" else 1)
        else:
            disp = int(m.group(4), 0) * (-1 if m.group(3) == "-" else 1)
        target = (addr + ci.size + disp) & ((1 << t.bits) - 1)
        text += f"        # {address_text(target, t)}"
    return ci.size, text

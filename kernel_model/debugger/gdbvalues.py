"""Values as gdb types and prints them, for the TUI's gdb console: C's integer and pointer
types, the registers with gdb's types ($rax a long, $rsp a `void *`, $rip a `void (*)()`,
eflags its flags type, $eax $ax $al the parts), and a value printed as `print` prints it
(`60`, `(void *) 0x7ffe...`, `0x401000 <_start+2>`, `[ IF ZF ]`, strings with gdb's escapes
and `<repeats N times>`).

What a guest has no debugging information for is typed as gdb types it then: a symbol in
code is `{<text variable, no debug info>}`, one in data "has unknown type" until cast.
Machine-free: the guest is seen through a GdbTarget (kernel_model.debugger.gdbtarget)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class GdbError(Exception):
    """A command failed: the message is gdb's own one line."""


class GdbTarget(Protocol):
    """What gdb's commands may see of a stopped guest (read-only but for breakpoints)."""

    bits: int
    att: bool  # the disassembly syntax shown on the screen

    def regs(self) -> dict[str, int]: ...
    def read(self, addr: int, size: int) -> bytes: ...  # GdbError when unreadable
    def symbol(self, addr: int) -> tuple[str, int] | None: ...  # (name, offset)
    def lookup(self, name: str) -> int | None: ...
    def is_code(self, addr: int) -> bool: ...


# -- types ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CType:
    name: str  # as gdb writes it: "long", "void *", "void (*)()", "char"
    size: int
    code: str  # int, char, ptr, func, flags, text, data, void
    signed: bool = True
    target: CType | None = None  # what a pointer points to

    def pointer(self, word: int) -> CType:
        if self.code == "func":
            return CType("void (*)()", word, "ptr", False, self)
        if "(*" in self.name:
            return CType(self.name.replace("(*", "(**", 1), word, "ptr", False, self)
        star = "*" if self.name.endswith("*") else " *"
        return CType(self.name + star, word, "ptr", False, self)

    @property
    def is_int(self) -> bool:
        return self.code in ("int", "char", "flags")


VOID = CType("void", 1, "void")
INT = CType("int", 4, "int")
UINT = CType("unsigned int", 4, "int", False)
LONG_LONG = CType("long long", 8, "int")
ULONG_LONG = CType("unsigned long long", 8, "int", False)
CHAR = CType("char", 1, "char")
INT16 = CType("short", 2, "int")
# the registers' types (gdb's target descriptions: int64, int32... as typedef names)
REG64 = CType("int64_t", 8, "int")
REG32 = CType("int32_t", 4, "int")
REG16 = CType("int16_t", 2, "int")
REG8 = CType("int8_t", 1, "int")
FLAGS = CType("i386_eflags", 4, "flags", False)
FUNC = CType("void ()", 1, "func")
TEXT = CType("<text variable, no debug info>", 1, "text")
DATA = CType("<data variable, no debug info>", 1, "data")


def long_type(bits: int, signed: bool = True) -> CType:
    return CType("long" if signed else "unsigned long", bits // 8, "int", signed)


@dataclass(frozen=True)
class Value:
    type: CType
    value: int  # the bits, unsigned (for text and data symbols: the address)
    reg: str = ""  # the register it came from (not in memory: & is refused)
    symbol: str = ""  # the symbol it names, for the "unknown type" message


def fit(value: int, t: CType) -> int:
    """The value as the type's bits (unsigned)."""
    return value & ((1 << (8 * t.size)) - 1)


def as_signed(v: Value) -> int:
    bits = 8 * v.type.size
    x = fit(v.value, v.type)
    return x - (1 << bits) if v.type.signed and x >> (bits - 1) else x


# -- registers ---------------------------------------------------------------------------

_GPR64 = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp") + tuple(
    f"r{i}" for i in range(8, 16))
_SUB64 = {}
for _full, _d, _w, _b in (("rax", "eax", "ax", "al"), ("rbx", "ebx", "bx", "bl"),
                          ("rcx", "ecx", "cx", "cl"), ("rdx", "edx", "dx", "dl"),
                          ("rsi", "esi", "si", "sil"), ("rdi", "edi", "di", "dil"),
                          ("rbp", "ebp", "bp", "bpl"), ("rsp", "esp", "", "spl")):
    _SUB64.update({_d: (_full, 0, 4), _b: (_full, 0, 1)})
    if _w:
        _SUB64[_w] = (_full, 0, 2)
for _i in range(8, 16):
    _SUB64.update({f"r{_i}d": (f"r{_i}", 0, 4), f"r{_i}w": (f"r{_i}", 0, 2),
                   f"r{_i}l": (f"r{_i}", 0, 1)})
for _h, _full in (("ah", "rax"), ("bh", "rbx"), ("ch", "rcx"), ("dh", "rdx")):
    _SUB64[_h] = (_full, 8, 1)
_SUB32 = {}
for _full, _w, _b, _h in (("eax", "ax", "al", "ah"), ("ebx", "bx", "bl", "bh"),
                          ("ecx", "cx", "cl", "ch"), ("edx", "dx", "dl", "dh")):
    _SUB32.update({_w: (_full, 0, 2), _b: (_full, 0, 1), _h: (_full, 8, 1)})
for _full, _w in (("esi", "si"), ("edi", "di"), ("ebp", "bp")):
    _SUB32[_w] = (_full, 0, 2)
SEGMENTS = ("cs", "ss", "ds", "es", "fs", "gs")
_SIZED = {4: REG32, 2: REG16, 1: REG8}


def register_names(bits: int) -> tuple[str, ...]:
    """`info registers`' order (gdb's general group)."""
    if bits == 64:  # fs_base and gs_base are not in the group: `info registers fs_base`
        return _GPR64 + ("rip", "eflags") + SEGMENTS
    return ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip",
            "eflags") + SEGMENTS


def canonical(name: str, bits: int) -> str:
    """$pc, $sp, $fp, $ps as the registers they stand for."""
    pre = "r" if bits == 64 else "e"
    return {"pc": pre + "ip", "sp": pre + "sp", "fp": pre + "bp", "ps": "eflags"}.get(name, name)


def register(name: str, regs: dict[str, int], bits: int) -> Value | None:
    """A register as gdb types it, or None when this architecture has no such register."""
    name = canonical(name, bits)
    word = bits // 8
    pre = "r" if bits == 64 else "e"
    if name in regs:
        value = regs[name]
        if name == pre + "ip":
            return Value(FUNC.pointer(word), value, name)
        if name in (pre + "sp", pre + "bp"):
            return Value(VOID.pointer(word), value, name)
        if name == "eflags":
            return Value(FLAGS, value, name)
        if name in SEGMENTS:
            return Value(REG32, value, name)
        if name.endswith("_base"):
            return Value(long_type(64), value, name)
        return Value(REG64 if bits == 64 else REG32, value, name)
    sub = (_SUB64 if bits == 64 else _SUB32).get(name)
    if sub is not None and sub[0] in regs:
        full, shift, size = sub
        return Value(_SIZED[size], (regs[full] >> shift) & ((1 << 8 * size) - 1), name)
    return None


# -- printing values ------------------------------------------------------------------

# eflags as gdb's i386 flags type names its bits (gdb/features/i386/32bit-core.xml).
EFLAGS_BITS = ((0, "CF"), (2, "PF"), (4, "AF"), (6, "ZF"), (7, "SF"), (8, "TF"), (9, "IF"),
               (10, "DF"), (11, "OF"), (14, "NT"), (16, "RF"), (17, "VM"), (18, "AC"),
               (19, "VIF"), (20, "VIP"), (21, "ID"))

_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r",
            27: "\\033", 92: "\\\\"}


def flags_text(value: int) -> str:
    return "[ " + "".join(f"{n} " for bit, n in EFLAGS_BITS if value >> bit & 1) + "]"


def char_escape(b: int, quote: str) -> str:
    if b == ord(quote):
        return "\\" + quote
    if b in _ESCAPES:
        return _ESCAPES[b]
    if 0x20 <= b < 0x7F:
        return chr(b)
    return f"\\{b:03o}"


def char_literal(b: int) -> str:
    return "'" + char_escape(b, "'") + "'"


REPEAT_THRESHOLD = 10  # gdb's `set print repeats`
PRINT_ELEMENTS = 200  # gdb's `set print elements`


def string_literal(data: bytes, more: bool = False) -> str:
    """Bytes as gdb prints a C string: escapes, runs of a repeated byte folded
    (`'a' <repeats 18 times>`), `...` when cut at the print limit."""
    parts: list[str] = []
    run: list[str] = []
    i = 0
    while i < len(data):
        j = i
        while j < len(data) and data[j] == data[i]:
            j += 1
        if j - i > REPEAT_THRESHOLD:
            if run:
                parts.append('"' + "".join(run) + '"')
                run = []
            parts.append(f"{char_literal(data[i])} <repeats {j - i} times>")
        else:
            run.extend(char_escape(data[i], '"') for _ in range(j - i))
        i = j
    if run or not parts:
        parts.append('"' + "".join(run) + '"')
    return ", ".join(parts) + ("..." if more else "")


def address_text(addr: int, target: GdbTarget) -> str:
    """`0x401550 <_start+2>` (gdb's /a)."""
    sym = target.symbol(addr)
    if sym is None:
        return hex(addr)
    name, off = sym
    return f"{addr:#x} <{name}{f'+{off}' if off else ''}>"


def read_string(target: GdbTarget, addr: int, limit: int = PRINT_ELEMENTS):
    """(bytes up to the NUL, whether the print limit cut it, bytes consumed)."""
    out = bytearray()
    while len(out) < limit:
        chunk = target.read(addr + len(out), 1)
        if chunk == b"\0":
            return bytes(out), False, len(out) + 1
        out += chunk
    return bytes(out), True, len(out)


def format_value(v: Value, target: GdbTarget, fmt: str = "", top: bool = True) -> str:
    """A value as `print` shows it (after `$N = `), in gdb's natural format or /FMT."""
    t = v.type
    if t.code == "void" and not fmt:
        return "void"
    if t.code == "data":
        raise GdbError(f"'{v.symbol}' has unknown type; cast it to its declared type")
    if fmt:
        return _formatted(v, target, fmt)
    if t.code == "char":
        return f"{as_signed(v)} {char_literal(fit(v.value, t))}"
    if t.code == "int":
        return str(as_signed(v))
    if t.code == "flags":
        return flags_text(v.value)
    if t.code == "text":
        return "{%s} %s" % (t.name, address_text(v.value, target))
    if t.code == "ptr":
        addr = fit(v.value, t)
        if t.target is not None and t.target.code == "char":
            text = address_text(addr, target)
            try:
                data, more, _ = read_string(target, addr)
                return f"{text} {string_literal(data, more)}"
            except GdbError:
                return f"{text} <error: Cannot access memory at address {addr:#x}>"
        text = address_text(addr, target)
        return f"({t.name}) {text}" if top else text
    return str(v.value)


def _formatted(v: Value, target: GdbTarget, fmt: str) -> str:
    t = v.type
    size = t.size if t.code in ("int", "char", "flags", "ptr") else max(t.size, 1)
    if t.code in ("text", "func"):
        size = target.bits // 8
    x = fit(v.value, CType("", size, "int"))
    if fmt == "x":
        return hex(x)
    if fmt == "z":
        return "0x" + format(x, f"0{2 * size}x")
    if fmt == "o":
        return "0" + format(x, "o") if x else "0"
    if fmt == "t":
        return format(x, "b")
    if fmt == "d":
        return str(x - (1 << 8 * size) if x >> (8 * size - 1) else x)
    if fmt == "u":
        return str(x)
    if fmt == "c":
        b = x & 0xFF
        return f"{b - 256 if b > 127 else b} {char_literal(b)}"
    if fmt == "a":
        return address_text(x, target)
    if fmt == "s":
        return format_value(v, target, "", top=True)
    raise GdbError(f'Undefined output format "{fmt}".')

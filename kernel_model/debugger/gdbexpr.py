"""gdb's expressions over a stopped guest, for the TUI's `:` command line: registers ($rax,
$eax, $al, $pc, $sp, $fp), symbols and labels, numbers, C arithmetic with C's integer types,
casts such as `(long *)`, `*` and `&`, and the value history ($1, $, $$2); each value printed
as gdb prints it (`$1 = 60`, `(void *) 0x7ffe...`, `(void (*)()) 0x401000 <_start>`).

What a guest has no debugging information for is typed as gdb types it then: a symbol in
code is `{<text variable, no debug info>}`, one in data "has unknown type" until cast.
Machine-free: the guest is seen through a GdbTarget (kernel_model.debugger.gdbtarget)."""

from __future__ import annotations

import re
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
INT8 = CType("int8_t", 1, "int")
INT16 = CType("short", 2, "int")
FLAGS = CType("i386_eflags", 4, "flags", False)
FUNC = CType("void ()", 1, "func")
TEXT = CType("<text variable, no debug info>", 1, "text")
DATA = CType("<data variable, no debug info>", 1, "data")


def long_type(bits: int, signed: bool = True) -> CType:
    return CType("long" if signed else "unsigned long", bits // 8, "int", signed)


def _type_names(bits: int) -> dict[str, CType]:
    w = bits // 8
    out = {"int": INT, "signed int": INT, "signed": INT, "unsigned int": UINT, "unsigned": UINT,
           "char": CHAR, "signed char": CType("signed char", 1, "char"),
           "unsigned char": CType("unsigned char", 1, "char", False),
           "short": INT16, "unsigned short": CType("unsigned short", 2, "int", False),
           "long": long_type(bits), "unsigned long": long_type(bits, False),
           "long long": LONG_LONG, "unsigned long long": ULONG_LONG, "void": VOID}
    for n in (8, 16, 32, 64):
        out[f"int{n}_t"] = CType(f"int{n}_t", n // 8, "int")
        out[f"uint{n}_t"] = CType(f"uint{n}_t", n // 8, "int", False)
    out["size_t"] = CType("size_t", w, "int", False)
    return out


TYPE_WORDS = {"int", "unsigned", "signed", "char", "short", "long", "void", "size_t"} | {
    f"{p}int{n}_t" for p in ("", "u") for n in (8, 16, 32, 64)}


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
_SIZED = {4: INT, 2: INT16, 1: INT8}


def register_names(bits: int) -> tuple[str, ...]:
    """`info registers`' order (gdb's general group)."""
    if bits == 64:
        return _GPR64 + ("rip", "eflags") + SEGMENTS + ("fs_base", "gs_base")
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
            return Value(INT, value, name)
        return Value(long_type(64) if bits == 64 else INT, value, name)
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


# -- the evaluator -------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(0[xX][0-9a-fA-F]+|\d+|'(?:\\[0-7]{1,3}|\\.|[^'\\])')"  # numbers, 'c'
    r"|(\$[A-Za-z_]\w*|\$\$?\d*)"  # $reg, $1, $, $$2
    r"|([A-Za-z_.][\w.@]*)"  # symbols, labels, type words
    r"|(<<|>>|==|!=|<=|>=|&&|\|\||[-+*/%()&|^~!<>]))")


def tokenize(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            rest = text[pos:].lstrip()
            raise GdbError(f"Invalid character '{rest[0]}' in expression.")
        kind = ("num", "dollar", "name", "op")[m.lastindex - 1]
        out.append((kind, m.group(m.lastindex)))
        pos = m.end()
    return out


_BINARY = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", ">", "<=", ">="),
           ("<<", ">>"), ("+", "-"), ("*", "/", "%")]


class Evaluator:
    """One expression, read by recursive descent (C's precedence)."""

    def __init__(self, text: str, target: GdbTarget, history: list[Value]):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.t = target
        self.history = history
        self.word = target.bits // 8
        self.types = _type_names(target.bits)

    def run(self) -> Value:
        if not self.tokens:
            raise GdbError("A syntax error in expression, near `'.")
        v = self.binary(0)
        if self.i < len(self.tokens):
            self.syntax_error()
        return v

    def syntax_error(self):
        rest = ""
        if self.i < len(self.tokens):
            # the text from the offending token on, as gdb quotes it
            pos = 0
            for k in range(self.i):
                pos = self.text.index(self.tokens[k][1], pos) + len(self.tokens[k][1])
            rest = self.text[pos:].strip()
        raise GdbError(f"A syntax error in expression, near `{rest}'.")

    def peek(self, k: int = 0):
        j = self.i + k
        return self.tokens[j] if j < len(self.tokens) else ("end", "")

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def binary(self, level: int) -> Value:
        if level == len(_BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek()[0] == "op" and self.peek()[1] in _BINARY[level]:
            op = self.take()[1]
            right = self.binary(level + 1)
            left = self.apply(op, left, right)
        return left

    def unary(self) -> Value:
        kind, tok = self.peek()
        if kind == "op" and tok in ("-", "+", "~", "!", "*", "&"):
            self.take()
            v = self.unary()
            return self.apply_unary(tok, v)
        if kind == "op" and tok == "(" and self.is_type(1):
            self.take()
            t = self.parse_type()
            return self.cast(t, self.unary())
        return self.primary()

    def is_type(self, k: int) -> bool:
        kind, tok = self.peek(k)
        return kind == "name" and tok in TYPE_WORDS

    def parse_type(self) -> CType:
        words = []
        while self.peek()[0] == "name" and self.peek()[1] in TYPE_WORDS:
            words.append(self.take()[1])
        name = " ".join(words)
        if name.endswith(" int") and name != "unsigned int" and name != "signed int":
            name = name[:-4]  # "long int", "unsigned long int"
        t = self.types.get(name)
        if t is None:
            raise GdbError(f"A syntax error in expression, near `{name}'.")
        while self.peek() == ("op", "*"):
            self.take()
            t = t.pointer(self.word)
        if self.take() != ("op", ")"):
            self.syntax_error()
        return t

    def primary(self) -> Value:
        kind, tok = self.take()
        if kind == "num":
            return self.number(tok)
        if kind == "dollar":
            return self.dollar(tok)
        if kind == "name":
            if tok == "sizeof":
                return self.sizeof()
            addr = self.t.lookup(tok)
            if addr is None:
                raise GdbError(f'No symbol "{tok}" in current context.')
            if self.t.is_code(addr):
                return Value(TEXT, addr, symbol=tok)
            return Value(DATA, addr, symbol=tok)
        if (kind, tok) == ("op", "("):
            v = self.binary(0)
            if self.take() != ("op", ")"):
                self.i -= 1
                self.syntax_error()
            return v
        self.i -= 1
        self.syntax_error()

    def sizeof(self) -> Value:
        if self.peek() == ("op", "(") and self.is_type(1):
            self.take()
            t = self.parse_type()
        else:
            t = self.unary().type
        return Value(long_type(self.t.bits, False), t.size)

    def number(self, tok: str) -> Value:
        if tok.startswith("'"):  # a character constant: 'a', '\n', '\0'
            body = tok[1:-1]
            if body.startswith("\\"):
                body = body.encode().decode("unicode_escape") if body[1] not in "01234567" \
                    else chr(int(body[1:], 8))
            return Value(CHAR, ord(body) & 0xFF)
        n = int(tok, 16) if tok[:2].lower() == "0x" else int(tok, 8) if (
            len(tok) > 1 and tok[0] == "0") else int(tok)
        hexa = tok[0] == "0" and len(tok) > 1
        # C's rule for a literal's type: the first of these that holds it.
        for t in (INT, UINT if hexa else None, long_type(self.t.bits),
                  long_type(self.t.bits, False) if hexa else None, LONG_LONG, ULONG_LONG):
            if t is None:
                continue
            limit = 1 << (8 * t.size - (1 if t.signed else 0))
            if n < limit:
                return Value(t, n)
        raise GdbError("Numeric constant too large.")

    def dollar(self, tok: str) -> Value:
        name = tok[1:]
        if name == "" or name.startswith("$") or name.isdigit():
            return self.from_history(name)
        v = register(name, self.t.regs(), self.t.bits)
        if v is None:
            return Value(VOID, 0)  # an unset convenience variable, as in gdb
        return v

    def from_history(self, name: str) -> Value:
        h = self.history
        if name.isdigit():
            n = int(name)
            if n == 0 or n > len(h):
                raise GdbError(f"History has not yet reached ${n}.")
            return h[n - 1]
        back = 0 if name == "" else (1 if name == "$" else int(name[1:]))
        if back >= len(h):
            if not h:
                return Value(VOID, 0)
            raise GdbError(f"History has not yet reached $${back}.")
        return h[len(h) - 1 - back]

    # -- operations ------------------------------------------------------------------------
    def check_known(self, v: Value) -> None:
        if v.type.code == "data":
            raise GdbError(f"'{v.symbol}' has unknown type; cast it to its declared type")

    def apply_unary(self, op: str, v: Value) -> Value:
        if op == "&":
            if v.type.code in ("text", "data"):
                return Value(v.type.pointer(self.word), v.value)
            raise GdbError("Attempt to take address of value not located in memory.")
        self.check_known(v)
        if op == "*":
            return self.deref(v)
        if not v.type.is_int:
            what = "negate operation" if op == "-" else "unary operation"
            raise GdbError(f"Argument to {what} not a number.")
        t = promote(v.type)
        x = as_signed(v) if v.type.signed else fit(v.value, v.type)
        r = {"-": -x, "+": x, "~": ~x, "!": int(not x)}[op]
        return Value(INT if op == "!" else t, fit(r, t))

    def deref(self, v: Value) -> Value:
        t = v.type
        if t.code == "text":
            return v
        if t.code != "ptr":
            if not t.is_int:
                raise GdbError("Attempt to take contents of a non-pointer value.")
            t = INT.pointer(self.word)  # gdb reads an integer address as an int
        target = t.target
        if target.code == "void":
            raise GdbError("Attempt to dereference a generic pointer.")
        addr = fit(v.value, t)
        if target.code in ("func", "text"):
            return Value(TEXT, addr)
        if target.code == "data":
            return Value(DATA, addr, symbol=v.symbol)
        data = self.t.read(addr, target.size)
        return Value(target, int.from_bytes(data, "little"))

    def cast(self, t: CType, v: Value) -> Value:
        if v.type.code == "data":
            # gdb reads an untyped data symbol as the type it is cast to
            if t.code == "ptr" or t.is_int:
                data = self.t.read(v.value, t.size)
                return Value(t, int.from_bytes(data, "little"))
        if t.code == "void":
            return Value(VOID, 0)
        if v.type.code == "void":
            raise GdbError("Invalid cast.")
        x = as_signed(v) if v.type.code in ("int", "char") and v.type.signed else v.value
        return Value(t, fit(x, t))

    def apply(self, op: str, a: Value, b: Value) -> Value:
        self.check_known(a)
        self.check_known(b)
        pa = a.type.code in ("ptr", "text")
        pb = b.type.code in ("ptr", "text")
        if op in ("+", "-") and (pa or pb):
            return self.pointer_math(op, a, b, pa, pb)
        if op in ("==", "!=", "<", ">", "<=", ">=", "&&", "||"):
            x = self.number_of(a)
            y = self.number_of(b)
            r = {"==": x == y, "!=": x != y, "<": x < y, ">": x > y, "<=": x <= y,
                 ">=": x >= y, "&&": bool(x) and bool(y), "||": bool(x) or bool(y)}[op]
            return Value(INT, int(r))
        if not (a.type.is_int and b.type.is_int):
            raise GdbError("Argument to arithmetic operation not a number or boolean.")
        t = common(a.type, b.type) if op not in ("<<", ">>") else promote(a.type)
        x = as_signed(Value(t, fit(self.number_of(a), t)))
        y = self.number_of(b)
        if not t.signed:
            x, y = fit(x, t), (y if op in ("<<", ">>") else fit(y, t))
        if op in ("/", "%"):
            if y == 0:
                raise GdbError("Division by zero")
            q = abs(x) // abs(y) * (1 if (x < 0) == (y < 0) else -1)  # C truncates to 0
            r = q if op == "/" else x - q * y
        else:
            r = {"+": x + y, "-": x - y, "*": x * y, "&": x & y, "|": x | y, "^": x ^ y,
                 "<<": x << (y & 63), ">>": x >> (y & 63)}[op]
        return Value(t, fit(r, t))

    def number_of(self, v: Value) -> int:
        if v.type.code in ("int", "char") and v.type.signed:
            return as_signed(v)
        if v.type.code == "void":
            raise GdbError("Argument to arithmetic operation not a number or boolean.")
        return fit(v.value, v.type) if v.type.code != "text" else v.value

    def pointer_math(self, op, a, b, pa, pb) -> Value:
        if pa and pb:
            if op == "+":
                raise GdbError("Argument to arithmetic operation not a number or boolean.")
            size = _element(a.type)
            return Value(long_type(self.t.bits), fit((a.value - b.value) // size,
                                                     long_type(self.t.bits)))
        if pb:
            if op == "-":
                raise GdbError("Argument to arithmetic operation not a number or boolean.")
            a, b = b, a
        if not b.type.is_int:
            raise GdbError("Argument to arithmetic operation not a number or boolean.")
        t = a.type if a.type.code == "ptr" else a.type.pointer(self.word)
        step = self.number_of(b) * _element(t)
        r = a.value + step if op == "+" else a.value - step
        return Value(t, fit(r, t))


def _element(t: CType) -> int:
    target = t.target if t.code == "ptr" else t
    if target is None or target.code in ("void", "func", "text", "data"):
        return 1
    return target.size


def promote(t: CType) -> CType:
    return INT if t.size < 4 or t.code in ("char", "flags") else t


def common(a: CType, b: CType) -> CType:
    """C's usual arithmetic conversions."""
    a, b = promote(a), promote(b)
    if a.size != b.size:
        return a if a.size > b.size else b
    return a if not a.signed else b


def evaluate(text: str, target: GdbTarget, history: list[Value]) -> Value:
    return Evaluator(text, target, history).run()

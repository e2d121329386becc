"""gdb's expressions over a stopped guest, for the TUI's gdb console: registers ($rax,
$eax, $al, $pc, $sp, $fp), symbols and labels, numbers and character constants, C's
arithmetic and integer promotions, casts such as `(long *)`, `*` and `&`, sizeof, and the
value history ($1, $, $$2). Read by recursive descent in C's precedence; every failure is
gdb's one-line message (kernel_model.debugger.gdbvalues has the types and printing)."""

from __future__ import annotations

import re
from typing import NoReturn

from kernel_model.debugger.gdbvalues import (
    CHAR,
    DATA,
    INT,
    INT16,
    LONG_LONG,
    TEXT,
    UINT,
    ULONG_LONG,
    VOID,
    CType,
    GdbError,
    GdbTarget,
    Value,
    as_signed,
    fit,
    long_type,
    register,
)


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
        group = m.lastindex
        assert group is not None, "every alternative of _TOKEN is a group"
        kind = ("num", "dollar", "name", "op")[group - 1]
        out.append((kind, m.group(group)))
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

    def syntax_error(self) -> NoReturn:
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
        return Value(INT, t.size)  # gdb's sizeof is an int

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
        t = common(v.type, v.type, self.t.bits)
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
        assert target is not None, "a pointer type knows its target"
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
            truth = {"==": x == y, "!=": x != y, "<": x < y, ">": x > y, "<=": x <= y,
                     ">=": x >= y, "&&": bool(x) and bool(y), "||": bool(x) or bool(y)}[op]
            return Value(INT, int(truth))
        if not (a.type.is_int and b.type.is_int):
            raise GdbError("Argument to arithmetic operation not a number or boolean.")
        t = common(a.type, b.type, self.t.bits) if op not in ("<<", ">>") else \
            common(a.type, a.type, self.t.bits)
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


def common(a: CType, b: CType, bits: int = 64) -> CType:
    """C's usual arithmetic conversions, to gdb's builtin type of that size (int64_t plus
    int is a long)."""
    a, b = promote(a), promote(b)
    if a.size != b.size:
        t = a if a.size > b.size else b
    else:
        t = a if not a.signed else b
    if t.size == 4:
        return INT if t.signed else UINT
    if t.size == 8 and bits == 64:
        return long_type(64, t.signed)
    return (LONG_LONG if t.signed else ULONG_LONG) if t.size == 8 else t


def evaluate(text: str, target: GdbTarget, history: list[Value]) -> Value:
    return Evaluator(text, target, history).run()

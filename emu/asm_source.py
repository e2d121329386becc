"""The assembler's source language, line by line: comments, arguments, string and
character literals, `times`, labels (with NASM's local labels), %define substitution, the
directives and their sizes, and the NASM forms refused with what to write instead.

Names with a leading underscore are private to the assembler's modules (emu/asm*.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from emu.asm_expr import evaluate
from emu.elf_writer import PF_R, PF_W, PF_X


class AsmError(Exception):
    """An error in the source; str() is 'file:line: message'."""


DEFAULT_MAX_IMAGE = 1 << 30  # the guest's default memory limit (kernel_model.memory.mm)
POSITIONAL_TIMES = 100_000  # copies of a `times` line that differ by address (each made alone)
BASES = {64: 0x400000, 32: 0x8048000}
SECTION_ORDER = ("text", "rodata", "data", "bss")
SECTION_FLAGS = {"text": PF_R | PF_X, "rodata": PF_R, "data": PF_R | PF_W, "bss": PF_R | PF_W}
DATA_SIZES = {
    "db": 1, ".byte": 1, "dw": 2, ".word": 2, ".short": 2, ".2byte": 2, ".value": 2,
    "dd": 4, ".long": 4, ".int": 4, ".4byte": 4, "dq": 8, ".quad": 8, ".8byte": 8,
}
RESERVE_SIZES = {"resb": 1, "resw": 2, "resd": 4, "resq": 8}
IGNORED = {".globl", ".global", "global", ".intel_syntax", ".type", ".size", ".file", ".ident",
           ".att_syntax", ".p2align", "cpu"}
EXTERN = ("extern", ".extern")

_LABEL = re.compile(r"^\s*([A-Za-z_.$@?][\w.$@?]*)\s*:(?!:)\s*(.*)$")
_NASM_DATA_LABEL = re.compile(
    r"^\s*([A-Za-z_.$@?][\w.$@?]*)\s+(db|dw|dd|dq|resb|resw|resd|resq|equ|times)\b(.*)$", re.I
)
_ASSIGN = re.compile(r"^\s*([A-Za-z_.$@?][\w.$@?]*)\s*=\s*(.+)$")


@dataclass
class _Item:
    line: int
    section: str
    kind: str  # "insn", "data", "reserve", "align", "label", "const"
    text: str = ""
    label: str = ""
    rel: bool = False  # under NASM's `default rel`
    scope: str = ""  # the non-local label NASM's `.local` labels hang from
    local: str = ""  # for a label item `_start.loop`, its bare name `.loop`


class _AsmState:
    """What the assembler's mixins (_Parser, _Encoder) share: the instance attributes
    _Assembler sets, declared here for the type checker only (no values, so nothing changes
    at run time), and the methods one half calls on the whole."""

    path: str
    bits: int
    lines: list[str]
    items: list[_Item]
    defines: dict[str, str]  # %define NAME VALUE
    externs: set[str]
    aliases: set[str]  # local labels reachable by their bare name
    _names: dict[str, int]  # the layout's current symbol values
    _addresses: set[str]  # names that are addresses (relocatable), not constants
    _section_start: int

    if TYPE_CHECKING:
        def error(self, line: int, message: str) -> AsmError: ...


def _strip_comment(line: str) -> str:
    out, quote = [], None
    for i, ch in enumerate(line):
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(line):
                continue
            if ch == quote and (i == 0 or line[i - 1] != "\\"):
                quote = None
            continue
        if ch in "\"'`":
            quote = ch
        elif ch in ";#":
            break
        out.append(ch)
    return "".join(out).rstrip()


def _split_args(text: str) -> list[str]:
    args, cur, quote = [], [], None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            cur.append(ch)
            if ch == "\\" and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'`":
            quote = ch
            cur.append(ch)
        elif ch == ",":
            args.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    if "".join(cur).strip():
        args.append("".join(cur).strip())
    return args


_ESCAPES = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, '"': 34, "'": 39, "a": 7, "b": 8,
            "e": 27, "f": 12, "v": 11}


def _unquote(s: str) -> bytes:
    body = s[1:-1]
    if s[0] == "'" and "\\" not in body:  # NASM: single quotes are raw
        return body.encode()
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "x":
                m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:])
                if m:
                    out.append(int(m.group(0), 16))
                    i += 2 + len(m.group(0))
                    continue
            octal = re.match(r"[0-7]{1,3}", body[i + 1:]) if nxt in "01234567" else None
            if octal and octal.group(0) != "0":
                out.append(int(octal.group(0), 8) & 0xFF)
                i += 1 + len(octal.group(0))
                continue
            out.append(_ESCAPES.get(nxt, ord(nxt)))
            i += 2
            continue
        out += ch.encode()
        i += 1
    return bytes(out)


def _split_times(rest: str) -> tuple[str, str]:
    """`times 16 - ($ - msg) db 0` is count `16 - ($ - msg)` and `db 0`: the count ends
    where a word follows a complete operand (a number, a name, `$` or `)`) at depth 0."""
    depth = 0
    for m in re.finditer(r"[()]|\s+(?=[A-Za-z_.])", rest):
        tok = m.group(0)
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif depth == 0 and re.search(r"[\w$)'\"]$", rest[:m.start()]):
            return rest[:m.start()].strip(), rest[m.end():].strip()
    return rest.strip(), ""


def _eval(expr: str, names: dict[str, int], here: int) -> int:
    """NASM spellings (`0ffh`, 'a') become plain numbers, then the shared evaluator."""
    text = _nasm_numbers(expr.strip())
    text = re.sub(r"'(\\?.)'", lambda m: str(_unquote("'" + m.group(1) + "'")[0]), text)
    return evaluate(text, names, here)


def _label_item(n: int, section: str, name: str, scope: str) -> tuple[_Item, str]:
    """The label item for `name:` and the scope after it (NASM: a name without a leading
    dot starts a new scope; `.x` is `scope.x`; `..@x` belongs to no scope)."""
    if name.startswith(".") and not name.startswith("..") and scope:
        return _Item(n, section, "label", label=scope + name, local=name), scope
    if name.startswith("."):
        return _Item(n, section, "label", label=name), scope
    return _Item(n, section, "label", label=name), name


_LOCAL_REF = re.compile(r"(?<![\w.$@?])\.[A-Za-z_$@?][\w.$@?]*")
_WORD = re.compile(r"(?<![\w.$@?])[A-Za-z_.$@?][\w.$@?]*")


def _outside_quotes(text: str, fn) -> str:
    """`fn` applied to the parts of `text` outside quoted strings."""
    parts = re.split(r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`(?:[^`\\]|\\.)*`)", text)
    return "".join(p if i % 2 else fn(p) for i, p in enumerate(parts))


def _apply_defines(line: str, defines: dict[str, str]) -> str:
    """%define's names replaced (repeatedly, as NASM expands a definition's own names)."""
    for _ in range(16):
        new = _outside_quotes(line, lambda part: _WORD.sub(
            lambda m: defines.get(m.group(0), m.group(0)), part))
        if new == line:
            break
        line = new
    return line


_PREPROCESSOR_HINTS = {
    "%include": "not supported: paste the file's lines into this one",
    "%macro": "NASM's macros are not supported: write the instructions out "
              "(%define NAME VALUE works for constants)",
    "%if": "conditional assembly is not supported: keep the lines you want",
    "%ifdef": "conditional assembly is not supported: keep the lines you want",
    "%ifndef": "conditional assembly is not supported: keep the lines you want",
    "%rep": "not supported: write the lines out, or use `times N ...` for data",
}
_NASM_UNSUPPORTED = {
    "org": "org is for flat binaries: syscall-lab lays out an ELF itself (.text, .data, .bss "
           "sections; the entry is _start)",
    "bits": "only `bits 64` and `bits 32` are supported (16-bit code never runs under Linux)",
    "incbin": "incbin is not supported: put the bytes in with db",
    "struc": "struc is not supported: name each field's offset with equ (`st_size equ 48`)",
    "istruc": "istruc is not supported: lay the fields out with db/dw/dd/dq",
    "common": "common is not supported: reserve the space in .bss with resb",
}


_NASM_HEX = re.compile(r"(?<![\w.$])([0-9][0-9a-fA-F]*)[hH](?![\w.])")


_NUMBER_WITH_UNDERSCORES = re.compile(
    r"(?<![\w.$])(0[xX][0-9a-fA-F_]+|[0-9][0-9a-fA-F_]*[hHbByYoOqQ]?)(?![\w.])")
_NASM_DOLLAR_HEX = re.compile(r"(?<![\w.$@?])\$([0-9][0-9a-fA-F_]*)(?![\w.$@?])")  # `$0ff`
_NASM_BIN = re.compile(r"(?<![\w.$])([01]+)[bByY](?![\w.])")
_NASM_OCT = re.compile(r"(?<![\w.$])(?:([0-7]+)[oOqQ]|0[oOqQ]([0-7]+))(?![\w.])")


def _nasm_numbers(text: str) -> str:
    """NASM's number spellings (`1_000`, `0ffh`, `1010b`, `17o`/`17q`/`0o17`) as plain
    numbers."""
    text = _NASM_DOLLAR_HEX.sub(lambda m: "0x" + m.group(1).replace("_", ""), text)
    text = _NUMBER_WITH_UNDERSCORES.sub(lambda m: m.group(1).replace("_", ""), text)
    text = _NASM_HEX.sub(lambda m: hex(int(m.group(1), 16)), text)
    text = _NASM_BIN.sub(lambda m: hex(int(m.group(1), 2)), text)
    return _NASM_OCT.sub(lambda m: hex(int(m.group(1) or m.group(2), 8)), text)

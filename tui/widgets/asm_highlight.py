"""Which part of an assembly line is what, for the editor's colours: one line's spans
(start, end, kind) in the NASM-like syntax the lab's assembler reads (emu/asm_parse.py):
labels, mnemonics, registers, numbers, strings, directives, size words, symbols, comments.

By position, like the assembler: the first word of a statement is its mnemonic unless it
is a directive or a label, so a mnemonic the list below has never heard of is still one.
Pure (no Textual): the editor widget maps kinds to styles.
"""

from __future__ import annotations

import re

Span = tuple[int, int, str]  # [start, end) in characters, and the kind

KINDS = ("comment", "label", "mnemonic", "register", "number", "string", "directive",
         "size", "symbol")

_GPR64 = "rax rbx rcx rdx rsi rdi rbp rsp".split() + [f"r{n}" for n in range(8, 16)]
REGISTERS = frozenset(
    _GPR64
    + "eax ebx ecx edx esi edi ebp esp ax bx cx dx si di bp sp".split()
    + "al bl cl dl ah bh ch dh sil dil bpl spl".split()
    + [f"r{n}{s}" for n in range(8, 16) for s in ("d", "w", "b", "l")]
    + "rip eip ip cs ds es fs gs ss".split()
    + [f"{k}mm{n}" for k in "xyz" for n in range(32)]
    + [f"mm{n}" for n in range(8)] + [f"st{n}" for n in range(8)] + ["st"]
    + [f"cr{n}" for n in range(9)] + [f"dr{n}" for n in range(8)]
    + [f"k{n}" for n in range(8)]
)
# NASM's operand size words and modifiers, and Intel syntax's `ptr`.
SIZES = frozenset("byte word dword qword tword oword yword zword ptr rel abs short near "
                  "far strict offset".split())
# Words that start a statement that is not an instruction (emu/asm_parse.py reads these).
DIRECTIVES = frozenset(
    "section segment bits use32 use64 default global extern cpu align alignb times equ "
    "db dw dd dq dt resb resw resd resq incbin".split()
)
PREFIXES = frozenset("rep repe repz repne repnz lock".split())

_TOKEN = re.compile(r"""
    (?P<string>"(?:\\.|[^"\\])*"?|'(?:\\.|[^'\\])*'?|`(?:\\.|[^`\\])*`?)
  | (?P<number>\$?[0-9][\w.]*)
  | (?P<word>[A-Za-z_.$@?%][\w.$@?#~]*)
  | (?P<other>\S)
""", re.X)


def _comment_start(line: str) -> int:
    """Where the comment starts (`;` or `#` outside quotes), or len(line)."""
    quote = None
    escaped = False
    for i, ch in enumerate(line):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'`":
            quote = ch
        elif ch in ";#":
            return i
    return len(line)


def spans(line: str) -> list[Span]:
    """The coloured spans of one line, in order; what is not in a span (spaces, commas,
    brackets, operators) keeps the editor's plain style."""
    cut = _comment_start(line)
    tokens = [(m.start(), m.end(), m.lastgroup, m.group()) for m in _TOKEN.finditer(line, 0, cut)]
    out: list[Span] = []
    i = 0
    # Labels first: `name:` (any number of them), or NASM's `name db ...` / `name equ ...`.
    while i < len(tokens):
        start, end, group, text = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if group == "word" and nxt is not None and nxt[3] == ":" and nxt[0] == end \
                and not text.startswith("%"):
            out.append((start, nxt[1], "label"))
            i += 2
            continue
        if group == "word" and nxt is not None and nxt[2] == "word" \
                and nxt[3].lower() in DIRECTIVES and text.lower() not in DIRECTIVES \
                and text.lower() not in PREFIXES:
            out.append((start, end, "label"))
            i += 1
        break
    statement = None  # "directive" or "mnemonic", from the statement's first word
    for start, end, group, text in tokens[i:]:
        low = text.lower()
        if group in ("string", "number"):
            kind = group
        elif group == "other":
            continue
        elif statement is None:
            if low in DIRECTIVES or low.startswith((".", "%")):
                statement = kind = "directive"
            else:
                kind = "mnemonic"
                statement = "prefix" if low in PREFIXES else "mnemonic"
        elif statement == "prefix":  # `rep movsb`: both words are the instruction
            kind = statement = "mnemonic"
        elif low in REGISTERS:
            kind = "register"
        elif low in SIZES:
            kind = "size"
        elif statement == "directive" and low in DIRECTIVES:  # `times 4 db 0`
            kind = "directive"
        else:
            kind = "symbol"
        out.append((start, end, kind))
    if cut < len(line):
        out.append((cut, len(line), "comment"))
    return out

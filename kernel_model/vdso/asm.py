r"""Assembling the vDSO's sources (Intel syntax, GNU-as directives) with keystone, at the
offset the code will have inside the image.

What the vDSO needs and emu/asm.py (which builds whole executables at a fixed base) does not:
code placed at an arbitrary origin, position-independent references (`[rip + sym]` becomes a
displacement from the end of the instruction; a memory operand with no base register is
refused, since it would need a relocation the vDSO cannot have), symbol bindings and sizes
(`.globl`, `.weak`, `.type`, `.size`, `.set`), and call-frame information (`.cfi_*`) for
.eh_frame.

Supported: labels, `.text`, `.intel_syntax`, `.globl/.global/.weak/.hidden/.local`,
`.type NAME, @function`, `.size NAME, EXPR`, `.set/.equ NAME, EXPR`, `.align/.balign/.p2align`,
`.byte/.word/.long/.quad`, `.macro NAME [PARAM, ...]` ... `.endm` (a use writes the body with
`\PARAM` replaced by the argument and `\@` by a number unique to that use, as GNU as does,
for local labels), and `.cfi_startproc/.cfi_endproc/.cfi_def_cfa_offset/
.cfi_adjust_cfa_offset/.cfi_offset/.cfi_rel_offset/.cfi_restore/.cfi_remember_state/
.cfi_restore_state`. Comments: `#`, `;` or `//`. Expressions: + - * / << >> & | ( ) over
numbers, labels, constants and `.` (here). Labels starting with `.L` are assembler-local.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from keystone import KS_ARCH_X86, KS_MODE_32, KS_MODE_64, Ks, KsError

from emu.asm_expr import UnknownSymbol, evaluate


class VdsoAsmError(Exception):
    """An error in a vDSO source: str() is 'file:line: message'."""


@dataclass
class CfiOp:
    addr: int
    op: str
    args: tuple


@dataclass
class Fde:
    start: int
    end: int
    ops: list[CfiOp]


@dataclass
class AsmOutput:
    bits: int
    origin: int
    code: bytes
    labels: dict[str, int]  # every label and .set symbol (not the .L ones)
    local_labels: dict[str, int]
    bindings: dict[str, str]  # name -> "global" | "weak" | "local"
    types: dict[str, str]  # name -> "function" | "object"
    sizes: dict[str, int]
    fdes: list[Fde]
    lines: dict[int, int] = field(default_factory=dict)  # address -> source line
    insn_sizes: dict[int, int] = field(default_factory=dict)

    @property
    def end(self) -> int:
        return self.origin + len(self.code)


_IDENT = re.compile(r"(?<![\w.$@])(?!0x)(?:[A-Za-z_.$@][\w.$@]*)")
_NUMBER = re.compile(r"^(0x[0-9a-fA-F]+|\d+)$")
_REGISTERS = set(
    "al ah ax eax rax bl bh bx ebx rbx cl ch cx ecx rcx dl dh dx edx rdx si esi rsi sil di edi "
    "rdi dil bp ebp rbp bpl sp esp rsp spl ip eip rip cs ds es fs gs ss".split()
) | {f"r{i}{s}" for i in range(8, 16) for s in ("", "d", "w", "b")} | {
    f"xmm{i}" for i in range(16)}
_SIZE_WORDS = {"byte", "word", "dword", "qword", "xmmword", "ptr", "short", "near"}
# DWARF register numbers (System V psABI for x86-64, i386 psABI)
DWARF_REGS = {
    64: {"rax": 0, "rdx": 1, "rcx": 2, "rbx": 3, "rsi": 4, "rdi": 5, "rbp": 6, "rsp": 7,
         **{f"r{i}": i for i in range(8, 16)}, "rip": 16},
    32: {"eax": 0, "ecx": 1, "edx": 2, "ebx": 3, "esp": 4, "ebp": 5, "esi": 6, "edi": 7,
         "eip": 8},
}


def _strip_comment(line: str) -> str:
    for marker in ("//", "#", ";"):
        at = line.find(marker)
        if at >= 0:
            line = line[:at]
    return line.strip()


def _split_top(text: str, sep: str = ",") -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def _signed_terms(text: str) -> list[tuple[int, str]]:
    """'rsi + a - b*2' -> [(+1, 'rsi'), (+1, 'a'), (-1, 'b*2')] (top level only)."""
    terms: list[tuple[int, str]] = []
    cur: list[str] = []
    depth, sign = 0, 1
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch in "+-" and depth == 0:
            before = "".join(cur).strip()
            if before:
                terms.append((sign, before))
                cur = []
                sign = 1 if ch == "+" else -1
            else:
                sign = sign * (1 if ch == "+" else -1)
            continue
        cur.append(ch)
    if "".join(cur).strip():
        terms.append((sign, "".join(cur).strip()))
    return terms


def _has_register(term: str) -> bool:
    return any(w.lower() in _REGISTERS for w in re.findall(r"[A-Za-z_][\w]*", term))


@dataclass
class _Item:
    line: int
    kind: str  # label, insn, align, data, cfi
    text: str = ""
    name: str = ""
    args: tuple = ()


class _Source:
    def __init__(self, source: str, path: str, bits: int, defines: dict[str, int]):
        self.path = path
        self.bits = bits
        self.defines = dict(defines)
        self.items: list[_Item] = []
        self.bindings: dict[str, str] = {}
        self.types: dict[str, str] = {}
        self.size_exprs: dict[str, tuple[int, str, int]] = {}  # name -> (line, expr, index)
        self.sets: list[tuple[int, str, str]] = []
        self._parse(source)

    def error(self, line: int, msg: str) -> VdsoAsmError:
        return VdsoAsmError(f"{self.path}:{line}: {msg}")

    def _expand_macros(self, source: str) -> list[tuple[int, str]]:
        """The source's lines (number, text without comments), each macro use replaced by
        its body, whose lines keep the number of the use (for error messages)."""
        macros: dict[str, tuple[list[str], list[str]]] = {}
        defining: tuple[int, str, list[str], list[str]] | None = None
        uses = 0
        out: list[tuple[int, str]] = []
        for n, raw in enumerate(source.splitlines(), 1):
            line = _strip_comment(raw)
            word, _, rest = line.partition(" ")
            if word.lower() == ".macro":
                name, *params = [p for p in re.split(r"[\s,]+", rest.strip()) if p] or [""]
                if not name:
                    raise self.error(n, ".macro needs a name")
                defining = (n, name, params, [])
            elif word.lower() == ".endm":
                if defining is None:
                    raise self.error(n, ".endm without .macro")
                macros[defining[1]] = (defining[2], defining[3])
                defining = None
            elif defining is not None:
                defining[3].append(line)
            elif word in macros:
                params, body = macros[word]
                args = _split_top(rest.strip()) if rest.strip() else []
                if len(args) != len(params):
                    raise self.error(n, f"{word} takes {len(params)} argument(s)")
                uses += 1
                for text in body:
                    # (longest first: \\none before \\n)
                    for param, arg in sorted(zip(params, args, strict=True),
                                             key=lambda pa: -len(pa[0])):
                        text = text.replace("\\" + param, arg)
                    out.append((n, text.replace("\\@", str(uses))))
            else:
                out.append((n, line))
        if defining is not None:
            raise self.error(defining[0], f".macro {defining[1]} has no .endm")
        return out

    def _parse(self, source: str) -> None:
        for n, line in self._expand_macros(source):
            while True:
                m = re.match(r"^([A-Za-z_.$@][\w.$@]*)\s*:(.*)$", line)
                if not m:
                    break
                self.items.append(_Item(n, "label", name=m.group(1)))
                line = m.group(2).strip()
            if not line:
                continue
            word, _, rest = line.partition(" ")
            word = word.lower()
            rest = rest.strip()
            if word.startswith("."):
                self._directive(n, word, rest)
            else:
                self.items.append(_Item(n, "insn", text=line))

    def _directive(self, n: int, word: str, rest: str) -> None:
        args = _split_top(rest)
        if word in (".text", ".intel_syntax", ".code32", ".code64", ".file", ".section"):
            return
        if word in (".globl", ".global", ".weak", ".local", ".hidden"):
            bind = {"weak": "weak", "local": "local", "hidden": None}.get(word[1:], "global")
            for a in args:
                if bind:
                    self.bindings[a] = bind
            return
        if word == ".type":
            if len(args) != 2:
                raise self.error(n, ".type takes a name and @function or @object")
            self.types[args[0]] = args[1].lstrip("@%")
            return
        if word == ".size":
            if len(args) != 2:
                raise self.error(n, ".size takes a name and an expression")
            self.size_exprs[args[0]] = (n, args[1], len(self.items))
            self.items.append(_Item(n, "size", name=args[0], text=args[1]))
            return
        if word in (".set", ".equ"):
            if len(args) != 2:
                raise self.error(n, f"{word} takes a name and an expression")
            self.sets.append((n, args[0], args[1]))
            return
        if word in (".align", ".balign", ".p2align"):
            if not args:
                raise self.error(n, f"{word} needs an alignment")
            value = evaluate(args[0], self.defines, 0)
            if word == ".p2align":
                value = 1 << value
            if value & (value - 1):
                raise self.error(n, f"alignment {value} is not a power of two")
            self.items.append(_Item(n, "align", args=(value,)))
            return
        if word in (".byte", ".word", ".short", ".long", ".int", ".quad"):
            size = {".byte": 1, ".word": 2, ".short": 2, ".long": 4, ".int": 4, ".quad": 8}[word]
            self.items.append(_Item(n, "data", args=(size, tuple(args))))
            return
        if word.startswith(".cfi_"):
            self.items.append(_Item(n, "cfi", name=word[5:], args=tuple(args)))
            return
        raise self.error(n, f"unknown directive {word}")


class _Assembler:
    def __init__(self, src: _Source, origin: int):
        self.src = src
        self.origin = origin
        self.ks = Ks(KS_ARCH_X86, KS_MODE_64 if src.bits == 64 else KS_MODE_32)

    def _names(self, labels: dict[str, int]) -> dict[str, int]:
        names = {**self.src.defines, **labels}
        for _n, name, expr in self.src.sets:
            try:
                names[name] = evaluate(expr, names, 0)
            except ValueError:
                pass
        return names

    def run(self) -> AsmOutput:
        labels: dict[str, int] = {}
        for _ in range(12):
            new = self._layout(self._names(labels), final=False)[0]
            if new == labels:
                break
            labels = new
        else:
            raise self.src.error(1, "label addresses do not settle")
        names = self._names(labels)
        labels, code, lines, insn_sizes, fdes = self._layout(names, final=True)
        names = self._names(labels)
        for n, name, expr in self.src.sets:
            try:
                names[name] = evaluate(expr, names, 0)
            except ValueError as e:
                raise self.src.error(n, f"cannot evaluate {expr!r}: {e}") from None
        sizes = {}
        for name, (n, expr, _) in self.src.size_exprs.items():
            here = self._size_here[name]
            try:
                sizes[name] = evaluate(expr, names, here)
            except ValueError as e:
                raise self.src.error(n, f"cannot evaluate {expr!r}: {e}") from None
        public = {k: v for k, v in names.items()
                  if not k.startswith(".L") and k not in self.src.defines}
        local = {k: v for k, v in labels.items() if k.startswith(".L")}
        return AsmOutput(self.src.bits, self.origin, code, public, local, dict(self.src.bindings),
                         dict(self.src.types), sizes, fdes, lines, insn_sizes)

    def _layout(self, names: dict[str, int], final: bool):
        labels: dict[str, int] = {}
        code = bytearray()
        lines: dict[int, int] = {}
        insn_sizes: dict[int, int] = {}
        fdes: list[Fde] = []
        open_fde: Fde | None = None
        self._size_here: dict[str, int] = {}
        for it in self.src.items:
            here = self.origin + len(code)
            if it.kind == "label":
                if final and it.name in labels:
                    raise self.src.error(it.line, f"label {it.name!r} defined twice")
                labels[it.name] = here
            elif it.kind == "align":
                code += nop_padding((-here) % it.args[0])
            elif it.kind == "data":
                size, exprs = it.args
                for e in exprs:
                    v = self._eval(it, e, names, self.origin + len(code), final)
                    code += (v & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
            elif it.kind == "size":
                self._size_here[it.name] = here
            elif it.kind == "insn":
                enc = self._insn(it, names, here, final)
                lines[here] = it.line
                insn_sizes[here] = len(enc)
                code += enc
            elif it.kind == "cfi":
                if it.name == "startproc":
                    if open_fde is not None and final:
                        raise self.src.error(it.line, ".cfi_startproc inside a procedure")
                    open_fde = Fde(here, here, [])
                elif it.name == "endproc":
                    if open_fde is None:
                        if final:
                            raise self.src.error(it.line, ".cfi_endproc without startproc")
                        continue
                    open_fde.end = here
                    fdes.append(open_fde)
                    open_fde = None
                else:
                    if open_fde is None:
                        if final:
                            raise self.src.error(it.line, f".cfi_{it.name} outside a procedure")
                        continue
                    open_fde.ops.append(CfiOp(here, it.name, self._cfi_args(it, names, final)))
        if open_fde is not None and final:
            raise self.src.error(self.src.items[-1].line, "missing .cfi_endproc")
        return labels, bytes(code), lines, insn_sizes, fdes

    def _cfi_args(self, it: _Item, names: dict[str, int], final: bool) -> tuple:
        regs = DWARF_REGS[self.src.bits]
        out = []
        for a in it.args:
            if a.lower().lstrip("%") in regs:
                out.append(regs[a.lower().lstrip("%")])
            else:
                out.append(self._eval(it, a, names, 0, final))
        return tuple(out)

    def _eval(self, it: _Item, expr: str, names: dict[str, int], here: int, final: bool) -> int:
        try:
            return evaluate(expr, names, here)
        except UnknownSymbol as e:
            if final:
                raise self.src.error(it.line, str(e)) from None
            return here
        except ValueError as e:
            raise self.src.error(it.line, str(e)) from None

    # -- instructions ----------------------------------------------------------------------
    def _insn(self, it: _Item, names: dict[str, int], here: int, final: bool) -> bytes:
        words = it.text.split(None, 1)
        mnemonic = words[0]
        operands = _split_top(words[1]) if len(words) > 1 else []
        out_ops = []
        rip_target = None
        for op in operands:
            text, target = self._operand(it, op, names, here, final)
            if target is not None:
                rip_target = target
            out_ops.append(text)
        line = f"{mnemonic} {', '.join(out_ops)}".strip()
        if rip_target is None:
            return self._encode(it, line, here)
        # [rip + sym]: the displacement counts from the end of this instruction; a disp32
        # always, so one probe learns the length.
        probe = self._encode(it, line.replace("__RIPDISP__", "+ 0x7fffffff"), here)
        disp = rip_target - (here + len(probe))
        enc = self._encode(it, line.replace("__RIPDISP__", f"{'-' if disp < 0 else '+'} "
                                                            f"{abs(disp):#x}"), here)
        if len(enc) != len(probe):
            raise self.src.error(it.line, "rip-relative operand changed length")
        return enc

    def _operand(self, it: _Item, op: str, names: dict[str, int], here: int,
                 final: bool) -> tuple[str, int | None]:
        if "[" in op:
            prefix, _, rest = op.partition("[")
            inner, _, suffix = rest.rpartition("]")
            regs, const = [], 0
            for sign, term in _signed_terms(inner):
                if _has_register(term):
                    if sign < 0:
                        raise self.src.error(it.line, f"cannot subtract a register: {op}")
                    regs.append(_hexify(term))
                else:
                    const += sign * self._eval(it, term, names, here, final)
            prefix = re.sub(r"\b(byte|word|dword|qword|xmmword)\s*$", r"\1 ptr ", prefix.strip(),
                            flags=re.I)
            if any(r.lower() == "rip" for r in regs):
                if len(regs) != 1:
                    raise self.src.error(it.line, f"rip-relative with an index: {op}")
                return f"{prefix}[rip __RIPDISP__]{suffix}", const
            if not regs:
                raise self.src.error(it.line, f"absolute address {op}: the vDSO must be "
                                              "position independent (use [rip + sym] or a "
                                              "get-pc thunk)")
            disp = "" if const == 0 else f" {'-' if const < 0 else '+'} {abs(const):#x}"
            return f"{prefix}[{' + '.join(regs)}{disp}]{suffix}", None
        stripped = op.strip()
        if stripped.lower() in _REGISTERS or _has_register(stripped):
            return stripped, None
        value = self._eval(it, stripped, names, here, final)
        return (f"-{-value:#x}" if value < 0 else f"{value:#x}"), None

    def _encode(self, it: _Item, text: str, here: int) -> bytes:
        try:
            enc, _ = self.ks.asm(text, here)
        except KsError as e:
            raise self.src.error(it.line, f"keystone: {e}: {text}") from None
        if not enc:
            raise self.src.error(it.line, f"cannot assemble: {text}")
        return bytes(enc)


# The recommended multi-byte NOPs (Intel SDM, "NOP"), as assemblers pad code with.
_NOPS = (b"", b"\x90", b"\x66\x90", b"\x0f\x1f\x00", b"\x0f\x1f\x40\x00",
         b"\x0f\x1f\x44\x00\x00", b"\x66\x0f\x1f\x44\x00\x00",
         b"\x0f\x1f\x80\x00\x00\x00\x00", b"\x0f\x1f\x84\x00\x00\x00\x00\x00",
         b"\x66\x0f\x1f\x84\x00\x00\x00\x00\x00")


def nop_padding(n: int) -> bytes:
    out = bytearray()
    while n > 0:
        take = min(n, 9)
        out += _NOPS[take]
        n -= take
    return bytes(out)


def _hexify(term: str) -> str:
    return re.sub(r"(?<![\w])(\d+)(?![\w])", lambda m: hex(int(m.group(1))), term)


def assemble(source: str, path: str, bits: int, origin: int,
             defines: dict[str, int] | None = None) -> AsmOutput:
    """Assemble `source` as if loaded at image offset `origin`."""
    src = _Source(source, path, bits, defines or {})
    return _Assembler(src, origin).run()

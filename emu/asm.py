"""Assembling a guest program from an Intel-syntax source file with keystone.

Accepted: `.text`/`.data`/`.bss`/`.rodata` (or `section .data`, `segment .data`), labels
(`name:`, or NASM's `msg db ...`; NASM's local `.loop` belongs to the label above it),
`bits 32`/`bits 64` (or `.code32`/`.code64`) to pick the architecture, data directives
(db/dw/dd/dq, .byte/.word/.long/.quad, .ascii/.asciz/.string, .zero/.space, resb.., times,
.align), constants (`len equ $ - msg`, `len: equ ...`, `.equ len, . - msg`, `len = . - msg`,
`%define NAME VALUE`), character constants (`'A'`, `'abcd'`), and NASM's RIP-relative
addressing (`[rel label]`, `default rel`/`default abs`, as NASM applies them); an absolute
`[label]` in 64-bit code is absolute as in NASM (a SIB disp32), `$`, `$$`, `$0ff`, and
ud0/ud1/rdpid/lar, which keystone lacks. No image may exceed the guest's memory limit.
Other NASM forms (macros, %include, org, incbin, struc, extern calls) are refused with the
line and what to write instead.
Instructions are assembled one line at a time so each address maps back to its source line;
passes repeat until every label's address is stable.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

from keystone import KS_ARCH_X86, KS_MODE_32, KS_MODE_64, Ks, KsError

from emu.asm_expr import UnknownSymbol, evaluate
from emu.elf_writer import PF_R, PF_W, PF_X, OutSegment, write_executable
from emu.machine import PAGE, page_up


class AsmError(Exception):
    """An error in the source; str() is 'file:line: message'."""


@dataclass
class Assembled:
    bits: int
    elf: bytes
    entry: int
    labels: dict[str, int]
    lines: dict[int, int]  # instruction address -> source line number
    source: list[str]
    path: str
    sizes: dict[int, int] = field(default_factory=dict)  # instruction address -> length


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
    size_hint: int = 0
    rel: bool = False  # under NASM's `default rel`
    scope: str = ""  # the non-local label NASM's `.local` labels hang from
    local: str = ""  # for a label item `_start.loop`, its bare name `.loop`


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
            if nxt in "01234567" and re.match(r"[0-7]{1,3}", body[i + 1:]).group(0) != "0":
                m = re.match(r"[0-7]{1,3}", body[i + 1:])
                out.append(int(m.group(0), 8) & 0xFF)
                i += 1 + len(m.group(0))
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


class _Assembler:
    def __init__(self, source: str, path: str, default_bits: int, max_image: int):
        self.path = path
        self.max_image = max_image  # the guest's memory limit: no image may be larger
        self._section_start = 0
        self.lines = source.splitlines()
        self.bits = default_bits
        self.items: list[_Item] = []
        self._parse()

    def error(self, line: int, message: str) -> AsmError:
        return AsmError(f"{self.path}:{line}: {message}")

    def _parse(self) -> None:
        section = "text"
        bits_set = False
        default_rel = False
        scope = ""
        self.defines: dict[str, str] = {}  # %define NAME VALUE, replaced word by word
        self.externs: set[str] = set()
        for n, raw in enumerate(self.lines, 1):
            line = _strip_comment(raw).strip()
            if line.startswith("%"):
                self._preprocessor(n, line)  # keystone never sees a `%` line: it hangs on one
                continue
            if self.defines:
                line = _apply_defines(line, self.defines)
            while line:
                m = _LABEL.match(line)
                if m and not line.lower().startswith(("section", ".section")):
                    name = m.group(1)
                    rest = m.group(2).strip()
                    if rest.lower().startswith("equ") and rest[3:4] in ("", " ", "\t"):
                        line = f"{name} {rest}"  # NASM's `len: equ $ - msg`
                        break
                    item, scope = _label_item(n, section, name, scope)
                    self.items.append(item)
                    line = rest
                    continue
                break
            if not line:
                continue
            low = line.lower()
            word = low.split()[0]
            rest = line[len(word):].strip()
            if low.strip("[]") in ("bits 64", "bits 32", "use64", "use32") or word in (
                    ".code32", ".code64"):
                want = 32 if "32" in low else 64
                if bits_set and want != self.bits:
                    raise self.error(n, "the program sets both 32 and 64 bits")
                self.bits, bits_set = want, True
                continue
            if word == "default" or low.startswith("[default"):
                mode = low.strip("[]").split()[1:2]
                if mode not in (["rel"], ["abs"]):
                    raise self.error(n, "write `default rel` or `default abs`")
                default_rel = mode == ["rel"]
                continue
            if word in ("section", ".section", "segment"):
                name = rest.split(",")[0].split()[0].lstrip(".") if rest else ""
                section = self._section_name(n, name)
                continue
            if word in (".text", ".data", ".bss", ".rodata"):
                section = word[1:]
                continue
            if word in EXTERN:
                self.externs.update(a.split(":")[0].strip() for a in _split_args(rest))
                continue
            if word in IGNORED or word.startswith(".cfi"):
                continue
            if word in _NASM_UNSUPPORTED:
                raise self.error(n, _NASM_UNSUPPORTED[word])
            m = _ASSIGN.match(line)
            if m and not re.match(r"^\s*\w+\s+\w", line.split("=")[0]):
                self.items.append(_Item(n, section, "const", label=m.group(1), text=m.group(2)))
                continue
            if word in (".equ", ".set"):
                args = _split_args(rest)
                if len(args) != 2:
                    raise self.error(n, f"{word} takes a name and a value")
                self.items.append(_Item(n, section, "const", label=args[0], text=args[1]))
                continue
            m = _NASM_DATA_LABEL.match(line)
            if m:
                name, directive, tail = m.group(1), m.group(2).lower(), m.group(3)
                if directive == "equ":
                    self.items.append(_Item(n, section, "const", label=name, text=tail.strip(),
                                            scope=scope))
                    continue
                item, scope = _label_item(n, section, name, scope)
                self.items.append(item)
                line = f"{directive} {tail.strip()}"
                low = line.lower()
                word = directive
                rest = tail.strip()
            if word == "times":
                count, thing = _split_times(rest)
                if not count or not thing:
                    raise self.error(n, "times needs a count and a directive")
                self.items.append(_Item(n, section, "times", text=thing, label=count,
                                        scope=scope, rel=default_rel))
                continue
            if word in DATA_SIZES or word in (".ascii", ".asciz", ".string"):
                self.items.append(_Item(n, section, "data", text=line, scope=scope))
                continue
            if word in RESERVE_SIZES or word in (".zero", ".space", ".skip", ".fill"):
                self.items.append(_Item(n, section, "reserve", text=line, scope=scope))
                continue
            if word in (".align", ".balign", "align", "alignb"):
                self.items.append(_Item(n, section, "align", text=rest))
                continue
            if word.startswith(".") and word not in (".byte",):
                raise self.error(n, f"unknown directive {word}")
            if section not in ("text",):
                raise self.error(n, f"an instruction in .{section}: put code in .text")
            self.items.append(_Item(n, section, "insn", text=line, rel=default_rel, scope=scope))
        self._resolve_local_labels()
        self._refuse_circular_constants()

    def _refuse_circular_constants(self) -> None:
        """`a equ b` with `b equ a` (or `a equ a + 1`) has no value: NASM gives 0 to the
        first and gives up on the second after 1000 passes; here both are an error."""
        consts = {it.label: it for it in self.items if it.kind == "const"}
        deps = {name: {w for w in _IDENT.findall(_STRINGS.sub("", it.text)) if w in consts}
                for name, it in consts.items()}
        done: set[str] = set()

        def visit(name: str, path: list[str]) -> None:
            if name in path:
                cycle = path[path.index(name):] + [name]
                it = consts[cycle[0]]
                chain = ", ".join(f"`{c} equ {consts[c].text.strip()}`" for c in cycle[:-1])
                raise self.error(it.line, f"{chain}: the constant is defined in terms of "
                                          "itself, so it has no value")
            if name in done:
                return
            for d in sorted(deps[name]):
                visit(d, path + [name])
            done.add(name)

        for name in consts:
            visit(name, [])

    def _preprocessor(self, n: int, line: str) -> None:
        """NASM's single-line %define/%assign (a name for a value); the rest of its macro
        language is refused with what to write instead."""
        m = re.match(r"%(x?i?define|assign)\s+([A-Za-z_.$@?][\w.$@?]*)(\(.*)?\s*(.*)$", line,
                     re.I)
        if m and not m.group(3):
            self.defines[m.group(2)] = m.group(4).strip()
            return
        if m:
            raise self.error(n, "a %define with parameters is not supported: write the "
                                "instructions out, or %define NAME VALUE for a constant")
        m = re.match(r"%(undef)\s+(\S+)", line, re.I)
        if m:
            self.defines.pop(m.group(2), None)
            return
        word = line.split()[0].lower()
        hint = _PREPROCESSOR_HINTS.get(word, "NASM's preprocessor is not supported beyond "
                                             "%define NAME VALUE")
        raise self.error(n, f"{word}: {hint}")

    def _resolve_local_labels(self) -> None:
        """NASM's `.loop` belongs to the last label without a dot (`_start.loop`), so each
        function may have its own `.loop`. A local label defined once in the file is also
        reachable by its bare name, as in GAS, where `.L1` is one name for the whole file."""
        known = {it.label for it in self.items if it.kind == "label"}
        bare = [it.local for it in self.items if it.kind == "label" and it.local]
        self.aliases = {b for b in bare if bare.count(b) == 1}

        def qualify(text: str, scope: str) -> str:
            if not scope or "." not in text:
                return text

            def sub(m: re.Match) -> str:
                name = scope + m.group(0)
                return name if name in known else m.group(0)

            return _outside_quotes(text, lambda part: _LOCAL_REF.sub(sub, part))

        for it in self.items:
            if it.kind in ("insn", "data", "times", "reserve", "const") and it.scope:
                it.text = qualify(it.text, it.scope)
                if it.kind == "times":
                    it.label = qualify(it.label, it.scope)

    def _section_name(self, n: int, name: str) -> str:
        name = name.lower()
        if name in ("text", "data", "bss", "rodata"):
            return name
        if name.startswith("rodata"):
            return "rodata"
        raise self.error(n, f"unknown section .{name} (use .text, .rodata, .data or .bss)")

    # -- layout ------------------------------------------------------------------
    def _data_bytes(self, item: _Item, names: dict[str, int], here: int, final: bool) -> bytes:
        word, _, rest = item.text.partition(" ")
        word = word.lower()
        args = _split_args(rest)
        out = bytearray()
        if word in (".ascii", ".asciz", ".string"):
            for a in args:
                if not a or a[0] not in "\"'`":
                    raise self.error(item.line, f"{word} takes quoted strings")
                out += _unquote(a) + (b"\0" if word != ".ascii" else b"")
            return bytes(out)
        size = DATA_SIZES[word]
        for a in args:
            if a and a[0] in "\"'`" and a[-1] == a[0] and (size == 1 or len(a) > 3):
                s = _unquote(a)
                pad = (-len(s)) % size
                out += s + bytes(pad)
                continue
            if size in (4, 8) and _FLOAT.fullmatch(a):  # NASM's `dd 1.5`, `dq -2.0e3`
                out += struct.pack("<f" if size == 4 else "<d", float(a.replace("_", "")))
                continue
            try:
                v = _eval(a, names, here + len(out)) if final else _try_eval(a, names, here)
            except ValueError as e:
                raise self.error(item.line, str(e)) from None
            out += (v & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
        return bytes(out)

    def _reserve_size(self, item: _Item, names: dict[str, int], here: int) -> int:
        word, _, rest = item.text.partition(" ")
        word = word.lower()
        args = _split_args(rest)
        try:
            count = _eval(args[0], names, here) if args else 0
        except ValueError as e:
            raise self.error(item.line, str(e)) from None
        if word in RESERVE_SIZES:
            return count * RESERVE_SIZES[word]
        if word == ".fill" and len(args) >= 2:
            return count * _eval(args[1], names, here)
        return count

    def assemble(self) -> Assembled:
        ks = Ks(KS_ARCH_X86, KS_MODE_64 if self.bits == 64 else KS_MODE_32)
        names: dict[str, int] = {}
        self._names = names
        self._addresses = {it.label for it in self.items if it.kind == "label"} | self.aliases
        base = BASES[self.bits]
        previous: dict[str, int] | None = None
        for _ in range(8):
            result = self._layout(ks, names, base, final=False)
            if previous == result[0]:
                break
            previous = dict(result[0])
            names.clear()
            names.update(result[0])
        result = self._layout(ks, names, base, final=True)
        labels, segments, line_map, sizes = result
        if "_start" in labels:
            entry = labels["_start"]
        else:
            entry = segments[0].vaddr if segments and segments[0].flags & PF_X else 0
        if not any(s.flags & PF_X and s.data for s in segments):
            raise AsmError(f"{self.path}:1: no instructions in .text")
        elf = write_executable(self.bits, entry, segments, base)
        return Assembled(self.bits, elf, entry, labels, line_map, self.lines, self.path, sizes)

    def _layout(self, ks: Ks, names: dict[str, int], base: int, final: bool):
        labels: dict[str, int] = {}
        segments: list[OutSegment] = []
        line_map: dict[int, int] = {}
        sizes: dict[int, int] = {}
        addr = base + PAGE  # the first page holds the ELF and program headers
        for section in SECTION_ORDER:
            items = [it for it in self.items if it.section == section]
            if not items:
                continue
            start = addr
            self._section_start = start
            data = bytearray()
            size = 0  # .bss holds no bytes, only a size: `resb 512 << 20` costs nothing
            for it in items:
                here = start + size
                chunk = b""
                reserve = 0
                if it.kind == "label":
                    if it.label in labels and final:
                        raise self.error(it.line, f"label {it.label!r} defined twice")
                    labels[it.label] = here
                    if it.local in self.aliases:
                        labels[it.local] = here
                elif it.kind == "const":
                    try:
                        labels[it.label] = _eval(it.text, self._scope_names(names, labels), here)
                    except ValueError as e:
                        if final:
                            raise self.error(it.line, str(e)) from None
                        labels[it.label] = names.get(it.label, 0)
                elif it.kind == "insn":
                    chunk = self._insn(ks, it, here, final)
                    line_map[here] = it.line
                    sizes[here] = len(chunk)
                elif it.kind == "data":
                    chunk = self._data_bytes(it, self._scope_names(names, labels), here, final)
                elif it.kind == "times":
                    chunk = self._times(ks, it, self._scope_names(names, labels), here,
                                        here - base, final)
                elif it.kind == "reserve":
                    reserve = self._reserve_size(it, self._scope_names(names, labels), here)
                    if reserve < 0:
                        raise self.error(it.line, f"{it.text.strip()}: a negative size")
                elif it.kind == "align":
                    try:
                        a = _eval(_split_args(it.text)[0], self._scope_names(names, labels),
                                  here) if it.text else 1
                    except ValueError as e:
                        raise self.error(it.line, str(e)) from None
                    if a <= 0 or a & (a - 1):
                        raise self.error(it.line, f"alignment {a} is not a power of two")
                    if a > self.max_image:
                        raise self.error(it.line, f"align {a:#x} is larger than the guest's "
                                                  f"memory limit ({_size(self.max_image)})")
                    pad = (-here) % a
                    if section == "text":
                        chunk = b"\x90" * pad
                    else:
                        reserve = pad
                end = here + len(chunk) + reserve
                if end - base > self.max_image:
                    raise self.error(it.line, f"the program would take {_size(end - base)}, "
                                              "more than the guest's memory limit "
                                              f"({_size(self.max_image)})")
                if section == "bss":
                    size += len(chunk) + reserve  # NASM: data in .bss is only reserved space
                else:
                    data += chunk
                    if reserve:
                        data += bytes(reserve)
                    size = len(data)
            if section == "bss":
                if segments and segments[-1].flags == SECTION_FLAGS["data"] and \
                        segments[-1].vaddr + segments[-1].memsz == start:
                    last = segments[-1]
                    segments[-1] = OutSegment(last.vaddr, last.data, last.memsz + size,
                                              last.flags)
                else:
                    segments.append(OutSegment(start, b"", size, SECTION_FLAGS[section]))
                addr = page_up(start + size)
                continue
            segments.append(OutSegment(start, bytes(data), len(data), SECTION_FLAGS[section]))
            if section == "data":
                addr = start + len(data)  # .bss continues right after .data, as ld does
            else:
                addr = page_up(start + len(data)) if data else start
        return labels, segments, line_map, sizes

    def _scope_names(self, names: dict[str, int], labels: dict[str, int]) -> dict[str, int]:
        """The names an expression may use here: last pass's, this pass's, and NASM's `$$`
        (the start of this section)."""
        return {**names, **labels, "$$": self._section_start}

    def _times(self, ks: Ks, it: _Item, names: dict[str, int], here: int, used: int,
               final: bool) -> bytes:
        """`times N thing`: N copies, made in one piece when the thing does not depend on
        where it lands (`times 3000000 db 0` is one multiplication, not 3 million lines)."""
        try:
            count = _eval(it.label, names, here)
        except ValueError as e:
            if final:
                raise self.error(it.line, str(e)) from None
            count = 0
        if count < 0:
            raise self.error(it.line, f"times {it.label}: the count is negative ({count}); "
                                      "NASM refuses a negative TIMES value")
        if count == 0:
            return b""
        word = it.text.split()[0].lower()
        is_data = word in DATA_SIZES or word in (".ascii", ".asciz", ".string")
        if word in RESERVE_SIZES:
            raise self.error(it.line, f"write `{word} N*{it.label}` instead of times with "
                                      f"{word}")
        sub = _Item(it.line, it.section, "data" if is_data else "insn", text=it.text,
                    rel=it.rel, scope=it.scope)

        def one(at: int) -> bytes:
            if is_data:
                return self._data_bytes(sub, names, at, final)
            return self._insn(ks, sub, at, final)

        first = one(here)
        limit = self.max_image - used
        if len(first) * count > limit:
            raise self.error(it.line, f"times {count} makes {_size(len(first) * count)}, more "
                                      f"than the guest's memory limit ({_size(self.max_image)})")
        bare = _STRINGS.sub("", it.text)
        positional = bool(_HERE_SIGN.search(bare))
        if not is_data:  # a jump or a RIP-relative operand changes with the address
            operands = _split_mnemonic(bare)[1]
            positional |= any(w.lower() not in _OPERAND_WORDS for w in _IDENT.findall(operands))
        if not positional:
            return first * count
        if count > POSITIONAL_TIMES:
            raise self.error(it.line, f"times {count} of `{it.text.strip()}`: a line whose "
                                      "bytes depend on its address ($ or a label) is "
                                      f"assembled copy by copy, at most {POSITIONAL_TIMES:,} "
                                      "copies (NASM makes them all): use a smaller count")
        out = bytearray(first)
        for _ in range(count - 1):
            out += one(here + len(out))
        return bytes(out)

    def _insn(self, ks: Ks, it: _Item, here: int, final: bool) -> bytes:
        """Labels are replaced by their numbers before keystone sees the line: with a symbol
        resolver keystone measures pc-relative displacements from the wrong place."""
        if not re.match(r"[A-Za-z_]", it.text.strip()):
            raise self.error(it.line, f"not an instruction: {it.text.strip()}")
        if "%" in _STRINGS.sub("", it.text):
            # keystone hangs on some `%`s and reads none as NASM does
            raise self.error(it.line, f"`%` in an instruction: {it.text.strip()}: for NASM's "
                                      "modulo, name the value with equ (`r equ 10 % 3`); "
                                      "registers take no % in Intel syntax")
        bare = re.sub(r"'[^']*'|\"[^\"]*\"", "", it.text)  # `cmp al, '['` is balanced
        if bare.count("[") != bare.count("]"):
            # keystone quietly assembles `mov rax, [` into something else entirely
            raise self.error(it.line, f"unbalanced brackets: {it.text.strip()}")
        if _FLOAT_IN_CODE.search(re.sub(r"'[^']*'|\"[^\"]*\"", "", it.text)):
            # keystone quietly assembles `mov eax, 1.5` into something else
            raise self.error(it.line, f"x86 instructions take no floating-point numbers: "
                                      f"{it.text.strip()}: put it in .data (`val: dq 1.5`) "
                                      "and load it from there")
        if re.search(r"\bwrt\b", it.text, re.I):
            raise self.error(it.line, f"{it.text.strip()}: syscall-lab programs are static, with "
                                      "no shared libraries: write `call label` or "
                                      "`[rel label]` without wrt")
        text = re.sub(r"\b(offset|strict)\s+", "", it.text, flags=re.I)
        # NASM's character constants (`'A'`, `'abcd'`, little-endian) are numbers.
        text = _QUOTED.sub(lambda m: hex(int.from_bytes(_unquote(m.group(0)), "little")), text)
        # NASM's `byte [rsi]` is keystone's `byte ptr [rsi]`.
        text = _SIZE_NO_PTR.sub(r"\1 ptr [", text)
        mnemonic, operands = _split_mnemonic(text)
        if mnemonic.lower().split()[-1] == "movsd" and not operands.strip():
            # the string move; keystone reads a bare `movsd` as SSE's and refuses it
            di, si = ("rdi", "rsi") if self.bits == 64 else ("edi", "esi")
            operands = f"dword ptr [{di}], dword ptr [{si}]"
        # keystone takes no `short`/`near` on a jump; it picks the short form when it fits.
        operands = re.sub(r"^\s*(short|near)\s+", "", operands, flags=re.I)
        low = mnemonic.lower()
        if low in _ZERO_F_RM:  # instructions keystone does not know
            return self._zero_f_rm(ks, it, low, operands, here, final)
        operands, target = self._nasm_memory(operands, it, here, final)
        rip = _RIP_REL.search(operands)
        if rip and target is None:
            expr = rip.group(1).strip()
            if _IDENT.search(expr):
                target = self._value(expr.lstrip("+"), it, here, final)
        if target is not None:
            # [rip + label]: the displacement is label - end of this instruction, so
            # encode once with a placeholder to learn the length.
            probe = _RIP_REL.sub("[rip + 0x7fffffff]", operands)
            length = len(self._encode(ks, it, _keystone_numbers(
                f"{mnemonic} {self._substitute(probe, it, here, final)}"), here, final))
            disp = target - (here + length)
            if not -(1 << 31) <= disp < (1 << 31) and final:
                raise self.error(it.line, "the target is more than 2 GiB away for RIP-relative "
                                          f"addressing: {it.text.strip()}")
            sign = "-" if disp < 0 else "+"
            operands = _RIP_REL.sub(f"[rip {sign} {abs(disp):#x}]", operands)
        operands = self._substitute(operands, it, here, final)
        return self._encode(ks, it, _keystone_numbers(f"{mnemonic} {operands}".strip()), here,
                            final)

    def _zero_f_rm(self, ks: Ks, it: _Item, mnemonic: str, operands: str, here: int,
                   final: bool) -> bytes:
        """`ud0`, `ud1`, `lar` (0F opcode /r) and `rdpid` (F3 0F C7 /7), which keystone
        refuses: encoded as NASM does. An `0F xx /r` form is keystone's `imul r, r/m`
        (0F AF /r) with the opcode byte swapped, so prefixes, REX and the memory operand
        (RIP-relative too) come out as for any other instruction."""
        args = _split_args(operands)
        if not args and mnemonic in ("ud0", "ud1"):
            return bytes([0x0F, _ZERO_F_RM[mnemonic]])  # NASM's operand-less forms
        if mnemonic == "rdpid":
            reg = _GPR.get(args[0].lower()) if len(args) == 1 else None
            if reg is None or reg[1] != (8 if self.bits == 64 else 4):
                raise self.error(it.line, f"rdpid takes one {self.bits}-bit register: "
                                          f"`rdpid {'rax' if self.bits == 64 else 'eax'}`")
            rex = b"\x41" if reg[0] >= 8 else b""
            return b"\xf3" + rex + bytes([0x0F, 0xC7, 0xF8 | reg[0] & 7])
        dest = _GPR.get(args[0].lower()) if len(args) == 2 else None
        if dest is None or dest[1] == 1 or (dest[1] == 8 and self.bits != 64):
            raise self.error(it.line, f"{mnemonic} takes a register and a register or memory "
                                      f"operand: `{mnemonic} eax, ebx`")
        src = args[1]
        reg = _GPR.get(src.lower())
        if reg is not None:
            src = _GPR_NAMES[dest[1]][reg[0]]  # only the register's number is encoded
        elif "[" in src:
            src = _SIZE_NO_PTR.sub("[", re.sub(r"\b(byte|word|dword|qword)\s+(ptr\s+)?", "",
                                                src, flags=re.I))
            src = {2: "word", 4: "dword", 8: "qword"}[dest[1]] + " " + src
        else:
            raise self.error(it.line, f"{mnemonic} takes a register or memory operand after "
                                      f"the comma: {it.text.strip()}")
        sub = _Item(it.line, it.section, "insn", text=f"imul {args[0]}, {src}", rel=it.rel,
                    scope=it.scope)
        code = bytearray(self._insn(ks, sub, here, final))
        at = code.index(b"\x0f\xaf")
        code[at + 1] = _ZERO_F_RM[mnemonic]
        return bytes(code)

    def _nasm_memory(self, operands: str, it: _Item, here: int,
                     final: bool) -> tuple[str, int | None]:
        """NASM's memory operands in keystone's words: `[fs:x]` is `fs:[x]`, and `[rel x]`
        (or a plain `[label]` under `default rel`) becomes `[rip + ...]` in 64-bit code.
        As in NASM, RIP-relative applies only to an address with a label in it and no
        register, never with an fs/gs override unless `rel` is written; `abs` turns it off,
        and in 32-bit code `rel` means nothing (NASM warns and assembles absolute).
        Returns the operands and the RIP-relative target, if any."""
        target = None
        m = _MEMORY.search(operands)
        if m is None:
            return operands, None
        body = m.group(1).strip()
        seg = ""
        mode = None
        for _ in range(2):  # `[rel fs:x]` and `[fs:rel x]` are both NASM
            w = re.match(r"(rel|abs)\s+(.*)$", body, re.I | re.S)
            if w:
                mode, body = w.group(1).lower(), w.group(2).strip()
            s = re.match(r"([c-gs]s)\s*:\s*(.*)$", body, re.I | re.S)
            if s:
                seg, body = s.group(1).lower(), s.group(2).strip()
        if self.bits == 64 and mode != "abs" and body.lower().split(None, 1)[0:1] != ["rip"]:
            wants_rel = mode == "rel" or (it.rel and seg not in ("fs", "gs"))
            words = {w.lower() for w in _IDENT.findall(body)}
            if wants_rel and not words & _REGISTERS and self._relocatable(body, it, here):
                target = self._value(body, it, here, final)
                body = "rip + 0x0"
            elif not words & (_REGISTERS | {"riz", "eiz"}):
                body = self._absolute(body, it, here, final)
        new = (f"{seg}:" if seg else "") + f"[{body}]"
        return operands[:m.start()] + new + operands[m.end():], target

    def _absolute(self, body: str, it: _Item, here: int, final: bool) -> str:
        """An address with no register in 64-bit code: NASM encodes it absolute (a SIB byte
        with no base and no index, the address as a sign-extended disp32); keystone would
        encode `[0x402000]` as `[rip + 0x402000]`, which reads somewhere else entirely."""
        value = self._value(body, it, here, final)
        signed = value - (1 << 64) if value >= 1 << 63 else value
        if not -(1 << 31) <= signed < (1 << 31):
            if final:
                raise self.error(it.line, f"[{body}] is {value:#x}, beyond the 32-bit absolute "
                                          "addresses of 64-bit code (NASM cuts it to 32 bits "
                                          "with a warning): put the address in a register "
                                          f"(`mov rax, {value:#x}` then `[rax]`)")
            signed = 0
        sign = "-" if signed < 0 else "+"
        return f"riz*1 {sign} {abs(signed):#x}"

    def _relocatable(self, expr: str, it: _Item, here: int) -> bool:
        """Whether `expr` is an address (moves with the labels), not a plain number: NASM
        assembles `[0x1000]` absolute even under `default rel`."""
        if not _IDENT.search(expr) and not re.search(r"(?<![\w.$@?])[$.](?![\w.$@?])", expr):
            return False
        shifted = {k: v + 0x1000 if k in self._addresses else v for k, v in self._names.items()}
        try:
            return _eval(expr, shifted, here + 0x1000) != _eval(expr, self._names, here)
        except ValueError:
            return True  # not known yet: an unknown name is most likely a label

    def _value(self, expr: str, it: _Item, here: int, final: bool) -> int:
        try:
            return _eval(expr, {**self._names, "$$": self._section_start}, here)
        except UnknownSymbol as e:
            if final:
                raise self.error(it.line, self._unknown(e.name)) from None
            return here
        except ValueError as e:
            if final:
                raise self.error(it.line, str(e)) from None
            return here

    def _unknown(self, name: str) -> str:
        if name in self.externs:
            return (f"{name} is extern: a syscall-lab program is one static file with no "
                    "library to link against; make the system call yourself")
        return f"unknown symbol {name!r}"

    def _substitute(self, operands: str, it: _Item, here: int, final: bool) -> str:
        def replace(m: re.Match) -> str:
            word = m.group(0)
            if word.lower() in _OPERAND_WORDS:
                return word
            if word == "$":  # NASM's "this instruction's address"
                return hex(here)
            if word == "$$":  # and the start of its section
                return hex(self._section_start)
            if word in self._names:
                return hex(self._names[word] & ((1 << 64) - 1))
            if final:
                raise self.error(it.line, self._unknown(word))
            return hex(here)

        return _IDENT.sub(replace, operands)

    def _encode(self, ks: Ks, it: _Item, text: str, here: int, final: bool) -> bytes:
        try:
            enc, _ = ks.asm(text, here)
            problem = "cannot assemble"
        except KsError as e:
            enc, problem = None, _ks_message(e)
        if enc is None:
            hint = _hint(it.text)
            if hint:
                raise self.error(it.line, f"{problem}: {it.text.strip()}: {hint}")
            # NASM's size on an immediate (`mov al, byte 'x'`, `add rsp, byte 8`): keystone
            # takes the size from the other operand.
            bare = _SIZE_ON_IMMEDIATE.sub("", text)
            if bare != text:
                return self._encode(ks, it, bare, here, final)
            raise self.error(it.line, f"{problem}: {it.text.strip()}")
        it.size_hint = len(enc)
        return bytes(enc)


_IDENT = re.compile(r"(?<![\w.$@?])(?!0x|\$\d)[A-Za-z_.$@?][\w.$@?]*")
_ZERO_F_RM = {"ud0": 0xFF, "ud1": 0xB9, "lar": 0x02, "rdpid": 0xC7}
_GPR_NAMES = {
    8: "rax rcx rdx rbx rsp rbp rsi rdi".split() + [f"r{i}" for i in range(8, 16)],
    4: "eax ecx edx ebx esp ebp esi edi".split() + [f"r{i}d" for i in range(8, 16)],
    2: "ax cx dx bx sp bp si di".split() + [f"r{i}w" for i in range(8, 16)],
    1: "al cl dl bl spl bpl sil dil".split() + [f"r{i}b" for i in range(8, 16)],
}
_GPR = {name: (n, size) for size, names in _GPR_NAMES.items() for n, name in enumerate(names)}
_HERE_SIGN = re.compile(r"(?<![\w.$@?])[$.](?![\w.$@?])")  # `$` or `.`, not `$$`
_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`(?:[^`\\]|\\.)*`")
_PREFIXES = {"rep", "repe", "repz", "repne", "repnz", "lock", "data16", "addr32"}
_REGISTERS = set(
    "al ah ax eax rax bl bh bx ebx rbx cl ch cx ecx rcx dl dh dx edx rdx si esi rsi sil di edi "
    "rdi dil bp ebp rbp bpl sp esp rsp spl ip eip rip cs ds es fs gs ss cr0 cr2 cr3 cr4 dr0 "
    "dr1 dr2 dr3 dr6 dr7".split()
) | {f"r{i}{s}" for i in range(8, 16) for s in ("", "d", "w", "b")} | {
    f"{p}mm{i}" for p in ("x", "y", "z") for i in range(32)} | {f"mm{i}" for i in range(8)} | {
    f"st{i}" for i in range(8)} | {f"k{i}" for i in range(8)}
_OPERAND_WORDS = _REGISTERS | {
    "byte", "word", "dword", "qword", "tword", "oword", "xmmword", "ymmword", "zmmword", "ptr",
    "short", "near", "far", "rel", "abs", "riz", "eiz",
}


def _split_mnemonic(text: str) -> tuple[str, str]:
    words = text.split(None, 1)
    head = [words[0]] if words else [""]
    rest = words[1] if len(words) > 1 else ""
    while head[-1].lower() in _PREFIXES and rest:
        w = rest.split(None, 1)
        head.append(w[0])
        rest = w[1] if len(w) > 1 else ""
    return " ".join(head), rest


_SIZE_NO_PTR = re.compile(r"\b(byte|word|dword|qword|tword|oword|xmmword|ymmword|zmmword)\s*\[",
                          re.I)
_RIP_REL = re.compile(r"\[\s*rip\s*([-+][^\]]*)\]", re.I)
_MEMORY = re.compile(r"\[([^\]]*)\]")
_SIZE_ON_IMMEDIATE = re.compile(r"\b(?:byte|word|dword|qword)\s+(?=[-+~(]*\s*(?:0x|\d))", re.I)
_QUOTED = re.compile(r"'(?:[^'\\]|\\.){1,8}'|\"(?:[^\"\\]|\\.){1,8}\"|`(?:[^`\\]|\\.){1,8}`")
_DECIMAL = re.compile(r"(?<![\w.$])(\d+)(?![\w.])")
_NASM_HEX = re.compile(r"(?<![\w.$])([0-9][0-9a-fA-F]*)[hH](?![\w.])")
_CHAR = re.compile(r"'(\\?[^'])'")


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


def _keystone_numbers(text: str) -> str:
    """Spell every number in hex, so no keystone radix setting can misread a decimal."""
    text = _CHAR.sub(lambda m: hex(_unquote("'" + m.group(1) + "'")[0]), text)
    text = _nasm_numbers(text)
    return _DECIMAL.sub(lambda m: hex(int(m.group(1))), text)


_FLOAT = re.compile(r"[-+]?(\d[\d_]*\.[\d_]*([eE][-+]?\d+)?|\d+[eE][-+]?\d+)")
_FLOAT_IN_CODE = re.compile(r"(?<![\w.$])\d+\.\d*(?![\w])")


def _hint(text: str) -> str:
    """What to write instead, for a line keystone refused that NASM habits explain."""
    low = text.lower()
    mnemonic, operands = _split_mnemonic(low)
    if "[" in operands and not _SIZE_NO_PTR.search(operands) and not re.search(
            r"\b(ptr)\b", operands):
        outside = re.sub(r"\[[^\]]*\]", "", operands)
        if not {w for w in re.findall(r"[a-z]\w*", outside)} & _REGISTERS:
            return (f"say the operand size: `{mnemonic} dword [...]` (byte, word, dword or "
                    "qword), as NASM asks")
    if mnemonic == "lea" and "[" not in operands:
        return "lea takes a memory operand: `lea rsi, [rel msg]`"
    return ""


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.2f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{n} bytes"


def _try_eval(expr: str, names: dict[str, int], here: int) -> int:
    try:
        return _eval(expr, names, here)
    except ValueError:
        return 0


def _ks_message(e: KsError) -> str:
    msg = str(e)
    return re.sub(r"\s*\(KS_ERR_[A-Z_]+\)$", "", msg).lower()


def assemble(source: str, path: str = "<asm>", default_bits: int = 64,
             max_image: int = DEFAULT_MAX_IMAGE) -> Assembled:
    """`max_image` bounds the program's memory (its sections with .bss, from the ELF
    header on): a bigger one fails at once at the line that makes it so."""
    return _Assembler(source, path, default_bits, max_image).assemble()

"""Reading the source into items: sections, labels, constants, data and instructions,
`bits`, the refused preprocessor forms, and the checks that need the whole file (circular
constants, NASM local labels)."""

from __future__ import annotations

import re

from emu.asm_encode import _IDENT, _STRINGS
from emu.asm_source import (
    _ASSIGN,
    _LABEL,
    _LOCAL_REF,
    _NASM_DATA_LABEL,
    _NASM_UNSUPPORTED,
    _PREPROCESSOR_HINTS,
    DATA_SIZES,
    EXTERN,
    IGNORED,
    RESERVE_SIZES,
    _apply_defines,
    _AsmState,
    _Item,
    _label_item,
    _outside_quotes,
    _split_args,
    _split_times,
    _strip_comment,
)


class _Parser(_AsmState):
    """The parsing half of the assembler (mixed into _Assembler: fills self.items)."""

    def _parse(self) -> None:
        section = "text"
        bits_set = False
        default_rel = False
        scope = ""
        self.defines = {}  # %define NAME VALUE, replaced word by word
        self.externs = set()
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

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

This module lays the items out and writes the ELF (emu/elf_writer.py); beside it,
asm_source (the language line by line), asm_parse (the source into items) and asm_encode
(one instruction through keystone).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from emu.asm_encode import (
    _FLOAT,
    _HERE_SIGN,
    _IDENT,
    _OPERAND_WORDS,
    _STRINGS,
    _Encoder,
    _size,
    _split_mnemonic,
    _try_eval,
)
from emu.asm_parse import _Parser
from emu.asm_source import (
    BASES,
    DATA_SIZES,
    DEFAULT_MAX_IMAGE,
    POSITIONAL_TIMES,
    RESERVE_SIZES,
    SECTION_FLAGS,
    SECTION_ORDER,
    AsmError,
    _eval,
    _Item,
    _split_args,
    _unquote,
)
from emu.elf_writer import PF_X, OutSegment, write_executable
from emu.machine import PAGE, page_up

if TYPE_CHECKING:  # keystone is imported when a program is assembled, not at every start
    from keystone import Ks

__all__ = ["BASES", "DEFAULT_MAX_IMAGE", "AsmError", "Assembled", "assemble"]


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


class _Assembler(_Parser, _Encoder):
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
        from keystone import KS_ARCH_X86, KS_MODE_32, KS_MODE_64, Ks
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


def assemble(source: str, path: str = "<asm>", default_bits: int = 64,
             max_image: int = DEFAULT_MAX_IMAGE) -> Assembled:
    """`max_image` bounds the program's memory (its sections with .bss, from the ELF
    header on): a bigger one fails at once at the line that makes it so."""
    return _Assembler(source, path, default_bits, max_image).assemble()

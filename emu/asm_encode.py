"""Encoding one instruction line with keystone: NASM's number forms, sizes and memory
operands rewritten into what keystone reads, symbols substituted (RIP-relative where NASM
would make them so), and the few instructions keystone lacks (ud0, ud1, rdpid, lar)
encoded by hand."""

from __future__ import annotations

import re

from keystone import Ks, KsError

from emu.asm_expr import UnknownSymbol
from emu.asm_source import _AsmState, _eval, _Item, _nasm_numbers, _split_args, _unquote


class _Encoder(_AsmState):
    """The instruction half of the assembler (mixed into _Assembler, whose items, bits,
names and error() it uses)."""

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


_CHAR = re.compile(r"'(\\?[^'])'")


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

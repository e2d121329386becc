"""Decoding guest instructions for the stepper: what kind each is (a trap into the kernel, a
time-stamp read, a call and where it goes, a return) and its text in Intel or AT&T syntax."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import capstone
from capstone import x86_const as CX

from kernel_model.entry.mechanism import Mechanism

MAX_INSN = 15

# What enters the kernel, by instruction bytes (docs/kernel_facts.md §1).
TRAPS = {b"\x0f\x05": Mechanism.SYSCALL, b"\xcd\x80": Mechanism.INT80,
         b"\x0f\x34": Mechanism.SYSENTER}
# What reads the time-stamp counter: its value differs on every run, so a replay of it could
# not reproduce the recorded state (the session records its result instead).
TSC_READS = {b"\x0f\x31": "rdtsc", b"\x0f\x01\xf9": "rdtscp"}


@dataclass(frozen=True)
class Insn:
    address: int
    size: int
    mnemonic: str
    op_str: str
    raw: bytes
    kind: str  # "syscall", "int 0x80", "sysenter", "rdtsc", "call", "ret", "hlt", "other"
    # For a call: how to find the target ("imm", "reg", "mem") and the capstone operand data.
    target: tuple | None = None

    @property
    def text(self) -> str:
        return f"{self.mnemonic} {self.op_str}".strip()


@lru_cache(maxsize=4)
def _cs(bits: int, att: bool = False) -> capstone.Cs:
    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64 if bits == 64 else
                     capstone.CS_MODE_32)
    if att:
        cs.syntax = capstone.CS_OPT_SYNTAX_ATT
    cs.detail = not att
    return cs


_cache: dict[tuple[int, int, bytes], Insn | None] = {}


def decode(code: bytes, address: int, bits: int) -> Insn | None:
    """The instruction at the start of `code` (None: not a valid instruction)."""
    key = (bits, address, bytes(code[:MAX_INSN]))
    if key in _cache:
        return _cache[key]
    insn = None
    for ci in _cs(bits).disasm(key[2], address, 1):
        insn = _make(ci, bits)
    if len(_cache) > 50_000:
        _cache.clear()
    _cache[key] = insn
    return insn


def _make(ci, bits: int) -> Insn:
    raw = bytes(ci.bytes)
    kind = TRAPS.get(raw) or TSC_READS.get(raw)
    if kind == "syscall" and bits == 32:
        kind = None  # 32-bit code: #UD on the model's Intel CPU (run.cpu_faults)
    target = None
    if kind is None:
        groups = set(ci.groups)
        if ci.id == CX.X86_INS_HLT:
            kind = "hlt"
        elif CX.X86_GRP_CALL in groups:
            kind = "call"
            target = _operand(ci)
        elif CX.X86_GRP_RET in groups:
            kind = "ret"
        elif CX.X86_GRP_JUMP in groups:
            kind = "jump"
            target = _operand(ci)
        else:
            kind = "other"
    return Insn(ci.address, ci.size, ci.mnemonic, ci.op_str, raw, kind, target)


def _operand(ci):
    if not ci.operands:
        return None
    op = ci.operands[0]
    if op.type == CX.X86_OP_IMM:
        return ("imm", op.imm)
    if op.type == CX.X86_OP_REG:
        return ("reg", ci.reg_name(op.reg))
    if op.type == CX.X86_OP_MEM:
        m = op.mem
        return ("mem", ci.reg_name(m.segment) if m.segment else None,
                ci.reg_name(m.base) if m.base else None,
                ci.reg_name(m.index) if m.index else None, m.scale, m.disp, op.size,
                ci.address + ci.size)
    return None


def att_text(code: bytes, address: int, bits: int) -> str:
    return _att_text(bytes(code[:MAX_INSN]), address, bits)


@lru_cache(maxsize=4096)  # the code pane shows the same lines step after step
def _att_text(code: bytes, address: int, bits: int) -> str:
    for ci in _cs(bits, att=True).disasm(code, address, 1):
        return f"{ci.mnemonic} {ci.op_str}".strip()
    return "(bad)"


def disassemble(code: bytes, address: int, bits: int, count: int) -> list[Insn]:
    """Up to `count` instructions from `address`; stops at the first undecodable byte."""
    out: list[Insn] = []
    offset = 0
    while len(out) < count and offset < len(code):
        insn = decode(code[offset:offset + MAX_INSN], address + offset, bits)
        if insn is None:
            break
        out.append(insn)
        offset += insn.size
    return out


def call_target(insn: Insn, read_reg, read_word, segment_base) -> int | None:
    """Where a call (or jump) at the current pc goes, evaluated on the current registers."""
    t = insn.target
    if t is None:
        return None
    if t[0] == "imm":
        return t[1]
    if t[0] == "reg":
        return read_reg(t[1])
    _mem, seg, base, index, scale, disp, _size, next_pc = t
    addr = disp
    if base == "rip" or base == "eip":
        addr += next_pc
    elif base:
        addr += read_reg(base)
    if index:
        addr += read_reg(index) * scale
    if seg in ("fs", "gs"):
        addr += segment_base(seg)
    try:
        return read_word(addr)
    except Exception:
        return None


def find_patterns(data: bytes, patterns) -> list[tuple[int, str]]:
    """Every offset in `data` where one of the byte patterns starts, with its name."""
    hits = []
    for pattern, name in patterns.items():
        start = 0
        while True:
            i = data.find(pattern, start)
            if i < 0:
                break
            hits.append((i, name))
            start = i + 1
    return hits

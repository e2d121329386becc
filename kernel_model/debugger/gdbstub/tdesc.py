"""Target descriptions (qXfer:features:read:target.xml) and the register layout of the g
packet, for amd64 and i386 as Linux's gdbserver describes them: the core registers (with
the x87 ones gdb requires there), SSE, `org.gnu.gdb.i386.linux` (orig_rax/orig_eax) and,
for amd64, the segment bases.

A register is (name, size in bytes, type, source): source is what registers.py reads it
from: "reg" (the session's registers), "orig" (orig_rax), "fp" (x87/SSE state, reported
unavailable for now: gdb shows <unavailable>).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reg:
    name: str
    size: int
    type: str
    source: str  # "reg", "orig", "fp"
    feature: str


_X87 = [(f"st{i}", 10, "i387_ext") for i in range(8)] + [
    (n, 4, "int32") for n in ("fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff",
                            "fop")]


def _layout(bits: int) -> list[Reg]:
    core = "org.gnu.gdb.i386.core"
    out: list[Reg] = []
    if bits == 64:
        for n in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
                  *(f"r{i}" for i in range(8, 16))):
            t = "data_ptr" if n in ("rbp", "rsp") else "int64"
            out.append(Reg(n, 8, t, "reg", core))
        out.append(Reg("rip", 8, "code_ptr", "reg", core))
    else:
        for n in ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"):
            t = "data_ptr" if n in ("ebp", "esp") else "int32"
            out.append(Reg(n, 4, t, "reg", core))
        out.append(Reg("eip", 4, "code_ptr", "reg", core))
    out.append(Reg("eflags", 4, "int32", "reg", core))
    for n in ("cs", "ss", "ds", "es", "fs", "gs"):
        out.append(Reg(n, 4, "int32", "reg", core))
    for n, size, t in _X87:
        out.append(Reg(n, size, t, "fp" if size == 10 else "fpu", core))
    sse = "org.gnu.gdb.i386.sse"
    for i in range(16 if bits == 64 else 8):
        out.append(Reg(f"xmm{i}", 16, "uint128", "fp", sse))
    out.append(Reg("mxcsr", 4, "int32", "fpu", sse))
    linux = "org.gnu.gdb.i386.linux"
    out.append(Reg("orig_rax" if bits == 64 else "orig_eax", bits // 8, "int", "orig",
                   linux))
    if bits == 64:
        seg = "org.gnu.gdb.i386.segments"
        out.append(Reg("fs_base", 8, "int", "reg", seg))
        out.append(Reg("gs_base", 8, "int", "reg", seg))
    return out


LAYOUTS = {64: _layout(64), 32: _layout(32)}


def target_xml(bits: int) -> str:
    regs = LAYOUTS[bits]
    arch = "i386:x86-64" if bits == 64 else "i386"
    lines = ['<?xml version="1.0"?>', '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
             "<target>", f"  <architecture>{arch}</architecture>",
             "  <osabi>GNU/Linux</osabi>"]
    feature = None
    for n, r in enumerate(regs):
        if r.feature != feature:
            if feature is not None:
                lines.append("  </feature>")
            feature = r.feature
            lines.append(f'  <feature name="{feature}">')
        group = ' group="float"' if r.size == 10 or r.name.startswith("f") and r.source == "fpu" \
            else ' group="vector"' if r.name.startswith("xmm") or r.name == "mxcsr" else ""
        lines.append(f'    <reg name="{r.name}" bitsize="{r.size * 8}" type="{r.type}" '
                     f'regnum="{n}"{group}/>')
    lines.append("  </feature>")
    lines.append("</target>")
    return "\n".join(lines) + "\n"

"""Target descriptions (qXfer:features:read:target.xml) and the register layout of the g
packet, for amd64 and i386 as Linux's gdbserver describes them: the core registers (with
the x87 ones gdb requires there), SSE, `org.gnu.gdb.i386.linux` (orig_rax/orig_eax) and,
for amd64, the segment bases. The types are the ones gdb itself uses for a native Linux
process (what `maint print xml-tdesc` shows there), so that `info registers eflags` shows
its flags, `p $xmm0` its union of vectors and `set $xmm1.v2_int64[0] = 5` has a field to
write; an AVX feature is left out: the emulated CPU has none (emu/fpu.py).

A register is (name, size in bytes, type, source): source is what registers.py reads it
from: "reg" (the session's registers), "orig" (orig_rax), "fpu" (the x87/SSE state, as
the kernel's FXSAVE image holds it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reg:
    name: str
    size: int
    type: str
    source: str  # "reg", "orig", "fpu"
    feature: str
    group: str = ""  # the register group gdb puts it in, when its type does not say


_X87_CONTROL = ("fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop")

# (flag name, bit): the bits gdb names in `info registers`; a name "" is a bit it shows
# nothing for (eflags' bit 1, always set)
_EFLAGS = (("CF", 0), ("", 1), ("PF", 2), ("AF", 4), ("ZF", 6), ("SF", 7), ("TF", 8),
           ("IF", 9), ("DF", 10), ("OF", 11), ("NT", 14), ("RF", 16), ("VM", 17),
           ("AC", 18), ("VIF", 19), ("VIP", 20), ("ID", 21))
_MXCSR = (("IE", 0), ("DE", 1), ("ZE", 2), ("OE", 3), ("UE", 4), ("PE", 5), ("DAZ", 6),
          ("IM", 7), ("DM", 8), ("ZM", 9), ("OM", 10), ("UM", 11), ("PM", 12), ("FZ", 15))
# an xmm register's views, as (field, vector id, element type, count), then the whole
_VEC128 = (("v8_bfloat16", "v8bf16", "bfloat16", 8), ("v8_half", "v8h", "ieee_half", 8),
           ("v4_float", "v4f", "ieee_single", 4), ("v2_double", "v2d", "ieee_double", 2),
           ("v16_int8", "v16i8", "int8", 16), ("v8_int16", "v8i16", "int16", 8),
           ("v4_int32", "v4i32", "int32", 4), ("v2_int64", "v2i64", "int64", 2))


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
    out.append(Reg("eflags", 4, "i386_eflags", "reg", core))
    for n in ("cs", "ss", "ds", "es", "fs", "gs"):
        out.append(Reg(n, 4, "int32", "reg", core))
    out += [Reg(f"st{i}", 10, "i387_ext", "fpu", core) for i in range(8)]
    out += [Reg(n, 4, "int", "fpu", core, "float") for n in _X87_CONTROL]
    sse = "org.gnu.gdb.i386.sse"
    out += [Reg(f"xmm{i}", 16, "vec128", "fpu", sse) for i in range(16 if bits == 64 else 8)]
    out.append(Reg("mxcsr", 4, "i386_mxcsr", "fpu", sse, "vector"))
    linux = "org.gnu.gdb.i386.linux"
    out.append(Reg("orig_rax" if bits == 64 else "orig_eax", bits // 8, "int", "orig",
                   linux))
    if bits == 64:
        seg = "org.gnu.gdb.i386.segments"
        out.append(Reg("fs_base", 8, "int", "reg", seg))
        out.append(Reg("gs_base", 8, "int", "reg", seg))
    return out


LAYOUTS = {64: _layout(64), 32: _layout(32)}


def _flags(name: str, fields) -> list[str]:
    return [f'    <flags id="{name}" size="4">',
            *(f'      <field name="{f}" start="{b}" end="{b}" type="bool"/>'
              for f, b in fields),
            "    </flags>"]


def _types(feature: str) -> list[str]:
    """The types a feature's registers use, defined at its start (gdb requires a type
    before its first use)."""
    if feature == "org.gnu.gdb.i386.core":
        return _flags("i386_eflags", _EFLAGS)
    if feature == "org.gnu.gdb.i386.sse":
        return [*(f'    <vector id="{v}" type="{t}" count="{n}"/>' for _f, v, t, n in _VEC128),
                '    <union id="vec128">',
                *(f'      <field name="{f}" type="{v}"/>' for f, v, _t, _n in _VEC128),
                '      <field name="uint128" type="uint128"/>',
                "    </union>",
                *_flags("i386_mxcsr", _MXCSR)]
    return []


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
            lines += _types(feature)
        group = f' group="{r.group}"' if r.group else ""
        lines.append(f'    <reg name="{r.name}" bitsize="{r.size * 8}" type="{r.type}" '
                     f'regnum="{n}"{group}/>')
    lines.append("  </feature>")
    lines.append("</target>")
    return "\n".join(lines) + "\n"

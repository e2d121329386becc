"""The vDSO assembler's `.macro`: each use writes the body with its arguments and a local
label of its own (`\\@`), as GNU as does; the result equals the body written out by hand."""

import pytest

from kernel_model.vdso.asm import VdsoAsmError, assemble

MACRO = r"""
.intel_syntax noprefix
.macro COUNT_DOWN reg, done
.Lloop\@:
        dec \reg
        jz \done
        jmp .Lloop\@
.endm
f:
        COUNT_DOWN ecx, .Lf_done
.Lf_done:
        COUNT_DOWN edx, .Lg_done
.Lg_done:
        ret
"""

BY_HAND = """
.intel_syntax noprefix
f:
.La:
        dec ecx
        jz .Lf_done
        jmp .La
.Lf_done:
.Lb:
        dec edx
        jz .Lg_done
        jmp .Lb
.Lg_done:
        ret
"""


def test_a_macro_is_its_body_written_out_once_per_use():
    got = assemble(MACRO, "m.s", 64, 0x1000)
    want = assemble(BY_HAND, "h.s", 64, 0x1000)
    assert got.code == want.code and len(got.code) > 0


@pytest.mark.parametrize("source, said", [
    (".macro M\n nop\n", "m.s:1: .macro M has no .endm"),
    (".endm\n", "m.s:1: .endm without .macro"),
    (".macro M a\n nop\n.endm\n M\n", "m.s:4: M takes 1 argument(s)"),
])
def test_macro_errors_name_the_line(source, said):
    with pytest.raises(VdsoAsmError) as e:
        assemble(source, "m.s", 64, 0)
    assert str(e.value) == said

"""The in-process assembler: what a student writes must assemble to what they meant."""

import capstone
import pytest

from emu.asm import AsmError, assemble
from emu.elf import read_elf


def disasm(asm, start=None, count=20):
    image = read_elf(asm.elf)
    seg = next(s for s in image.segments if s.flags & 1)
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64 if asm.bits == 64 else
                     capstone.CS_MODE_32)
    return [f"{i.mnemonic} {i.op_str}".strip() for i in md.disasm(seg.data, seg.vaddr)][:count]


HELLO = """
; comment
bits 64
section .data
msg:    db "Hi", 10, 0
len     equ $ - msg
buf:    times 4 db 0x41
section .bss
scratch: resb 64
section .text
global _start
_start:
    mov eax, 60             ; decimal, not hex
    lea rsi, [rip + msg]
    mov edx, len
    mov rdi, scratch
loop:
    dec rdx
    jnz loop
    movzx eax, byte [rsi]
    syscall
"""


def test_labels_constants_and_decimal_numbers():
    a = assemble(HELLO, "hello.s")
    assert a.bits == 64
    assert a.labels["len"] == 4
    assert a.labels["msg"] == 0x402000
    assert a.labels["buf"] == 0x402004
    assert a.labels["scratch"] == 0x402008  # .bss follows .data
    text = disasm(a)
    assert text[0] == "mov eax, 0x3c"
    assert text[1] == f"lea rsi, [rip + {0x402000 - 0x40100c:#x}]"
    assert text[2] == "mov edx, 4"
    assert text[3] == "mov rdi, 0x402008"
    assert text[5] == f"jne {a.labels['loop']:#x}"
    assert text[6] == "movzx eax, byte ptr [rsi]"


def test_source_lines_map_to_addresses():
    a = assemble(HELLO, "hello.s")
    first = "    mov eax, 60             ; decimal, not hex"
    assert a.lines[a.entry] == HELLO.splitlines().index(first) + 1
    assert a.labels["_start"] == a.entry


def test_bss_is_memory_not_file_bytes():
    a = assemble(HELLO, "hello.s")
    image = read_elf(a.elf)
    data = next(s for s in image.segments if s.flags & 2)
    assert data.filesz == 8 and data.memsz == 8 + 64


def test_32_bit_directive_and_nasm_labels():
    a = assemble("bits 32\nsection .data\nmsg db 'ab'\nsection .text\n_start: mov ecx, msg\n"
                 "int 0x80\n", "h.s")
    assert a.bits == 32
    assert read_elf(a.elf).arch.name == "i386"
    assert disasm(a)[:2] == [f"mov ecx, {0x804a000:#x}", "int 0x80"]


@pytest.mark.parametrize("source, line, words", [
    ("bits 64\n_start:\n  mov eax, 1\n  movv eax, 2\n", 4, "movv"),
    ("_start:\n  jmp nowhere\n", 2, "nowhere"),
    ("section .weird\n", 1, "unknown section"),
    ("section .data\n  mov eax, 1\n", 2, "instruction in .data"),
    ("_start: nop\n_start: nop\n", 2, "defined twice"),
    ("_start:\n  mov rax, [\n", 2, "unbalanced brackets"),
    ("_start:\n  mov rax, [rbx\n", 2, "unbalanced brackets"),
])
def test_errors_name_the_line(source, line, words):
    with pytest.raises(AsmError) as e:
        assemble(source, "bad.s")
    assert str(e.value).startswith(f"bad.s:{line}: ")
    assert words in str(e.value)


def test_the_elf_is_real():
    """The assembled ELF has real program headers: readelf-level facts checked with
    pyelftools, and the entry is _start."""
    a = assemble(HELLO, "hello.s")
    image = read_elf(a.elf)
    assert image.entry == a.labels["_start"]
    assert image.phnum == len(image.segments) == 3
    flags = [s.flags for s in image.segments]
    assert flags == [4, 5, 6]  # headers r--, text r-x, data rw-

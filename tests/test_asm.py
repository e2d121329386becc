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


# -- NASM's forms, as the NASM-style starters lead students to write them ----------------

REL = """bits 64
default rel
section .data
msg:    db "Hello", 10
value:  dq 42
section .text
global _start
_start:
    lea rsi, [rel msg]
    mov rax, [rel value]
    lea rsi, [rel msg + 4]
    mov rax, [value]
    mov qword [value], 5
    mov byte [msg+1], 'A'
    mov rax, [rbx + 8]
    cmp dword [value], 0x10
    movzx eax, byte [msg]
    call .next
.next:
    lea rdi, [rel $]
    default abs
    mov rax, [rel value]
    mov eax, 60
    syscall
"""


def _rip_targets(a):
    """(mnemonic, absolute target) of each RIP-relative instruction, read back by capstone."""
    image = read_elf(a.elf)
    seg = next(s for s in image.segments if s.flags & 1)
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.detail = True
    out = []
    for i in md.disasm(seg.data, seg.vaddr):
        for op in i.operands:
            if op.type == capstone.x86.X86_OP_MEM and op.mem.base == capstone.x86.X86_REG_RIP:
                out.append((i.mnemonic, i.address + i.size + op.mem.disp))
    return out


def test_rel_and_default_rel_are_rip_relative():
    """`[rel x]`, `[rel x + 4]`, `[rel $]` and (under `default rel`) a plain `[label]` are
    RIP-relative in 64-bit code, each reaching its label; `[rbx + 8]` is not."""
    a = assemble(REL, "rel.s")
    msg, value, nxt = a.labels["msg"], a.labels["value"], a.labels["_start.next"]
    assert _rip_targets(a) == [
        ("lea", msg), ("mov", value), ("lea", msg + 4), ("mov", value), ("mov", value),
        ("mov", msg + 1), ("cmp", value), ("movzx", msg), ("lea", nxt), ("mov", value),
    ]
    assert "mov rax, qword ptr [rbx + 8]" in disasm(a, count=40)


def test_rel_code_is_position_independent(monkeypatch):
    """Code that reaches its data only through `[rel ...]` is the same bytes wherever it is
    loaded: the addresses are all relative."""
    import emu.asm

    source = REL.replace("    mov rax, [rbx + 8]\n", "")
    first = read_elf(assemble(source, "rel.s").elf)
    monkeypatch.setitem(emu.asm.BASES, 64, 0x7F0000000000)
    moved = read_elf(assemble(source, "rel.s").elf)
    code = [s.data for s in first.segments if s.flags & 1]
    assert code == [s.data for s in moved.segments if s.flags & 1]
    assert first.entry != moved.entry


SPELLINGS = """bits 64
default rel
section .data
msg: db "hi"
section .text
global _start
_start:
    mov eax, 101b
    mov eax, 17o
    mov eax, 0q17
    mov eax, 1_000
    mov ecx, 0ffh
    jmp short .x
.x:
    mov al, byte 'x'
    add rsp, byte 8
    mov dword [msg], 'abcd'
    jmp $+2
    loop $
    mov eax, 'ab'
    cmp byte [rel msg], 'a'
    push qword 5
    mov rax, [rsp + 8*2]
"""


def test_nasm_spellings_of_numbers_sizes_and_here():
    """NASM's `101b`, `17o`, `0q17`, `1_000`, `jmp short`, a size on an immediate, `$` as
    this instruction's address, and multi-character constants (little-endian)."""
    a = assemble(SPELLINGS, "s.s")
    x = a.labels["_start.x"]
    assert disasm(a, count=16)[:14] == [
        "mov eax, 5", "mov eax, 0xf", "mov eax, 0xf", "mov eax, 0x3e8", "mov ecx, 0xff",
        f"jmp {x:#x}", "mov al, 0x78", "add rsp, 8",
        f"mov dword ptr [rip + {a.labels['msg'] - (x + 16):#x}], 0x64636261",
        f"jmp {x + 18:#x}", f"loop {x + 18:#x}", "mov eax, 0x6261",
        f"cmp byte ptr [rip + {a.labels['msg'] - (x + 32):#x}], 0x61", "push 5",
    ]


@pytest.mark.parametrize("source", [REL, SPELLINGS], ids=["rel", "spellings"])
def test_nasm_forms_match_nasm_byte_for_byte(tmp_path, source):
    """The same source through NASM and ld at the same addresses gives the same .text."""
    import shutil
    import subprocess

    if not (shutil.which("nasm") and shutil.which("ld") and shutil.which("objcopy")):
        pytest.skip("nasm and binutils are not installed")
    src = tmp_path / "nasm.s"
    src.write_text(source)
    ours = assemble(source, "nasm.s")
    image = read_elf(ours.elf)
    text, data = (next(s for s in image.segments if s.flags == f) for f in (5, 6))
    subprocess.run(["nasm", "-f", "elf64", "-w-all", str(src), "-o", str(tmp_path / "rel.o")],
                   check=True)
    subprocess.run(["ld", f"-Ttext={text.vaddr:#x}", f"-Tdata={data.vaddr:#x}", "-e", "_start",
                    str(tmp_path / "rel.o"), "-o", str(tmp_path / "rel")], check=True)
    subprocess.run(["objcopy", "-O", "binary", "--only-section=.text", str(tmp_path / "rel"),
                    str(tmp_path / "rel.bin")], check=True)
    assert text.data == (tmp_path / "rel.bin").read_bytes()


def test_default_rel_leaves_numbers_registers_and_fs_absolute():
    """As NASM: `default rel` applies to labels only, not to `[0x1000]`, `[rbx + label]`,
    `[fs:0x28]` (keystone's `fs:[0x28]`), nor after `default abs`."""
    a = assemble("bits 64\ndefault rel\nsection .data\nv: dq 1\nsection .text\n_start:\n"
                 "  mov rax, [0x1000]\n  mov rax, [rbx + v]\n  mov rax, [fs:0x28]\n"
                 "  mov rax, [abs v]\n", "d.s")
    assert _rip_targets(a) == []
    text = disasm(a)
    assert text[1] == f"mov rax, qword ptr [rbx + {a.labels['v']:#x}]"
    assert "fs:[0x28]" in text[2]


def test_rel_in_32_bit_code_is_absolute():
    """`rel` means nothing without RIP: NASM assembles it absolute in `bits 32`, and so do we."""
    a = assemble("bits 32\ndefault rel\nsection .data\nmsg db 'ab'\nsection .text\n_start:\n"
                 "  mov eax, [rel msg + 1]\n  lea ecx, [msg]\n", "r32.s")
    assert disasm(a)[:2] == [f"mov eax, dword ptr [{0x804a001:#x}]",
                             f"lea ecx, [{0x804a000:#x}]"]


def test_a_rel_program_runs(guest):
    r = guest("rel.s", source=REL.replace("    mov rax, [rbx + 8]\n", "").replace(
        "    mov eax, 60\n", "    mov rdi, [rel value]\n    mov eax, 60\n").replace(
        "    call .next\n", "    mov eax, 1\n    mov edi, 1\n    lea rsi, [rel msg]\n"
                           "    mov edx, 6\n    syscall\n    call .next\n"))
    assert r.stdout == b"HAllo\n"
    assert r.status == 5


FORMS = """%define SYS_WRITE 1
%define SYS_EXIT  60
STDOUT equ 1
global _start
segment .data
msg:    db "Hi, there", 10
len:    equ $ - msg
pad     times 3 db '*'
segment .bss
buf:    resb 16
section .text
_start:
    mov eax, SYS_WRITE
    mov edi, STDOUT
    mov rsi, msg
    mov edx, len
    syscall
    mov byte [buf], 'A'
    mov dword [buf + 4], 'abcd'
    mov ecx, 3
.loop:
    dec ecx
    jnz .loop
    call helper
    mov eax, SYS_EXIT
    movzx edi, byte [buf]
    syscall
helper:
    mov ecx, 2
.loop:
    dec ecx
    jnz .loop
    ret
"""


def test_common_nasm_forms_assemble_and_run(guest):
    """%define, `len: equ $ - msg`, `segment`, `times`, character constants, and a `.loop`
    in each of two functions (NASM's local labels belong to the label above them)."""
    a = assemble(FORMS, "forms.s")
    assert a.labels["len"] == 10
    assert a.labels["_start.loop"] != a.labels["helper.loop"]
    text = disasm(a, count=40)
    assert f"jne {a.labels['_start.loop']:#x}" in text
    assert f"jne {a.labels['helper.loop']:#x}" in text
    assert any(t.startswith("mov dword ptr [") and t.endswith("], 0x64636261") for t in text)
    r = guest("forms.s", source=FORMS)
    assert r.stdout == b"Hi, there\n"
    assert r.status == ord("A")


@pytest.mark.parametrize("source, line, words", [
    ("%macro exit 1\n", 1, "write the instructions out"),
    ("%include 'x.inc'\n", 1, "paste"),
    ("%define ARG(x) x\n", 1, "%define NAME VALUE"),
    ("org 0x400000\n_start: nop\n", 1, "_start"),
    ("bits 16\n", 1, "bits 64"),
    ("section .data\nx: incbin 'a.bin'\n", 2, "db"),
    ("extern printf\n_start:\n  call printf\n", 3, "system call yourself"),
    ("default\n", 1, "default rel"),
    ("section .data\nmsg db 1\nsection .text\n_start:\n  mov [msg], 5\n", 5,
     "say the operand size: `mov dword [...]`"),
    ("_start:\n  lea rsi, msg\n", 2, "lea rsi, [rel msg]"),
    ("_start:\n  call printf wrt ..plt\n", 2, "without wrt"),
    ("_start:\n  mov eax, 1.5\n", 2, "put it in .data"),
])
def test_unsupported_nasm_forms_say_what_to_write(source, line, words):
    with pytest.raises(AsmError) as e:
        assemble(source, "bad.s")
    assert str(e.value).startswith(f"bad.s:{line}: ")
    assert words in str(e.value)


def test_float_data_and_the_string_movsd():
    """NASM's `dd 1.5`/`dq -2.5e3` are IEEE floats; a bare `movsd` is the string move (and
    `movsd xmm0, xmm1` stays SSE's)."""
    import struct

    a = assemble("section .data\nf: dd 1.5\nd: dq -2.5e3\nsection .text\n_start:\n"
                 "  rep movsd\n  movsd\n  movsd xmm0, xmm1\n", "f.s")
    data = next(s for s in read_elf(a.elf).segments if s.flags == 6).data
    assert data == struct.pack("<fd", 1.5, -2500.0)
    assert disasm(a)[:3] == ["rep movsd dword ptr [rdi], dword ptr [rsi]",
                             "movsd dword ptr [rdi], dword ptr [rsi]", "movsd xmm0, xmm1"]


ABSOLUTE = """bits 64
section .text
global _start
_start:
    mov rdi, [msg]
    mov rdi, [msg + 8]
    lea rsi, [msg]
    mov [msg], eax
    mov rax, [msg]
    mov rdi, [fs:0x28]
    mov rax, [-8]
    add al, 'a'
    mov eax, $ + 5
    mov eax, $0ff
    mov ecx, $ - $$
    cmp byte [msg], 'x'
    call [vector]
    times 3 nop
    ud0 eax, ebx
    ud1 rax, [rel msg]
    rdpid rax
    rdpid r9
    lar rax, bx
    lar eax, bx
    lar r10, word [msg]
    ud0
    ud2
    jmp $
section .data
msg: dq 1
vector: dq _start
    times 32 - ($ - msg) db 0
"""


def test_nasm_forms_match_nasm_byte_for_byte_absolute(tmp_path):
    """Absolute addresses in 64-bit code (`[msg]`, `[fs:0x28]`), `$`, `$$`, `$0ff`, char
    constants, a `times` count that is an expression, and ud0/ud1/rdpid/lar as NASM 2.16."""
    test_nasm_forms_match_nasm_byte_for_byte(tmp_path, ABSOLUTE)


def test_absolute_address_in_64_bit_code_is_not_rip_relative():
    """`mov rdi, [msg]` reads msg (NASM: absolute, SIB with no base), not rip + msg;
    `mov rdi, [fs:0x28]` reads fs:0x28 (the stack canary), not fs:rip + 0x28."""
    a = assemble(ABSOLUTE.replace("    ud1 rax, [rel msg]\n", "    mov rax, [rel msg]\n"),
                 "abs.s")
    msg = a.labels["msg"]
    assert _rip_targets(a) == [("mov", msg)]  # only the one `rel`
    text = disasm(a, count=8)
    assert text[0] == f"mov rdi, qword ptr [{msg:#x}]"
    assert text[5] == "mov rdi, qword ptr fs:[0x28]"


def test_an_absolute_program_reads_its_data(guest):
    r = guest("abs.s", source="bits 64\nsection .data\nv: dq 7\nsection .text\n"
                              "_start:\n  mov rdi, [v]\n  mov eax, 60\n  syscall\n")
    assert r.status == 7


def test_an_address_beyond_32_bits_is_refused():
    with pytest.raises(AsmError) as e:
        assemble("_start:\n  mov rdi, [0x100000000]\n", "far.s")
    assert str(e.value).startswith("far.s:2: [0x100000000] is 0x100000000")
    assert "mov rax, 0x100000000" in str(e.value)


@pytest.mark.parametrize("source, line, words", [
    ("a equ b\nb equ a\n_start:\n  mov eax, a\n", 1, "`a equ b`, `b equ a`: the constant"),
    ("_start:\n  mov eax, a\na equ a + 1\n", 3, "defined in terms of itself"),
    ("_start:\n  nop\nsection .data\n  times -5 db 0\n", 4, "the count is negative (-5)"),
    ("_start:\n  nop\nsection .bss\n  resb 0x7fffffffffff\n", 4,
     "more than the guest's memory limit (1 GiB)"),
    ("_start:\n  nop\nsection .data\nx: db 1\n  align 0x100000000\n", 5,
     "align 0x100000000 is larger than the guest's memory limit"),
    ("_start:\n  nop\n  times 0x7fffffff db 0\n", 3, "times 2147483647 makes 2 GiB"),
    ("_start:\n  nop\nsection .data\n  resb -1\n", 4, "a negative size"),
    ("_start:\n  times $ mov rsi, $\n", 2, "at most 100,000 copies"),
    ("_start:\n  nop\n  dd 1 / 0\n", 3, "division by zero in '1 / 0'"),
    ("_start:\n  align 1 << 200\n", 2, "shift by 200"),
    ("_start:\n  ,%\n", 2, "not an instruction: ,%"),
    ("_start:\n  mov eax, 10 % 3\n", 2, "name the value with equ"),
])
def test_impossible_sizes_and_circular_constants_fail_at_their_line(source, line, words):
    """What NASM refuses (a negative times, a constant with no value) or what could never be
    loaded (more than the guest's memory) fails at once, naming the line."""
    with pytest.raises(AsmError) as e:
        assemble(source, "big.s")
    assert str(e.value).startswith(f"big.s:{line}: ")
    assert words in str(e.value)


def test_times_makes_megabytes_in_bulk_and_bss_costs_no_bytes():
    """`times 3000000 db 0` is one 3 MB piece (not 3 million lines), `$`-dependent data is
    still made copy by copy, and 512 MiB of .bss is a size in the ELF, not file bytes."""
    a = assemble("_start:\n  nop\nsection .data\nbig: times 3000000 db 0x41\n"
                 "here: times 3 dd $\nsection .bss\n  resb 512 << 20\n", "t.s")
    image = read_elf(a.elf)
    data = next(s for s in image.segments if s.flags == 6)
    assert data.data[:3000000] == b"A" * 3000000
    here = a.labels["here"]
    assert data.data[3000000:] == b"".join((here + 4 * i).to_bytes(4, "little")
                                           for i in range(3))
    assert data.memsz == 3000012 + (512 << 20)
    assert len(a.elf) < 3100000
    limited = "_start:\n  nop\nsection .data\n  times 3000000 db 0\n"
    with pytest.raises(AsmError, match="more than the guest's memory limit"):
        assemble(limited, "t.s", max_image=1 << 20)


def test_nasm_names_that_keystone_reads_as_registers_are_labels():
    """NASM has no register `st` (it writes st0): `st` is a label, as a stat buffer often is."""
    a = assemble("section .bss\nst: resb 144\nsection .text\n_start:\n  lea rsi, [rel st]\n"
                 "  mov rdi, [st + 8]\n", "st.s")
    assert _rip_targets(a) == [("lea", a.labels["st"])]
    assert disasm(a)[1] == f"mov rdi, qword ptr [{a.labels['st'] + 8:#x}]"

"""Random hostile assembly (seeded, a few seconds): the assembler either builds an image or
refuses with one `file:line: message` (AsmError), never another exception, never a hang,
never an image beyond the guest memory limit."""

from __future__ import annotations

import random
import time

from emu.asm import DEFAULT_MAX_IMAGE, AsmError, assemble

SEED = 20261204
CASES = 400

NUMBERS = ["0", "1", "-1", "-5", "3", "0x7fffffff", "0x80000000", "1 << 40", "0x7fffffffffff",
           "1 << 20", "$", "$$", "$ - a", "($ - a) * 2", "a", "b", "c", "a + 1", "'a'",
           "'abcd'", "0ffh", "$0ff", "1010b", "17o", "1_000", "(", ")", "1 / 0", "~0",
           "4096", "0x100000000", "-(1 << 63)", "a - b", "b / 0", "unknown"]
REGS = ["rax", "eax", "al", "rdi", "rsi", "rbx", "ecx", "r9", "bx", "st", "fs"]


def _n(rng: random.Random) -> str:
    return rng.choice(NUMBERS)


def _line(rng: random.Random) -> str:
    r = rng.choice(REGS)
    forms = [
        lambda: f"times {_n(rng)} db {_n(rng)}",
        lambda: f"times {_n(rng)} nop",
        lambda: f"times {_n(rng)} mov {r}, {_n(rng)}",
        lambda: f"times {_n(rng)} jmp $",
        lambda: f"resb {_n(rng)}",
        lambda: f"resq {_n(rng)}",
        lambda: f"align {_n(rng)}",
        lambda: f"{rng.choice('abc')} equ {_n(rng)}",
        lambda: f"{rng.choice('abc')}: db {_n(rng)}, {_n(rng)}",
        lambda: f"dq {_n(rng)}",
        lambda: f"dd {_n(rng)}",
        lambda: f"mov {r}, [{_n(rng)}]",
        lambda: f"mov {r}, [rel {_n(rng)}]",
        lambda: f"mov [{_n(rng)}], {r}",
        lambda: f"lea {r}, [{r} + {_n(rng)}]",
        lambda: f"mov {r}, {_n(rng)}",
        lambda: f"add al, {_n(rng)}",
        lambda: f"jmp {_n(rng)}",
        lambda: f"call [{_n(rng)}]",
        lambda: f"{rng.choice(['ud0', 'ud1', 'rdpid', 'lar', 'ud2'])} {r}, {rng.choice(REGS)}",
        lambda: f"{rng.choice(['ud0', 'ud1', 'rdpid', 'lar'])} {r}",
        lambda: f"%define {rng.choice('abcXY')} {_n(rng)}",
        lambda: rng.choice(["section .data", "section .bss", "section .text", "bits 32",
                            "bits 64", "default rel", "default abs", ".loop:", "_start:"]),
        lambda: "".join(rng.choice("[]()$'\",:;%.abc 0x12+-*") for _ in range(rng.randrange(12))),
    ]
    return rng.choice(forms)()


def test_random_assembly_fails_cleanly_and_quickly():
    rng = random.Random(SEED)
    start = time.monotonic()
    built = refused = 0
    for case in range(CASES):
        source = "\n".join(["_start:"] + [_line(rng) for _ in range(rng.randrange(1, 8))]) + "\n"
        t = time.monotonic()
        try:
            a = assemble(source, f"fuzz{case}.s")
        except AsmError as e:
            message = str(e)
            assert message.startswith(f"fuzz{case}.s:"), (source, message)
            assert "\n" not in message, (source, message)
            refused += 1
        else:
            built += 1
            assert len(a.elf) <= DEFAULT_MAX_IMAGE + (1 << 16), source
        assert time.monotonic() - t < 10, source  # a hang, not a slow machine
    assert built and refused  # the fuzzer reaches both outcomes
    assert time.monotonic() - start < 120

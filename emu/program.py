"""Turning a file on the host into something the machine can run: a static ELF as is, an
assembly source through the assembler (which emits a real ELF)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from emu.elf import BadProgram, ElfImage, read_elf

if TYPE_CHECKING:
    from emu.asm import Assembled

ASM_SUFFIXES = (".s", ".asm", ".S")


@dataclass
class Program:
    image: ElfImage
    path: str  # the host path, absolute; also what the guest sees as its executable
    symbols: Mapping[int, str]
    assembled: Assembled | None = None


def load_program(path: str, default_bits: int = 64) -> Program:
    """Raises BadProgram (one line for the user) for anything that cannot run."""
    if not os.path.exists(path):
        raise BadProgram(f"{path}: no such file")
    if os.path.isdir(path):
        raise BadProgram(f"{path}: is a directory, not a program")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise BadProgram(f"{path}: cannot read ({e.strerror})") from None
    full = os.path.abspath(path)
    if path.endswith(ASM_SUFFIXES):
        from emu.asm import AsmError, assemble  # the assembler: loaded only for sources

        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadProgram(f"{path}: not a text file") from None
        try:
            asm = assemble(source, path, default_bits)
        except AsmError as e:
            raise BadProgram(str(e)) from None
        image = read_elf(asm.elf, path)
        symbols = {addr: name for name, addr in asm.labels.items()
                   if image.lowest <= addr < image.highest}
        return Program(image, full, symbols, asm)
    if not data:
        raise BadProgram(f"{path}: empty file")
    image = read_elf(data, path)
    return Program(image, full, image.symbols)  # read on first use

"""Editing the program headers of a bundled static ELF, for the bad-ELF tests and the fuzz
test: each field by name, in either class's layout (include/uapi/linux/elf.h)."""

from __future__ import annotations

import os
import platform
import struct
import subprocess
import sys

# name: (offset in Elf64_Phdr, format), then the same in Elf32_Phdr
PHDR64 = {"p_type": (0, "I"), "p_flags": (4, "I"), "p_offset": (8, "Q"), "p_vaddr": (16, "Q"),
          "p_paddr": (24, "Q"), "p_filesz": (32, "Q"), "p_memsz": (40, "Q"),
          "p_align": (48, "Q")}
PHDR32 = {"p_type": (0, "I"), "p_offset": (4, "I"), "p_vaddr": (8, "I"), "p_paddr": (12, "I"),
          "p_filesz": (16, "I"), "p_memsz": (20, "I"), "p_flags": (24, "I"), "p_align": (28, "I")}
# ELF header fields: (offset, format) for ELF64, then ELF32
EHDR64 = {"e_entry": (0x18, "Q"), "e_phoff": (0x20, "Q"), "e_phentsize": (0x36, "H"),
          "e_phnum": (0x38, "H")}
EHDR32 = {"e_entry": (0x18, "I"), "e_phoff": (0x1C, "I"), "e_phentsize": (0x2A, "H"),
          "e_phnum": (0x2C, "H")}
PT_LOAD, PT_TLS = 1, 7


def is64(data: bytes) -> bool:
    return data[4] == 2


def header(data: bytes, field: str) -> int:
    off, fmt = (EHDR64 if is64(data) else EHDR32)[field]
    return struct.unpack_from("<" + fmt, data, off)[0]


def set_header(data: bytearray, field: str, value: int) -> None:
    off, fmt = (EHDR64 if is64(data) else EHDR32)[field]
    struct.pack_into("<" + fmt, data, off, value & ((1 << (8 * struct.calcsize(fmt))) - 1))


def phdr_offset(data: bytes, index: int, field: str) -> tuple[int, str]:
    off, fmt = (PHDR64 if is64(data) else PHDR32)[field]
    return header(data, "e_phoff") + index * header(data, "e_phentsize") + off, fmt


def phdr(data: bytes, index: int, field: str) -> int:
    off, fmt = phdr_offset(data, index, field)
    return struct.unpack_from("<" + fmt, data, off)[0]


def set_phdr(data: bytearray, index: int, field: str, value: int) -> None:
    off, fmt = phdr_offset(data, index, field)
    struct.pack_into("<" + fmt, data, off, value & ((1 << (8 * struct.calcsize(fmt))) - 1))


def loads(data: bytes) -> list[int]:
    """Indices of the PT_LOAD headers."""
    return [i for i in range(header(data, "e_phnum")) if phdr(data, i, "p_type") == PT_LOAD]


def text_index(data: bytes) -> int:
    """The executable PT_LOAD's index."""
    return next(i for i in loads(data) if phdr(data, i, "p_flags") & 1)


def can_run_natively() -> bool:
    return sys.platform == "linux" and platform.machine() in ("x86_64", "AMD64")


def native_status(path: str, timeout: float = 10) -> int | None:
    """The status a shell would report for running `path` on this host (128+signal when
    killed), or None where the host cannot run it."""
    if not can_run_natively():
        return None
    os.chmod(path, 0o755)
    try:
        r = subprocess.run([path], capture_output=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return 128 - r.returncode if r.returncode < 0 else r.returncode

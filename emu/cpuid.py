"""What the emulated CPU answers to `cpuid`: Unicorn's default x86 model, asked directly by
running the instruction in a scratch CPU (the same model every Machine runs), so what
/proc/cpuinfo says and what a guest's own cpuid sees are one answer."""

from __future__ import annotations

import functools

import unicorn
from unicorn import x86_const as X

_CODE = 0x1000
_CPUID = b"\x0f\xa2"


@functools.lru_cache(maxsize=None)
def cpuid(leaf: int, subleaf: int = 0) -> tuple[int, int, int, int]:
    """(eax, ebx, ecx, edx) for one leaf, as a 64-bit guest's cpuid gets them."""
    uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_64)
    uc.mem_map(_CODE, 0x1000)
    uc.mem_write(_CODE, _CPUID)
    uc.reg_write(X.UC_X86_REG_RAX, leaf)
    uc.reg_write(X.UC_X86_REG_RCX, subleaf)
    uc.emu_start(_CODE, _CODE + len(_CPUID))
    return (uc.reg_read(X.UC_X86_REG_EAX) & 0xFFFFFFFF, uc.reg_read(X.UC_X86_REG_EBX) & 0xFFFFFFFF,
            uc.reg_read(X.UC_X86_REG_ECX) & 0xFFFFFFFF, uc.reg_read(X.UC_X86_REG_EDX) & 0xFFFFFFFF)

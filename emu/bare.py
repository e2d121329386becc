"""Bare Unicorn, for measuring the machine against: a program's segments mapped into a plain
Unicorn CPU with a small stack and one `syscall` hook, and nothing else (no kernel, no
ctypes shortcuts). `syscall-lab bench` reports its speed as ratios against this."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import unicorn
from unicorn import x86_const as X

_STACK, _STACK_SIZE = 0x7FF000000000, 0x10000


def _bare_machine(path: Path) -> tuple[unicorn.Uc, int]:
    """Map the assembled program's segments into a plain Unicorn with a small stack."""
    from emu.program import load_program

    prog = load_program(str(path))
    uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_64)
    for seg in prog.image.segments:
        start = seg.vaddr & ~0xFFF
        size = ((seg.vaddr + seg.memsz + 0xFFF) & ~0xFFF) - start
        uc.mem_map(start, size)
        uc.mem_write(seg.vaddr, seg.data)
    uc.mem_map(_STACK, _STACK_SIZE)
    sp = _STACK + 0x8000
    uc.mem_write(sp, (1).to_bytes(8, "little") + bytes(24))  # argc = 1, no argv[1]
    uc.reg_write(X.UC_X86_REG_RSP, sp)
    return uc, prog.image.entry


def _stop_on_exit(uc, _ud) -> None:
    if uc.reg_read(X.UC_X86_REG_RAX) == 60:
        uc.emu_stop()


def stop_after(calls: int) -> Callable:
    """A syscall hook that does nothing but end the run after `calls` calls: it counts with
    an int and touches no register."""
    left = {"n": calls}

    def hook(uc, _ud) -> None:
        left["n"] -= 1
        if left["n"] < 0:
            uc.emu_stop()

    return hook


def minimal_hook(uc, _ud) -> None:
    """A syscall hook written the usual way: Unicorn's reg_read of rax, reg_write of rax."""
    nr = uc.reg_read(X.UC_X86_REG_RAX)
    if nr == 60:
        uc.emu_stop()
    uc.reg_write(X.UC_X86_REG_RAX, 4242)


def run_bare(path: Path, hook: Callable | None = None) -> float:
    """Seconds to run the program in bare Unicorn, `hook` (or: stop at exit) on `syscall`."""
    uc, entry = _bare_machine(path)
    uc.hook_add(unicorn.UC_HOOK_INSN, hook or _stop_on_exit, None, 1, 0,
                X.UC_X86_INS_SYSCALL)
    t = time.perf_counter()
    uc.emu_start(entry, (1 << 64) - 1)  # no stop address, as `run` does
    return time.perf_counter() - t

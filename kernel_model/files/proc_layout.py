"""The addresses /proc/<pid>/stat reports of an address space (mm->start_code to env_end,
and start_stack), recovered from what the model keeps of the exec that built it: the
program's ELF program headers, the load bias the auxv implies (AT_ENTRY less e_entry), the
auxv's pointers into the initial stack, and the lengths of argv and envp.

binfmt_elf's rules (load_elf_binary, create_elf_tables): start_code/end_code span the
executable PT_LOADs (end at p_vaddr + p_filesz); start_data is the highest PT_LOAD's
p_vaddr and end_data the highest p_vaddr + p_filesz; the argument strings, then the
environment strings, end where AT_EXECFN's string begins; start_stack is where argc is,
the vector's start, found from AT_RANDOM's bytes just above it.

/proc/<pid>/cmdline and environ read those areas from the process's memory, as Linux does
(fs/proc/base.c get_mm_cmdline, environ_read): a program that rewrites its argv strings
(setproctitle) is seen as it rewrote them."""

from __future__ import annotations

import os
import struct

from emu.records import Record

AT_NULL, AT_ENTRY, AT_RANDOM, AT_EXECFN = 0, 9, 25, 31
PAGE = 4096
PT_LOAD, PF_X = 1, 1


class MmLayout(Record):
    _fields = (
        "start_code", "end_code", "start_data", "end_data", "start_brk", "arg_start", "arg_end",
        "env_start", "env_end", "start_stack",
    )
    start_code: int = 0
    end_code: int = 0
    start_data: int = 0
    end_data: int = 0
    start_brk: int = 0
    arg_start: int = 0
    arg_end: int = 0
    env_start: int = 0
    env_end: int = 0
    start_stack: int = 0

    def __init__(
            self, start_code: int = 0, end_code: int = 0, start_data: int = 0, end_data: int = 0,
            start_brk: int = 0, arg_start: int = 0, arg_end: int = 0, env_start: int = 0,
            env_end: int = 0, start_stack: int = 0,
    ) -> None:
        object.__setattr__(self, "start_code", start_code)
        object.__setattr__(self, "end_code", end_code)
        object.__setattr__(self, "start_data", start_data)
        object.__setattr__(self, "end_data", end_data)
        object.__setattr__(self, "start_brk", start_brk)
        object.__setattr__(self, "arg_start", arg_start)
        object.__setattr__(self, "arg_end", arg_end)
        object.__setattr__(self, "env_start", env_start)
        object.__setattr__(self, "env_end", env_end)
        object.__setattr__(self, "start_stack", start_stack)


def _loads(raw: bytes) -> tuple[int, list[tuple[int, int, int]]] | None:
    """(e_entry, [(p_vaddr, p_filesz, p_flags) of each PT_LOAD]), or None if unreadable."""
    try:
        if raw[:4] != b"\x7fELF":
            return None
        if raw[4] == 2:
            entry, phoff = struct.unpack_from("<QQ", raw, 24)
            phentsize, phnum = struct.unpack_from("<HH", raw, 54)
        else:
            entry, phoff = struct.unpack_from("<II", raw, 24)
            phentsize, phnum = struct.unpack_from("<HH", raw, 42)
        loads = []
        for i in range(phnum):
            at = phoff + i * phentsize
            if raw[4] == 2:
                p_type, p_flags, _off, vaddr, _pa, filesz = struct.unpack_from("<IIQQQQ", raw,
                                                                               at)
            else:
                p_type, _off, vaddr, _pa, filesz, _memsz, p_flags = struct.unpack_from(
                    "<IIIIIII", raw, at)
            if p_type == PT_LOAD:
                loads.append((vaddr, filesz, p_flags))
        return entry, loads
    except (struct.error, IndexError):
        return None


def _strings_length(strings) -> int:
    return sum(len(os.fsencode(s)) + 1 for s in strings)


def mm_layout(process) -> MmLayout:
    aux = dict(process.auxv)
    word = 8 if process.arch == "x86_64" else 4
    start_code = end_code = start_data = end_data = 0
    parsed = _loads(process.exe_bytes)
    if parsed is not None and AT_ENTRY in aux:
        entry, loads = parsed
        bias = aux[AT_ENTRY] - entry
        code = [(v, v + f) for v, f, flags in loads if flags & PF_X]
        if code:
            start_code = min(s for s, _ in code) + bias
            end_code = max(e for _, e in code) + bias
        if loads:
            start_data = max(v for v, _, _ in loads) + bias
            end_data = max(v + f for v, f, _ in loads) + bias
    arg_start = arg_end = env_start = env_end = start_stack = 0
    if AT_EXECFN in aux:
        env_end = aux[AT_EXECFN]
        env_start = arg_end = env_end - _strings_length(process.envp)
        arg_start = arg_end - _strings_length(process.argv)
    if AT_RANDOM in aux:
        pairs = len(process.auxv) + (0 if process.auxv and process.auxv[-1][0] == AT_NULL
                                     else 1)
        vector = (3 + len(process.argv) + len(process.envp) + 2 * pairs) * word
        start_stack = ((aux[AT_RANDOM] & ~0xF) - vector) & ~0xF
    return MmLayout(start_code, end_code, start_data, end_data,
                    process.mm.start_brk, arg_start, arg_end, env_start,
                    env_end, start_stack)


def _nul_joined(strings) -> bytes:
    return b"".join(os.fsencode(s) + b"\0" for s in strings)


def _read(process, addr: int, size: int) -> bytes | None:
    machine = process.machine
    if machine is None or size <= 0:
        return None
    try:
        return bytes(machine.read(addr, size))
    except Exception:  # noqa: BLE001  unmapped since: Linux's read stops short there too
        return None


def cmdline_bytes(process) -> bytes:
    """[arg_start, arg_end) as the memory holds it now; if the NUL that ended the last
    argument was overwritten, the title runs on into the environment area up to its first
    NUL, within one page (get_mm_proctitle)."""
    layout = mm_layout(process)
    if not layout.arg_start:  # no stack the model built (a stand-in process)
        return _nul_joined(process.argv)
    data = _read(process, layout.arg_start, layout.arg_end - layout.arg_start)
    if data is None:
        return _nul_joined(process.argv)
    if data and data[-1] != 0:
        title = _read(process, layout.arg_start,
                      min(PAGE, layout.env_end - layout.arg_start)) or data
        end = title.find(b"\0")
        return title if end < 0 else title[:end + 1]
    return data


def environ_bytes(process) -> bytes:
    layout = mm_layout(process)
    if not layout.env_end:
        return _nul_joined(process.envp)
    data = _read(process, layout.env_start, layout.env_end - layout.env_start)
    return _nul_joined(process.envp) if data is None else data

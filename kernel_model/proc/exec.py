"""execve of a static ELF, as fs/binfmt_elf.c does it: map the PT_LOAD segments, place the
stack, mmap base and brk (randomized: ASLR, reproducible with a seed), and build the initial
stack: argc, argv, envp, the auxiliary vector and the strings (docs/kernel_facts.md §2)."""

from __future__ import annotations

import os
import random
import struct

from emu.arch import Arch
from emu.elf import ElfImage
from emu.machine import PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, page_down, page_up
from emu.records import Record
from kernel_model.memory.mm import Mm, OutOfMemory
from kernel_model.signals.frame_fpu import max_frame_size

# auxv types (include/uapi/linux/auxvec.h, arch/x86/include/uapi/asm/auxvec.h)
AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ = 0, 3, 4, 5, 6
AT_BASE, AT_FLAGS, AT_ENTRY = 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN = 23, 25, 26, 31
AT_SYSINFO, AT_SYSINFO_EHDR = 32, 33
AT_MINSIGSTKSZ = 51
AT_RSEQ_FEATURE_SIZE, AT_RSEQ_ALIGN = 27, 28

AUXV_NAMES = {
    AT_NULL: "AT_NULL", AT_PHDR: "AT_PHDR", AT_PHENT: "AT_PHENT", AT_PHNUM: "AT_PHNUM",
    AT_PAGESZ: "AT_PAGESZ", AT_BASE: "AT_BASE", AT_FLAGS: "AT_FLAGS", AT_ENTRY: "AT_ENTRY",
    AT_UID: "AT_UID", AT_EUID: "AT_EUID", AT_GID: "AT_GID", AT_EGID: "AT_EGID",
    AT_PLATFORM: "AT_PLATFORM", AT_HWCAP: "AT_HWCAP", AT_CLKTCK: "AT_CLKTCK",
    AT_SECURE: "AT_SECURE", AT_RANDOM: "AT_RANDOM", AT_HWCAP2: "AT_HWCAP2",
    AT_EXECFN: "AT_EXECFN", AT_SYSINFO: "AT_SYSINFO", AT_SYSINFO_EHDR: "AT_SYSINFO_EHDR",
    AT_MINSIGSTKSZ: "AT_MINSIGSTKSZ", AT_RSEQ_FEATURE_SIZE: "AT_RSEQ_FEATURE_SIZE",
    AT_RSEQ_ALIGN: "AT_RSEQ_ALIGN",
}

# CPUID.1:EDX of the emulated CPU (Unicorn's default, what the guest's cpuid reads), which
# is what AT_HWCAP carries on x86.
HWCAP = 0x078BFBFD
HWCAP2_FSGSBASE = 0x2
MINSIGSTKSZ = max_frame_size()  # the largest signal frame on the model's CPU (x87 + SSE XSAVE)
STACK_INITIAL = 132 * 1024  # setup_arg_pages() leaves 128 KiB beyond the strings
STACK_EXPAND = 128 * 1024  # setup_arg_pages()'s stack_expand, below the strings' pages
STACK_LIMIT = 8 << 20  # RLIMIT_STACK: how far the stack may grow on faults
STACK_GUARD_GAP = 256 * PAGE  # mm/mmap.c stack_guard_gap: no growing this close to a mapping
# The limits execve checks (include/uapi/linux/binfmts.h, fs/exec.c bprm_stack_limits).
MAX_ARG_STRLEN = 32 * PAGE  # one string, with its NUL
MAX_ARG_STRINGS = 0x7FFFFFFF
ARG_MAX = 32 * PAGE  # strings always allowed, however small the stack rlimit
STK_LIM = 8 << 20  # _STK_LIM: the strings never take more than 3/4 of it
KERNEL_POINTER = 8  # sizeof(void *) in the (64-bit) kernel, for i386 processes too
# Where user space ends (arch/x86/include/asm/page_64_types.h): TASK_SIZE_MAX, 2^47 less a
# guard page; for an i386 process on a 64-bit kernel IA32_PAGE_OFFSET (4 GiB - 8 KiB).
TASK_SIZE = {64: 0x7FFFFFFFF000, 32: 0xFFFFE000}


class ArgListTooLong(ValueError):
    """execve's E2BIG ("Argument list too long"); str() is one line for the user."""


class CannotLoad(ValueError):
    """The image does not fit syscall-lab's guest memory cap (--memory-limit): one line for
    the user, like execve's ENOMEM. The cap is the model's own limit, so the run ends with
    status 2 rather than with an outcome Linux would give."""


class ExecKilled(Exception):
    """An exec that fails past the point of no return (see exec_failure): str() says why."""


def _size_text(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f}".removesuffix(".0") + " " + unit
    return f"{n} bytes"


def exec_failure(image: ElfImage, bias: int, bits: int) -> str | None:
    """Why load_elf_binary (fs/binfmt_elf.c, 6.18) fails for this image after execve's point
    of no return (begin_new_exec has already thrown the old program away), or None.

    Those failures cannot be returned to the caller any more: bprm_execve then kills the
    process with force_fatal_sig(SIGSEGV), so the shell sees "Segmentation fault" (status
    139) and strace only "+++ killed by SIGSEGV +++". Checked, in the kernel's order, for
    each PT_LOAD: elf_map()'s vm_mmap refuses a file offset whose page offset differs from
    the address's (EINVAL) and a range beyond TASK_SIZE (ENOMEM, get_unmapped_area); then
    BAD_ADDR(p_vaddr), p_filesz > p_memsz, and p_vaddr + p_memsz beyond TASK_SIZE (EINVAL,
    "set_brk can never work"); last BAD_ADDR(e_entry) (EINVAL). The page at TASK_SIZE,
    where the model keeps its GDT, is past user space on Linux too: a PT_LOAD there fails
    this way, so the model's page is never in the way of one that Linux would map."""
    task_size = TASK_SIZE[bits]
    if image.is_pie and bias + image.lowest < 0:
        # A static PIE goes where mmap puts it, below mmap_base: no room for its span.
        return (f"a static PIE spanning {_size_text(image.highest - image.lowest)} does not "
                f"fit below the mmap base (ENOMEM)")
    for seg in image.segments:
        where = f"the PT_LOAD at {seg.vaddr:#x}"
        start = page_down(seg.vaddr + bias)
        if seg.filesz:
            if (seg.vaddr - seg.offset) % PAGE:
                return (f"{where}: p_offset {seg.offset:#x} and p_vaddr are not congruent "
                        f"modulo the page size, so mmap refuses the offset (EINVAL)")
            if page_up(seg.vaddr + bias + seg.filesz) > task_size:
                return f"{where} reaches past TASK_SIZE {task_size:#x} (ENOMEM)"
        if seg.vaddr >= task_size:
            return f"{where} is at or above TASK_SIZE {task_size:#x} (EINVAL)"
        if seg.filesz > seg.memsz:
            return f"{where} has p_filesz {seg.filesz:#x} > p_memsz {seg.memsz:#x} (EINVAL)"
        if seg.memsz > task_size or seg.vaddr + seg.memsz > task_size or \
                page_up(seg.vaddr + bias + seg.memsz) > task_size or start < 0:
            return f"{where} with p_memsz {seg.memsz:#x} reaches past TASK_SIZE (EINVAL)"
    if image.entry + bias >= task_size or image.entry + bias < 0:
        return f"the entry point {image.entry + bias:#x} is at or above TASK_SIZE (EINVAL)"
    return None


def check_arg_limits(program: str, strings: list[bytes], argc: int, envc: int,
                     rlim_stack: int = STACK_LIMIT) -> None:
    """E2BIG where fs/exec.c gives it: too many strings, one string longer than
    MAX_ARG_STRLEN, or all of them (execfn, envp, argv, NULs included, plus a pointer each)
    past a quarter of the stack rlimit (bprm_stack_limits, copy_strings)."""

    def too_long(why: str) -> ArgListTooLong:
        return ArgListTooLong(f"{program}: Argument list too long (E2BIG): {why}")

    if argc > MAX_ARG_STRINGS or envc > MAX_ARG_STRINGS:
        raise too_long(f"more than {MAX_ARG_STRINGS} strings (MAX_ARG_STRINGS)")
    limit = max(min(STK_LIM // 4 * 3, rlim_stack // 4), ARG_MAX)
    pointers = (max(argc, 1) + envc) * KERNEL_POINTER
    total = pointers
    for data in strings:
        if len(data) > MAX_ARG_STRLEN:
            raise too_long(f"one string is {len(data)} bytes with its NUL; Linux takes at "
                           f"most {MAX_ARG_STRLEN} (MAX_ARG_STRLEN, 32 pages)")
        total += len(data)
    if total > limit:
        raise too_long(f"{argc} arguments and {envc} environment strings take {total} bytes "
                       f"with their pointers; Linux allows {limit} (a quarter of the "
                       f"{rlim_stack >> 20} MiB stack limit)")


class Layout(Record):
    """The addresses ASLR picks at exec, per architecture (arch/x86/mm/mmap.c)."""

    _fields = ("stack_top", "mmap_base", "load_bias", "brk_random", "sp_random")
    stack_top: int
    mmap_base: int
    load_bias: int  # for static-PIE, chosen in the mmap area
    brk_random: int
    sp_random: int  # arch_align_stack's sub-page shift

    def __init__(
            self, stack_top: int, mmap_base: int, load_bias: int, brk_random: int, sp_random: int,
    ) -> None:
        object.__setattr__(self, "stack_top", stack_top)
        object.__setattr__(self, "mmap_base", mmap_base)
        object.__setattr__(self, "load_bias", load_bias)
        object.__setattr__(self, "brk_random", brk_random)
        object.__setattr__(self, "sp_random", sp_random)


def choose_layout(arch: Arch, rng: random.Random, pie_size: int = 0) -> Layout:
    task_size = TASK_SIZE[arch.bits]
    if arch.bits == 64:
        stack_top = task_size - (rng.getrandbits(22) << 12)  # 16 GiB of stack randomness
        gap = (8 << 20) + (1 << 20) + (1 << 34)  # rlimit + guard gap + stack randomness
        mmap_base = page_down(task_size - gap - (rng.getrandbits(28) << 12))
    else:
        stack_top = task_size - (rng.getrandbits(11) << 12)
        gap = 128 << 20  # the minimum gap wins for 32-bit processes
        mmap_base = page_down(task_size - gap - (rng.getrandbits(8) << 12))
    load_bias = page_down(mmap_base - page_up(pie_size)) if pie_size else 0
    # arch_randomize_brk: brk starts up to 1 GiB past the bss for a 64-bit process (Linux
    # 6.x; 33-977 MiB seen in 40 runs on 6.18), 32 MiB for an i386 one.
    brk_bits = 18 if arch.bits == 64 else 13
    return Layout(stack_top, mmap_base, load_bias, rng.getrandbits(brk_bits) << 12,
                  rng.randrange(0, 8192) & ~0xF)


def _prot(flags: int) -> int:
    return ((PROT_READ if flags & 4 else 0) | (PROT_WRITE if flags & 2 else 0)
            | (PROT_EXEC if flags & 1 else 0))


def map_image(mm: Mm, image: ElfImage, bias: int, path: str, dev: tuple[int, int],
              inode: int, name: str = "") -> int:
    """Map each PT_LOAD like elf_map(): file-backed pages named by the path, the part of the
    bss past the file's last page as an anonymous mapping. Returns the end of the bss.
    Raises CannotLoad when a segment does not fit the guest memory cap."""
    bss_end = 0
    for seg in image.segments:
        try:
            bss_end = max(bss_end, _map_segment(mm, image.raw, seg, bias, path, dev, inode))
        except OutOfMemory:
            raise CannotLoad(
                f"{name or path}: cannot load: a PT_LOAD of {_size_text(seg.memsz)} at "
                f"{seg.vaddr:#x} does not fit the guest memory limit of "
                f"{_size_text(mm.limit)} (--memory-limit): ENOMEM, Cannot allocate memory"
            ) from None
    return bss_end


def _map_segment(mm: Mm, raw: bytes, seg, bias: int, path: str, dev: tuple[int, int],
                 inode: int) -> int:
    """elf_load(): the file's whole pages under the segment (the bytes around it on its
    first and last page are the file's, as mmap shows them), then padzero() clears the
    last page past p_filesz when there is a bss and the segment is writable (a read-only
    one keeps the file's bytes there: the kernel ignores that failure), and the rest of
    the bss is anonymous memory."""
    start = page_down(seg.vaddr + bias)
    file_end = seg.vaddr + bias + seg.filesz
    mem_end = seg.vaddr + bias + seg.memsz
    prot = _prot(seg.flags)
    kind = "code" if prot & PROT_EXEC else ("data" if prot & PROT_WRITE else "rodata")
    mapped_end = page_up(file_end) if seg.filesz else start
    if mapped_end > start:
        mm.map(start, mapped_end - start, prot, name=path, offset=page_down(seg.offset),
               dev=dev, inode=inode, kind=kind)
        first = page_down(seg.offset)
        mm.machine.write(start, raw[first:first + (mapped_end - start)])
        if seg.memsz > seg.filesz and prot & PROT_WRITE and file_end < mapped_end:
            mm.machine.write(file_end, bytes(mapped_end - file_end))
    if page_up(mem_end) > mapped_end:
        mm.map(mapped_end, page_up(mem_end) - mapped_end, prot, kind="bss")
    return mem_end


def build_stack(mm: Mm, arch: Arch, layout: Layout, argv: list[str], envp: list[str],
                auxv_head: list[tuple[int, int]], auxv_tail: list[tuple[int, int]],
                execfn: str, rng: random.Random) -> tuple[int, list[tuple[int, int]]]:
    """Write the initial stack and return (sp, auxv). auxv_head/tail are the entries before
    and after the ones that point into the stack (AT_RANDOM, AT_EXECFN, AT_PLATFORM)."""
    word = arch.word
    top = layout.stack_top
    m = mm.machine
    # Strings go at the very top, as copy_strings() places them: execfn, envp, argv, each
    # with its NUL, below the final NULL word.
    execfn_b, env_b, arg_b = (os.fsencode(execfn) + b"\0",
                              [os.fsencode(e) + b"\0" for e in envp],
                              [os.fsencode(a) + b"\0" for a in argv])
    check_arg_limits(argv[0] if argv else execfn, [execfn_b, *env_b, *arg_b], len(argv),
                     len(envp))
    strings = b"".join([*arg_b, *env_b, execfn_b])
    p = top - word - len(strings)
    arg_addrs, at = [], p
    for a in arg_b:
        arg_addrs.append(at)
        at += len(a)
    env_addrs = []
    for e in env_b:
        env_addrs.append(at)
        at += len(e)
    execfn_addr = at
    strings_low = p
    p = (p - layout.sp_random) & ~0xF  # arch_align_stack
    platform = arch.platform.encode() + b"\0"
    platform_addr = p = p - len(platform)
    random_bytes = bytes(rng.getrandbits(8) for _ in range(16))
    random_addr = p = p - len(random_bytes)
    p &= ~0xF
    auxv = auxv_head + [
        (AT_RANDOM, random_addr),
        (AT_HWCAP2, HWCAP2_FSGSBASE),
        (AT_EXECFN, execfn_addr),
        (AT_PLATFORM, platform_addr),
    ] + auxv_tail + [(AT_NULL, 0)]
    vector = [len(argv), *arg_addrs, 0, *env_addrs, 0]
    for key, value in auxv:
        vector += [key, value]
    size = len(vector) * word
    sp = (p - size) & ~0xF
    # setup_arg_pages(): the strings' pages plus 128 KiB below them; the vector's pages are
    # then faulted in below that if it reaches further (create_elf_tables).
    low = min(top - STACK_INITIAL, page_down(strings_low) - STACK_EXPAND, page_down(sp))
    if not mm.is_free(low, top):
        # Linux sets up the stack first; the image's first PT_LOAD is then mapped with
        # MAP_FIXED_NOREPLACE over the image's whole span, which fails with EEXIST past the
        # point of no return (see exec_failure).
        raise ExecKilled(f"the image overlaps the stack at {low:#x}-{top:#x}, so mapping it "
                         "with MAP_FIXED_NOREPLACE fails (EEXIST)")
    # Host memory for all the stack may grow to (RLIMIT_STACK), untouched until used: each
    # page the stack grows by is then a piece of it, and the pieces join into one region.
    m.reserve(min(low, top - STACK_LIMIT), top - min(low, top - STACK_LIMIT))
    mm.map(low, top - low, PROT_READ | PROT_WRITE, name="[stack]", kind="stack",
           grows_down=True)
    mm.stack_top = top
    m.write(top - word, bytes(word))
    m.write(strings_low, strings)
    m.write(platform_addr, platform)
    m.write(random_addr, random_bytes)
    fmt = "<" + ("Q" if word == 8 else "I") * len(vector)
    m.write(sp, struct.pack(fmt, *[v & arch.mask for v in vector]))
    return sp, auxv[:-1]


def auxv_entries(arch: Arch, image: ElfImage, bias: int, uid: int, gid: int,
                 sysinfo: tuple[int, int] | None, *, euid: int | None = None,
                 egid: int | None = None, base: int = 0):
    """The kernel's auxv in 6.18's order, split around the stack-pointing entries. The
    real and effective ids (default: the real ones); AT_SECURE is 1 when they differ, as
    cap_bprm_creds_from_file marks such an exec secure."""
    euid = uid if euid is None else euid
    egid = gid if egid is None else egid
    head: list[tuple[int, int]] = []
    if sysinfo:
        vsyscall_entry, vdso_base = sysinfo
        if arch.bits == 32:
            head.append((AT_SYSINFO, vsyscall_entry))
        head.append((AT_SYSINFO_EHDR, vdso_base))
    head += [
        (AT_MINSIGSTKSZ, MINSIGSTKSZ),
        (AT_HWCAP, HWCAP),
        (AT_PAGESZ, PAGE),
        (AT_CLKTCK, 100),
        (AT_PHDR, image.phdr_vaddr() + bias),
        (AT_PHENT, image.phentsize),
        (AT_PHNUM, image.phnum),
        (AT_BASE, base),  # the interpreter's load address (0: none)
        (AT_FLAGS, 0),
        (AT_ENTRY, image.entry + bias),
        (AT_UID, uid),
        (AT_EUID, euid),
        (AT_GID, gid),
        (AT_EGID, egid),
        (AT_SECURE, int(euid != uid or egid != gid)),
    ]
    tail = [(AT_RSEQ_FEATURE_SIZE, 28), (AT_RSEQ_ALIGN, 32)]
    return head, tail


def grow_stack(mm: Mm, addr: int) -> bool:
    """The stack VMA grows down on a fault below it (expand_downwards): up to
    RLIMIT_STACK, and never within stack_guard_gap of an accessible mapping below it.
    The pages come from the stack's host reservation (build_stack), so a fault costs a
    small Unicorn mapping, not a copy."""
    stack = next((v for v in mm.vmas if v.grows_down), None)
    if stack is None or not (mm.stack_top - STACK_LIMIT <= addr < stack.start):
        return False
    new_start = page_down(addr)
    if not mm.is_free(new_start, stack.start):
        return False
    below = [v for v in mm.vmas if v.end <= new_start]
    if below and not below[-1].grows_down and below[-1].prot and \
            new_start - below[-1].end < STACK_GUARD_GAP:
        return False
    mm.map(new_start, stack.start - new_start, PROT_READ | PROT_WRITE, name="[stack]",
           kind="stack", grows_down=True)
    return True

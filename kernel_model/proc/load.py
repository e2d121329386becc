"""Building a process image on a fresh CPU: what the first program's start (kernel_model.system)
and execve (kernel_model.proc.execve) both do, so the two cannot drift apart.

A new image is a new Machine (the model's address space: Unicorn has no way to empty one
CPU's memory and start again cheaper than a new CPU), its Mm and its GDT, then, as
load_elf_binary and its helpers do: the PT_LOAD segments (binfmt: kernel_model.proc.exec),
brk, the vDSO and its data pages, the vsyscall page, the initial stack with argv, envp and
the auxiliary vector, and the registers as the return to user mode leaves them.

It happens in two steps because the first process needs its address space before the guest's
file tree exists (the tree answers /proc/self from the process table), and the tree decides
the path the program's mapping shows: `address_space` (layout, Mm, GDT), then `populate`.
execve takes both at once (`build`). A dynamically linked program (PT_INTERP) is mapped
as load_elf_binary maps it: the program at ELF_ET_DYN_BASE (a PIE) or its own addresses,
its interpreter (ld.so, opened by the caller before the point of no return) at the top
of the mmap area, and the CPU starts in the interpreter, which finds the program through
AT_PHDR and AT_ENTRY and itself through AT_BASE (docs/kernel_facts.md §18).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from emu import fpu
from emu import registers as R
from emu.arch import Arch
from emu.elf import ElfImage, LazySymbols
from emu.machine import PAGE, Machine
from emu.records import Record
from emu.segments import TRAMPOLINE, Gdt
from kernel_model.memory.mm import Mm, OutOfMemory
from kernel_model.proc import exec as binfmt

if TYPE_CHECKING:
    from kernel_model.vdso.eras import Era
    from kernel_model.vdso.mapping import MappedVdso

# The GDT and the kernel model's return-to-user trampoline: in the last page below the
# 64-bit non-canonical hole (TASK_SIZE_MAX: no user mapping may go there), and for i386
# processes in the page above their 4 GiB - 8 KiB address space. User mode cannot touch it
# (emu/segments.py, Gdt.cpu_access).
GDT_ADDR = {64: 0x7FFFFFFFF000, 32: 0xFFFFE000}


class ExeFile(Record):
    """The program file as the guest knows it: its path in the guest (/proc/self/exe, the
    maps lines) and the model's device and inode numbers, and where its bytes came from on
    the host, if anywhere (the trace and the screen show that path)."""

    _fields = ("guest_path", "dev", "ino", "host_path")
    guest_path: str
    dev: tuple[int, int]
    ino: int
    host_path: str = ""

    def __init__(
            self, guest_path: str, dev: tuple[int, int], ino: int, host_path: str = "",
    ) -> None:
        object.__setattr__(self, "guest_path", guest_path)
        object.__setattr__(self, "dev", dev)
        object.__setattr__(self, "ino", ino)
        object.__setattr__(self, "host_path", host_path)


@dataclass
class Space:
    """A fresh address space: the CPU, its Mm and GDT, and the layout ASLR chose."""

    machine: Machine
    mm: Mm
    gdt: Gdt
    layout: binfmt.Layout
    arch: Arch


class Interpreter(Record):
    """The program's PT_INTERP, opened and read: the dynamic loader the CPU starts in."""

    _fields = ("image", "exe")
    image: ElfImage
    exe: ExeFile

    def __init__(self, image: ElfImage, exe: ExeFile) -> None:
        object.__setattr__(self, "image", image)
        object.__setattr__(self, "exe", exe)


# Where load_elf_binary puts a PIE that has an interpreter (ELF_ET_DYN_BASE, before
# arch_mmap_rnd's random pages; measured on Linux 6.18 with `setarch -R`), and how many bits
# of pages arch_mmap_rnd draws (mmap_rnd_bits and mmap_rnd_compat_bits).
ELF_ET_DYN_BASE = {64: 0x555555554000, 32: 0x56555000}
MMAP_RND_BITS = {64: 28, 32: 8}


@dataclass
class NewImage:
    """A populated address space, ready to run: where it starts and what it was given."""

    space: Space
    entry: int
    sp: int
    auxv: list[tuple[int, int]]
    symbols: Mapping[int, str]  # the image's, moved by the load bias (read on first use)
    vdso: MappedVdso | None
    sysenter_pad: int | None  # i386: where `sysenter` returns in this vDSO
    # Why the image could not be completed past execve's point of no return (the process
    # is then killed by SIGSEGV), or None.
    failure: str | None = None
    tick_jobs: list = field(default_factory=list)  # the timer tick's work for this CPU
    vdso_symbols: dict = field(default_factory=dict)  # its signal trampolines (i386)
    interp_base: int = 0  # AT_BASE: where the dynamic loader was mapped (0: none)

    @property
    def machine(self) -> Machine:
        return self.space.machine


def map_interpreter(space: Space, interp: Interpreter, name: str) -> int:
    """load_elf_interp: the loader's whole span where mmap would put it (the top of the
    mmap area, below what is there), then each PT_LOAD at its offset from there. Returns
    the load bias (AT_BASE); binfmt.ExecKilled when the span fits nowhere."""
    image = interp.image
    span = binfmt.page_up(image.highest) - binfmt.page_down(image.lowest)
    start = space.mm.find_free(span, 0, binfmt.TASK_SIZE[space.arch.bits])
    if start is None:
        raise binfmt.ExecKilled(f"no room for the interpreter {interp.exe.guest_path}")
    bias = start - binfmt.page_down(image.lowest)
    e = interp.exe
    binfmt.map_image(space.mm, image, bias, e.guest_path, e.dev, e.ino, name)
    return bias


class Loader:
    """What every image of a run shares: the kernel era's vDSO and vsyscall choices, the
    memory cap, the clock the vDSO's data page follows, the randomness (ASLR, AT_RANDOM),
    and the timer tick's jobs. The System makes one; execve asks it for each new image."""

    def __init__(self, *, era: Era, vsyscall_option: str | None, vdso_option: bool | None,
                 memory_limit: int, clock, rng: random.Random, tick_jobs: list):
        self.era = era
        self.vsyscall_option = vsyscall_option
        self.vdso_option = vdso_option
        self.memory_limit = memory_limit
        self.clock = clock
        self.rng = rng
        self.tick_jobs = tick_jobs
        # The first vDSO mapped: its data page's writer reaches every other process's
        # copy of the page (MappedVdso.share_at), so one timekeeper serves all.
        self.root_vdso: MappedVdso | None = None
        self.vdso_of: dict[int, MappedVdso] = {}  # id(machine) -> the vDSO it maps
        self._jobs_of: dict[int, list] = {}  # id(machine) -> its own tick jobs

    def vsyscall_mode(self, arch: Arch) -> str:
        if arch.bits != 64:
            return "none"  # i386 processes have no vsyscall page
        return self.vsyscall_option or self.era.vsyscall

    def wants_vdso(self, arch: Arch) -> bool:
        if self.vdso_option is not None:
            return self.vdso_option
        return self.era.vdso64 if arch.bits == 64 else True

    # -- the two steps ---------------------------------------------------------------
    def address_space(self, image: ElfImage) -> Space:
        """A new CPU for the image's architecture, its layout (the first draw of ASLR), an
        empty Mm and the GDT page."""
        arch = image.arch
        machine = Machine(arch)
        pie_size = image.highest - image.lowest if image.is_pie else 0
        layout = binfmt.choose_layout(arch, self.rng, pie_size)
        mm = Mm(machine, mmap_base=layout.mmap_base, limit=self.memory_limit)
        gdt_addr = GDT_ADDR[arch.bits]
        gdt = Gdt(machine, gdt_addr)
        mm.reserved.append((gdt_addr, gdt_addr + PAGE))
        mm.reserved.append((TRAMPOLINE, TRAMPOLINE + PAGE))  # below mmap_min_addr anyway
        return Space(machine, mm, gdt, layout, arch)

    def populate(self, space: Space, image: ElfImage, exe: ExeFile, *, argv: list[str],
                 envp: list[str], execfn: str, uid: int, gid: int,
                 euid: int | None = None, egid: int | None = None,
                 symbols: dict[int, str] | None = None, name: str = "",
                 interp: Interpreter | None = None) -> NewImage:
        """Map the image (and its interpreter), brk, the vDSO, the vsyscall page and the
        stack, and set the registers. Raises binfmt.ArgListTooLong (E2BIG) and
        binfmt.CannotLoad (the memory cap); a failure Linux meets past the point of no
        return is NewImage.failure."""
        arch, mm, layout = space.arch, space.mm, space.layout
        name = name or exe.guest_path
        bias = self._load_bias(space, image, interp)
        failure = binfmt.exec_failure(image, bias, arch.bits)
        bss_end = 0
        interp_base = 0
        if failure is None:
            bss_end = binfmt.map_image(mm, image, bias, exe.guest_path, exe.dev, exe.ino, name)
            if interp is not None:
                try:
                    interp_base = map_interpreter(space, interp, name)
                except binfmt.ExecKilled as e:
                    failure = str(e)
        if image.is_pie and interp is None:
            # Static PIE: brk moves out of the mmap area to ELF_ET_DYN_BASE (binfmt_elf.c).
            brk_base = 0x555555554000 if arch.bits == 64 else 0x56555000
        else:
            brk_base = bss_end
        mm.start_brk = mm.brk = binfmt.page_up(brk_base) + layout.brk_random
        entry = image.entry + bias
        if interp is not None:
            entry = interp.image.entry + interp_base
        new = NewImage(space, entry & arch.mask, layout.stack_top, [],
                       LazySymbols(lambda: {a + bias: n for a, n in
                                            (symbols or image.symbols).items()}),
                       None, None, failure, interp_base=interp_base)
        # arch_setup_additional_pages(): the vDSO (and its data) in the mmap area, then the
        # vsyscall page, which every x86-64 process shares at its fixed address.
        sysinfo = None
        try:
            if self.wants_vdso(arch):
                new.vdso = self._map_vdso(space)
                new.sysenter_pad = new.vdso.sysenter_landing_pad
                new.vdso_symbols = {n: a for n in ("__kernel_sigreturn",
                                                   "__kernel_rt_sigreturn")
                                    if (a := new.vdso.symbol(n)) is not None}
                sysinfo = (new.vdso.symbol("__kernel_vsyscall") or 0, new.vdso.base)
            from kernel_model.vsyscall import emulated as vsyscall

            vsyscall.map_page(mm, self.vsyscall_mode(arch), self.clock, new.tick_jobs)
            head, tail = binfmt.auxv_entries(arch, image, bias, uid, gid, sysinfo,
                                             euid=euid, egid=egid, base=interp_base)
            new.sp, new.auxv = binfmt.build_stack(mm, arch, layout, argv, envp, head, tail,
                                                  execfn, self.rng)
        except binfmt.ExecKilled as e:
            new.failure = str(e)
            new.sp, new.auxv = layout.stack_top, []
        except OutOfMemory:
            raise binfmt.CannotLoad(
                f"{name}: cannot load: the program, its stack and the vDSO do not fit the "
                f"guest memory limit of {mm.limit >> 20} MiB (--memory-limit): ENOMEM, "
                "Cannot allocate memory") from None
        if new.tick_jobs:
            self.tick_jobs.extend(new.tick_jobs)
            self._jobs_of[id(space.machine)] = new.tick_jobs
        if new.failure is None:
            # The iret into user mode runs from a page no mapping holds yet (i386: the last
            # one, above the process's 4 GiB - 8 KiB).
            scratch = mm.find_free(PAGE) if arch.bits == 64 else 0xFFFFF000
            assert scratch is not None  # 128 TiB of user addresses always hold a free page
            space.gdt.enter_user_mode(new.entry, new.sp, scratch)
        zero_registers(space.machine, new.sp)
        return new

    def _load_bias(self, space: Space, image: ElfImage, interp: Interpreter | None) -> int:
        """What load_elf_binary adds to the image's addresses: 0 for ET_EXEC; a static PIE
        goes in the mmap area (chosen with the layout); a PIE with an interpreter at
        ELF_ET_DYN_BASE plus arch_mmap_rnd's pages, aligned to its largest p_align."""
        if not image.is_pie:
            return 0
        if interp is None:
            return space.layout.load_bias - image.lowest
        bits = space.arch.bits
        base = ELF_ET_DYN_BASE[bits] + (self.rng.getrandbits(MMAP_RND_BITS[bits]) << 12)
        if image.align > PAGE and image.align & (image.align - 1) == 0:
            base &= ~(image.align - 1)
        return binfmt.page_down(base - image.lowest)

    def build(self, image: ElfImage, exe: ExeFile, *, pool: list | None = None,
              **kw) -> NewImage:
        """Both steps: execve's new image. `pool`: the run's address spaces (Mm.pool), which
        the memory cap counts together; the new one joins them before it maps anything."""
        space = self.address_space(image)
        if pool is not None:
            space.mm.pool = pool
            pool.append(space.mm)
        try:
            return self.populate(space, image, exe, **kw)
        except BaseException:
            space.mm.release()
            self.forget(space.machine)
            raise

    # -- the vDSO's data, shared by every process ---------------------------------------
    def _map_vdso(self, space: Space) -> MappedVdso:
        from kernel_model.vdso.mapping import map_vdso

        root = self.root_vdso
        if root is None:
            mapped = map_vdso(space.mm, space.arch, self.era, self.clock)
            self.root_vdso = mapped
            self.tick_jobs.append(mapped.tick)
        else:
            mapped = map_vdso(space.mm, space.arch, self.era, self.clock, share=root)
        self.vdso_of[id(space.machine)] = mapped
        return mapped

    def forked(self, parent: Machine, child: Machine) -> None:
        """A forked CPU maps the parent's vDSO at the same place: its data page joins the
        tick's writes."""
        if id(child) in self.vdso_of:
            return  # a new image: its own vDSO is mapped already
        mapped = self.vdso_of.get(id(parent))
        if mapped is not None and self.root_vdso is not None:
            self.root_vdso.share_at(child, mapped.vvar)
            self.vdso_of[id(child)] = mapped

    def vdso_for(self, machine: Machine) -> MappedVdso | None:
        return self.vdso_of.get(id(machine))

    def forget(self, machine: Machine) -> None:
        """A CPU nobody runs any more: the tick stops writing into it."""
        if self.root_vdso is not None:
            self.root_vdso.forget(machine)
        self.vdso_of.pop(id(machine), None)
        jobs = self._jobs_of.pop(id(machine), [])
        for job in jobs:
            if job in self.tick_jobs:
                self.tick_jobs.remove(job)
            if job in self.clock.on_change:
                self.clock.on_change.remove(job)


def zero_registers(m: Machine, sp: int) -> None:
    """docs/kernel_facts.md §2: every general register 0 at entry, rdx included; the FPU
    as Linux initializes it (control word 0x37F, MXCSR 0x1F80, every register empty)."""
    for name, reg in m.arch.gprs:
        if name not in ("rip", "eip", "rsp", "esp"):
            m.set_reg(reg, 0)
    m.sp = sp
    m.set_reg(R.EFLAGS, 0x202)
    fpu.init_cpu(m)

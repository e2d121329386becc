"""The vDSO images, built the way the kernel builds its own (arch/x86/entry/vdso/Makefile):
assembly sources assembled at their place in the image, then linked into a small shared object
whose exports and versions follow the kernel's version scripts (vdso.lds.S, vdso32.lds.S).

    build_vdso("x86_64") / build_vdso("i386") -> VdsoImage   (cached per architecture)
    dump(arch, path)                                           writes the image to a file
"""

from __future__ import annotations

import functools
import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from emu.records import Record
from kernel_model.tables import i386 as i386_table
from kernel_model.tables import x86_64 as x86_64_table
from kernel_model.vdso import cache, vvar

if TYPE_CHECKING:  # the builders load only when the on-disk cache misses (keystone: slow)
    from kernel_model.vdso.asm import AsmOutput
    from kernel_model.vdso.elf_so import SharedObjectSpec

HERE = Path(__file__).resolve().parent
IMAGE_SIZE = 2 * vvar.PAGE  # two pages, like the kernel's
LINUX_VERSION_CODE = (6 << 16) | (18 << 8) | 0  # the release the images describe: 6.18.0


class VersionScript(Record):
    """What vdso.lds.S / vdso32.lds.S say: the soname and, per version, its symbols."""

    _fields = ("soname", "versions")
    soname: str
    versions: tuple[tuple[str, tuple[str, ...]], ...]

    def __init__(self, soname: str, versions: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
        object.__setattr__(self, "soname", soname)
        object.__setattr__(self, "versions", versions)


VERSION_SCRIPTS = {
    "x86_64": VersionScript("linux-vdso.so.1", (
        ("LINUX_2.6", ("clock_gettime", "__vdso_clock_gettime", "gettimeofday",
                       "__vdso_gettimeofday", "getcpu", "__vdso_getcpu", "time", "__vdso_time",
                       "clock_getres", "__vdso_clock_getres", "getrandom", "__vdso_getrandom")),
    )),
    # vdso32.lds.S lists LINUX_2.6 first, so it gets index 2 and LINUX_2.5 index 3.
    "i386": VersionScript("linux-gate.so.1", (
        ("LINUX_2.6", ("__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time",
                       "__vdso_clock_getres", "__vdso_clock_gettime64", "__vdso_getcpu")),
        ("LINUX_2.5", ("__kernel_vsyscall", "__kernel_sigreturn", "__kernel_rt_sigreturn")),
    )),
}
SOURCES = {"x86_64": ("vdso64.s", 64), "i386": ("vdso32.s", 32)}


class VdsoImage(Record):
    _fields = (
        "arch", "data", "symbols", "functions", "vvar_size", "text_range", "soname", "versions",
        "sizes", "lines", "source",
    )
    arch: str
    data: bytes  # the two-page ELF image, mapped at the vDSO base
    symbols: dict[str, int]  # name -> offset from the image base (exports and inner labels)
    functions: dict[int, str]  # offset -> function name, for the disassembly view
    vvar_size: int  # bytes mapped right below the image; the time data is at its start
    text_range: tuple[int, int]  # [start, end) offsets of .text
    soname: str = ""
    versions: dict[str, str] | None = None  # exported name -> version
    sizes: dict[str, int] | None = None  # function name -> size in bytes
    lines: dict[int, int] | None = None  # offset -> line of the source
    source: str = ""  # the assembly source, for the screen

    def __init__(
            self, arch: str, data: bytes, symbols: dict[str, int], functions: dict[int, str],
            vvar_size: int, text_range: tuple[int, int], soname: str = "",
            versions: dict[str, str] | None = None, sizes: dict[str, int] | None = None,
            lines: dict[int, int] | None = None, source: str = "",
    ) -> None:
        object.__setattr__(self, "arch", arch)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "symbols", symbols)
        object.__setattr__(self, "functions", functions)
        object.__setattr__(self, "vvar_size", vvar_size)
        object.__setattr__(self, "text_range", text_range)
        object.__setattr__(self, "soname", soname)
        object.__setattr__(self, "versions", versions)
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "lines", lines)
        object.__setattr__(self, "source", source)

    @property
    def entry(self) -> int:
        return struct.unpack_from("<Q" if self.data[4] == 2 else "<I", self.data, 24)[0]


def _numbers(table: dict[int, str], names: list[str]) -> dict[str, int]:
    by_name = {v: k for k, v in table.items()}
    return {f"NR_{n}": by_name[n] for n in names}


def _defines(arch: str) -> dict[str, int]:
    d = dict(vvar.layout_constants())
    d["vvar_data"] = -vvar.VVAR_SIZE + vvar.TIME_DATA_OFFSET
    d["ENOSYS"] = 38
    d["EFAULT"] = 14
    if arch == "x86_64":
        d.update(_numbers(x86_64_table.SYSCALLS, ["clock_gettime", "gettimeofday",
                                                  "clock_getres", "getrandom"]))
    else:
        d.update(_numbers(i386_table.SYSCALLS, ["clock_gettime", "clock_gettime64",
                                                "gettimeofday", "clock_getres", "sigreturn",
                                                "rt_sigreturn"]))
    return d


GETRANDOM_NAMES = ("getrandom", "__vdso_getrandom")
GETRANDOM_SINCE = (6, 11)  # the release whose vDSO first exports it (x86-64 only)


def _spec(arch: str, out: AsmOutput, getrandom: bool = True) -> SharedObjectSpec:
    from kernel_model.vdso.elf_so import Note, SharedObjectSpec, Symbol

    script = VERSION_SCRIPTS[arch]
    exported: dict[str, str] = {}
    dynsyms: list[Symbol] = []
    for version, names in script.versions:
        for name in names:
            if name in GETRANDOM_NAMES and not getrandom:
                continue  # an era before 6.11: the code is there, not exported
            if name not in out.labels:
                raise ValueError(f"{arch} vDSO: {name} is in the version script but not defined")
            bind = out.bindings.get(name, "local")
            if bind == "local":
                raise ValueError(f"{arch} vDSO: {name} is exported but not .globl/.weak")
            target = _alias_target(out, name)
            dynsyms.append(Symbol(name, out.labels[name], out.sizes.get(target, 0), "function",
                                  bind, version))
            exported[name] = version
    local_syms = []
    for name, value in sorted(out.labels.items(), key=lambda kv: (kv[1], kv[0])):
        if name in exported:
            continue
        kind = "function" if out.types.get(name) == "function" else "notype"
        local_syms.append(Symbol(name, value, out.sizes.get(name, 0), kind, "local"))
    local_syms.append(Symbol("vvar_data", -vvar.VVAR_SIZE + vvar.TIME_DATA_OFFSET, 0, "notype",
                             "local", abs=True))
    notes = [Note("Linux", 0, struct.pack("<I", LINUX_VERSION_CODE))]
    entry = out.labels["__kernel_vsyscall"] if arch == "i386" else 0
    return SharedObjectSpec(out.bits, script.soname, [v for v, _ in script.versions], dynsyms,
                            local_syms, notes, out.fdes, entry, IMAGE_SIZE)


def _alias_target(out: AsmOutput, name: str) -> str:
    """A weak alias (.set name, target) takes its target's size."""
    if name in out.sizes:
        return name
    for other, value in out.labels.items():
        if value == out.labels[name] and other in out.sizes:
            return other
    return name


def source_text(arch: str) -> str:
    return (HERE / SOURCES[arch][0]).read_text()


@functools.lru_cache(maxsize=None)
def build_vdso(arch: str, getrandom: bool = True) -> VdsoImage:
    """getrandom: whether the image exports __vdso_getrandom (eras from 6.11)."""
    if arch not in SOURCES:
        raise ValueError(f"no vDSO for {arch!r} (choose x86_64 or i386)")
    # Assembling takes ~50 ms: keep the result on disk, keyed by everything it comes from.
    key = cache.key_of(arch, str(getrandom), source_text(arch), *(
        (HERE / name).read_bytes() for name in sorted(os.listdir(HERE)) if name.endswith(".py")))
    image = cache.load("vdso", key)
    if isinstance(image, VdsoImage):
        return image
    image = _build_vdso(arch, getrandom)
    cache.store("vdso", key, image)
    return image


def _build_vdso(arch: str, getrandom: bool = True) -> VdsoImage:
    from kernel_model.vdso.asm import assemble
    from kernel_model.vdso.elf_so import text_offset, write_shared_object

    filename, bits = SOURCES[arch]
    source = source_text(arch)
    defines = _defines(arch)
    origin = 0x400
    for _ in range(4):
        out = assemble(source, filename, bits, origin, defines)
        spec = _spec(arch, out, getrandom)
        want = text_offset(spec, len(out.code))
        if want == origin:
            break
        origin = want
    else:
        raise RuntimeError("the vDSO layout does not settle")
    data = write_shared_object(spec, out.code, origin)
    symbols = dict(out.labels)
    functions: dict[int, str] = {}
    for name, kind in out.types.items():
        if kind == "function" and name in out.labels:
            functions.setdefault(out.labels[name], name)
    versions = {s.name: s.version for s in spec.dynsyms if s.version is not None}
    return VdsoImage(arch, data, symbols, dict(sorted(functions.items())), vvar.VVAR_SIZE,
                     (out.origin, out.end), spec.soname, versions, dict(out.sizes),
                     dict(out.lines), source)


def dump(arch: str, path: str | Path) -> int:
    """`syscall-lab vdso dump`: write the image (8192 bytes) to `path`; returns its size."""
    image = build_vdso(arch)
    Path(path).write_bytes(image.data)
    return len(image.data)

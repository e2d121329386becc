"""The vDSO images (kernel_model/vdso): the ELF shape the libcs rely on (docs/kernel_facts.md §5),
checked with pyelftools, binutils and lookups written the way musl and glibc walk the hash
tables; and the clock code run for real in a bare Unicorn CPU against the vvar page a
Timekeeper writes."""

from __future__ import annotations

import shutil
import struct
import subprocess
import time

import pytest
from elftools.dwarf.callframe import FDE
from elftools.elf.elffile import ELFFile
from unicorn import (
    UC_ARCH_X86,
    UC_HOOK_CODE,
    UC_HOOK_INSN,
    UC_HOOK_INTR,
    UC_MODE_32,
    UC_MODE_64,
    Uc,
)
from unicorn.x86_const import (
    UC_X86_INS_SYSCALL,
    UC_X86_INS_SYSENTER,
    UC_X86_REG_EAX,
    UC_X86_REG_EBP,
    UC_X86_REG_EBX,
    UC_X86_REG_ECX,
    UC_X86_REG_EDI,
    UC_X86_REG_EDX,
    UC_X86_REG_EIP,
    UC_X86_REG_ESI,
    UC_X86_REG_ESP,
    UC_X86_REG_R8,
    UC_X86_REG_RAX,
    UC_X86_REG_RCX,
    UC_X86_REG_RDI,
    UC_X86_REG_RDX,
    UC_X86_REG_RIP,
    UC_X86_REG_RSI,
    UC_X86_REG_RSP,
)

from kernel_model.clock import Clock
from kernel_model.vdso import dynlookup, vvar
from kernel_model.vdso.elf_so import elf_hash, gnu_hash
from kernel_model.vdso.image import LINUX_VERSION_CODE, build_vdso, dump

NSEC = 1_000_000_000
ARCHES = ("x86_64", "i386")
EXPORTS = {
    "x86_64": {name: "LINUX_2.6" for name in (
        "__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time", "__vdso_getcpu",
        "__vdso_clock_getres", "__vdso_getrandom", "clock_gettime", "gettimeofday", "time",
        "getcpu", "clock_getres", "getrandom")},
    "i386": {"__kernel_vsyscall": "LINUX_2.5", "__kernel_sigreturn": "LINUX_2.5",
             "__kernel_rt_sigreturn": "LINUX_2.5",
             **{name: "LINUX_2.6" for name in (
                 "__vdso_clock_gettime", "__vdso_clock_gettime64", "__vdso_gettimeofday",
                 "__vdso_time", "__vdso_clock_getres", "__vdso_getcpu")}},
}
SONAME = {"x86_64": "linux-vdso.so.1", "i386": "linux-gate.so.1"}
DYN_TAGS = {"DT_SONAME", "DT_HASH", "DT_GNU_HASH", "DT_STRTAB", "DT_SYMTAB", "DT_STRSZ",
            "DT_SYMENT", "DT_VERDEF", "DT_VERDEFNUM", "DT_VERSYM", "DT_NULL"}


@pytest.fixture(scope="module", params=ARCHES)
def arch(request):
    return request.param


@pytest.fixture(scope="module")
def image_file(arch, tmp_path_factory):
    path = tmp_path_factory.mktemp("vdso") / f"vdso-{arch}.so"
    assert dump(arch, path) == 8192
    return path


@pytest.fixture(scope="module")
def elf(image_file):
    with open(image_file, "rb") as f:
        yield ELFFile(f)


# -- the ELF image ----------------------------------------------------------------------------

def test_header_and_segments(arch, elf):
    image = build_vdso(arch)
    assert build_vdso(arch) is image  # cached
    assert len(image.data) == 8192
    assert elf["e_type"] == "ET_DYN"
    assert elf["e_machine"] == ("EM_X86_64" if arch == "x86_64" else "EM_386")
    segs = list(elf.iter_segments())
    assert [s["p_type"] for s in segs] == ["PT_LOAD", "PT_DYNAMIC", "PT_NOTE", "PT_GNU_EH_FRAME"]
    load, dyn, note, ehf = segs
    assert load["p_offset"] == load["p_vaddr"] == 0
    assert load["p_flags"] == 5  # R+X
    text = elf.get_section_by_name(".text")
    assert load["p_filesz"] == load["p_memsz"] == text["sh_offset"] + text["sh_size"]
    assert (text["sh_addr"], text["sh_addr"] + text["sh_size"]) == image.text_range
    assert dyn["p_flags"] == 4  # R only: never writable
    assert load["p_filesz"] >= dyn["p_offset"] + dyn["p_filesz"]
    assert elf.get_section_by_name(".dynamic")["sh_offset"] == dyn["p_offset"]
    assert ehf["p_offset"] == elf.get_section_by_name(".eh_frame_hdr")["sh_offset"]
    assert not any(s["p_type"] == "PT_TLS" for s in segs)
    notes = list(note.iter_notes())
    assert notes[0]["n_name"] == "Linux" and notes[0]["n_type"] == 0
    assert struct.unpack("<I", notes[0]["n_descdata"])[0] == LINUX_VERSION_CODE == 0x061200
    assert notes[1]["n_type"] == "NT_GNU_BUILD_ID"
    names = [s.name for s in elf.iter_sections()]
    for want in (".hash", ".gnu.hash", ".dynsym", ".dynstr", ".gnu.version", ".gnu.version_d",
                 ".dynamic", ".note", ".eh_frame_hdr", ".eh_frame", ".text", ".symtab",
                 ".strtab", ".shstrtab"):
        assert want in names
    for sec in elf.iter_sections():  # every allocated section is where it is loaded
        if sec["sh_flags"] & 2:
            assert sec["sh_addr"] == sec["sh_offset"] < load["p_filesz"]
    assert image.vvar_size == vvar.VVAR_SIZE == 6 * 4096


def test_entry_point(arch, elf):
    image = build_vdso(arch)
    if arch == "i386":
        assert elf["e_entry"] == image.symbols["__kernel_vsyscall"] != 0
    else:
        assert elf["e_entry"] == 0
    assert image.entry == elf["e_entry"]


def test_dynamic_tags(arch, elf):
    dyn = elf.get_section_by_name(".dynamic")
    tags = {t.entry.d_tag: t for t in dyn.iter_tags()}
    assert set(tags) == DYN_TAGS
    assert tags["DT_SONAME"].soname == SONAME[arch]
    assert tags["DT_VERDEFNUM"].entry.d_val == (2 if arch == "x86_64" else 3)
    assert tags["DT_SYMENT"].entry.d_val == (24 if arch == "x86_64" else 16)
    addr = {s.name: s["sh_addr"] for s in elf.iter_sections()}
    assert tags["DT_HASH"].entry.d_ptr == addr[".hash"]
    assert tags["DT_GNU_HASH"].entry.d_ptr == addr[".gnu.hash"]
    assert tags["DT_SYMTAB"].entry.d_ptr == addr[".dynsym"]
    assert tags["DT_STRTAB"].entry.d_ptr == addr[".dynstr"]
    assert tags["DT_VERSYM"].entry.d_ptr == addr[".gnu.version"]
    assert tags["DT_VERDEF"].entry.d_ptr == addr[".gnu.version_d"]
    assert tags["DT_STRSZ"].entry.d_val == elf.get_section_by_name(".dynstr")["sh_size"]


def _dynsym_versions(elf) -> dict[str, tuple[str, str, int]]:
    """name -> (version, binding, value), read through .gnu.version and .gnu.version_d."""
    verdef = elf.get_section_by_name(".gnu.version_d")
    index_names = {v.entry.vd_ndx: next(aux).name for v, aux in verdef.iter_versions()}
    versym = elf.get_section_by_name(".gnu.version")
    out = {}
    for i, sym in enumerate(elf.get_section_by_name(".dynsym").iter_symbols()):
        if i == 0:
            continue
        ndx = versym.get_symbol(i).entry.ndx
        out[sym.name] = (index_names[ndx], sym.entry.st_info.bind, sym.entry.st_value)
    return out


def test_symbols_and_versions(arch, elf):
    image = build_vdso(arch)
    got = _dynsym_versions(elf)
    versions = ["LINUX_2.6"] if arch == "x86_64" else ["LINUX_2.6", "LINUX_2.5"]
    # Every export with its version, plus the version names themselves (as GNU ld does).
    assert {n: v[0] for n, v in got.items()} == {**EXPORTS[arch], **{v: v for v in versions}}
    for name in EXPORTS[arch]:
        version, bind, value = got[name]
        assert value == image.symbols[name]
        if name.startswith("__"):
            assert bind == "STB_GLOBAL"
        else:  # the weak aliases sit on their __vdso_ function
            assert bind == "STB_WEAK" and value == image.symbols["__vdso_" + name]
    verdef = elf.get_section_by_name(".gnu.version_d")
    defs = [(v.entry.vd_ndx, v.entry.vd_flags, v.entry.vd_hash, next(aux).name)
            for v, aux in verdef.iter_versions()]
    assert defs[0] == (1, 1, elf_hash(SONAME[arch]), SONAME[arch])  # VER_FLG_BASE
    assert [d[3] for d in defs[1:]] == versions
    assert [d[0] for d in defs] == list(range(1, len(defs) + 1))
    for _, flags, vhash, name in defs[1:]:
        assert flags == 0 and vhash == elf_hash(name)
    assert elf_hash("LINUX_2.6") == 0x3AE75F6  # the value parse_vdso.c users know


def test_internal_symbols(arch):
    image = build_vdso(arch)
    start, end = image.text_range
    for name, off in image.symbols.items():
        assert start <= off < end, name
    if arch == "i386":
        sym = image.symbols
        data = image.data
        vsys = sym["__kernel_vsyscall"]
        # push ecx; push edx; push ebp; mov ebp, esp; sysenter; int 0x80; then the landing pad
        assert data[vsys:vsys + 13] == bytes.fromhex("51 52 55 89e5 0f34 cd80 5d 5a 59 c3")
        assert sym["int80_landing_pad"] == vsys + 9
        sig, rt = sym["__kernel_sigreturn"], sym["__kernel_rt_sigreturn"]
        assert data[sig:sig + 8] == bytes.fromhex("58 b8 77000000 cd80")  # pop; mov eax,119
        assert data[rt:rt + 7] == bytes.fromhex("b8 ad000000 cd80")  # mov eax, 173
    for name in EXPORTS[arch]:
        if name.startswith("__"):
            assert image.functions[image.symbols[name]] == name
    assert image.functions[image.symbols["vdso_do_hres"]] == "vdso_do_hres"


# -- symbol lookup as the libcs do it ------------------------------------------------------------

def test_hash_functions():
    assert gnu_hash("") == 0x1505 and gnu_hash("printf") == 0x156B2BB8
    assert elf_hash("") == 0 and elf_hash("printf") == 0x77905A6
    assert elf_hash("linux-vdso.so.1") == 0xDEEBFA1


def test_lookups_resolve_every_export(arch, elf):
    image = build_vdso(arch)
    data = image.data
    hash_sec = elf.get_section_by_name(".hash")
    gnu_sec = elf.get_section_by_name(".gnu.hash")
    for name, version in EXPORTS[arch].items():
        want = image.symbols[name]
        assert dynlookup.lookup_musl(data, name, version) == want, name
        assert dynlookup.lookup_sysv(data, name, version) == want, name
        assert dynlookup.lookup_gnu(data, name, version) == want, name
        assert dynlookup.lookup_gnu(data, name) == want
        assert hash_sec.get_symbol(name).entry.st_value == want
        assert gnu_sec.get_symbol(name).entry.st_value == want
        other = "LINUX_2.5" if version == "LINUX_2.6" else "LINUX_2.6"
        assert dynlookup.lookup_musl(data, name, other) is None  # the version is checked
        assert dynlookup.lookup_gnu(data, name, other) is None
    for missing in ("__vdso_nothing", "clock_settime", "LINUX_2.4", "__vdso_clock_gettime6"):
        assert dynlookup.lookup_musl(data, missing) is None
        assert dynlookup.lookup_sysv(data, missing) is None
        assert dynlookup.lookup_gnu(data, missing) is None
        assert gnu_sec.get_symbol(missing) is None
        assert hash_sec.get_symbol(missing) is None


def test_gnu_hash_chain_order(elf):
    """Symbols from symoffset on are grouped by bucket, each bucket's chain ends with bit 0."""
    sec = elf.get_section_by_name(".gnu.hash")
    data = sec.data()
    nbuckets, symoffset, bloom_size, _ = struct.unpack_from("<IIII", data)
    word = 8 if elf.elfclass == 64 else 4
    syms = list(elf.get_section_by_name(".dynsym").iter_symbols())
    buckets = [gnu_hash(s.name) % nbuckets for s in syms[symoffset:]]
    assert buckets == sorted(buckets)
    chain_at = 16 + word * bloom_size + 4 * nbuckets
    chain = struct.unpack_from(f"<{len(syms) - symoffset}I", data, chain_at)
    for i, value in enumerate(chain):
        last = i + 1 == len(chain) or buckets[i + 1] != buckets[i]
        assert value & 1 == int(last)
        assert value | 1 == gnu_hash(syms[symoffset + i].name) | 1


# -- binutils --------------------------------------------------------------------------------

@pytest.mark.parametrize("tool,args", [
    ("readelf", ["-a", "-W"]), ("readelf", ["--debug-dump=frames"]), ("objdump", ["-d"]),
    ("objdump", ["--dwarf=frames"]), ("objdump", ["-x"]),
])
def test_binutils_read_without_warning(image_file, tool, args):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    proc = subprocess.run([tool, *args, str(image_file)], capture_output=True, text=True,
                          timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "warning" not in out.lower() and "error" not in out.lower(), out


def test_readelf_shows_versions(arch, image_file):
    if shutil.which("readelf") is None:
        pytest.skip("readelf is not installed")
    out = subprocess.run(["readelf", "-a", "-W", str(image_file)], capture_output=True,
                         text=True, timeout=60).stdout
    assert f"Library soname: [{SONAME[arch]}]" in out
    assert "__vdso_clock_gettime@@LINUX_2.6" in out
    if arch == "i386":
        assert "__kernel_vsyscall@@LINUX_2.5" in out
    assert "Flags: BASE" in out


def test_eh_frame_covers_the_functions(arch, elf):
    image = build_vdso(arch)
    dwarf = elf.get_dwarf_info()
    assert dwarf.has_EH_CFI()
    fdes = {e["initial_location"]: e for e in dwarf.EH_CFI_entries() if isinstance(e, FDE)}
    for name in ("__vdso_clock_gettime", "__vdso_gettimeofday", "vdso_do_hres"):
        off = image.symbols[name]
        assert off in fdes, name
        assert fdes[off]["address_range"] == image.sizes[name]
    hdr = elf.get_section_by_name(".eh_frame_hdr").data()
    assert hdr[:4] == bytes([1, 0x1B, 0x03, 0x3B])
    assert struct.unpack_from("<I", hdr, 8)[0] == len(fdes)


# -- running the code ------------------------------------------------------------------------

class Guest:
    """The vDSO and its vvar area mapped in a bare Unicorn CPU, with a stack, a data page and
    a return address that stops the emulation."""

    STOP = 0x30000000
    DATA = 0x20000000

    def __init__(self, arch: str, keeper: vvar.Timekeeper | None = None, clock=None):
        self.arch = arch
        self.bits = 64 if arch == "x86_64" else 32
        self.image = build_vdso(arch)
        self.uc = Uc(UC_ARCH_X86, UC_MODE_64 if self.bits == 64 else UC_MODE_32)
        self.base = 0x7F1234560000 if self.bits == 64 else 0xF7F10000
        self.vvar = self.base - self.image.vvar_size
        self.uc.mem_map(self.vvar, self.image.vvar_size + len(self.image.data))
        self.uc.mem_write(self.base, self.image.data)
        self.stack = 0x10000000
        self.uc.mem_map(self.stack, 0x10000)
        self.uc.mem_map(self.DATA, 0x1000)
        self.uc.mem_map(self.STOP, 0x1000)
        self.uc.mem_write(self.STOP, b"\xf4")  # hlt, never reached
        self.keeper = keeper or vvar.Timekeeper(clock or Clock(frozen_epoch_ns=0))
        self.keeper.update(self.uc.mem_write, self.vvar)
        self.traps: list[tuple[str, int, tuple[int, ...], int]] = []
        self.result = 0
        if self.bits == 64:
            self.uc.hook_add(UC_HOOK_INSN, self._syscall, None, 1, 0, UC_X86_INS_SYSCALL)
        else:
            self.uc.hook_add(UC_HOOK_INSN, self._sysenter, None, 1, 0, UC_X86_INS_SYSENTER)
        self.uc.hook_add(UC_HOOK_INTR, self._intr)
        self.sysenter_to_landing_pad = True

    def addr(self, name: str) -> int:
        return self.base + self.image.symbols[name]

    def _syscall(self, uc, _):
        regs = [uc.reg_read(r) for r in (UC_X86_REG_RDI, UC_X86_REG_RSI, UC_X86_REG_RDX)]
        self.traps.append(("syscall", uc.reg_read(UC_X86_REG_RAX), tuple(regs),
                           uc.reg_read(UC_X86_REG_RIP)))
        uc.reg_write(UC_X86_REG_RAX, self.result)

    def _sysenter(self, uc, _):
        regs = [uc.reg_read(r) for r in (UC_X86_REG_EBX, UC_X86_REG_ECX, UC_X86_REG_EDX,
                                         UC_X86_REG_EBP, UC_X86_REG_ESP)]
        self.traps.append(("sysenter", uc.reg_read(UC_X86_REG_EAX), tuple(regs),
                           uc.reg_read(UC_X86_REG_EIP)))
        if self.sysenter_to_landing_pad:  # what the kernel model does: sysexit to the pad
            uc.reg_write(UC_X86_REG_EAX, self.result)
            # Unicorn adds sysenter's length (2) to the pc after the hook (kernel.resume_at)
            uc.reg_write(UC_X86_REG_EIP, self.addr("int80_landing_pad") - 2)

    def _intr(self, uc, intno, _):
        eax = uc.reg_read(UC_X86_REG_EAX)
        regs = [uc.reg_read(r) for r in (UC_X86_REG_EBX, UC_X86_REG_ECX, UC_X86_REG_EDX)]
        self.traps.append((f"int {intno:#x}", eax, tuple(regs), uc.reg_read(UC_X86_REG_EIP)))
        uc.reg_write(UC_X86_REG_EAX, self.result)

    def start(self, name: str, *args: int, regs: dict[int, int] | None = None) -> int:
        """Set up a call of `name`; returns the entry address."""
        sp = self.stack + 0x8000
        if self.bits == 64:
            sp -= 8
            self.uc.mem_write(sp, struct.pack("<Q", self.STOP))
            for reg, value in zip((UC_X86_REG_RDI, UC_X86_REG_RSI, UC_X86_REG_RDX,
                                   UC_X86_REG_RCX, UC_X86_REG_R8), args, strict=False):
                self.uc.reg_write(reg, value & ((1 << 64) - 1))
            self.uc.reg_write(UC_X86_REG_RSP, sp)
        else:
            frame = struct.pack("<I", self.STOP) + b"".join(
                struct.pack("<I", a & 0xFFFFFFFF) for a in args)
            sp -= len(frame)
            self.uc.mem_write(sp, frame)
            self.uc.reg_write(UC_X86_REG_ESP, sp)
        for reg, value in (regs or {}).items():
            self.uc.reg_write(reg, value)
        return self.addr(name)

    def call(self, name: str, *args: int, regs: dict[int, int] | None = None) -> int:
        entry = self.start(name, *args, regs=regs)
        self.uc.emu_start(entry, self.STOP, count=1_000_000)
        assert self.pc == self.STOP, f"{name} did not return"
        return self.ret

    @property
    def pc(self) -> int:
        return self.uc.reg_read(UC_X86_REG_RIP if self.bits == 64 else UC_X86_REG_EIP)

    @property
    def ret(self) -> int:
        """The return value, sign-extended: rax, or eax (edx:eax is not needed here)."""
        if self.bits == 64:
            v = self.uc.reg_read(UC_X86_REG_RAX)
            return v - (1 << 64) if v >> 63 else v
        v = self.uc.reg_read(UC_X86_REG_EAX)
        return v - (1 << 32) if v >> 31 else v

    def read(self, fmt: str, addr: int = DATA):
        return struct.unpack(fmt, self.uc.mem_read(addr, struct.calcsize(fmt)))

    def clear(self, size: int = 64) -> None:
        self.uc.mem_write(self.DATA, b"\xaa" * size)

    def gettime(self, clock_id: int, time64: bool = True) -> int:
        """clock_gettime through the vDSO, in ns (i386: the 64-bit entry unless time64 is
        false). Fails on any trap."""
        self.clear()
        if self.bits == 64:
            assert self.call("__vdso_clock_gettime", clock_id, self.DATA) == 0
            sec, nsec = self.read("<qq")
        elif time64:
            assert self.call("__vdso_clock_gettime64", clock_id, self.DATA) == 0
            sec, nsec = self.read("<qq")
        else:
            assert self.call("__vdso_clock_gettime", clock_id, self.DATA) == 0
            sec, nsec = self.read("<ii")
        assert 0 <= nsec < NSEC
        return sec * NSEC + nsec

    def gettimeofday(self) -> tuple[int, int, int, int]:
        self.clear()
        assert self.call("__vdso_gettimeofday", self.DATA, self.DATA + 32) == 0
        fmt = "<qq" if self.bits == 64 else "<ii"
        sec, usec = self.read(fmt)
        minuteswest, dst = self.read("<ii", self.DATA + 32)
        return sec, usec, minuteswest, dst


FROZEN = 1_700_000_000 * NSEC + 123_456_789
HRES = (vvar.CLOCK_REALTIME, vvar.CLOCK_MONOTONIC, vvar.CLOCK_BOOTTIME, vvar.CLOCK_TAI,
        vvar.CLOCK_MONOTONIC_RAW)


def test_frozen_clock_is_exact(arch):
    clock = Clock(frozen_epoch_ns=FROZEN)
    g = Guest(arch, clock=clock)
    want = {vvar.CLOCK_REALTIME: clock.realtime_ns(), vvar.CLOCK_MONOTONIC: clock.monotonic_ns(),
            vvar.CLOCK_BOOTTIME: clock.boottime_ns(), vvar.CLOCK_TAI: FROZEN + 37 * NSEC,
            vvar.CLOCK_MONOTONIC_RAW: clock.monotonic_ns(),
            vvar.CLOCK_REALTIME_COARSE: FROZEN, vvar.CLOCK_MONOTONIC_COARSE: 1000 * NSEC}
    for clock_id, ns in want.items():
        assert g.gettime(clock_id) == ns, clock_id
        if arch == "i386":
            assert g.gettime(clock_id, time64=False) == ns
    assert g.gettimeofday() == (FROZEN // NSEC, 123456, 0, 0)
    assert g.call("__vdso_time", 0) == FROZEN // NSEC
    assert g.call("__vdso_time", g.DATA) == FROZEN // NSEC
    assert g.read("<q" if g.bits == 64 else "<i")[0] == FROZEN // NSEC
    assert g.traps == []  # not one crossing
    # The frozen clock moves when the guest sleeps; the kernel model then updates the page.
    clock.sleep_ns(2_500_000_000)
    g.keeper.update(g.uc.mem_write, g.vvar)
    assert g.gettime(vvar.CLOCK_REALTIME) == FROZEN + 2_500_000_000
    assert g.gettime(vvar.CLOCK_MONOTONIC) == 1000 * NSEC + 2_500_000_000


class FakeClock:
    """A running clock at offsets the host does not have: the vDSO must follow it, not the
    host's own CLOCK_REALTIME."""

    frozen = False

    def __init__(self):
        self.t0 = time.monotonic_ns()

    def monotonic_ns(self) -> int:
        return 5_000 * NSEC + (time.monotonic_ns() - self.t0)

    def boottime_ns(self) -> int:
        return self.monotonic_ns() + 7 * NSEC

    def realtime_ns(self) -> int:
        return 1_800_000_000 * NSEC + (time.monotonic_ns() - self.t0)


TOLERANCE_NS = 5_000_000  # the TSC calibration error over the test's second, and then some


def test_running_clock_follows_the_clock_source(arch):
    clock = FakeClock()
    g = Guest(arch, clock=clock)
    read = {vvar.CLOCK_REALTIME: clock.realtime_ns, vvar.CLOCK_MONOTONIC: clock.monotonic_ns,
            vvar.CLOCK_BOOTTIME: clock.boottime_ns,
            vvar.CLOCK_TAI: lambda: clock.realtime_ns() + 37 * NSEC,
            vvar.CLOCK_MONOTONIC_RAW: clock.monotonic_ns}
    for clock_id, source in read.items():
        before = source()
        got = g.gettime(clock_id)
        after = source()
        assert before - TOLERANCE_NS <= got <= after + TOLERANCE_NS, clock_id
    first = g.gettime(vvar.CLOCK_MONOTONIC)
    time.sleep(0.05)
    second = g.gettime(vvar.CLOCK_MONOTONIC)
    assert second > first
    assert abs((second - first) - 50_000_000) < 30_000_000
    before = clock.realtime_ns()
    sec, usec, _, _ = g.gettimeofday()
    after = clock.realtime_ns()
    assert before - TOLERANCE_NS <= sec * NSEC + usec * 1000 <= after + TOLERANCE_NS
    assert abs(g.call("__vdso_time", 0) - clock.realtime_ns() // NSEC) <= 1
    # The coarse clocks are the base: as fresh as the last update (the kernel's tick).
    coarse = g.gettime(vvar.CLOCK_MONOTONIC_COARSE)
    assert coarse <= g.gettime(vvar.CLOCK_MONOTONIC)
    g.keeper.update(g.uc.mem_write, g.vvar)
    assert abs(g.gettime(vvar.CLOCK_MONOTONIC_COARSE) - clock.monotonic_ns()) < TOLERANCE_NS
    assert g.traps == []


def test_monotonic_across_updates_even_with_a_bad_calibration(arch):
    """Each update re-anchors the timeline at the vDSO's own extrapolation and steers mult, so
    CLOCK_MONOTONIC never steps back even when the TSC rate was measured 0.2% too high."""
    freq = vvar.calibrate_tsc()
    keeper = vvar.Timekeeper(FakeClock(), freq_hz=int(freq * 1.002))
    g = Guest(arch, keeper)
    last = 0
    for _ in range(40):
        for _ in range(3):
            now = g.gettime(vvar.CLOCK_MONOTONIC)
            assert now >= last
            last = now
        time.sleep(0.005)
        keeper.update(g.uc.mem_write, g.vvar)


def test_seqlock_odd_sequence_spins_until_even(arch):
    g = Guest(arch, clock=Clock(frozen_epoch_ns=FROZEN))
    seq = g.keeper.seq
    assert seq % 2 == 0 and g.read("<I", g.vvar)[0] == seq
    for name, clock_id in (("hres", vvar.CLOCK_MONOTONIC), ("coarse",
                                                            vvar.CLOCK_REALTIME_COARSE)):
        g.uc.mem_write(g.vvar + vvar.VC_SEQ, struct.pack("<I", seq + 1))  # a writer is busy
        func = "__vdso_clock_gettime" if g.bits == 64 else "__vdso_clock_gettime64"
        entry = g.start(func, clock_id, g.DATA)
        g.uc.emu_start(entry, g.STOP, count=5000)
        assert g.pc != g.STOP, f"{name}: returned while seq was odd"
        start, end = g.image.text_range
        assert g.base + start <= g.pc < g.base + end
        g.uc.mem_write(g.vvar + vvar.VC_SEQ, struct.pack("<I", seq + 2))  # the writer is done
        g.uc.emu_start(g.pc, g.STOP, count=100_000)
        assert g.pc == g.STOP and g.ret == 0, name
    assert g.traps == []


def _rdtsc_addr(g: Guest) -> int:
    start = g.image.symbols["vdso_do_hres"]
    at = g.image.data.index(b"\x0f\x31", start, start + g.image.sizes["vdso_do_hres"])
    return g.base + at


def _rdtsc_addrs(g: Guest) -> list[int]:
    """Every rdtsc of the hres read: vdso_do_hres's, and the copy a function inlines
    (x86-64's __vdso_gettimeofday, as Linux inlines do_hres)."""
    found = []
    for name in ("vdso_do_hres", "__vdso_gettimeofday"):
        start = g.image.symbols[name]
        at = g.image.data.find(b"\x0f\x31", start, start + g.image.sizes[name])
        if at >= 0:
            found.append(g.base + at)
    return found


def test_seqlock_retry_when_the_page_changes_under_the_reader(arch):
    """A write that lands between the reader's first and second look at seq: the reader must
    discard what it read and start again (vdso_read_retry)."""
    clock = Clock(frozen_epoch_ns=FROZEN)
    g = Guest(arch, clock=clock)
    hits = []

    def writer(uc, address, size, _):
        if not hits:
            clock.sleep_ns(NSEC)  # time moves on, and the kernel rewrites the page
            g.keeper.update(uc.mem_write, g.vvar)
        hits.append(address)

    g.uc.hook_add(UC_HOOK_CODE, writer, None, _rdtsc_addr(g), _rdtsc_addr(g))
    assert g.gettime(vvar.CLOCK_REALTIME) == FROZEN + NSEC
    assert len(hits) == 2  # read, retried, read again


@pytest.mark.parametrize("delta", [0, 1, 2_600_000_000, 3600 * 2_600_000_000,
                                   10 * 3600 * 2_600_000_000, 1 << 50, (1 << 52) + 12345])
def test_hres_arithmetic_is_exact_for_any_delta(arch, delta):
    """The 128-bit (x86-64) and 96-bit (i386) multiply, the shift and the 64/32 division
    against Python's integers, with rdtsc's result chosen by a hook."""
    g = Guest(arch, clock=Clock(frozen_epoch_ns=FROZEN))
    mult, shift = 6_462_343, 24
    cycle_last = 0x0123_4567_89AB_CDEF
    base_sec = 1_700_000_000
    base_nsec_s = (999_999_999 << shift) + (1 << shift) - 1
    vc = g.vvar + vvar.VD_CLOCK_DATA
    g.uc.mem_write(vc + vvar.VC_CYCLE_LAST, struct.pack("<Q", cycle_last))
    g.uc.mem_write(vc + vvar.VC_MULT, struct.pack("<II", mult, shift))
    g.uc.mem_write(vc + vvar.VC_BASETIME + vvar.CLOCK_REALTIME * 16,
                   struct.pack("<QQ", base_sec, base_nsec_s))
    cycles = (cycle_last + delta) & ((1 << 64) - 1)

    def fake_rdtsc(uc, address, size, _):
        if g.bits == 64:
            uc.reg_write(UC_X86_REG_RAX, cycles & 0xFFFFFFFF)
            uc.reg_write(UC_X86_REG_RDX, cycles >> 32)
        else:
            uc.reg_write(UC_X86_REG_EAX, cycles & 0xFFFFFFFF)
            uc.reg_write(UC_X86_REG_EDX, cycles >> 32)

    for at in _rdtsc_addrs(g):
        g.uc.hook_add(UC_HOOK_CODE, fake_rdtsc, None, at + 2, at + 2)
    ns = (delta * mult + base_nsec_s) >> shift
    want = base_sec * NSEC + ns
    assert g.gettime(vvar.CLOCK_REALTIME) == want
    if arch == "i386":
        sec32 = (want // NSEC) & 0xFFFFFFFF
        sec32 -= (1 << 32) if sec32 >> 31 else 0
        assert g.gettime(vvar.CLOCK_REALTIME, time64=False) == sec32 * NSEC + want % NSEC
    sec, usec, _, _ = g.gettimeofday()
    assert (sec & 0xFFFFFFFF, usec) == ((want // NSEC) & 0xFFFFFFFF, (want % NSEC) // 1000)


def test_unsupported_clocks_make_the_real_syscall(arch):
    g = Guest(arch, clock=Clock(frozen_epoch_ns=FROZEN))
    start, end = g.image.text_range
    for clock_id in (vvar.CLOCK_PROCESS_CPUTIME_ID, vvar.CLOCK_THREAD_CPUTIME_ID,
                     vvar.CLOCK_REALTIME_ALARM, 12, -6):
        g.traps.clear()
        g.result = 0
        if arch == "x86_64":
            assert g.call("__vdso_clock_gettime", clock_id, g.DATA) == 0
            (kind, nr, args, pc), = g.traps
            assert (kind, nr, args[:2]) == ("syscall", 228, (clock_id & (2**64 - 1), g.DATA))
        else:
            # The kernel's 32-bit fallbacks enter through __kernel_vsyscall: sysenter.
            assert g.call("__vdso_clock_gettime", clock_id, g.DATA) == 0
            assert g.call("__vdso_clock_gettime64", clock_id, g.DATA) == 0
            (k1, nr1, a1, pc1), (k2, nr2, a2, pc) = g.traps
            assert (k1, nr1, a1[:2]) == ("sysenter", 265, (clock_id & 0xFFFFFFFF, g.DATA))
            assert (k2, nr2, a2[:2]) == ("sysenter", 403, (clock_id & 0xFFFFFFFF, g.DATA))
            vsys = g.addr("__kernel_vsyscall")
            assert vsys <= pc1 < vsys + g.image.sizes["__kernel_vsyscall"]
        assert g.base + start <= pc < g.base + end  # the trace shows it came from the vDSO
    g.traps.clear()
    g.result = -22  # what the kernel says comes back to the caller
    assert g.call("__vdso_clock_getres", vvar.CLOCK_PROCESS_CPUTIME_ID, g.DATA) == -22
    assert g.traps[0][1] == (229 if arch == "x86_64" else 266)


def test_clock_mode_none_falls_back(arch):
    """clock_mode NONE (a clocksource the vDSO cannot read): every hres read becomes the
    syscall; the coarse clocks and time() still read the page, as in the kernel."""
    keeper = vvar.Timekeeper(Clock(frozen_epoch_ns=FROZEN),
                             clock_mode=vvar.VDSO_CLOCKMODE_NONE)
    g = Guest(arch, keeper)
    g.call("__vdso_clock_gettime", vvar.CLOCK_MONOTONIC, g.DATA)
    g.call("__vdso_gettimeofday", g.DATA, 0)
    nrs = [t[1] for t in g.traps]
    assert nrs == ([228, 96] if arch == "x86_64" else [265, 78])
    g.traps.clear()
    assert g.gettime(vvar.CLOCK_REALTIME_COARSE) == FROZEN
    assert g.call("__vdso_time", 0) == FROZEN // NSEC
    assert g.traps == []


def test_clock_getres_getcpu(arch):
    keeper = vvar.Timekeeper(Clock(frozen_epoch_ns=FROZEN), cpu=1, node=0)
    g = Guest(arch, keeper)
    fmt = "<qq" if g.bits == 64 else "<ii"
    for clock_id, res in ((vvar.CLOCK_REALTIME, 1), (vvar.CLOCK_MONOTONIC, 1),
                          (vvar.CLOCK_MONOTONIC_RAW, 1), (vvar.CLOCK_BOOTTIME, 1),
                          (vvar.CLOCK_REALTIME_COARSE, 4_000_000),
                          (vvar.CLOCK_MONOTONIC_COARSE, 4_000_000)):
        g.clear()
        assert g.call("__vdso_clock_getres", clock_id, g.DATA) == 0
        assert g.read(fmt) == (0, res)
    assert g.call("__vdso_clock_getres", vvar.CLOCK_MONOTONIC, 0) == 0  # NULL: nothing written
    g.clear()
    assert g.call("__vdso_getcpu", g.DATA, g.DATA + 4, 0) == 0
    assert g.read("<II") == (1, 0)
    assert g.call("__vdso_getcpu", 0, 0, 0) == 0
    assert g.traps == []


def test_getrandom_x86_64():
    g = Guest("x86_64")
    # The libc's parameter query fills struct vgetrandom_opaque_params, with no syscall.
    assert g.call("__vdso_getrandom", 0, 0, 0, g.DATA, -1) == 0
    assert g.read("<III", g.DATA) == (144, 3, 0x28)  # size, PROT_READ|WRITE, DROPPABLE|ANON
    assert g.traps == []
    # A wrong opaque_len (0 here) leaves the work to the syscall, with the caller's buffer.
    g.result = 16
    assert g.call("__vdso_getrandom", g.DATA, 16, 1, 0, 0) == 16
    (kind, nr, args, _), = g.traps
    assert (kind, nr, args) == ("syscall", 318, (g.DATA, 16, 1))


def test_kernel_vsyscall_sysenter_and_int80_paths():
    g = Guest("i386")
    regs = {UC_X86_REG_EAX: 20, UC_X86_REG_EBX: 0x11, UC_X86_REG_ECX: 0x22,
            UC_X86_REG_EDX: 0x33, UC_X86_REG_EBP: 0x44, UC_X86_REG_ESI: 0x55,
            UC_X86_REG_EDI: 0x66}
    g.result = 1234
    assert g.call("__kernel_vsyscall", regs=regs) == 1234
    (kind, nr, (ebx, ecx, edx, ebp, esp), pc), = g.traps
    assert (kind, nr, ebx, ecx, edx) == ("sysenter", 20, 0x11, 0x22, 0x33)
    assert ebp == esp  # the kernel takes the user stack from ebp...
    assert g.read("<IIII", ebp) == (0x44, 0x33, 0x22, g.STOP)  # ...ebp, edx, ecx, ret
    for reg, value in regs.items():  # everything but eax comes back intact
        if reg != UC_X86_REG_EAX:
            assert g.uc.reg_read(reg) == value
    # Without sysenter support the next instruction, int 0x80, makes the call.
    g.traps.clear()
    g.sysenter_to_landing_pad = False
    assert g.call("__kernel_vsyscall", regs=regs) == 1234
    assert [(t[0], t[1]) for t in g.traps] == [("sysenter", 20), ("int 0x80", 20)]
    assert g.uc.reg_read(UC_X86_REG_EBP) == 0x44


def test_cfi_describes_every_instruction(arch, elf):
    """Single-step each exported time function and unwind with the .eh_frame rules at every
    instruction: the CFA must point just above the return address, and callee-saved
    registers must be found where the rules say."""
    g = Guest(arch, clock=Clock(frozen_epoch_ns=FROZEN))
    fdes = [e for e in elf.get_dwarf_info().EH_CFI_entries() if isinstance(e, FDE)]
    word = 8 if g.bits == 64 else 4
    sp_reg = UC_X86_REG_RSP if g.bits == 64 else UC_X86_REG_ESP
    saved = {3: UC_X86_REG_EBX, 6: UC_X86_REG_ESI, 7: UC_X86_REG_EDI} if g.bits == 32 else {}
    sentinels = {UC_X86_REG_EBX: 0x0B0B0B0B, UC_X86_REG_ESI: 0x05050505,
                 UC_X86_REG_EDI: 0x0D0D0D0D} if g.bits == 32 else {}

    def row(pc_off):
        for fde in fdes:
            lo = fde["initial_location"]
            if lo <= pc_off < lo + fde["address_range"]:
                current = None
                for r in fde.get_decoded().table:
                    if r["pc"] <= pc_off:
                        current = r
                return current
        return None

    checked = 0
    saved_checks: list[int] = []

    def step(uc, address, size, _):
        nonlocal checked
        sp = uc.reg_read(sp_reg)
        pc = address
        depth = 0
        while pc != g.STOP:
            r = row(pc - g.base)
            assert r is not None, f"no FDE covers {pc - g.base:#x}"
            cfa = sp + r["cfa"].offset
            if depth == 0:
                for dwarf_reg, uc_reg in saved.items():
                    rule = r.get(dwarf_reg)
                    if rule is not None and rule.type == "OFFSET":
                        got = struct.unpack(
                            "<I", uc.mem_read(cfa + rule.arg, 4))[0]
                        # saved in the outermost frame: the caller's value
                        if pc - g.base in outer:
                            assert got == sentinels[uc_reg], f"{pc - g.base:#x}"
                            saved_checks.append(pc)
            ret = struct.unpack("<Q" if word == 8 else "<I", uc.mem_read(cfa - word, word))[0]
            sp, pc = cfa, ret
            depth += 1
            assert depth < 5
        checked += 1

    for name in ("__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_clock_getres",
                 "__vdso_time", "__vdso_getcpu") + (
                     ("__vdso_clock_gettime64", "__kernel_vsyscall") if arch == "i386" else ()):
        lo = g.image.symbols[name]
        outer = range(lo, lo + g.image.sizes[name])
        start, end = g.image.text_range
        h = g.uc.hook_add(UC_HOOK_CODE, step, None, g.base + start, g.base + end - 1)
        args = (vvar.CLOCK_MONOTONIC, g.DATA) if "clock" in name else (g.DATA, g.DATA + 8)
        g.call(name, *args, regs=sentinels)
        if "clock_get" in name:  # and the fallback path, through __kernel_vsyscall on i386
            g.call(name, vvar.CLOCK_PROCESS_CPUTIME_ID, g.DATA, regs=sentinels)
        g.uc.hook_del(h)
    assert checked > 100
    assert len(saved_checks) > (50 if arch == "i386" else -1)


def test_vdso_reads_the_page_position_independently(arch):
    """The same image answers at two different bases (the vDSO moves with ASLR)."""
    clock = Clock(frozen_epoch_ns=FROZEN)
    a = Guest(arch, clock=clock)
    b = Guest(arch, clock=clock)
    assert a.gettime(vvar.CLOCK_REALTIME) == FROZEN
    # Map a second copy elsewhere in b.
    base2 = b.base + 0x100000 if b.bits == 32 else b.base + 0x40000000
    b.uc.mem_map(base2 - b.image.vvar_size, b.image.vvar_size + len(b.image.data))
    b.uc.mem_write(base2, b.image.data)
    b.keeper.update(b.uc.mem_write, base2 - b.image.vvar_size)
    b.base = base2
    assert b.gettime(vvar.CLOCK_REALTIME) == FROZEN


# -- the Timekeeper ------------------------------------------------------------------------------

def test_clocks_calc_mult_shift():
    mult, shift = vvar.clocks_calc_mult_shift(2_600_000_000)
    assert shift == 24 and mult == round((NSEC << 24) / 2_600_000_000)
    for freq in (24_000_000, 1_000_000_000, 2_100_000_000, 3_999_999_999):
        mult, shift = vvar.clocks_calc_mult_shift(freq)
        assert 0 < shift <= 32
        assert 600 * freq * mult < 1 << 64  # 600 s of cycles multiply in 64 bits
        assert abs(mult / (1 << shift) - NSEC / freq) / (NSEC / freq) < 1e-6


def test_tsc_calibration_matches_a_direct_measurement():
    """Unicorn's rdtsc reads the host TSC: measure its rate around a sleep, as the brief's
    check does, and compare with the Timekeeper's calibration."""
    freq = vvar.calibrate_tsc()
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    uc.mem_map(0x1000, 0x1000)
    uc.mem_write(0x1000, b"\x0f\x31")

    def rdtsc():
        uc.emu_start(0x1000, 0x1002)
        return (uc.reg_read(UC_X86_REG_RDX) << 32) | (uc.reg_read(UC_X86_REG_RAX) & 0xFFFFFFFF)

    t0, c0 = time.monotonic_ns(), rdtsc()
    time.sleep(0.2)
    t1, c1 = time.monotonic_ns(), rdtsc()
    measured = (c1 - c0) * NSEC / (t1 - t0)
    assert abs(measured - freq) / measured < 0.005
    assert 1e8 < freq < 1e10


def test_update_is_a_seqlock_write():
    keeper = vvar.Timekeeper(Clock(frozen_epoch_ns=FROZEN))
    writes = []
    keeper.update(lambda addr, data: writes.append((addr, bytes(data))), 0x1000)
    # seq odd in both clocks first, then the data (with odd seq), then both even
    assert [w[0] for w in writes[:2]] == [0x1000 + off for off in vvar.SEQ_OFFSETS]
    assert all(struct.unpack("<I", w[1])[0] == 1 for w in writes[:2])
    body = writes[2][1]
    assert writes[2][0] == 0x1000 and len(body) == vvar.VVAR_DATA_SIZE
    assert struct.unpack_from("<I", body, vvar.VC_SEQ)[0] == 1
    assert all(struct.unpack("<I", w[1])[0] == 2 for w in writes[3:])
    assert keeper.seq == 2
    keeper.update(lambda addr, data: None, 0x1000)
    assert keeper.seq == 4
    page = keeper.vvar_bytes()
    mode, = struct.unpack_from("<i", page, vvar.VC_CLOCK_MODE)
    mult, shift = struct.unpack_from("<II", page, vvar.VC_MULT)
    assert (mode, mult, shift) == (vvar.VDSO_CLOCKMODE_TSC, 0, 24)
    assert struct.unpack_from("<I", page, vvar.VD_HRTIMER_RES)[0] == 1
    sec, nsec_s = struct.unpack_from("<QQ", page, vvar.VC_BASETIME)
    assert sec * NSEC + (nsec_s >> shift) == FROZEN
    sec, nsec = struct.unpack_from("<QQ", page, vvar.VC_BASETIME + 16 * vvar.CLOCK_REALTIME_COARSE)
    assert sec * NSEC + nsec == FROZEN  # the coarse bases are not shifted


def test_maybe_update_once_per_tick():
    clock = FakeClock()
    keeper = vvar.Timekeeper(clock)
    n = []
    assert keeper.maybe_update(lambda a, d: n.append(a), 0)
    assert not keeper.maybe_update(lambda a, d: n.append(a), 0)
    time.sleep(vvar.TICK_NS / NSEC * 1.5)
    assert keeper.maybe_update(lambda a, d: n.append(a), 0)
    frozen = vvar.Timekeeper(Clock(frozen_epoch_ns=FROZEN))
    assert frozen.maybe_update(lambda a, d: None, 0)
    assert not frozen.maybe_update(lambda a, d: None, 0)
    frozen.clock.sleep_ns(1)
    assert frozen.maybe_update(lambda a, d: None, 0)


# -- the host's own loader -----------------------------------------------------------------------

NATIVE_PROBE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>

/* dlopen the image with the host's ld.so, resolve the clock function by name and version as
   glibc resolves the real vDSO, put the vvar bytes below it and call it natively. */
int main(int argc, char **argv)
{
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h)
        return 3;
    struct link_map *lm;
    dlinfo(h, RTLD_DI_LINKMAP, &lm);
    char *base = (char *)lm->l_addr;
    void *f = dlvsym(h, argv[3], "LINUX_2.6");
    if (!f || dlvsym(h, argv[3], "LINUX_2.5"))
        return 4;
    void *v = mmap(base - 0x6000, 0x6000, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (v != base - 0x6000)
        return 2; /* something else lives there: cannot try */
    FILE *fp = fopen(argv[2], "rb");
    if (!fp || fread(v, 1, 0x1000, fp) == 0)
        return 5;
    int (*cg)(clockid_t, struct timespec *) = f;
    clockid_t ids[2] = {CLOCK_REALTIME, CLOCK_MONOTONIC};
    for (int i = 0; i < 2; i++) {
        struct timespec ours, host;
        if (cg(ids[i], &ours) != 0)
            return 6;
        clock_gettime(ids[i], &host);
        printf("%lld\n", (long long)(ours.tv_sec - host.tv_sec) * 1000000000LL +
                             (ours.tv_nsec - host.tv_nsec));
    }
    return 0;
}
"""


class HostClock:
    frozen = False
    tai_offset_ns = 0

    realtime_ns = staticmethod(time.time_ns)
    monotonic_ns = staticmethod(time.monotonic_ns)

    @staticmethod
    def boottime_ns() -> int:
        return time.clock_gettime_ns(time.CLOCK_BOOTTIME)


@pytest.mark.parametrize("arch,flags,func", [
    ("x86_64", [], "__vdso_clock_gettime"),
    ("i386", ["-m32", "-D_TIME_BITS=64", "-D_FILE_OFFSET_BITS=64"], "__vdso_clock_gettime64"),
])
def test_host_loader_accepts_the_image_and_the_code_tells_the_host_time(tmp_path, arch, flags,
                                                                        func):
    """glibc's own ld.so parses the image (hash tables, versions), dlvsym finds the function
    by version, and the code, run natively on the host's TSC, agrees with the host's clock."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    src = tmp_path / "probe.c"
    src.write_text(NATIVE_PROBE)
    exe = tmp_path / "probe"
    cc = subprocess.run(["gcc", "-O2", *flags, str(src), "-o", str(exe), "-ldl"],
                        capture_output=True, text=True)
    if cc.returncode != 0:
        pytest.skip(f"cannot build a {arch} probe here: {cc.stderr.strip()[:200]}")
    image = tmp_path / "vdso.so"
    dump(arch, image)
    data = tmp_path / "vvar.bin"
    data.write_bytes(vvar.Timekeeper(HostClock()).vvar_bytes())
    proc = subprocess.run([str(exe), str(image), str(data), func], capture_output=True,
                          text=True, timeout=60)
    if proc.returncode == 2:
        pytest.skip("the address below the image is taken in this process")
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    realtime_diff, monotonic_diff = (int(x) for x in proc.stdout.split())
    assert abs(realtime_diff) < TOLERANCE_NS
    assert abs(monotonic_diff) < TOLERANCE_NS

"""The symbols of every loaded object: names for addresses (`puts@libc.so.6+0x3`) and
addresses for names (`b puts`, `b printf@libc.so.6`), checked against binutils' readelf on
the host's own libc, over address spaces laid out as ld.so lays them out, and in the stepping
session: a static PIE's `b main`, and a library a guest maps itself, with a breakpoint on it
set before it is mapped (gdb's pending breakpoint)."""

import os
import re
import shutil
import subprocess

import pytest
from conftest import PROGRAMS

from emu.machine import PAGE, PROT_EXEC, PROT_READ, PROT_WRITE
from emu.program import load_program
from kernel_model.debugger.gdbcommands import GdbConsole
from kernel_model.debugger.gdbtarget import target_for
from kernel_model.debugger.objects import LoadedObjects, objects_of, parse
from kernel_model.debugger.session import DebugSession
from kernel_model.memory.mm import Vma
from kernel_model.system import Mount, RunOptions
from tui.panels.code import code_lines, where_text

LIBDIR = "/usr/lib/x86_64-linux-gnu"
LIBC = f"{LIBDIR}/libc.so.6"
LDSO = f"{LIBDIR}/ld-linux-x86-64.so.2"
HELLO_PIE = PROGRAMS / "bin" / "hello.glibc-x86_64-pie"
HELLO_STATIC = PROGRAMS / "bin" / "hello.glibc-x86_64"

needs_host = pytest.mark.skipif(
    not (os.path.exists(LIBC) and os.path.exists(LDSO) and shutil.which("readelf")),
    reason="needs the host's x86-64 glibc and binutils' readelf")


def readelf_symbols(path: str, *, dynamic: bool = True) -> dict[str, int]:
    """name -> value as readelf lists them (`name@@VERSION`: the default version)."""
    out = subprocess.run(["readelf", "-W", "--dyn-syms" if dynamic else "-s", path],
                         capture_output=True, text=True, check=True).stdout
    found: dict[str, int] = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) < 8 or f[6] == "UND" or not re.fullmatch(r"\d+:", f[0]):
            continue
        name = f[7]
        if "@" in name and "@@" not in name:
            continue  # a hidden (old) version
        found.setdefault(name.split("@")[0], int(f[1], 16))
    return found


def mappings(path: str, bias: int, *, dev=(8, 1), inode: int = 0) -> list[Vma]:
    """The file's PT_LOADs mapped at `bias` as ld.so maps them: file pages with their
    offsets and permissions, the bss past the last one anonymous."""
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        loads = [s for s in ELFFile(f).iter_segments() if s["p_type"] == "PT_LOAD"]
    inode = inode or os.stat(path).st_ino
    out = []
    for s in loads:
        start = (bias + s["p_vaddr"]) & ~(PAGE - 1)
        file_end = -(-(bias + s["p_vaddr"] + s["p_filesz"]) // PAGE) * PAGE
        mem_end = -(-(bias + s["p_vaddr"] + s["p_memsz"]) // PAGE) * PAGE
        prot = (PROT_READ if s["p_flags"] & 4 else 0) | (PROT_WRITE if s["p_flags"] & 2
                                                          else 0) | (
            PROT_EXEC if s["p_flags"] & 1 else 0)
        out.append(Vma(start, file_end, prot, path, s["p_offset"] & ~(PAGE - 1), dev, inode,
                       kind="file"))
        if mem_end > file_end:
            out.append(Vma(file_end, mem_end, prot, kind="bss"))
    return out


reads: list[str] = []


def host_reader(vma) -> bytes | None:
    reads.append(vma.name)
    try:
        with open(vma.name, "rb") as f:
            return f.read()
    except OSError:
        return None


LIBC_BASE = 0x7F1234500000
LDSO_BASE = 0x7F1234800000


@pytest.fixture(scope="module")
def libc_syms():
    return readelf_symbols(LIBC)


@pytest.fixture(scope="module")
def loaded():
    """An address space as ld.so leaves it for /bin/true: the program, the loader (mapped
    first, by the kernel, highest), then libc below it; libc's tables read once here."""
    objs = LoadedObjects(host_reader)
    program = "/usr/bin/true"
    vmas = mappings(program, 0x555555554000) + mappings(LDSO, LDSO_BASE)
    main = (vmas[0].dev, vmas[0].inode, program)
    objs.update(sorted(vmas, key=lambda v: v.start), main=main, main_symbols={})
    vmas += mappings(LIBC, LIBC_BASE)
    objs.update(sorted(vmas, key=lambda v: v.start), main=main, main_symbols={})
    return objs


@needs_host
def test_a_library_symbol_is_its_dynsym_value_plus_the_load_base(loaded, libc_syms):
    puts = LIBC_BASE + libc_syms["puts"]
    assert loaded.lookup("puts") == puts
    assert loaded.symbolize(puts + 3) == "puts@libc.so.6+0x3"
    assert loaded.symbolize(puts) == "puts@libc.so.6"
    assert loaded.label(puts) == "puts@libc.so.6" and loaded.label(puts + 3) == ""
    assert loaded.object_name(puts) == "libc.so.6"
    # the default version of a versioned name (memcpy@@GLIBC_2.14, not memcpy@GLIBC_2.2.5)
    assert loaded.lookup("memcpy") == LIBC_BASE + libc_syms["memcpy"]


@needs_host
def test_qualified_names_pick_the_library(loaded, libc_syms):
    printf = LIBC_BASE + libc_syms["printf"]
    assert loaded.lookup("printf@libc.so.6") == printf
    assert loaded.lookup("printf@libc") == printf
    assert loaded.lookup(f"printf@{LIBC}") == printf
    assert loaded.lookup("printf@ld-linux-x86-64.so.2") is None
    assert loaded.lookup("printf@libnothere.so.1") is None
    assert loaded.lookup("no_such_function_anywhere") is None


@needs_host
def test_the_libraries_before_the_loader_as_the_loader_searches(loaded):
    """_dl_catch_exception is in both libc and ld.so: the loader's scope is the program,
    the libraries in load order, ld.so last, so libc's is the one the program's calls reach
    (and gdb's first location of `b _dl_catch_exception`)."""
    names = [o.name for o in loaded.objects]
    assert names == ["true", "libc.so.6", "ld-linux-x86-64.so.2"]
    ld = readelf_symbols(LDSO)["_dl_catch_exception"]
    assert loaded.lookup("_dl_catch_exception") == LIBC_BASE + readelf_symbols(LIBC)[
        "_dl_catch_exception"]
    assert loaded.lookup("_dl_catch_exception@ld-linux-x86-64.so.2") == LDSO_BASE + ld
    assert loaded.symbolize(LDSO_BASE + ld + 1) == \
        "_dl_catch_exception@ld-linux-x86-64.so.2+0x1"


@needs_host
def test_an_address_in_no_symbol_is_the_object_and_its_offset(loaded):
    assert loaded.symbolize(LIBC_BASE + 0x10) == "libc.so.6+0x10"  # the ELF header
    assert loaded.label(LIBC_BASE) == ""
    assert loaded.symbolize(0x1000) == ""  # in no object at all


@needs_host
def test_the_program_keeps_plain_names():
    """A program whose symbols the loader gave (already moved) keeps them, plain; a
    non-PIE one read from its file is at its link addresses (ET_EXEC: no bias)."""
    path = str(HELLO_STATIC)
    main_at = readelf_symbols(path, dynamic=False)["main"]
    vmas = mappings(path, 0, dev=(0, 1), inode=13)
    objs = LoadedObjects(host_reader)
    objs.update(vmas, main=((0, 1), 13, path), main_symbols={})
    assert objs.lookup("main") == main_at
    assert objs.symbolize(main_at + 4) == "main+0x4"
    objs = LoadedObjects(host_reader)
    objs.update(vmas, main=((0, 1), 13, path), main_symbols={main_at: "main"})
    assert objs.symbolize(main_at + 0x10) == "main+0x10"
    assert objs.lookup("main") == main_at


@needs_host
def test_tables_are_read_once_and_a_new_mapping_refreshes_the_list(libc_syms):
    objs = LoadedObjects(host_reader)
    vmas = mappings(LIBC, LIBC_BASE, inode=77)
    assert objs.update(vmas)
    assert not objs.update(list(vmas))  # the same mappings: nothing to do
    reads.clear()
    assert objs.lookup("puts") == LIBC_BASE + libc_syms["puts"]
    objs.lookup("printf")
    objs.symbolize(LIBC_BASE + libc_syms["printf"] + 1)
    assert reads == [LIBC]  # read once, parsed once
    with open(LIBC, "rb") as f:
        data = f.read()
    assert parse(data) is parse(data)
    # a second copy of the file, mapped from its start elsewhere, is a second object
    other = 0x7F0000000000
    assert objs.update(sorted(vmas + mappings(LIBC, other, inode=77), key=lambda v: v.start))
    assert [o.start for o in objs.objects] == [LIBC_BASE, other]
    assert objs.symbolize(other + libc_syms["puts"]) == "puts@libc.so.6"


def test_a_mapping_that_is_no_elf_or_is_gone_names_nothing(tmp_path):
    data = tmp_path / "data.bin"
    data.write_bytes(b"not an ELF file" * 1000)
    vmas = [Vma(0x10000, 0x14000, PROT_READ | PROT_EXEC, str(data), 0, (0, 40), 5,
                kind="file"),
            Vma(0x20000, 0x21000, PROT_READ, str(tmp_path / "gone.so"), 0, (0, 40), 6,
                kind="file"),
            Vma(0x30000, 0x31000, PROT_READ, str(data), 0, kind="file")]
    data2 = tmp_path / "bad.so"
    data2.write_bytes(b"\x7fELF" + b"\xff" * 200)  # an ELF magic on garbage
    vmas.append(Vma(0x40000, 0x41000, PROT_READ, str(data2), 0, kind="file"))
    objs = LoadedObjects(host_reader)
    objs.update(vmas)
    for addr in (0x10010, 0x20010, 0x30000, 0x40004):
        assert objs.symbolize(addr) == ""
        assert objs.label(addr) == ""
    assert objs.lookup("puts") is None and objs.lookup("puts@bad.so") is None


# -- in the stepping session --------------------------------------------------------------

def session(path, *args, **options):
    prog = load_program(str(path))
    return DebugSession.create(prog, [str(path), *args], RunOptions(seed=1, **options))


def test_static_pie_break_at_main_and_the_pane_names_the_code():
    s = session(HELLO_PIE)
    b = s.add_breakpoint("main")
    assert s.cont().reason == "breakpoint"
    assert s.machine.pc == b.address
    view = s.view()
    assert view.symbol == "main"
    assert where_text(view) == "main  hello.glibc-x86_64-pie"
    current = next(c for c in view.code if c.current)
    assert current.label == "main"
    text = "\n".join("".join(t for t, _ in line) for line in code_lines(view, width=80))
    assert "main:" in text and "<puts>" in text  # the call in main, named
    # main's call goes to puts, a breakpoint on it is reached next
    s.add_breakpoint("puts")
    assert s.cont().reason == "breakpoint" and s.view().symbol == "puts"


MAP_LIBC = """bits 64
section .data
path: db "/hostlib/libc.so.6", 0
section .text
global _start
_start:
    mov eax, 2              ; open("/hostlib/libc.so.6", O_RDONLY)
    lea rdi, [rip + path]
    xor esi, esi
    syscall
    mov r8, rax             ; mmap(NULL, SIZE, PROT_READ|PROT_EXEC, MAP_PRIVATE, fd, 0)
    mov eax, 9
    xor edi, edi
    mov esi, {size}
    mov edx, 5
    mov r10d, 2
    xor r9d, r9d
    syscall
    add rax, {puts:#x}       ; puts, as readelf gives it
    call rax
"""


@needs_host
def test_a_breakpoint_on_a_library_not_yet_mapped_is_set_when_it_is(tmp_path, libc_syms):
    """A guest maps libc.so.6 itself (from a shared directory) and calls its puts: `b puts`
    is refused in a static program (no library will come), `b puts@libc.so.6` is pending
    until the mmap, then stops at puts, which the pane and the title name."""
    src = tmp_path / "maplibc.s"
    src.write_text(MAP_LIBC.format(size=os.path.getsize(LIBC), puts=libc_syms["puts"]))
    s = session(src, mounts=[Mount(LIBDIR, "/hostlib", False)])
    with pytest.raises(ValueError, match="no such address"):
        s.add_breakpoint("puts")
    gdb = GdbConsole()

    def run(line):
        return gdb.execute(line, target_for(s, s.view()), ("step", "next"))

    assert run("break puts@libc.so.6") == ["Breakpoint 1 (puts@libc.so.6) pending."]
    assert "<PENDING>" in run("info breakpoints")[1]
    assert s.cont().reason == "breakpoint"
    vma = s.system.mm.find(s.machine.pc)
    assert vma.name == "/hostlib/libc.so.6"
    assert s.machine.pc == vma.start + libc_syms["puts"]
    view = s.view()
    assert view.symbol == "puts@libc.so.6"
    assert where_text(view) == "puts  libc.so.6"
    lines = ["".join(t for t, _ in line) for line in code_lines(view, width=80)]
    assert "puts@libc.so.6:" in lines
    assert all(len(line) <= 80 for line in lines)
    # gdb's own output names it as gdb does, unqualified
    assert run("info breakpoints")[1].endswith(f"{s.machine.pc:#018x} <puts>")
    assert run("x/i $pc")[0].startswith(f"=> {s.machine.pc:#x} <puts>:")
    s.step()
    assert s.view().symbol.startswith("puts@libc.so.6+0x")
    # back before the mmap: no libc, its names gone
    s.goto_start()
    s.view()
    assert [o.kind for o in objects_of(s).objects] == ["main", "vdso"]
    assert objects_of(s).lookup("puts@libc.so.6") is None


HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'


def host_libs() -> list[Mount]:
    """The host's loader and libc where the program and the loader look for them."""
    return [Mount(LIBDIR, "/lib64", False), Mount(LIBDIR, f"/lib/{os.path.basename(LIBDIR)}",
                                                  False)]


@needs_host
@pytest.mark.skipif(not shutil.which("gcc"), reason="needs gcc")
def test_a_dynamic_pie_through_ld_so(tmp_path, libc_syms):
    """gcc's default build: the pc starts in ld.so; `b main` is set at once, `b puts`
    waits for libc; main's call is `<puts@plt>`; the stop in puts names libc."""
    exe = tmp_path / "hello"
    src = tmp_path / "hello.c"
    src.write_text(HELLO_C)
    subprocess.run(["gcc", "-o", str(exe), str(src)], check=True)
    s = session(exe, mounts=host_libs())
    objs = objects_of(s)
    s.view()
    assert objs.object_name(s.machine.pc) == "ld-linux-x86-64.so.2"
    main = s.add_breakpoint("main")
    assert main.address is not None
    puts = s.add_breakpoint("puts")
    assert puts.address is None  # pending: libc is not mapped yet
    assert s.cont().reason == "breakpoint" and s.machine.pc == main.address
    assert puts.address is not None and any("puts" in n for n in s.notes)
    view = s.view()
    assert view.symbol == "main" and where_text(view) == "main  hello"
    plt = {m.group(2): int(m.group(1), 16) for m in re.finditer(
        r"^([0-9a-f]+) <(\S+@plt)>:", subprocess.run(
            ["objdump", "-d", str(exe)], capture_output=True, text=True).stdout, re.M)}
    assert "puts@plt" in plt
    calls = [c for c in view.code if c.kind == "call" and "puts@plt" in c.ref]
    assert calls and calls[0].ref == "<puts@plt>"
    assert objs.lookup("puts@plt") == objs.lookup("main") - readelf_symbols(
        str(exe), dynamic=False)["main"] + plt["puts@plt"]
    assert [o.name for o in objs.objects] == ["hello", "libc.so.6", "ld-linux-x86-64.so.2",
                                              "[vdso]"]
    libc = next(o for o in objs.objects if o.name == "libc.so.6")
    assert s.cont().reason == "breakpoint"
    assert s.machine.pc == libc.start + libc_syms["puts"] == puts.address
    view = s.view()
    assert view.symbol == "puts@libc.so.6" and where_text(view) == "puts  libc.so.6"
    assert s.cont().reason == "exited"
    assert "".join(c.text for c in s.view().output) == "hello\n"


LIB32 = "/usr/lib32"


@pytest.mark.skipif(not (shutil.which("gcc") and shutil.which("objdump") and os.path.exists(
    f"{LIB32}/libc.so.6") and os.path.exists(f"{LIB32}/ld-linux.so.2")),
    reason="needs gcc -m32, objdump and the host's i386 glibc")
def test_an_i386_dynamic_program_names_its_plt_and_libc(tmp_path):
    """i386's PIC PLT jumps through ebx (the GOT): `call puts@plt` is named as objdump
    names it, and `b puts` set in ld.so stops in the i386 libc's puts."""
    exe = tmp_path / "hello32"
    src = tmp_path / "hello.c"
    src.write_text(HELLO_C)
    subprocess.run(["gcc", "-m32", "-o", str(exe), str(src)], check=True)
    s = session(exe, mounts=[Mount(LIB32, "/lib32", False), Mount(LIB32, "/lib", False)])
    main = s.add_breakpoint("main")
    puts = s.add_breakpoint("puts")
    assert puts.address is None
    assert s.cont().reason == "breakpoint" and s.machine.pc == main.address
    dump = subprocess.run(["objdump", "-d", str(exe)], capture_output=True, text=True).stdout
    plt = {m.group(2): int(m.group(1), 16)
           for m in re.finditer(r"^([0-9a-f]+) <(\S+@plt)>:", dump, re.M)}
    bias = main.address - readelf_symbols(str(exe), dynamic=False)["main"]
    assert objects_of(s).lookup("puts@plt") == bias + plt["puts@plt"]
    # main's call to puts@plt, wherever it is in the listing
    calls = [c for c in s.view().code if c.kind == "call" and "@plt" in c.ref]
    assert calls and calls[0].ref == "<puts@plt>"
    assert s.cont().reason == "breakpoint"
    libc = next(o for o in objects_of(s).objects if o.name == "libc.so.6")
    want = readelf_symbols(f"{LIB32}/libc.so.6")["puts"]
    assert s.machine.pc == libc.start + want
    assert where_text(s.view()) == "puts  libc.so.6"

"""A process's memory seen through /proc (fs/proc/base.c: mem_rw; fs/proc/task_mmu.c:
pagemap_read, show_smap): /proc/<pid>/mem reads and writes the process's memory at the
file offset, /proc/<pid>/pagemap tells which pages are present, and smaps counts them per
mapping.

Which pages are "present" is what the model can know: a guest page whose host page the
guest has touched (the host's own pagemap, read by emu's Machine.resident). Linux counts a
page only once something touched it too, so a fresh mapping is 0 kB of Rss on both.

mem follows access_remote_vm with FOLL_FORCE, as Linux 6.x does by default
(proc_mem.force_override=always): a read of a PROT_NONE mapping, and a write into a
read-only private one (the program's text, the vDSO), succeed, the write landing in the
process's own copy; a shared mapping of a file opened read-only cannot be written, and
special mappings of I/O pages ([vvar], [vvar_vclock]) and addresses with no mapping give
EIO when nothing was transferred, a short count otherwise."""

from __future__ import annotations

import struct

from emu.machine import PAGE, PROT_EXEC, PROT_READ, PROT_WRITE
from kernel_model.files.file import OpenFile
from kernel_model.files.inode import FsError, Inode
from kernel_model.files.proc_nodes import ProcStat
from kernel_model.files.synthetic import PROC_DEV
from kernel_model.files.uapi import S_IFREG, SEEK_CUR, SEEK_SET
from kernel_model.uapi import errnos

# Mappings of device pages (VM_IO | VM_PFNMAP): get_user_pages refuses them.
IO_MAPPINGS = frozenset({"[vvar]", "[vvar_vclock]"})
# pagemap's bits (Documentation/admin-guide/mm/pagemap.rst)
PM_PRESENT, PM_FILE, PM_EXCLUSIVE, PM_SOFT_DIRTY = 1 << 63, 1 << 61, 1 << 56, 1 << 55
U64 = (1 << 64) - 1


def listed_vmas(process) -> list:
    """The VMAs /proc shows of the process (the gate area is none of them)."""
    return [v for v in process.mm.listed() if v.name != "[vsyscall]"]


def resident_map(process, vma) -> bytes:
    """One byte per page of the mapping: 1 if present. A listed mapping the CPU cannot
    touch (the xonly vsyscall page) has none."""
    if not vma.backed or process.machine is None:
        return bytes(vma.size // PAGE)
    try:
        pages = process.machine.resident(vma.start, vma.size)
    except Exception:  # noqa: BLE001  the machine is gone (a reaped process)
        pages = None
    return pages if pages is not None else bytes(vma.size // PAGE)


def is_file_vma(vma) -> bool:
    return bool(vma.inode) or (bool(vma.name) and not vma.name.startswith("["))


def rss_split(process) -> tuple[int, int, int]:
    """(anonymous, file, shmem) resident bytes: task_mem's RssAnon, RssFile, RssShmem. A
    file mapping's pages count as the file's (the model cannot tell a page copied on write
    from one read in); a shared anonymous mapping's are shmem."""
    anon = file = shmem = 0
    for v in listed_vmas(process):
        size = sum(resident_map(process, v)) * PAGE
        if v.shared and not is_file_vma(v):
            shmem += size
        elif is_file_vma(v):
            file += size
        else:
            anon += size
    return anon, file, shmem


# -- /proc/<pid>/mem ---------------------------------------------------------------------
class MemInode(ProcStat, Inode):
    """/proc/<pid>/mem: mode 0600, the process's owner's; opening it needs the right to
    ptrace the process (PTRACE_MODE_ATTACH: the same uid, or root)."""

    def __init__(self, ino: int, process, *, created_ns: int, alive):
        self.dev = PROC_DEV
        self.ino = ino
        self.mode = S_IFREG | 0o600
        self.process = process
        self.created_ns = created_ns
        self.alive = alive  # whether the process still has its memory (not a zombie)

    def owner_ids(self) -> tuple[int, int]:
        return self.process.uid, self.process.gid

    def truncate(self, size: int) -> None:
        """O_TRUNC (a shell's `>`): procfs lets the size change pass; a write then lands
        at offset 0, where nothing is mapped (EIO)."""

    def open(self, flags: int, path: str, cred) -> MemFile:
        if cred.uid != 0 and cred.uid != self.process.uid:
            raise FsError(errnos.EACCES)
        # A zombie has no mm: the open succeeds and every read is at its end (mem_rw).
        return MemFile(self, path, flags, self.process if self.alive() else None)


class MemFile(OpenFile):
    """Offsets are addresses, unsigned (FMODE_UNSIGNED_OFFSET); lseek takes SEEK_SET and
    SEEK_CUR only (mem_lseek)."""

    def __init__(self, inode: MemInode, path: str, flags: int, process):
        super().__init__(inode, path, flags)
        self.process = process

    def _live(self):
        """The process, while its memory exists: an open outlives the process's exit, and
        then reads as empty (mem_rw: mmget_not_zero fails)."""
        p = self.process
        if p is None or p.exit_code is not None or p.killed_by is not None:
            return None
        return p

    def lseek(self, offset: int, whence: int) -> int:
        if whence == SEEK_SET:
            new = offset & U64
        elif whence == SEEK_CUR:
            new = (self.offset + offset) & U64
        else:
            raise FsError(errnos.EINVAL)
        self.offset = new
        return new

    def read(self, k, n: int) -> bytes:
        data = self.pread(k, self.offset, n)
        self.offset += len(data)
        return data

    def write(self, k, data: bytes) -> int:
        n = self.pwrite(k, self.offset, data)
        self.offset += n
        return n

    def _pieces(self, addr: int, n: int, writing: bool):
        """(address, length) runs of [addr, addr+n) the process's memory allows, in order,
        up to the first byte it does not (check_vma_flags with FOLL_FORCE)."""
        mm = self.process.mm
        end = min(addr + n, 1 << 64)
        while addr < end:
            vma = mm.find(addr)
            if vma is None or vma.name in IO_MAPPINGS or not vma.backed or vma.hidden:
                return
            if writing and vma.shared and not vma.maywrite:
                return
            if not writing and not vma.prot & PROT_READ and vma.name == "[vsyscall]":
                return  # the gate area is no VMA: get_gate_page reads only a readable one
            stop = min(vma.end, end)
            yield addr, stop - addr
            addr = stop

    def pread(self, k, offset: int, n: int) -> bytes:
        if self._live() is None or n == 0:
            return b""
        out = bytearray()
        machine = self.process.machine
        for addr, size in self._pieces(offset, n, writing=False):
            out += machine.read_snapshot(addr, size)  # whatever the page's protection
        if not out:
            raise FsError(errnos.EIO)
        return bytes(out)

    def pwrite(self, k, offset: int, data: bytes) -> int:
        if self._live() is None or not data:
            return 0
        machine = self.process.machine
        done = 0
        code = False
        for addr, size in self._pieces(offset, len(data), writing=True):
            at = addr
            while at < addr + size:  # page by page: each lies in one piece of host memory
                step = min(PAGE - at % PAGE, addr + size - at)
                machine.write_host(at, data[done + at - addr:done + at - addr + step])
                at += step
            vma = self.process.mm.find(addr)
            code = code or bool(vma is not None and vma.prot & PROT_EXEC)
            done += size
        if not done:
            raise FsError(errnos.EIO)
        if code:
            machine.flush_translations()  # code changed under the CPU's translated blocks
        return done


# -- /proc/<pid>/pagemap -----------------------------------------------------------------
class PagemapInode(MemInode):
    """Mode 0400. The PFN field is always 0: an unprivileged reader's view since Linux 4.2,
    and the only honest one here (the model's pages have no physical frames)."""

    def __init__(self, ino: int, process, *, created_ns: int, alive):
        super().__init__(ino, process, created_ns=created_ns, alive=alive)
        self.mode = S_IFREG | 0o400

    def open(self, flags: int, path: str, cred) -> PagemapFile:
        if cred.uid != 0 and cred.uid != self.process.uid:
            raise FsError(errnos.EACCES)
        return PagemapFile(self, path, flags, self.process if self.alive() else None)


class PagemapFile(MemFile):
    """One 64-bit entry per virtual page, the page number as the file offset / 8: bit 63
    present, 61 file-backed or shared, 56 mapped by this process alone, 55 soft-dirty (every
    page touched since it was mapped; nothing clears the bits in the model)."""

    def pread(self, k, offset: int, n: int) -> bytes:
        if offset % 8 or n % 8:
            raise FsError(errnos.EINVAL)  # pagemap_read: whole entries only
        process = self._live()
        if process is None or n == 0:
            return b""
        top = (1 << 47) if process.arch == "x86_64" else (1 << 32)  # TASK_SIZE's pages
        first = offset // 8
        count = min(n // 8, max(top // PAGE - first, 0))
        entries = [0] * count
        for vma in listed_vmas(process):
            lo, hi = max(vma.start // PAGE, first), min(vma.end // PAGE, first + count)
            if lo >= hi:
                continue
            pages = resident_map(process, vma)
            flags = PM_PRESENT | PM_SOFT_DIRTY
            flags |= PM_FILE if vma.shared or is_file_vma(vma) else PM_EXCLUSIVE
            base = vma.start // PAGE
            for page in range(lo, hi):
                if pages[page - base]:
                    entries[page - first] = flags
        return struct.pack(f"<{count}Q", *entries)

    def pwrite(self, k, offset: int, data: bytes) -> int:
        raise FsError(errnos.EINVAL)


# -- /proc/<pid>/smaps and smaps_rollup ---------------------------------------------------
def _vm_flags(vma) -> str:
    """The two-letter names show_smap_vma_flags prints, for the flags the model keeps (as
    this host's 6.18 shows them for each kind of mapping)."""
    names = [name for bit, name in ((PROT_READ, "rd"), (PROT_WRITE, "wr"), (PROT_EXEC, "ex"))
             if vma.prot & bit]
    if vma.name == "[vsyscall]":
        return " ".join(names)  # the gate area: its permission bits alone
    if vma.name in IO_MAPPINGS:
        return "rd mr pf io de dd"
    if vma.shared:
        names.append("sh")
    names.append("mr")
    if vma.maywrite:
        names.append("mw")
    names.append("me")
    if vma.shared:
        names.append("ms")
    if vma.grows_down:
        names.append("gd")
    if vma.name == "[vdso]":
        names.append("de")
    elif not vma.shared and vma.prot & PROT_WRITE:
        names.append("ac")  # VM_ACCOUNT: private writable memory is committed
    return " ".join(names)


def _counts(process, vma) -> dict[str, int]:
    resident = sum(resident_map(process, vma)) * PAGE
    anon = 0 if is_file_vma(vma) or vma.shared else resident
    return {"Size": vma.size, "Rss": resident, "Pss": resident, "Pss_Dirty": resident,
            "Private_Dirty": resident, "Referenced": resident, "Anonymous": anon}


SMAP_KEYS = ("Rss Pss Pss_Dirty Pss_Anon Pss_File Pss_Shmem Shared_Clean Shared_Dirty "
             "Private_Clean Private_Dirty Referenced Anonymous KSM LazyFree AnonHugePages "
             "ShmemPmdMapped FilePmdMapped Shared_Hugetlb Private_Hugetlb Swap "
             "SwapPss Locked").split()
PER_VMA_KEYS = [k for k in SMAP_KEYS if k not in ("Pss_Anon", "Pss_File", "Pss_Shmem")]


def _kb(name: str, size: int) -> str:
    return f"{name + ':':<16}{size >> 10:8d} kB\n"


def smaps_text(process) -> str:
    """Every mapping as maps shows it, then its counts (show_smap): the model's pages are
    never shared between processes (a fork copies them), so Pss is Rss and every touched
    page is private and dirty."""
    out = []
    gate = [v for v in process.mm.vmas if v.name == "[vsyscall]"]
    for vma in listed_vmas(process) + gate:  # the gate area last, as maps lists it
        counts = _counts(process, vma) if vma not in gate else {"Size": vma.size}
        out.append(vma.maps_line() + "\n")
        out.append(_kb("Size", vma.size) + _kb("KernelPageSize", PAGE)
                   + _kb("MMUPageSize", PAGE))
        out.extend(_kb(key, counts.get(key, 0)) for key in PER_VMA_KEYS)
        out.append(f"THPeligible:    {0:8d}\n")
        out.append(f"VmFlags: {_vm_flags(vma)} \n")
    return "".join(out)


def smaps_rollup_text(process) -> str:
    """One header line spanning the mappings, then the sums (show_smaps_rollup)."""
    vmas = listed_vmas(process)
    if not vmas:
        return ""
    totals = dict.fromkeys(SMAP_KEYS, 0)
    for vma in vmas:
        counts = _counts(process, vma)
        for key, value in counts.items():
            if key in totals:
                totals[key] += value
        if is_file_vma(vma):
            totals["Pss_File"] += counts["Pss"]
        elif vma.shared:
            totals["Pss_Shmem"] += counts["Pss"]
        else:
            totals["Pss_Anon"] += counts["Pss"]
    head = f"{vmas[0].start:08x}-{vmas[-1].end:08x} ---p 00000000 00:00 0"
    return head.ljust(72) + " [rollup]\n" + "".join(_kb(k, totals[k]) for k in SMAP_KEYS)

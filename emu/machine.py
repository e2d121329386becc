"""A thin, fast layer over one Unicorn CPU and its memory.

Register access goes through ctypes directly: Unicorn's Python wrapper costs ~2 us per
register, the raw call ~0.6 us, and the syscall path reads and writes several registers.
"""

from __future__ import annotations

import ctypes
import struct
import weakref
from dataclasses import dataclass

import unicorn
import unicorn.unicorn_py3.unicorn as _uc_impl
from unicorn import UcError
from unicorn import x86_const as X

from emu import hostmem
from emu.arch import Arch

PAGE = 0x1000

PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC = 0, 1, 2, 4  # same bits as Unicorn's UC_PROT_*

# A second handle on the same library, without the wrapper's argument conversion.
_lib = ctypes.CDLL(_uc_impl.uclib._name)
_reg_read = _lib.uc_reg_read
_reg_write = _lib.uc_reg_write
_reg_read_batch = _lib.uc_reg_read_batch
_reg_write_batch = _lib.uc_reg_write_batch
_hook_add = _lib.uc_hook_add
_hook_add.restype = ctypes.c_int
_hook_del = _lib.uc_hook_del
_hook_del.restype = ctypes.c_int
# Unicorn's callback for a hooked rdtsc/rdtscp (uc_cb_insn_cpuid_t): returning 1 skips the
# instruction's own effect. The Python binding maps only IN/OUT/SYSCALL/SYSENTER/CPUID, so
# this hook is added through the C API directly.
_RDTSC_CB = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_void_p, ctypes.c_void_p)
# uc_cb_hookcode_t, for a block hook called straight through ctypes: ~0.4 us a block against
# ~1 us through the binding's wrapper (measured on a 4-instruction loop).
_BLOCK_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32,
                             ctypes.c_void_p)


class MemoryFault(Exception):
    """A guest address the machine could not read or write."""

    def __init__(self, addr: int, size: int, write: bool):
        kind = "write" if write else "read"
        super().__init__(f"bad guest address {addr:#x} ({size} bytes, {kind})")
        self.addr = addr
        self.size = size
        self.write = write


@dataclass(frozen=True)
class Stop:
    """Why `Machine.run` returned. kind: 'stopped' (a hook asked), 'done' (reached `until`
    or the instruction count), 'error' (Unicorn raised: see uc_errno)."""

    kind: str
    uc_errno: int = 0
    message: str = ""


def page_down(addr: int) -> int:
    return addr & ~(PAGE - 1)


def page_up(addr: int) -> int:
    return (addr + PAGE - 1) & ~(PAGE - 1)


class _RegBatch:
    """Pre-built argument arrays for reading or writing a fixed set of registers at once."""

    __slots__ = ("ids", "vals", "ptrs", "n")

    def __init__(self, reg_ids: tuple[int, ...]):
        n = len(reg_ids)
        self.n = n
        self.ids = (ctypes.c_int * n)(*reg_ids)
        self.vals = (ctypes.c_uint64 * n)()
        base = ctypes.addressof(self.vals)
        self.ptrs = (ctypes.c_void_p * n)(*[base + 8 * i for i in range(n)])


class Machine:
    """One guest CPU. Hooks are plain callables; the machine never interprets them."""

    def __init__(self, arch: Arch, *, high_addresses: bool = False):
        self.arch = arch
        self.uc = unicorn.Uc(unicorn.UC_ARCH_X86, arch.uc_mode)
        if high_addresses:
            # Memory at or above 0xffff800000000000 (the vsyscall page) is reachable only in
            # virtual TLB mode, which makes every indirect branch ~3x slower (a call/ret pair
            # 52 -> 146 ns): so only when something must live up there.
            # unicorn/__init__.py picks its py2 or py3 Uc on sys.version_info.major, which
            # mypy does not evaluate: it sees the py2 class, which lacks this method.
            self.uc.ctl_set_tlb_mode(unicorn.UC_TLB_VIRTUAL)  # type: ignore[attr-defined]
        self._h = self.uc._uch
        self._one = ctypes.c_uint64(0)
        self._one_ref = ctypes.byref(self._one)
        self._batches: dict[tuple[int, ...], _RegBatch] = {}
        self._hooks: list[int] = []
        self.backing = hostmem.Backing()  # the host memory behind every mapped guest page
        # Unicorn never frees memory it did not allocate: when the CPU goes, so does it.
        weakref.finalize(self.uc, self.backing.release_all)
        self._callbacks: dict[int, object] = {}  # ctypes hooks: handle -> its callback
        self.after_run: list = []  # called with no argument after every emu_start returns
        self.running = False  # inside emu_start (else: the host itself is at work)

    # -- registers ---------------------------------------------------------------
    def reg(self, reg_id: int) -> int:
        self._one.value = 0  # Unicorn writes only 2 bytes for a segment selector
        _reg_read(self._h, reg_id, self._one_ref)
        return self._one.value

    def set_reg(self, reg_id: int, value: int) -> None:
        self._one.value = value & 0xFFFFFFFFFFFFFFFF
        _reg_write(self._h, reg_id, self._one_ref)

    def _batch(self, reg_ids: tuple[int, ...]) -> _RegBatch:
        b = self._batches.get(reg_ids)
        if b is None:
            b = self._batches[reg_ids] = _RegBatch(reg_ids)
        return b

    def regs(self, reg_ids: tuple[int, ...]) -> list[int]:
        b = self._batch(reg_ids)
        _reg_read_batch(self._h, b.ids, b.ptrs, b.n)
        return b.vals[:]

    def set_regs(self, reg_ids: tuple[int, ...], values) -> None:
        b = self._batch(reg_ids)
        vals = b.vals
        for i, v in enumerate(values):
            vals[i] = v & 0xFFFFFFFFFFFFFFFF
        _reg_write_batch(self._h, b.ids, b.ptrs, b.n)

    def set_regs3(self, reg_ids: tuple[int, int, int], a: int, b: int, c: int) -> None:
        """set_regs for exactly three registers, unrolled: the syscall return path."""
        batch = self._batch(reg_ids)
        vals = batch.vals
        vals[0] = a & 0xFFFFFFFFFFFFFFFF
        vals[1] = b & 0xFFFFFFFFFFFFFFFF
        vals[2] = c & 0xFFFFFFFFFFFFFFFF
        _reg_write_batch(self._h, batch.ids, batch.ptrs, 3)

    @property
    def pc(self) -> int:
        return self.reg(self.arch.pc_reg)

    @pc.setter
    def pc(self, value: int) -> None:
        self.set_reg(self.arch.pc_reg, value)

    @property
    def sp(self) -> int:
        return self.reg(self.arch.sp_reg)

    @sp.setter
    def sp(self, value: int) -> None:
        self.set_reg(self.arch.sp_reg, value)

    def snapshot_regs(self) -> dict[str, int]:
        """The general registers, pc and flags by name: for events and the screen."""
        names = [n for n, _ in self.arch.gprs] + ["eflags"]
        ids = tuple(i for _, i in self.arch.gprs) + (X.UC_X86_REG_EFLAGS,)
        return dict(zip(names, self.regs(ids), strict=True))

    # -- memory ------------------------------------------------------------------
    def map(self, addr: int, size: int, prot: int, *, room: int = 0) -> None:
        """Map [addr, addr+size) over host memory this process owns (emu/hostmem.py): a
        reservation's when one holds the range (the stack's growth room), fresh otherwise.
        room: bytes above the range to reserve too, where nothing is, for a mapping that
        will grow up into them (the heap), so its pieces can become one region."""
        end = addr + size
        room_end = 0
        if room:
            above = [b for b, _e, _p in self.uc.mem_regions() if b >= end]
            room_end = min([end + room, *above])
        pieces = self.backing.cover(addr, end, room_end)
        done = []
        try:
            for lo, hi, host, _fresh in pieces:
                self.uc.mem_map_ptr(lo, hi - lo, prot, host)
                done.append((lo, hi))
        except UcError:
            # Undo only this call's work: a reservation's pages stay (and stay untouched).
            for lo, hi in done:
                self.uc.mem_unmap(lo, hi - lo)
            for lo, hi, _host, fresh in pieces:
                if fresh:
                    self.backing.remove(lo, hi)
            raise
        self._coalesce(addr)

    def map_host(self, addr: int, size: int, prot: int) -> None:
        """Guest memory another host thread may change while the CPU runs, as another CPU
        would (the kernel's timer tick updating the vDSO's data) through `write_host`:
        Unicorn's own mem_write is not for use during emulation, and stopping the CPU to
        write is not safe either (see System._run_segment). Every mapping is host memory
        now, so this is `map`; the name says why the caller needs it."""
        self.map(addr, size, prot)

    def reserve(self, addr: int, size: int) -> None:
        """Host memory for a range that later `map` calls will take piece by piece (the
        stack's growth room): untouched, it costs the host nothing, and pieces of it next
        to each other can become one Unicorn region again."""
        self.backing.reserve(addr, addr + size)

    def write_host(self, addr: int, data: bytes) -> None:
        """Write into guest memory straight through its host memory, from any thread."""
        host = self.backing.contiguous(addr, addr + len(data))
        if host is None:
            raise MemoryFault(addr, len(data), True)
        ctypes.memmove(host, data, len(data))

    def flush_tlb(self) -> None:
        """Forget every cached translation. Unicorn 2.1.4 caches one for a page whose
        protection a ranged hook (hook_protected) has just refused, so the same access
        would get through the next time (measured on the GDT page)."""
        self.uc.ctl(unicorn.UC_CTL_TLB_FLUSH, unicorn.UC_CTL_IO_WRITE)

    def unmap(self, addr: int, size: int) -> None:
        # Unicorn splits a mem_map_ptr region without copying; the host pages go back now.
        self.uc.mem_unmap(addr, size)
        self.backing.remove(addr, addr + size)

    def move(self, old: int, size: int, new: int) -> None:
        """Move mapped pages to a free range (mremap), each with its protection: the host
        memory goes with them, nothing is copied (a reservation's pages are copied: they
        stay where the stack will want them)."""
        end = old + size
        regions = [(max(b, old), min(e + 1, end), p) for b, e, p in self.uc.mem_regions()
                   if b < end and old <= e]
        pieces = self.backing.detach(old, end)
        if pieces is None:
            data = self.read(old, size)
            self.unmap(old, size)
            for lo, hi, prot in regions:
                self.map(lo - old + new, hi - lo, prot)
            self.write(new, data)
            return
        self.uc.mem_unmap(old, size)
        for lo, hi, host in pieces:
            self.backing.attach(lo - old + new, hi - old + new, host)
        for lo, hi, prot in regions:
            host = self.backing.contiguous(lo - old + new, hi - old + new)
            if host is None:  # pieces of two host ranges: one region each
                for plo, phi, phost in self.backing.pieces(lo - old + new, hi - old + new):
                    self.uc.mem_map_ptr(plo, phi - plo, prot, phost)
            else:
                self.uc.mem_map_ptr(lo - old + new, hi - lo, prot, host)
        self._coalesce(new)

    def protect(self, addr: int, size: int, prot: int) -> None:
        self.uc.mem_protect(addr, size, prot)
        self._coalesce(addr)

    def discard(self, addr: int, size: int) -> None:
        """MADV_DONTNEED on private anonymous memory: the pages read back as zeros, and the
        host gets them back instead of having them all written."""
        end = addr + size
        done = addr
        for lo, hi, host in self.backing.pieces(addr, end):
            if lo > done:
                self.write(done, bytes(lo - done))
            hostmem.zero(host, hi - lo)
            done = hi
        if done < end:
            self.write(done, bytes(end - done))
        if any(b <= end - 1 and addr <= e and p & PROT_EXEC for b, e, p in
               self.uc.mem_regions()):
            # Code translated from the old bytes must not run again (the host wrote them).
            self.uc.ctl_remove_cache(addr, end)

    # Unicorn keeps the regions that splits leave (a growing stack adds one each fault),
    # and mapping gets slower with every region (~0.5 ms at 2,000). Pieces of one host
    # range with the same protection are joined again once there are this many: unmapping
    # costs ~13 ns a page, so joining rarely keeps the cost per piece small.
    COALESCE_AT = 8

    def _coalesce(self, addr: int) -> None:
        regions = sorted(self.uc.mem_regions())
        i = next((j for j, r in enumerate(regions) if r[0] <= addr <= r[1]), None)
        if i is None:
            return
        host = self.backing.find

        def joins(a, b) -> bool:
            """Neighbours with one protection, over one stretch of host memory."""
            if a[1] + 1 != b[0] or a[2] != b[2]:
                return False
            ha, hb = host(a[1], a[1] + 1), host(b[0], b[0] + 1)
            return ha is not None and hb == ha + 1

        lo = hi = i
        while lo > 0 and joins(regions[lo - 1], regions[lo]):
            lo -= 1
        while hi + 1 < len(regions) and joins(regions[hi], regions[hi + 1]):
            hi += 1
        if hi - lo + 1 >= self.COALESCE_AT:
            start, end = regions[lo][0], regions[hi][1] + 1
            self.uc.mem_unmap(start, end - start)
            self.uc.mem_map_ptr(start, end - start, regions[i][2], host(start, start + 1))

    def read(self, addr: int, size: int) -> bytes:
        if size == 0:
            return b""
        try:
            return bytes(self.uc.mem_read(addr, size))
        except UcError:
            raise MemoryFault(addr, size, False) from None

    def write(self, addr: int, data: bytes) -> None:
        if not data:
            return
        try:
            self.uc.mem_write(addr, bytes(data))
        except UcError:
            raise MemoryFault(addr, len(data), True) from None

    def read_snapshot(self, addr: int, size: int) -> bytes:
        """Mapped bytes whatever their protection (for saving the machine's state): one
        copy straight from the host memory behind them, where Unicorn's mem_read makes two."""
        host = self.backing.contiguous(addr, addr + size)
        if host is None:
            return bytes(self.uc.mem_read(addr, size))
        return ctypes.string_at(host, size)

    def read_u32(self, addr: int) -> int:
        return struct.unpack("<I", self.read(addr, 4))[0]

    def read_u64(self, addr: int) -> int:
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def read_word(self, addr: int) -> int:
        return self.read_u64(addr) if self.arch.bits == 64 else self.read_u32(addr)

    def write_word(self, addr: int, value: int) -> None:
        fmt = "<Q" if self.arch.bits == 64 else "<I"
        self.write(addr, struct.pack(fmt, value & self.arch.mask))

    def read_cstring(self, addr: int, limit: int = 4096) -> bytes:
        """Bytes up to (not including) the first NUL, reading page by page."""
        out = bytearray()
        while len(out) < limit:
            chunk_len = min(PAGE - (addr & (PAGE - 1)), limit - len(out))
            chunk = self.read(addr, chunk_len)
            nul = chunk.find(b"\0")
            if nul >= 0:
                out += chunk[:nul]
                return bytes(out)
            out += chunk
            addr += chunk_len
        return bytes(out)

    def regions(self):
        """(begin, end_inclusive, prot) of everything Unicorn has mapped."""
        return list(self.uc.mem_regions())

    # -- hooks -------------------------------------------------------------------
    def hook_syscall(self, callback) -> None:
        """callback(uc, user_data) on `syscall`; the pc is already past the instruction."""
        self._hooks.append(
            self.uc.hook_add(unicorn.UC_HOOK_INSN, callback, None, 1, 0, X.UC_X86_INS_SYSCALL)
        )

    def hook_sysenter(self, callback) -> None:
        self._hooks.append(
            self.uc.hook_add(unicorn.UC_HOOK_INSN, callback, None, 1, 0, X.UC_X86_INS_SYSENTER)
        )

    def hook_interrupt(self, callback) -> None:
        """callback(uc, intno, user_data) for `int N` and CPU exceptions."""
        self._hooks.append(self.uc.hook_add(unicorn.UC_HOOK_INTR, callback))

    def hook_bad_memory(self, callback) -> None:
        """callback(uc, access, addr, size, value, user_data) -> bool on an invalid access."""
        self._hooks.append(self.uc.hook_add(unicorn.UC_HOOK_MEM_INVALID, callback))

    def hook_protected(self, callback, begin: int, end: int) -> None:
        """callback(uc, access, addr, size, value, user_data) -> bool on a read or write that
        the protection of [begin, end] refuses: True lets it happen. Added before the hook
        of hook_bad_memory, which then sees the access only when this one refuses it."""
        self._hooks.append(self.uc.hook_add(
            unicorn.UC_HOOK_MEM_READ_PROT | unicorn.UC_HOOK_MEM_WRITE_PROT, callback, None,
            begin, end))

    def hook_ports(self, callback) -> None:
        """callback(uc, port, size, [value,] user_data) on `in` and `out` (and their string
        forms), which Unicorn runs at any privilege level; the pc is the instruction's.
        Stopping from here ends the run only at the end of the translated block."""
        for insn in (X.UC_X86_INS_IN, X.UC_X86_INS_OUT):
            self._hooks.append(self.uc.hook_add(unicorn.UC_HOOK_INSN, callback, None, 1, 0,
                                                insn))

    def hook_bad_instruction(self, callback) -> None:
        self._hooks.append(self.uc.hook_add(unicorn.UC_HOOK_INSN_INVALID, callback))

    def hook_code(self, callback, begin: int = 1, end: int = 0) -> int:
        """A per-instruction hook, restricted to [begin, end]: code elsewhere keeps full
        speed."""
        h = self.uc.hook_add(unicorn.UC_HOOK_CODE, callback, None, begin, end)
        self._hooks.append(h)
        return h

    def hook_block(self, callback, begin: int = 1, end: int = 0) -> int:
        h = self.uc.hook_add(unicorn.UC_HOOK_BLOCK, callback, None, begin, end)
        self._hooks.append(h)
        return h

    def hook_block_fast(self, callback) -> int:
        """callback(handle, addr, size, user_data) at the start of every translated block
        executed, called through ctypes without the binding's wrapper (the hot path of
        instruction counting); `handle` is the raw engine pointer, not a Uc."""
        cb = _BLOCK_CB(callback)
        handle = ctypes.c_size_t()
        err = _hook_add(self._h, ctypes.byref(handle), unicorn.UC_HOOK_BLOCK, cb, None,
                        ctypes.c_uint64(1), ctypes.c_uint64(0))
        if err:
            raise UcError(err)
        self._callbacks[handle.value] = cb  # kept alive while hooked
        self._hooks.append(handle.value)
        return handle.value

    def hook_rdtsc(self, read) -> None:
        """Make the guest's `rdtsc` and `rdtscp` return `read()` (a 64-bit count) instead of
        the host's TSC (rdtscp's TSC_AUX, the CPU number, is 0). Unicorn calls the hook only
        when the guest executes one of them: other code keeps full speed."""
        wide = self.arch.bits == 64
        ax, dx, cx = ((X.UC_X86_REG_RAX, X.UC_X86_REG_RDX, X.UC_X86_REG_RCX) if wide else
                      (X.UC_X86_REG_EAX, X.UC_X86_REG_EDX, X.UC_X86_REG_ECX))

        def on_rdtsc(_uc, _user_data):
            value = read()
            self.set_regs((ax, dx), (value & 0xFFFFFFFF, (value >> 32) & 0xFFFFFFFF))
            return 1

        def on_rdtscp(_uc, _user_data):
            value = read()
            self.set_regs3((ax, dx, cx), value & 0xFFFFFFFF, (value >> 32) & 0xFFFFFFFF, 0)
            return 1

        for insn, fn in ((X.UC_X86_INS_RDTSC, on_rdtsc), (X.UC_X86_INS_RDTSCP, on_rdtscp)):
            cb = _RDTSC_CB(fn)
            handle = ctypes.c_size_t()
            err = _hook_add(self._h, ctypes.byref(handle), unicorn.UC_HOOK_INSN, cb, None,
                            ctypes.c_uint64(1), ctypes.c_uint64(0), ctypes.c_int(insn))
            if err:
                raise UcError(err)
            self._callbacks[handle.value] = cb
            self._hooks.append(handle.value)

    def unhook(self, handle: int) -> None:
        if handle in self._callbacks:  # added through ctypes: not the binding's to delete
            err = _hook_del(self._h, ctypes.c_size_t(handle))
            if err:
                raise UcError(err)
            del self._callbacks[handle]
        else:
            self.uc.hook_del(handle)
        self._hooks.remove(handle)

    # -- running -----------------------------------------------------------------
    def run(self, begin: int, until: int = 0, count: int = 0, timeout_us: int = 0) -> Stop:
        """Run from `begin` until a hook stops the CPU, `until` is reached, `count`
        instructions have run, or Unicorn reports an error."""
        self.running = True
        try:
            self.uc.emu_start(begin, until if until else (1 << 64) - 1, timeout_us, count)
        except UcError as e:
            if getattr(self.uc, "_hook_exception", None) is e:
                # A hook's own call into Unicorn failed (the binding re-raises it here): an
                # error of the code above, which must not pass for the guest's fault.
                for callback in self.after_run:
                    callback()
                raise
            stop = Stop("error", e.errno, str(e))
        else:
            stop = Stop("done")
        finally:
            self.running = False
        for callback in self.after_run:
            callback()
        return stop

    def stop(self) -> None:
        self.uc.emu_stop()

    # -- whole-machine state, for stepping backwards ------------------------------
    def save_context(self):
        return self.uc.context_save()

    def restore_context(self, ctx) -> None:
        self.uc.context_restore(ctx)

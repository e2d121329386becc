"""A thin, fast layer over one Unicorn CPU and its memory.

Register access goes through ctypes directly: Unicorn's Python wrapper costs ~2 us per
register, the raw call ~0.6 us, and the syscall path reads and writes several registers.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass

import unicorn
import unicorn.unicorn_py3.unicorn as _uc_impl
from unicorn import UcError
from unicorn import x86_const as X

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
            self.uc.ctl_set_tlb_mode(unicorn.UC_TLB_VIRTUAL)
        self._h = self.uc._uch
        self._one = ctypes.c_uint64(0)
        self._one_ref = ctypes.byref(self._one)
        self._batches: dict[tuple[int, ...], _RegBatch] = {}
        self._hooks: list[int] = []
        self._host_buffers: dict[int, ctypes.Array] = {}  # kept alive while mapped
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
    def map(self, addr: int, size: int, prot: int) -> None:
        self.uc.mem_map(addr, size, prot)

    def map_host(self, addr: int, size: int, prot: int) -> ctypes.Array:
        """Map guest memory backed by a buffer this process owns, so another host thread can
        change it while the CPU runs, as another CPU would (the kernel's timer tick updating
        the vDSO's data). Unicorn's own mem_write is not for use during emulation, and
        stopping the CPU to write is not safe either (see System._run_segment)."""
        buf = (ctypes.c_char * size)()
        self.uc.mem_map_ptr(addr, size, prot, ctypes.addressof(buf))
        self._host_buffers[addr] = buf
        return buf

    def write_host(self, addr: int, data: bytes) -> None:
        """Write into a host-backed mapping directly, from any thread."""
        for start, buf in self._host_buffers.items():
            if start <= addr and addr + len(data) <= start + len(buf):
                ctypes.memmove(ctypes.addressof(buf) + (addr - start), data, len(data))
                return
        raise MemoryFault(addr, len(data), True)

    def flush_tlb(self) -> None:
        """Forget every cached translation. Unicorn 2.1.4 caches one for a page whose
        protection a ranged hook (hook_protected) has just refused, so the same access
        would get through the next time (measured on the GDT page)."""
        self.uc.ctl(unicorn.UC_CTL_TLB_FLUSH, unicorn.UC_CTL_IO_WRITE)

    def unmap(self, addr: int, size: int) -> None:
        self.uc.mem_unmap(addr, size)

    def protect(self, addr: int, size: int, prot: int) -> None:
        self.uc.mem_protect(addr, size, prot)

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

"""A thin, fast layer over one Unicorn CPU and its memory.

Register access goes through ctypes directly: Unicorn's Python wrapper costs ~2 us per
register, the raw call ~0.3 us. The trap hooks go further and use the register file in
place (emu/register_file.py).
"""

from __future__ import annotations

import ctypes
import functools
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import unicorn
from unicorn import UcError

from emu import hostmem
from emu import registers as R
from emu.arch import Arch
from emu.guest_memory import (  # noqa: F401  (where callers have always found them)
    PAGE,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    GuestMemory,
    MemoryFault,
    page_down,
    page_up,
)
from emu.hooks import Hooks
from emu.register_file import RegisterFile
from emu.tlb import use_virtual_tlb
from emu.uclib import reg_read as _reg_read
from emu.uclib import reg_read_batch as _reg_read_batch
from emu.uclib import reg_read_batch_held as _reg_read_batch_held
from emu.uclib import reg_write as _reg_write
from emu.uclib import reg_write_batch as _reg_write_batch
from emu.uclib import reg_write_batch_held as _reg_write_batch_held

TCG_BUFFER = 128 << 20  # bytes of translated code a CPU may hold before Unicorn flushes it


@dataclass(frozen=True)
class MachineStop:
    """Why `Machine.run` returned. kind: 'stopped' (a hook asked), 'done' (reached `until`
    or the instruction count), 'error' (Unicorn raised: see uc_errno)."""

    kind: str
    uc_errno: int = 0
    message: str = ""


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


@dataclass(frozen=True)
class _PendingContext:
    ctx: object
    before_run: Callable[[], None] | None
    far_return: tuple[int, int] | None


class Machine(GuestMemory, Hooks):
    """One guest CPU: its registers and runs here, its memory in GuestMemory
    (emu/guest_memory.py), its hooks in Hooks (emu/hooks.py). Hooks are plain callables; the
    machine never interprets them."""

    def __init__(self, arch: Arch):
        self.arch = arch
        self.uc = unicorn.Uc(unicorn.UC_ARCH_X86, arch.uc_mode)
        # Unicorn reserves 1 GiB of address space for translated code per CPU by default;
        # a run with several processes has several CPUs, and the grader caps the address
        # space (programs/grading/isolate.py). The guests' code needs far less.
        self.uc.ctl_set_tcg_buffer_size(TCG_BUFFER)  # type: ignore[attr-defined]
        # Virtual TLB mode, filled so that stores stay on Unicorn's fast path (emu/tlb.py).
        # Addresses also reach Unicorn whole (the default TLB cuts them to 52 bits): memory
        # at 0xffffffffff600000 (the vsyscall page) is there, and a fault reports the
        # address the guest used.
        self.execute_only: set[int] = set()  # pages mapped PROT_EXEC alone (GuestMemory.map)
        self._tlb_fill = use_virtual_tlb(self.uc, arch.bits, self.execute_only)
        self._h = self.uc._uch
        # The general registers in place, for the trap hooks (emu/register_file.py).
        self.registers = RegisterFile(self.uc, self._h, arch.bits)
        self._one = ctypes.c_uint64(0)
        self._one_ref = ctypes.byref(self._one)
        self._word = ctypes.c_uint64(0)  # read_u32/read_u64's buffer
        self._word_ref = ctypes.byref(self._word)
        self._batches: dict[tuple[int, ...], _RegBatch] = {}
        self._hooks: list[int] = []
        self.backing = hostmem.Backing()  # the host memory behind every mapped guest page
        # Unicorn never frees memory it did not allocate: when the CPU goes, so does it.
        weakref.finalize(self.uc, self.backing.release_all)
        self._callbacks: dict[int, object] = {}  # ctypes hooks: handle -> its callback
        self.after_run: list = []  # called with no argument after every emu_start returns
        self.running = False  # inside emu_start (else: the host itself is at work)
        # Work to do on the CPU before the next run begins, once (emu/segments.py: a
        # return to user mode that loads cs and ss, which needs the CPU's own far jump).
        self.before_run: Callable[[], None] | None = None
        self.far_return: tuple[int, int] | None = None  # (cs, ss) the pending one loads
        # The operand size the CPU decodes with now: the arch's, unless a descriptor table
        # says otherwise (emu/segments.py Gdt.code_bits: compatibility-mode code).
        self.code_bits: Callable[[], int] = lambda: arch.bits
        # Whether the blocks translated last were made for a counted run: Unicorn counts
        # only in blocks translated while its count hook is on, so a change of mode must
        # drop the translations (see count_mode).
        self.counting = False
        self._bad_memory = None  # hook_bad_memory's callback, and its handle while installed
        self._bad_memory_handle: int | None = None
        self._watching: set[int] = set()

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

    def reg_io(self, reg_ids: tuple[int, ...]):
        """For a hot path that always touches the same registers: (load, store, vals).
        load() reads them into the array vals, store() writes vals to them: one call into
        Unicorn each, with no arguments built per call. vals holds unsigned 64-bit values
        (a negative int stored there wraps, as set_reg's mask would make it)."""
        b = _RegBatch(reg_ids)
        return (functools.partial(_reg_read_batch_held, self._h, b.ids, b.ptrs, b.n),
                functools.partial(_reg_write_batch_held, self._h, b.ids, b.ptrs, b.n), b.vals)

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
        ids = tuple(i for _, i in self.arch.gprs) + (R.EFLAGS,)
        return dict(zip(names, self.regs(ids), strict=True))

    # -- running -----------------------------------------------------------------
    def run(self, begin: int, until: int = 0, count: int = 0, timeout_us: int = 0) -> MachineStop:
        """Run from `begin` until a hook stops the CPU, `until` is reached, `count`
        instructions have run, or Unicorn reports an error."""
        if self.before_run is not None:
            pending, self.before_run = self.before_run, None
            pending()
            begin = self.pc
        # The bad-memory hook (hook_bad_memory) is left out of an uncounted run: a memory
        # fault then stops the CPU at the faulting instruction, with nothing of it done, and
        # that instruction runs again with the hook, which sees the very access (and may
        # let it through: the run goes on). A counted run keeps the hook throughout (a
        # second start would count again), as does one with code or data hooks (which
        # would see the instruction twice).
        self._bad_memory_hooked(count > 0 or bool(self._watching))
        self.running = True
        try:
            stop = self._emu_start(begin, until, count, timeout_us)
            if stop.kind == "error" and stop.uc_errno in _MEMORY_ERRORS and \
                    self._bad_memory is not None and self._bad_memory_handle is None:
                for callback in self.after_run:  # (an instruction counter settles here)
                    callback()
                self._bad_memory_hooked(True)
                # Unicorn keeps the TLB entry it filled for the refused access: without a
                # flush the same access would now get through.
                self.flush_tlb()
                stop = self._emu_start(self.pc, until, count, timeout_us)
        finally:
            self.running = False
        for callback in self.after_run:
            callback()
        return stop

    def _emu_start(self, begin: int, until: int, count: int, timeout_us: int) -> MachineStop:
        try:
            self.uc.emu_start(begin, until if until else (1 << 64) - 1, timeout_us, count)
        except UcError as e:
            if getattr(self.uc, "_hook_exception", None) is e:
                # A hook's own call into Unicorn failed (the binding re-raises it here): an
                # error of the code above, which must not pass for the guest's fault.
                for callback in self.after_run:
                    callback()
                raise
            return MachineStop("error", e.errno, str(e))
        return MachineStop("done")

    def _bad_memory_hooked(self, on: bool) -> None:
        """Install or remove hook_bad_memory's callback (Unicorn calls a memory hook only
        at a fault; removing one needs no retranslation)."""
        handle = self._bad_memory_handle
        if self._bad_memory is None or on == (handle is not None):
            return
        # (kept out of _hooks, the list of the hooks callers added)
        if handle is None:
            self._bad_memory_handle = self.uc.hook_add(unicorn.UC_HOOK_MEM_INVALID,
                                                       self._bad_memory)
        else:
            self.uc.hook_del(handle)
            self._bad_memory_handle = None

    def count_mode(self, counting: bool) -> None:
        """Before a run with (or without) an instruction count: translations made for the
        other mode are dropped, else a counted run under-counts in blocks translated
        uncounted, and an uncounted one pays for the count in blocks translated counted."""
        if counting != self.counting:
            self.flush_translations()
            self.counting = counting

    def stop(self) -> None:
        self.uc.emu_stop()

    # -- a second address space ----------------------------------------------------
    def fork(self, into: Machine | None = None) -> Machine:
        """A CPU with a private copy of this one's memory (each mapping at its address,
        with its protection) and of its registers: fork's address space. The copy is eager
        but only of touched pages (hostmem.copy_touched): two Unicorn instances cannot
        share host pages copy-on-write. A new CPU has none of this machine's hooks; `into`
        is a released one to reuse (with its hooks), which saves Unicorn's start-up (~5 ms,
        most of a fork)."""
        regions = list(self.uc.mem_regions())
        if into is not None:
            child = into
            child.flush_translations()
            if list(child.uc.mem_regions()) == regions and \
                    child.backing.copy_over(self.backing):
                # The spare had this very layout (a sibling, forked from the same parent):
                # its mappings stay and only the bytes move, sparing 2 host and 2 Unicorn
                # calls per region (about a third of a fork).
                child.restore_context(self.uc.context_save())
                child._inherit_execute_only(self)
                return child
            child.release()
        else:
            child = Machine(self.arch)
        self.backing.copy_into(child.backing)
        for begin, last, prot in regions:
            host = child.backing.find(begin, last + 1)
            if host is not None:
                child.uc.mem_map_ptr(begin, last + 1 - begin, prot, host)
                continue
            # A region joined over two host ranges (a shared block next to private memory):
            # the child's copies are apart, one region each.
            pieces = child.backing.pieces(begin, last + 1)
            if sum(hi - lo for lo, hi, _h in pieces) != last + 1 - begin:
                raise RuntimeError(f"guest memory at {begin:#x} has no host memory to copy")
            for lo, hi, piece_host in pieces:
                child.uc.mem_map_ptr(lo, hi - lo, prot, piece_host)
        child.restore_context(self.uc.context_save())
        child._inherit_execute_only(self)
        return child

    def _inherit_execute_only(self, parent: Machine) -> None:
        """A fork's execute-only pages are its parent's (its regions were mapped straight
        through Unicorn), and no TLB entry from a reused CPU's earlier life may outlive
        them (emu/tlb.py)."""
        self.execute_only.clear()  # in place: the TLB fill holds this very set
        self.execute_only.update(parent.execute_only)
        self.flush_tlb()

    def clear_memory(self) -> None:
        """Give every guest page's host memory back, keeping the mappings (they read as
        zeros): a CPU kept for reuse by a fork of the same layout. Shared memory is
        unmapped instead: it is other processes' too, and must not stay alive here."""
        for lo, hi in self.backing.drop_shared():
            self.uc.mem_unmap(lo, hi - lo)
        self.backing.zero_all()

    def release(self) -> None:
        """Give every guest page back to the host now (the process is gone), rather than
        when the last reference to the CPU goes."""
        for begin, last, _prot in list(self.uc.mem_regions()):
            self.uc.mem_unmap(begin, last + 1 - begin)
        self.backing.release_all()

    # -- whole-machine state, for stepping backwards ------------------------------
    def save_context(self):
        """The CPU's state, with a pending return to user mode (before_run) if any: a
        step back to a point between a sigreturn and the next run must find it again."""
        ctx = self.uc.context_save()
        if self.before_run is None and self.far_return is None:
            return ctx
        return _PendingContext(ctx, self.before_run, self.far_return)

    def restore_context(self, ctx) -> None:
        if isinstance(ctx, _PendingContext):
            self.uc.context_restore(ctx.ctx)
            self.before_run, self.far_return = ctx.before_run, ctx.far_return
        else:
            self.uc.context_restore(ctx)
            self.before_run = self.far_return = None

    # -- for the run loop and the debugger: what they need of the CPU, without Unicorn ----
    def set_exits(self, addresses) -> None:
        """Stop the CPU before executing any of `addresses` (Unicorn's "exits": checked in
        translated code, no hook call); an empty collection turns them off."""
        exits = sorted(addresses)
        if exits:
            self.uc.ctl_exits_enabled(True)
            self.uc.ctl_set_exits(exits)
        else:
            self.uc.ctl_exits_enabled(False)

    def flush_translations(self) -> None:
        """Drop translated blocks, so hooks added or removed since apply to all code."""
        # unicorn.py picks unicorn_py2 or _py3 on sys.version_info.major, which mypy does
        # not evaluate: it sees the py2 Uc, without ctl_flush_tb (py3's has it)
        self.uc.ctl_flush_tb()  # type: ignore[attr-defined]

    def hook_reads(self, callback) -> int:
        """callback(addr, size) before every data read the guest makes; remove with
        unhook (slow: for stepping one instruction at a time)."""
        h = self.uc.hook_add(unicorn.UC_HOOK_MEM_READ,
                             lambda _uc, _access, addr, size, _value, _ud: callback(addr, size))
        self._hooks.append(h)
        self._watching.add(h)
        return h

    def hook_data(self, callback, begin: int, end: int, *, reads: bool, writes: bool) -> int:
        """callback(is_write, addr, size, value) when a data access of the guest starts in
        [begin, end] (Unicorn filters on the access's first byte, with no Python call for
        other accesses); called during the instruction, whose pc is the machine's pc.
        Remove with unhook."""
        types = (unicorn.UC_HOOK_MEM_READ if reads else 0) | (
            unicorn.UC_HOOK_MEM_WRITE if writes else 0)
        write = unicorn.UC_MEM_WRITE
        h = self.uc.hook_add(
            types, lambda _uc, access, addr, size, value, _ud: callback(
                access == write, addr, size, value), None, begin, end)
        self._hooks.append(h)
        self._watching.add(h)
        return h

    def shared_handles(self) -> tuple:
        """Objects a deep copy of the kernel model must share rather than copy."""
        return (self.uc,)


# Unicorn's errors for a memory fault no hook handled: a run retries them with the hook.
_MEMORY_ERRORS = frozenset({unicorn.UC_ERR_READ_UNMAPPED, unicorn.UC_ERR_WRITE_UNMAPPED,
                            unicorn.UC_ERR_FETCH_UNMAPPED, unicorn.UC_ERR_READ_PROT,
                            unicorn.UC_ERR_WRITE_PROT, unicorn.UC_ERR_FETCH_PROT})

# How Machine.hook_bad_memory's callback names the access, and Stop.uc_errno's errors.
MEM_READ_UNMAPPED = unicorn.UC_MEM_READ_UNMAPPED
MEM_WRITE_UNMAPPED = unicorn.UC_MEM_WRITE_UNMAPPED
MEM_FETCH_UNMAPPED = unicorn.UC_MEM_FETCH_UNMAPPED
MEM_FETCH_PROT = unicorn.UC_MEM_FETCH_PROT
ERR_INSN_INVALID = unicorn.UC_ERR_INSN_INVALID
ERR_PROT = frozenset({unicorn.UC_ERR_READ_PROT, unicorn.UC_ERR_WRITE_PROT,
                      unicorn.UC_ERR_FETCH_PROT})

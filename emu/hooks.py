"""A machine's hooks: the callables Unicorn calls on a trap, an interrupt, a bad access or
instruction, a block or an instruction executed. A part of `Machine`."""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import unicorn
from unicorn import UcError
from unicorn import x86_const as X

from emu import registers as R
from emu.arch import Arch
from emu.uclib import hook_add as _hook_add
from emu.uclib import hook_del as _hook_del

# Unicorn's callback for a hooked rdtsc/rdtscp (uc_cb_insn_cpuid_t): returning 1 skips the
# instruction's own effect. The Python binding maps only IN/OUT/SYSCALL/SYSENTER/CPUID, so
# this hook is added through the C API directly.
_RDTSC_CB = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_void_p, ctypes.c_void_p)
# uc_cb_hookcode_t, for a block hook called straight through ctypes: ~0.4 us a block against
# ~1 us through the binding's wrapper (measured on a 4-instruction loop).
_BLOCK_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32,
                             ctypes.c_void_p)
# uc_cb_insn_syscall_t (syscall, sysenter) and uc_cb_hookintr_t, for the trap hooks called
# straight through ctypes: the binding's wrapper builds nothing we use and costs about half
# of an empty hook's time.
_TRAP_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
_INTR_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)


class Hooks:
    """The hook methods of `Machine`, which sets these attributes."""

    uc: unicorn.Uc
    arch: Arch
    _h: int
    _hooks: list[int]
    _callbacks: dict[int, object]
    _bad_memory: Callable | None  # hook_bad_memory's callback
    _watching: set[int]  # code and data hooks: a retried instruction would call them twice
    set_regs: Callable[..., None]  # Machine's register writes, for the rdtsc hook
    set_regs3: Callable[..., None]

    def hook_syscall(self, callback) -> None:
        """callback(uc, user_data) on `syscall`; the pc is already past the instruction."""
        self._hooks.append(
            self.uc.hook_add(unicorn.UC_HOOK_INSN, callback, None, 1, 0, X.UC_X86_INS_SYSCALL)
        )

    def hook_sysenter(self, callback) -> None:
        self._hooks.append(
            self.uc.hook_add(unicorn.UC_HOOK_INSN, callback, None, 1, 0, X.UC_X86_INS_SYSENTER)
        )

    def hook_syscall_fast(self, callback) -> None:
        """callback(handle, user_data) on `syscall`, called through ctypes without the
        binding's wrapper (the hot path of every x86-64 syscall; `handle` is the raw engine
        pointer). The callback must catch what it raises and pass it to `hook_failed`."""
        self._add_raw(_TRAP_CB(callback), unicorn.UC_HOOK_INSN, X.UC_X86_INS_SYSCALL)

    def hook_sysenter_fast(self, callback) -> None:
        """callback(handle, user_data) on `sysenter`, as hook_syscall_fast."""
        self._add_raw(_TRAP_CB(callback), unicorn.UC_HOOK_INSN, X.UC_X86_INS_SYSENTER)

    def hook_interrupt_fast(self, callback) -> None:
        """callback(handle, intno, user_data) for `int N` and CPU exceptions, as
        hook_syscall_fast (`int 0x80` is a syscall like the others)."""
        self._add_raw(_INTR_CB(callback), unicorn.UC_HOOK_INTR)

    def hook_code_fast(self, callback, begin: int, end: int) -> int:
        """callback(handle, addr, size, user_data) before each instruction in [begin, end],
        as hook_syscall_fast (code elsewhere keeps full speed: Unicorn adds the call only to
        instructions translated inside the range)."""
        # uc_cb_hookcode_t has the block hook's signature
        return self._add_raw(_BLOCK_CB(callback), unicorn.UC_HOOK_CODE, begin=begin, end=end)

    def hook_failed(self, error: BaseException) -> None:
        """For a hook added through ctypes that raised: what the binding does for its own
        hooks. The first error is kept, the CPU stops, and `run` raises it."""
        uc = self.uc
        if getattr(uc, "_hook_exception", None) is None:
            uc._hook_exception = error  # type: ignore[attr-defined]
        uc.emu_stop()

    def _add_raw(self, cb, kind: int, *insn: int, begin: int = 1, end: int = 0) -> int:
        """Add a ctypes callback as a hook of `kind` over [begin, end] (1, 0: everywhere)."""
        handle = ctypes.c_size_t()
        err = _hook_add(self._h, ctypes.byref(handle), kind, cb, None, ctypes.c_uint64(begin),
                        ctypes.c_uint64(end), *[ctypes.c_int(i) for i in insn])
        if err:
            raise UcError(err)
        self._callbacks[handle.value] = cb  # kept alive while hooked
        self._hooks.append(handle.value)
        return handle.value

    def hook_interrupt(self, callback) -> None:
        """callback(uc, intno, user_data) for `int N` and CPU exceptions."""
        self._hooks.append(self.uc.hook_add(unicorn.UC_HOOK_INTR, callback))

    def hook_bad_memory(self, callback) -> None:
        """callback(uc, access, addr, size, value, user_data) -> bool on an invalid access.
        Machine.run installs it only for a run that needs it: a hook over all memory puts
        every store on Unicorn's slow path (emu/tlb.py)."""
        self._bad_memory = callback

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
        self._watching.add(h)
        return h

    def hook_block_fast(self, callback) -> int:
        """callback(handle, addr, size, user_data) at the start of every translated block
        executed, called through ctypes without the binding's wrapper (the hot path of
        instruction counting); `handle` is the raw engine pointer, not a Uc."""
        return self._add_raw(_BLOCK_CB(callback), unicorn.UC_HOOK_BLOCK)

    def hook_rdtsc(self, read) -> None:
        """Make the guest's `rdtsc` and `rdtscp` return `read()` (a 64-bit count) instead of
        the host's TSC (rdtscp's TSC_AUX, the CPU number, is 0). Unicorn calls the hook only
        when the guest executes one of them: other code keeps full speed."""
        wide = self.arch.bits == 64
        ax, dx, cx = ((R.RAX, R.RDX, R.RCX) if wide else
                      (R.EAX, R.EDX, R.ECX))

        def on_rdtsc(_uc, _user_data):
            value = read()
            self.set_regs((ax, dx), (value & 0xFFFFFFFF, (value >> 32) & 0xFFFFFFFF))
            return 1

        def on_rdtscp(_uc, _user_data):
            value = read()
            self.set_regs3((ax, dx, cx), value & 0xFFFFFFFF, (value >> 32) & 0xFFFFFFFF, 0)
            return 1

        for insn, fn in ((X.UC_X86_INS_RDTSC, on_rdtsc), (X.UC_X86_INS_RDTSCP, on_rdtscp)):
            self._add_raw(_RDTSC_CB(fn), unicorn.UC_HOOK_INSN, insn)

    def unhook(self, handle: int) -> None:
        if handle in self._callbacks:  # added through ctypes: not the binding's to delete
            err = _hook_del(self._h, ctypes.c_size_t(handle))
            if err:
                raise UcError(err)
            del self._callbacks[handle]
        else:
            self.uc.hook_del(handle)
        self._hooks.remove(handle)
        self._watching.discard(handle)

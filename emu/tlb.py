"""How a CPU's TLB is filled, so that a guest's stores stay on Unicorn's fast path.

Unicorn 2.1.4 (docs/kernel_facts.md §7, "What a guest store costs") sends every store to a
page through its slow path (~45 ns) while the page's TLB entry allows execution, or while any
memory hook's range covers the page. Its default TLB (UC_TLB_CPU) runs the x86 CPU without
paging, so every entry allows execution: every `push`, `call` and store paid. In virtual TLB
mode the entry holds the permissions a fill callback gives. Unicorn's own default callback
grants only the access being made, so a load after a store to the same page refills the
entry (a call/ret pair ~150 ns). This fill grants read and write to every data access, and
execution as well only to fetches.

Protection is unchanged: Unicorn checks each mapping's own permissions when it fills, and
calls the fault hooks or stops, as before. A page the guest executes keeps Unicorn's
self-modifying-code check (its entry allows execution)."""

from __future__ import annotations

import ctypes

import unicorn

from emu.uclib import hook_add


class _Entry(ctypes.Structure):
    _fields_ = (("paddr", ctypes.c_uint64), ("perms", ctypes.c_uint32))


# uc_cb_tlbevent_t: bool (uc_engine *, uint64_t vaddr, uc_mem_type, uc_tlb_entry *, void *)
_FILL_CB = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int,
                            ctypes.POINTER(_Entry), ctypes.c_void_p)
_DATA = unicorn.UC_PROT_READ | unicorn.UC_PROT_WRITE
_CODE = _DATA | unicorn.UC_PROT_EXEC
_FETCH = unicorn.UC_MEM_FETCH
_PAGE_MASK = ~0xFFF
_PAGE_MASK_32 = 0xFFFFF000


_EXEC = unicorn.UC_PROT_EXEC


def _filler(bits: int, execute_only: set[int]):
    """The fill for one CPU. A fetch from a page in `execute_only` (the pages the machine
    maps PROT_EXEC alone: the xonly vsyscall page) gets execution alone: Unicorn checks a
    mapping's permissions only when it fills an entry, so an entry a fetch filled with read
    as well would let later loads from the page through unchecked. An i386 CPU's segment
    base plus offset wraps at 4 GiB (as the default TLB's fill does outside long mode: a
    16-bit segment's `ip` below its base reaches low memory)."""
    mask = _PAGE_MASK if bits == 64 else _PAGE_MASK_32

    def fill(_uc, vaddr: int, access: int, entry, _user_data) -> bool:
        e = entry[0]
        page = vaddr & mask  # one flat address space: guest address = Unicorn's
        e.paddr = page
        if access == _FETCH:
            e.perms = _EXEC if execute_only and page in execute_only else _CODE
        else:
            e.perms = _DATA
        return True

    return _FILL_CB(fill)


def use_virtual_tlb(uc: unicorn.Uc, bits: int, execute_only: set[int]):
    """Switch `uc`, a CPU of `bits` (64: long mode), to virtual TLB mode with the fill
    above (before it runs). Returns the callback, which the caller keeps alive as long as
    the CPU."""
    # unicorn/__init__.py picks its py2 or py3 Uc on sys.version_info.major, which mypy does
    # not evaluate: it sees the py2 class, which lacks this method.
    uc.ctl_set_tlb_mode(unicorn.UC_TLB_VIRTUAL)  # type: ignore[attr-defined]
    fill = _filler(bits, execute_only)
    handle = ctypes.c_size_t()
    err = hook_add(uc._uch, ctypes.byref(handle), unicorn.UC_HOOK_TLB_FILL, fill, None,
                   ctypes.c_uint64(1), ctypes.c_uint64(0))
    if err:
        raise unicorn.UcError(err)
    return fill

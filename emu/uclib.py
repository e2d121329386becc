"""A second handle on Unicorn's C library, without the Python wrapper's argument
conversion: register access and ctypes hooks on the hot paths go through these."""

from __future__ import annotations

import ctypes

import unicorn.unicorn_py3.unicorn as _uc_impl

_lib = ctypes.CDLL(_uc_impl.uclib._name)
reg_read = _lib.uc_reg_read
reg_write = _lib.uc_reg_write
reg_read_batch = _lib.uc_reg_read_batch
reg_write_batch = _lib.uc_reg_write_batch
hook_add = _lib.uc_hook_add
# uc_mem_read(uc, uint64 address, void *bytes, uint64 size): typed, or ctypes would pass the
# address as a C int.
mem_read = _lib.uc_mem_read
mem_read.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64]
mem_read.restype = ctypes.c_int
mem_write = _lib.uc_mem_write
mem_write.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_char_p, ctypes.c_uint64]
mem_write.restype = ctypes.c_int
hook_add.restype = ctypes.c_int
hook_del = _lib.uc_hook_del
hook_del.restype = ctypes.c_int

# The same batched register calls, made without releasing the GIL (ctypes.PyDLL): for the
# trap hooks, which call them twice per syscall; they are short and never call back.
_held = ctypes.PyDLL(_uc_impl.uclib._name)
reg_read_batch_held = _held.uc_reg_read_batch
reg_write_batch_held = _held.uc_reg_write_batch

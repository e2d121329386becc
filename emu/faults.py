"""Why a guest memory access or a run failed, in the machine's terms: the access kinds a
bad-memory hook receives and the error codes a `Stop` carries (Unicorn's numbers, named
here so that only emu/ imports Unicorn)."""

from __future__ import annotations

import unicorn as _uc

# The error Unicorn raises when a call into the CPU fails (a bad register, a bad address).
MachineError = _uc.UcError

# access kinds, as passed to a hook_bad_memory callback
MEM_READ_UNMAPPED = _uc.UC_MEM_READ_UNMAPPED
MEM_WRITE_UNMAPPED = _uc.UC_MEM_WRITE_UNMAPPED
MEM_FETCH_UNMAPPED = _uc.UC_MEM_FETCH_UNMAPPED
MEM_READ_PROT = _uc.UC_MEM_READ_PROT
MEM_WRITE_PROT = _uc.UC_MEM_WRITE_PROT
MEM_FETCH_PROT = _uc.UC_MEM_FETCH_PROT

# Stop.uc_errno values
ERR_INSN_INVALID = _uc.UC_ERR_INSN_INVALID
ERR_READ_PROT = _uc.UC_ERR_READ_PROT
ERR_WRITE_PROT = _uc.UC_ERR_WRITE_PROT
ERR_FETCH_PROT = _uc.UC_ERR_FETCH_PROT
ERR_READ_UNMAPPED = _uc.UC_ERR_READ_UNMAPPED
ERR_WRITE_UNMAPPED = _uc.UC_ERR_WRITE_UNMAPPED
ERR_FETCH_UNMAPPED = _uc.UC_ERR_FETCH_UNMAPPED

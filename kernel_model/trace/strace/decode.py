"""Decoding one call: the argument kinds' texts, then the syscall's own special case."""

from __future__ import annotations

from kernel_model.trace.strace.kinds import (
    CallDecoding,
    CallDef,
    GuestMemory,
    entry_text,
    exit_text,
)
from kernel_model.trace.strace.line import ArgTexts
from kernel_model.trace.strace.specials import SPECIAL
from kernel_model.trace.strace.values import BITS, abi_name, signed
from kernel_model.uapi.constants import chex


def decode_entry(sdef: CallDef, abi, args, mem: GuestMemory,
                 string_limit: int = 32) -> ArgTexts:
    """Texts of the arguments known at entry; None for those shown after the call."""
    call = CallDecoding(sdef, abi_name(abi), tuple(args), mem, string_limit)
    texts = ArgTexts(entry_text(call, i, kind) for i, kind in enumerate(sdef.args))
    special = _special(sdef)
    if special is not None:
        special(call, texts)
    return texts


def decode_exit(sdef: CallDef, abi, args, ret: int | None, mem: GuestMemory,
                entry_texts: list[str | None] | None, string_limit: int = 32) -> ArgTexts:
    """Every argument's text once the call returned `ret` (signed; -errno on failure)."""
    if entry_texts is None:
        entry_texts = decode_entry(sdef, abi, args, mem, string_limit)
    abi = abi_name(abi)
    if ret is not None:  # a raw register value works too: -errno is what matters
        ret = signed(ret, BITS[abi])
    call = CallDecoding(sdef, abi, tuple(args), mem, string_limit, ret, exiting=True)
    texts = ArgTexts(entry_texts)
    # What a decoder kept at entry (a length the call both reads and writes).
    texts.__dict__.update(getattr(entry_texts, "__dict__", {}))
    for i, kind in enumerate(sdef.args):
        if texts[i] is None and kind.out:
            texts[i] = exit_text(call, i, kind)
    special = _special(sdef)
    if special is not None:
        special(call, texts)
    for i, text in enumerate(texts):
        if text is None:  # anything a special left undecided
            texts[i] = chex(call.arg(i))
    return texts


def _special(sdef: CallDef):
    """strace's own case for this syscall, if it has one (a definition may opt out)."""
    return SPECIAL.get(sdef.name) if getattr(sdef, "special_cases", True) else None

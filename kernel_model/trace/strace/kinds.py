"""One call being decoded, and the text of each argument kind
(kernel_model.syscalls.argkinds) at entry and after the return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kernel_model.syscalls import argkinds as K
from kernel_model.trace.strace.quote import path_text, str_text
from kernel_model.trace.strace.struct_printers import sigset_text, struct_text
from kernel_model.trace.strace.values import BITS, addr_text, is_error, signed
from kernel_model.uapi import constants as C
from kernel_model.uapi import structs as S
from kernel_model.uapi.constants import chex, coct


class GuestMemory(Protocol):
    """What the decoder reads guest memory through; both raise for a bad address."""

    def read(self, addr: int, size: int) -> bytes: ...

    def read_cstring(self, addr: int, limit: int) -> bytes: ...


class CallDef(Protocol):
    """What the decoder needs of a call's declaration (a SyscallDef, a UserCallDef)."""

    @property
    def name(self) -> str: ...

    @property
    def args(self) -> tuple[K.Kind, ...]: ...


# Calls whose kinds strace prints its own way.
HEX_BUFFERS = {"getrandom"}  # strace shows these buffers as \x.. bytes
SIGSET_SIZE_ARG = {"rt_sigprocmask": 3, "rt_sigpending": 1, "rt_sigsuspend": 1,
                   "rt_sigtimedwait": 3, "rt_sigtimedwait_time64": 3}
OLD_SIGSET_CALLS = {"sigprocmask", "sigpending", "sigsuspend"}  # word-sized masks


@dataclass
class CallDecoding:
    """What the kinds and specials see of one call: its arguments, memory, and (once it
    returned) its result."""

    sdef: CallDef
    abi: str
    args: tuple[int, ...]
    mem: GuestMemory
    limit: int
    ret: int | None = None
    exiting: bool = False

    @property
    def bits(self) -> int:
        return BITS[self.abi]

    def arg(self, i: int) -> int:
        return self.args[i] & ((1 << self.bits) - 1) if i < len(self.args) else 0

    def int_arg(self, i: int) -> int:
        return signed(self.arg(i), 32)

    @property
    def failed(self) -> bool:
        return is_error(self.ret)


# -- argument kinds --------------------------------------------------------------------------
def entry_text(call: CallDecoding, i: int, kind) -> str | None:
    """An in-argument's text at entry; None for the ones shown after the call."""
    if kind.out:
        return None
    v = call.arg(i)
    match kind:
        case K.Int() | K.Fd():
            return str(signed(v, 32))
        case K.Long():
            return str(signed(v, call.bits))
        case K.UInt():
            return str(v)
        case K.Hex():
            return chex(v)
        case K.Ptr():
            return addr_text(v)
        case K.DirFd():
            fd = signed(v, 32)
            return "AT_FDCWD" if fd == C.AT_FDCWD else str(fd)
        case K.Uid(bits=b):
            mask = (1 << b) - 1
            return "-1" if v & mask == mask else str(v & mask)
        case K.Mode():
            return coct(v & 0xFFFFFFFF)
        case K.Path():
            return path_text(call.mem, v)
        case K.InBuf(size_arg=n):
            return str_text(call.mem, v, call.arg(n), call.limit)
        case K.Flags(set=name):
            return C.flags_text(name, v, call.abi)
        case K.Enum(set="signal") | K.Signal():
            return C.signal_text(v)
        case K.Enum(set=name):
            return C.enum_text(name, v, call.abi)
        case K.InStruct(struct=name):
            return struct_text(name, call.abi, call.mem, v)
        case K.SigSet():
            return sigset_arg(call, v)
        case K.Iovec(count_arg=n):
            return iovec_text(call, v, call.arg(n), data_size=None)
    return chex(v)


def exit_text(call: CallDecoding, i: int, kind) -> str:
    """An out-argument's text once the call returned: the raw address if it failed."""
    v = call.arg(i)
    match kind:
        case K.Iovec(count_arg=n):  # readv: the array is shown even when the call failed
            return iovec_text(call, v, call.arg(n), data_size=None if call.failed else call.ret,
                               addresses_only=call.failed)
    if call.failed or call.ret is None:
        return addr_text(v)
    match kind:
        case K.OutBuf():
            return str_text(call.mem, v, call.ret, call.limit,
                            force_hex=call.sdef.name in HEX_BUFFERS)
        case K.OutStr():
            return str_text(call.mem, v, call.ret, call.limit, omit_trailing_nul=True)
        case K.OutStruct(struct=name) | K.InOutStruct(struct=name):
            return struct_text(name, call.abi, call.mem, v)
        case K.OutSigSet():
            return sigset_arg(call, v)
    return chex(v)


def sigset_arg(call: CallDecoding, addr: int) -> str:
    """A sigset_t pointer; its size is the call's sigsetsize argument where it has one,
    and strace shows the address when that size is not one it accepts."""
    size_arg = SIGSET_SIZE_ARG.get(call.sdef.name)
    size = call.arg(size_arg) if size_arg is not None else (
        call.bits // 8 if call.sdef.name in OLD_SIGSET_CALLS else C.NSIG_BYTES)
    if addr == 0:
        return "NULL"
    if size < call.bits // 8 or size > C.NSIG_BYTES:
        return addr_text(addr)
    try:
        return sigset_text(call.mem.read(addr, size))
    except Exception:
        return addr_text(addr)


def iovec_text(call: CallDecoding, addr: int, count: int, data_size: int | None,
                addresses_only: bool = False) -> str:
    """[{iov_base="hello\\n", iov_len=6}, ...]: at most `limit` elements; for readv only
    the `data_size` bytes the call returned are shown."""
    if addr == 0:
        return "NULL"
    if count == 0:
        return "[]"
    elem = S.sizeof("iovec", call.abi)
    items = []
    for idx in range(count):
        cur = addr + idx * elem
        try:
            iov = S.unpack("iovec", call.abi, call.mem.read(cur, elem))
        except Exception:
            if idx == 0:
                return addr_text(addr)
            items.append(f"... /* {addr_text(cur)} */")
            break
        if idx >= call.limit:
            items.append("...")
            break
        base, length = iov["iov_base"], iov["iov_len"]
        shown = length if data_size is None else min(length, data_size)
        if data_size is not None:
            data_size -= shown
        base_text = (addr_text(base) if addresses_only
                     else str_text(call.mem, base, shown, call.limit))
        items.append(f"{{iov_base={base_text}, iov_len={length}}}")
    return "[" + ", ".join(items) + "]"

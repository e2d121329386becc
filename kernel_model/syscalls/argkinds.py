"""Argument kinds: what each syscall argument is, so one declaration drives both the
handler's registration and the strace decoding (as Blink's and usercorn's tables do)."""

from __future__ import annotations

from dataclasses import dataclass


class Kind:
    """Base of every argument kind. `out` kinds are decoded after the call returns."""

    out = False


@dataclass(frozen=True)
class Int(Kind):
    """A signed int (32-bit in C: `int`)."""


@dataclass(frozen=True)
class Long(Kind):
    """A signed long / off_t: the ABI's word, signed."""


@dataclass(frozen=True)
class UInt(Kind):
    """An unsigned count or size, printed in decimal."""


@dataclass(frozen=True)
class Hex(Kind):
    """A value best shown in hex (addresses given as numbers, masks)."""


@dataclass(frozen=True)
class Ptr(Kind):
    """A pointer shown as an address or NULL, not dereferenced."""


@dataclass(frozen=True)
class Fd(Kind):
    """A file descriptor."""


@dataclass(frozen=True)
class DirFd(Kind):
    """A directory fd for *at calls: AT_FDCWD by name."""


@dataclass(frozen=True)
class Uid(Kind):
    """A user or group id of `bits` bits: all ones is -1 ("leave it"), else unsigned."""

    bits: int = 32


@dataclass(frozen=True)
class Mode(Kind):
    """File permission bits, in octal."""


@dataclass(frozen=True)
class Path(Kind):
    """A NUL-terminated path the kernel reads."""


@dataclass(frozen=True)
class InBuf(Kind):
    """Bytes the kernel reads; their count is argument `size_arg`."""

    size_arg: int


@dataclass(frozen=True)
class OutBuf(Kind):
    """Bytes the kernel writes: as many as the call returns."""

    size_arg: int | None = None
    out = True


@dataclass(frozen=True)
class OutStr(Kind):
    """A string the kernel writes (getcwd, readlink): as many bytes as the call returns."""

    out = True


@dataclass(frozen=True)
class Flags(Kind):
    """Bits named from a flag set in kernel_model.uapi.constants (e.g. "open", "prot", "map")."""

    set: str


@dataclass(frozen=True)
class Enum(Kind):
    """One value named from a set in kernel_model.uapi.constants (e.g. "clock", "whence")."""

    set: str


@dataclass(frozen=True)
class Signal(Kind):
    """A signal number: SIGSEGV."""


@dataclass(frozen=True)
class InStruct(Kind):
    """A struct the kernel reads (name from kernel_model.uapi.structs)."""

    struct: str


@dataclass(frozen=True)
class OutStruct(Kind):
    """A struct the kernel fills in; shown after the call when it succeeded."""

    struct: str
    out = True


@dataclass(frozen=True)
class InOutStruct(Kind):
    """A struct read on entry and written on success (shown as after the call)."""

    struct: str
    out = True


@dataclass(frozen=True)
class Iovec(Kind):
    """An iovec array of `count_arg` entries; `out` for readv, whose buffers are filled."""

    count_arg: int
    writes: bool = False

    @property
    def out(self) -> bool:  # type: ignore[override]
        return self.writes


@dataclass(frozen=True)
class SigSet(Kind):
    """A sigset_t the kernel reads."""


@dataclass(frozen=True)
class OutSigSet(Kind):
    out = True

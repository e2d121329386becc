"""Argument kinds: what each syscall argument is, so one declaration drives both the
handler's registration and the strace decoding (as Blink's and usercorn's tables do)."""

from __future__ import annotations

from emu.records import Record


class Kind(Record):
    """Base of every argument kind. `out` kinds are decoded after the call returns. Kinds
    are Records (emu.records), not dataclasses: there are ~20 of them."""

    out = False


class Int(Kind):
    """A signed int (32-bit in C: `int`)."""


class Long(Kind):
    """A signed long / off_t: the ABI's word, signed."""


class UInt(Kind):
    """An unsigned count or size, printed in decimal."""


class Hex(Kind):
    """A value best shown in hex (addresses given as numbers, masks)."""


class Ptr(Kind):
    """A pointer shown as an address or NULL, not dereferenced."""


class Fd(Kind):
    """A file descriptor."""


class DirFd(Kind):
    """A directory fd for *at calls: AT_FDCWD by name."""


class Uid(Kind):
    """A user or group id of `bits` bits: all ones is -1 ("leave it"), else unsigned."""

    _fields = ("bits",)
    bits: int

    def __init__(self, bits: int = 32) -> None:
        object.__setattr__(self, "bits", bits)


class Mode(Kind):
    """File permission bits, in octal."""


class Path(Kind):
    """A NUL-terminated path the kernel reads."""


class InBuf(Kind):
    """Bytes the kernel reads; their count is argument `size_arg`."""

    _fields = ("size_arg",)
    size_arg: int

    def __init__(self, size_arg: int) -> None:
        object.__setattr__(self, "size_arg", size_arg)


class OutBuf(Kind):
    """Bytes the kernel writes: as many as the call returns."""

    _fields = ("size_arg",)
    size_arg: int | None
    out = True

    def __init__(self, size_arg: int | None = None) -> None:
        object.__setattr__(self, "size_arg", size_arg)


class OutStr(Kind):
    """A string the kernel writes (getcwd, readlink): as many bytes as the call returns."""

    out = True


class Flags(Kind):
    """Bits named from a flag set in kernel_model.uapi.constants (e.g. "open", "prot", "map")."""

    _fields = ("set",)
    set: str

    def __init__(self, set: str) -> None:  # noqa: A002  (the field's name, a keyword)
        object.__setattr__(self, "set", set)


class Enum(Kind):
    """One value named from a set in kernel_model.uapi.constants (e.g. "clock", "whence")."""

    _fields = ("set",)
    set: str

    def __init__(self, set: str) -> None:  # noqa: A002  (the field's name, a keyword)
        object.__setattr__(self, "set", set)


class Signal(Kind):
    """A signal number: SIGSEGV."""


class InStruct(Kind):
    """A struct the kernel reads (name from kernel_model.uapi.structs)."""

    _fields = ("struct",)
    struct: str

    def __init__(self, struct: str) -> None:
        object.__setattr__(self, "struct", struct)


class OutStruct(Kind):
    """A struct the kernel fills in; shown after the call when it succeeded."""

    _fields = ("struct",)
    struct: str
    out = True

    def __init__(self, struct: str) -> None:
        object.__setattr__(self, "struct", struct)


class InOutStruct(Kind):
    """A struct read on entry and written on success (shown as after the call)."""

    _fields = ("struct",)
    struct: str
    out = True

    def __init__(self, struct: str) -> None:
        object.__setattr__(self, "struct", struct)


class Iovec(Kind):
    """An iovec array of `count_arg` entries; `out` for readv, whose buffers are filled."""

    _fields = ("count_arg", "writes")
    count_arg: int
    writes: bool

    def __init__(self, count_arg: int, writes: bool = False) -> None:
        object.__setattr__(self, "count_arg", count_arg)
        object.__setattr__(self, "writes", writes)

    @property
    def out(self) -> bool:  # type: ignore[override]
        return self.writes


class SigSet(Kind):
    """A sigset_t the kernel reads."""


class OutSigSet(Kind):
    out = True

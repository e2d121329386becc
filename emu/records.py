"""Small frozen records written as plain classes, for modules that define many of them
(here in emu, the lowest layer, so that every layer may use them).

A Record behaves as a frozen dataclass does: compared (==, hash) by class and field values,
shown as `Name(field=value, ...)`, and any assignment raises FrozenInstanceError. Each
@dataclass costs about half a millisecond to create (it compiles its methods from
generated source), which a module of twenty of them pays at every start (issue 16); a
Record's methods are written once, here. A subclass names its fields in `_fields`, in
order (also its positional match pattern), and sets them in its own __init__ with
object.__setattr__. Not for a class someone copies with dataclasses.replace (a Record is
not a dataclass: replace, fields and asdict refuse it)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError


class Record:
    __slots__ = ()
    _fields: tuple[str, ...] = ()
    __match_args__: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "_fields" in cls.__dict__ and "__match_args__" not in cls.__dict__:
            # positional patterns, as a dataclass's
            type.__setattr__(cls, "__match_args__", cls._fields)

    def _values(self) -> tuple:
        return tuple(getattr(self, f) for f in self._fields)

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__qualname__}({fields})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()  # type: ignore[attr-defined]
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    # Pickling and copying: the field values, set back past the frozen __setattr__ (as a
    # frozen dataclass with slots does; a subclass may have slots).
    def __getstate__(self) -> tuple:
        return self._values()

    def __setstate__(self, state: tuple | dict) -> None:
        # a dict: the state of a record pickled when it was a dataclass
        pairs = state.items() if isinstance(state, dict) else zip(self._fields, state,
                                                                   strict=True)
        for f, v in pairs:
            object.__setattr__(self, f, v)

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

"""Kernel eras for the history lesson: how the vsyscall page and the vDSO looked in a given
release (docs/kernel_facts.md §4, §5). `--kernel ERA` presets them; individual options override."""

from __future__ import annotations

from emu.records import Record

VSYSCALL_MODES = ("native", "emulate", "xonly", "none")


class Era(Record):
    _fields = ("name", "release", "vsyscall", "vdso64", "vvar_layout", "note")
    name: str
    release: str  # uname -r
    vsyscall: str  # the default vsyscall= mode of that era
    vdso64: bool  # whether x86-64 processes get a vDSO
    # How the vDSO's data shows in /proc/self/maps: () before 3.16 (the data lived in the
    # fixmap/vsyscall area, not in the process's map), then [vvar], then [vvar] +
    # [vvar_vclock] since 6.13. Each entry: (name, pages).
    vvar_layout: tuple[tuple[str, int], ...]
    note: str

    def __init__(
            self, name: str, release: str, vsyscall: str, vdso64: bool,
            vvar_layout: tuple[tuple[str, int], ...], note: str,
    ) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "release", release)
        object.__setattr__(self, "vsyscall", vsyscall)
        object.__setattr__(self, "vdso64", vdso64)
        object.__setattr__(self, "vvar_layout", vvar_layout)
        object.__setattr__(self, "note", note)

    @property
    def version(self) -> tuple[int, int]:
        """(major, minor) of the release: what syscalls whose rules changed compare."""
        major, minor = self.release.split(".")[:2]
        return int(major), int(minor)


ERAS: dict[str, Era] = {
    "2.6.18": Era("2.6.18", "2.6.18-syscall-lab", "native", False, (),
                  "vsyscall page with real code and the kernel's time variables; no x86-64 "
                  "vDSO yet"),
    "2.6.33": Era("2.6.33", "2.6.33-syscall-lab", "native", True, (),
                  "the x86-64 vDSO serves the time; the native vsyscall page is still there"),
    "3.2": Era("3.2", "3.2.0-syscall-lab", "emulate", True, (),
               "vsyscall=emulate by default: executing the page traps and the kernel "
               "emulates the call"),
    "5.3": Era("5.3", "5.3.0-syscall-lab", "xonly", True, (("[vvar]", 4),),
               "vsyscall=xonly: the page can be executed (emulated) but not read"),
    "6.18": Era("6.18", "6.18.0-syscall-lab", "xonly", True, (("[vvar]", 4),
                                                             ("[vvar_vclock]", 2)),
                "today: [vvar], [vvar_vclock], [vdso]; vsyscall xonly"),
}
DEFAULT_ERA = "6.18"


def era_named(name: str) -> Era:
    try:
        return ERAS[name]
    except KeyError:
        raise ValueError(f"unknown --kernel {name!r} (choose {', '.join(ERAS)})") from None

"""The memory map panel: the process's /proc/self/maps, one region a line, coloured by kind
(code, data, heap, stack, vvar, vdso, vsyscall), with the region holding the pc and the one
holding sp marked."""

from __future__ import annotations

from tui.panels.fit import clip

KIND_ROLES = {"code": "kind-code", "data": "kind-data", "heap": "kind-heap",
              "stack": "kind-stack", "vdso": "kind-vdso", "vvar": "kind-vvar",
              "vsyscall": "kind-vsyscall", "anon": "kind-anon", "file": "kind-data"}


def maps_lines(view, *, width: int = 100) -> list[list[tuple[str, str]]]:
    lines = []
    wide = width >= 90
    for m in view.maps:
        role = KIND_ROLES.get(m.kind, "kind-anon")
        mark = "◀ pc" if m.has_pc else "◀ sp" if m.has_sp else ""
        if wide:
            text = m.text
        else:  # start-end perms name, without offset, device and inode
            text = f"{m.start:x}-{m.end:x} {m.perms} {m.name}"
        room = width - 6
        lines.append([(clip(text, room), role), ("  " + mark if mark else "", "pc" if m.has_pc
                                            else "reg-name")])
    return lines

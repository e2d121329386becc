"""The model's mount table, as /proc/mounts and /proc/<pid>/mountinfo show it
(fs/proc_namespace.c: show_vfsmnt, show_mountinfo).

Each file system the guest's tree is made of is one mount: the read-only root, proc,
devtmpfs on /dev, a tmpfs on /dev/shm and one on /tmp, the library directories
(sysroot.py), each --mount directory and the bundled programs. A shared host directory is
shown as UML's "hostfs" (a host directory mounted into a guest kernel, which is what it
is); its source is "none", so the host's path never reaches the guest through this table
either."""

from __future__ import annotations

from emu.records import Record

# The first mount id a fresh namespace's mounts get after the invisible initial rootfs (1).
FIRST_MOUNT_ID = 21


class Mount(Record):
    _fields = ("source", "target", "fstype", "options", "dev", "super_options")
    source: str  # mnt_devname
    target: str  # the mount point, a canonical guest path
    fstype: str
    options: str  # the mount's flags (ro/rw, nosuid...) then the file system's own
    dev: tuple[int, int]
    super_options: str = "rw"  # the superblock's flags and options (mountinfo's last field)

    def __init__(
            self, source: str, target: str, fstype: str, options: str, dev: tuple[int, int],
            super_options: str = "rw",
    ) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "fstype", fstype)
        object.__setattr__(self, "options", options)
        object.__setattr__(self, "dev", dev)
        object.__setattr__(self, "super_options", super_options)

    def mounts_line(self) -> str:
        return f"{self.source} {_escape(self.target)} {self.fstype} {self.options} 0 0\n"


def _escape(path: str) -> str:
    """mangle(): space, tab, newline and backslash as octal escapes."""
    return "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in path)


def mounts_text(table: list[Mount]) -> str:
    return "".join(m.mounts_line() for m in table)


def mount_ids(table: list[Mount]) -> dict[str, int]:
    """Each mount's id, by mount point: the order a boot mounts them."""
    return {m.target: FIRST_MOUNT_ID + i for i, m in enumerate(table)}


def mount_id_of(table: list[Mount], dev: tuple[int, int]) -> int:
    """The id of the mount holding a file of device dev, as statx's stx_mnt_id gives it.
    Pipes, sockets and anonymous inodes live on the kernel's internal mounts (pipefs,
    sockfs...), made at boot before any of these, with ids that depend on the boot: 0 here."""
    for m in table:
        if m.dev == dev:
            return mount_ids(table)[m.target]
    return 0


def mountinfo_text(table: list[Mount]) -> str:
    """One line per mount: id, parent id, major:minor, the root of the mount within its
    file system, the mount point, the per-mount options, "-", the type, the source and the
    superblock's options. The parent is the mount holding the mount point's directory."""
    ids = mount_ids(table)
    lines = []
    for m in table:
        parent = 1
        if m.target != "/":
            holders = [t for t in ids if t != m.target and
                       (t == "/" or m.target.startswith(t.rstrip("/") + "/"))]
            parent = ids[max(holders, key=len)] if holders else 1
        flags = ",".join(o for o in m.options.split(",")
                         if o in ("ro", "rw", "nosuid", "nodev", "noexec", "relatime",
                                  "noatime", "strictatime"))
        lines.append(f"{ids[m.target]} {parent} {m.dev[0]}:{m.dev[1]} / "
                     f"{_escape(m.target)} {flags} - {m.fstype} {m.source} "
                     f"{m.super_options}\n")
    return "".join(lines)

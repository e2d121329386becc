"""/etc: the handful of files a libc reads to name users, groups and the host
(getpwuid, getgrgid, gethostbyname, glibc's NSS configuration), generated from the model
rather than borrowed from the host; and, copied from the host (or --sysroot), the dynamic
loader's ld.so.cache and ld.so.conf (sysroot.py).

The users are the model's own: root always, the run's user when it is another uid
("student", its home under /home), and nobody/nogroup (65534, the overflow ids
/proc/sys/kernel/overflowuid reports). The host name is uname's nodename. Every file is
regenerated when it is opened, so a run whose user is set after the tree was built (or
that changes it) reads what the model holds then; stat reports the text's real length, as
for any regular file on a read-only root."""

from __future__ import annotations

from typing import Callable

from kernel_model.files.file import SnapshotFile
from kernel_model.files.inode import Inode
from kernel_model.files.synthetic import ROOT_DEV, InodeNumbers, StaticDir
from kernel_model.files.uapi import S_IFREG

NODENAME = "syscall-lab"  # uname's nodename (syscalls/info.py reads it from here)
OVERFLOW_ID = 65534  # overflowuid/overflowgid: "nobody", "nogroup"
USER_NAME = "student"  # the run's user when it is not root


def run_ids(processes) -> tuple[int, int]:
    """The run's user and group: those of the process the user ran (root by default)."""
    first = getattr(processes, "first", None)
    creds = getattr(first, "creds", None)  # a credentials object, where the model has one
    source = creds if creds is not None else first
    return int(getattr(source, "uid", 0)), int(getattr(source, "gid", 0))


def passwd_text(uid: int, gid: int) -> str:
    lines = ["root:x:0:0:root:/root:/bin/sh"]
    if uid not in (0, OVERFLOW_ID):
        lines.append(f"{USER_NAME}:x:{uid}:{gid}:{USER_NAME}:/home/{USER_NAME}:/bin/sh")
    lines.append(f"nobody:x:{OVERFLOW_ID}:{OVERFLOW_ID}:nobody:/nonexistent:"
                 "/usr/sbin/nologin")
    return "\n".join(lines) + "\n"


def group_text(uid: int, gid: int) -> str:
    lines = ["root:x:0:"]
    if gid not in (0, OVERFLOW_ID):
        lines.append(f"{USER_NAME}:x:{gid}:")
    lines.append(f"nogroup:x:{OVERFLOW_ID}:")
    return "\n".join(lines) + "\n"


def hosts_text() -> str:
    return ("127.0.0.1\tlocalhost\n"
            f"127.0.1.1\t{NODENAME}\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n")


# glibc reads this before any lookup (a static binary too: nss_files is built into libc
# since 2.34); "files" for everything is what a machine without NIS, LDAP or systemd's
# modules has.
NSSWITCH = ("passwd:         files\n"
            "group:          files\n"
            "shadow:         files\n"
            "hosts:          files\n"
            "networks:       files\n"
            "protocols:      files\n"
            "services:       files\n"
            "ethers:         files\n"
            "rpc:            files\n"
            "netgroup:       files\n")


class EtcFile(Inode):
    """A read-only regular file whose text is made at each open (and each stat)."""

    def __init__(self, ino: int, make, created_ns: int):
        self.dev = ROOT_DEV
        self.ino = ino
        self.mode = S_IFREG | 0o644
        self.make = make
        self.created_ns = created_ns
        self.read_only_fs = True

    def size(self) -> int:
        return len(self.make())

    def open(self, flags: int, path: str, cred) -> SnapshotFile:
        return SnapshotFile(self, path, flags, self.make(), seq=False)


def make_etc(processes, created_ns: int, numbers: InodeNumbers,
             host_files: Callable[[InodeNumbers, int], dict[str, Inode]] | None = None,
             ) -> StaticDir:
    """The /etc directory, on the read-only root (its inode numbers from `numbers`).
    `host_files`: the dynamic loader's files from a sysroot (sysroot.Sysroot.etc_files),
    numbered after the model's own."""
    ino = numbers()

    def text(make):
        return lambda: make().encode()

    files = {
        "group": lambda: group_text(*run_ids(processes)),
        "host.conf": lambda: "multi on\n",
        "hostname": lambda: NODENAME + "\n",
        "hosts": hosts_text,
        "nsswitch.conf": lambda: NSSWITCH,
        "passwd": lambda: passwd_text(*run_ids(processes)),
    }
    children: dict[str, Inode] = {name: EtcFile(numbers(), text(make), created_ns)
                                  for name, make in files.items()}
    if host_files is not None:
        children.update(host_files(numbers, created_ns))
        children = dict(sorted(children.items()))
    return StaticDir(ROOT_DEV, ino, lambda: children, mode=0o755, created_ns=created_ns,
                     read_only_fs=True)

"""Every `errnos.NAME` the kernel model uses exists in kernel_model/uapi/errnos.py with
Linux's number: a handler naming a missing errno would raise AttributeError on a path the
guest can reach (mmap of /dev/zero once did, with errnos.ENODEV)."""

from __future__ import annotations

import ast
import errno
from pathlib import Path

from kernel_model.uapi import errnos

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for pkg in ("kernel_model", "programs", "tui") for p in (ROOT / pkg).rglob("*.py")]
# Kernel-internal restart codes (include/linux/errno.h): not in any libc's errno.h.
KERNEL_ONLY = {"ERESTARTSYS": 512, "ERESTARTNOINTR": 513, "ERESTARTNOHAND": 514,
               "ENOIOCTLCMD": 515, "ERESTART_RESTARTBLOCK": 516}


def used_names() -> dict[str, list[str]]:
    """errno names used as `errnos.NAME`, each with where it is used."""
    uses: dict[str, list[str]] = {}
    for path in SOURCES:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "errnos" and node.attr.startswith("E")):
                uses.setdefault(node.attr, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return uses


def test_the_scan_finds_the_handlers_errnos():
    uses = used_names()
    # The scan is only worth something if it sees the common ones where they are used.
    assert {"EINVAL", "EFAULT", "ENOMEM", "EBADF", "ENODEV"} <= set(uses)
    assert any(u.startswith("kernel_model/syscalls/memory.py") for u in uses["ENODEV"])


def test_every_errno_name_used_is_defined():
    missing = {name: where[:3] for name, where in used_names().items()
               if not hasattr(errnos, name)}
    assert not missing, f"errnos lacks {missing}"


def test_every_errno_name_used_has_linuxs_number():
    wrong = {}
    for name in used_names():
        want = KERNEL_ONLY.get(name, getattr(errno, name, None))
        assert want is not None, f"{name} is neither in the host's errno nor kernel-only"
        if getattr(errnos, name, None) != want:
            wrong[name] = (getattr(errnos, name, None), want)
    assert not wrong, f"(model, Linux) differ: {wrong}"


def test_every_defined_constant_matches_linux_and_the_table():
    for name in dir(errnos):
        value = getattr(errnos, name)
        if not (name.startswith("E") and name.isupper() and isinstance(value, int)):
            continue
        assert value == KERNEL_ONLY.get(name, getattr(errno, name, None)), name
        assert errnos.NUMBERS[name] == value, name

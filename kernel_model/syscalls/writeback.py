"""Writing a shared file mapping back to its file (mm/msync.c, the page cache's writeback).

In Linux a shared file mapping is the file's page cache: a store is in the file at once.
The model's mapping is a copy of the file taken at mmap, so its bytes reach the file when
the program asks (msync) or lets go of them (munmap); README's Simplifications says so."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.machine import PROT_READ
from kernel_model.files.inode import FsError

if TYPE_CHECKING:
    from kernel_model.syscalls.context import SyscallContext


def write_back(k: SyscallContext, start: int, end: int) -> int:
    """Write the shared file mappings' bytes in [start, end) to their files, up to each
    file's end (a mapping never extends its file). 0, or -errno from the file system."""
    mm = k.process.mm
    for v in [v for v in mm.vmas if v.start < end and start < v.end and v.shared and v.file]:
        lo, hi = max(v.start, start), min(v.end, end)
        if not mm.is_accessible(lo, hi - lo, PROT_READ):
            continue  # PROT_NONE: nothing the program can have changed
        file = v.file
        if getattr(file, "refs", 1) <= 0:
            # Linux's mapping holds the file open; the model's does not, and a released
            # file's host descriptor may now be another file's: write nothing.
            k.note("a shared file mapping whose file has been closed is not written back "
                   "in the model")
            continue
        at = v.offset + (lo - v.start)
        n = min(hi - lo, max(0, file.size() - at))  # type: ignore[attr-defined]
        if n <= 0:
            continue
        try:
            file.pwrite(k, at, k.read(lo, n))  # type: ignore[attr-defined]
        except FsError as e:
            return -e.errno
    return 0

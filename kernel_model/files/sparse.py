"""A tmpfs file's data as shmem keeps it (mm/shmem.c): a size and the pages written, nothing
for the holes. A one-byte write at 255 MB allocates one page, reads of a hole are zeros, and
truncating frees the pages past the new end. Every page allocated or freed is reported to
its budget first, which may refuse it (ENOSPC: the tmpfs's size limit or the memory cap)."""

from __future__ import annotations

from kernel_model.files.inode import FsError

PAGE = 4096


class SparseData:
    def __init__(self, budget=None):
        self.length = 0
        self.pages: dict[int, bytearray] = {}
        # Told +bytes before pages are allocated, -bytes after they are freed. An object,
        # not a bound method: the stepping session's deep copies must copy it with the file.
        self.budget = budget

    def charge(self, delta: int) -> None:
        if self.budget is not None:
            self.budget.charge(delta)

    def __len__(self) -> int:
        return self.length

    @property
    def allocated(self) -> int:
        return len(self.pages) * PAGE

    def read(self, offset: int, n: int) -> bytes:
        end = min(self.length, offset + n)
        if offset >= end:
            return b""
        out = bytearray(end - offset)  # holes read as zeros
        first, last = offset // PAGE, (end - 1) // PAGE
        pages = self.pages
        if len(pages) < last - first:  # a mostly empty range: visit only the pages there
            indexes = sorted(i for i in pages if first <= i <= last)
        else:
            indexes = [i for i in range(first, last + 1) if i in pages]
        for i in indexes:
            page = pages[i]
            lo, hi = max(offset, i * PAGE), min(end, (i + 1) * PAGE)
            out[lo - offset:hi - offset] = page[lo - i * PAGE:hi - i * PAGE]
        return bytes(out)

    def __getitem__(self, key: slice) -> bytes:
        """data[a:b], for a file mapping of part of the file."""
        start, stop, _ = key.indices(self.length)
        return self.read(start, max(0, stop - start))

    def __eq__(self, other) -> bool:
        """Equal to the bytes it reads as (holes as zeros). Defining __eq__ alone leaves the
        class unhashable, as a mutable one should be."""
        if isinstance(other, (bytes, bytearray)):
            return len(other) == self.length and self.read(0, self.length) == other
        return NotImplemented

    def write(self, offset: int, data: bytes) -> int:
        """Write page by page, as generic_perform_write does: when the budget refuses a
        page, the bytes before it are written (a short write), or, if none, the refusal
        (FsError ENOSPC) is raised."""
        end = offset + len(data)
        pos = offset
        while pos < end:
            i = pos // PAGE
            page = self.pages.get(i)
            if page is None:
                try:
                    self.charge(PAGE)
                except FsError:
                    if pos == offset:
                        raise
                    break
                page = self.pages[i] = bytearray(PAGE)
            hi = min(end, (i + 1) * PAGE)
            page[pos - i * PAGE:hi - i * PAGE] = data[pos - offset:hi - offset]
            pos = hi
        self.length = max(self.length, pos)
        return pos - offset

    def truncate(self, size: int) -> None:
        """A new size: growing makes a hole (no page), shrinking frees the pages past the
        end and zeroes the tail of the last one, so growing again reads zeros there."""
        if size < self.length:
            keep = (size + PAGE - 1) // PAGE
            gone = [i for i in self.pages if i >= keep]
            for i in gone:
                del self.pages[i]
            tail = self.pages.get(size // PAGE)
            if tail is not None and size % PAGE:
                tail[size % PAGE:] = bytes(PAGE - size % PAGE)
            if gone:
                self.charge(-len(gone) * PAGE)
        self.length = size

    def allocate(self, offset: int, length: int) -> None:
        """fallocate: every page of the range, or none (ENOSPC undoes, as shmem_fallocate
        does); the size is the caller's."""
        first, last = offset // PAGE, (offset + length - 1) // PAGE
        missing = [i for i in range(first, last + 1) if i not in self.pages]
        self.charge(len(missing) * PAGE)
        for i in missing:
            self.pages[i] = bytearray(PAGE)

    def punch(self, offset: int, length: int) -> None:
        """FALLOC_FL_PUNCH_HOLE: the range reads as zeros; whole pages in it are freed."""
        end = min(offset + length, self.length)
        gone = []
        for i in sorted(i for i in self.pages if offset // PAGE <= i <= (end - 1) // PAGE):
            lo, hi = max(offset, i * PAGE), min(end, (i + 1) * PAGE)
            if lo == i * PAGE and hi == (i + 1) * PAGE:
                gone.append(i)
            else:
                self.pages[i][lo - i * PAGE:hi - i * PAGE] = bytes(hi - lo)
        for i in gone:
            del self.pages[i]
        if gone:
            self.charge(-len(gone) * PAGE)

    def release(self) -> None:
        """The file is gone (its last link and open description): its pages are free."""
        if self.pages:
            self.charge(-self.allocated)
            self.pages.clear()

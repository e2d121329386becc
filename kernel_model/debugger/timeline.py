"""The recorded history: a line of marks, each a saved state, and between two marks a gap of
user-mode instructions that replays exactly.

A mark's `arrive` path says how to get from the previous mark to the point just before this
mark: `Offset(n)` runs n instructions (counted by Unicorn), `Hit(pc, k)` runs freely until
the k-th time the instruction at pc is about to execute. A free run is never counted (that
would slow it twentyfold), so its end is a `Hit`, turned into an offset only when someone
steps back into it ("indexing", step_replay.py).

A mark is either *applied* (its state is the recorded outcome of something a replay must not
redo: a syscall, a signal delivery, an `rdtsc`, a vsyscall emulation; a replay that reaches
the point before it loads the mark instead) or *plain* (a stop, or an index point: its state
is exactly the point before it). Between marks only user code runs, so a replay never enters
the kernel and never touches the host.

Memory is the big cost. Pages are shared between marks (state.MemoryImage); the budget counts
each distinct page once. Over the budget, history is thinned, oldest first: index marks go
(they can be rebuilt), then plain marks merge into the next one's path; if that is not enough
the oldest marks are dropped and `horizon` says how far back stepping can go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kernel_model.debugger.state import HostIo, KernelImage, Spaces

CONTEXT_BYTES = 5700  # a saved Unicorn x86 context
# What else a mark holds, as Python objects: its registers by name, its extras, its events,
# the tuples of its images (measured: tracemalloc over a long run of syscalls).
MARK_BYTES = CONTEXT_BYTES + 8192
THIN_TO = (7, 8)  # over the budget, history is thinned to this fraction of it


@dataclass(frozen=True)
class Offset:
    n: int


@dataclass(frozen=True)
class Hit:
    pc: int
    k: int


def join(path: tuple, step) -> tuple:
    """path + step, with consecutive offsets merged."""
    if isinstance(step, Offset):
        if step.n == 0:
            return path
        if path and isinstance(path[-1], Offset):
            return path[:-1] + (Offset(path[-1].n + step.n),)
    return path + (step,)


def known_length(path: tuple | None) -> int | None:
    if path is None or any(not isinstance(s, Offset) for s in path):
        return None
    return sum(s.n for s in path)


@dataclass(eq=False, repr=False)
class Mark:
    kind: str  # start, stop, index, interrupt, syscall, int 0x80, sysenter, rdtsc, signal,
    #            vsyscall, fault, exit, vdso
    arrive: tuple | None  # path from the previous mark; None: not replayable (opaque)
    applied: bool
    ctx: object  # Unicorn context
    pc: int
    kernel: KernelImage
    io: HostIo
    memory: Spaces | None  # every live address space's; None when rebuilt by replay
    extra: dict = field(default_factory=dict)  # session state riding along (watcher calls...)
    events: list = field(default_factory=list)  # what happened at this boundary
    info: dict = field(default_factory=dict)  # for the screen (stop reason, fault, transition)
    ordinal: int = 0

    @property
    def length(self) -> int | None:
        """Instructions from the previous mark to the point before this one, if known."""
        return known_length(self.arrive)

    def __repr__(self) -> str:
        return f"<Mark {self.ordinal} {self.kind} pc={self.pc:#x} arrive={self.arrive}>"


class Timeline:
    def __init__(self, budget: int):
        self.marks: list[Mark] = []
        self.budget = budget
        self.dropped = 0  # marks dropped from the start to stay within the budget
        self.thinned = 0  # marks merged away
        self._page_refs: dict[int, list] = {}  # id(page) -> [refcount, size]
        self._kernel_refs: dict[int, list] = {}
        self._tuple_refs: dict[int, list] = {}  # id(a region's pages) -> [refcount, pages]
        self.used = 0
        # Changes to history other than appending at its end or dropping its oldest marks
        # (a mark merged away, a mark with events put in between): views that keep what
        # they built from the marks build it again.
        self.edits = 0

    def __len__(self) -> int:
        return len(self.marks)

    @property
    def last(self) -> Mark:
        return self.marks[-1]

    def index(self, mark: Mark) -> int:
        i = mark.ordinal
        if i < len(self.marks) and self.marks[i] is mark:
            return i
        self._renumber()
        return mark.ordinal

    def holds(self, mark: Mark) -> bool:
        """Whether `mark` is in the history (not dropped or merged away), without a scan:
        a mark's ordinal is its place while it is there, -1 once it has gone."""
        i = mark.ordinal
        return 0 <= i < len(self.marks) and self.marks[i] is mark

    def _renumber(self, start: int = 0) -> None:
        marks = self.marks
        for i in range(start, len(marks)):
            marks[i].ordinal = i

    def prev(self, mark: Mark) -> Mark | None:
        i = self.index(mark)
        return self.marks[i - 1] if i > 0 else None

    def next(self, mark: Mark) -> Mark | None:
        i = self.index(mark)
        return self.marks[i + 1] if i + 1 < len(self.marks) else None

    # -- changes -------------------------------------------------------------------------------
    def append(self, mark: Mark) -> None:
        mark.ordinal = len(self.marks)
        self.marks.append(mark)
        self._account(mark, +1)

    def insert_after(self, before: Mark, mark: Mark) -> None:
        i = self.index(before) + 1
        self.marks.insert(i, mark)
        self._renumber(i)
        self._account(mark, +1)
        if mark.events:
            self.edits += 1

    def remove(self, mark: Mark) -> None:
        """Merge a plain mark away: the next mark's path starts at the previous mark."""
        i = self.index(mark)
        assert not mark.applied and 0 < i < len(self.marks) - 1
        nxt = self.marks[i + 1]
        if mark.arrive is None or nxt.arrive is None:
            nxt.arrive = None
        else:
            path = mark.arrive
            for step in nxt.arrive:
                path = join(path, step)
            nxt.arrive = path
        nxt.events[:0] = mark.events
        self._account(mark, -1)
        del self.marks[i]
        mark.ordinal = -1  # no longer in the history
        self._renumber(i)
        self.thinned += 1
        self.edits += 1

    def drop_last(self) -> Mark:
        """Forget the newest mark (the live end moved back before it)."""
        mark = self.marks.pop()
        self._account(mark, -1)
        mark.ordinal = -1
        self.edits += 1
        return mark

    # -- the budget ----------------------------------------------------------------------------
    def _account(self, mark: Mark, sign: int) -> None:
        self.used += sign * MARK_BYTES
        if mark.memory is not None:
            # A region's tuple of pages is shared by every mark it did not change between:
            # its pages are counted when the tuple is first held and when last let go.
            tuples = self._tuple_refs
            for region in mark.memory.pages:
                ref = tuples.get(id(region))
                if ref is None:
                    ref = tuples[id(region)] = [0, region]
                ref[0] += sign
                if ref[0] == 0:
                    del tuples[id(region)]
                    self._count(region, -1)
                    self.used -= 8 * len(region)
                elif ref[0] == 1 and sign > 0:
                    self._count(region, +1)
                    self.used += 8 * len(region)  # the tuple itself
        k = mark.kernel
        ref = self._kernel_refs.get(id(k))
        if ref is None:
            ref = self._kernel_refs[id(k)] = [0, k.size, k]
        ref[0] += sign
        if ref[0] == 0:
            del self._kernel_refs[id(k)]
            self.used -= ref[1]
        elif ref[0] == 1 and sign > 0:
            self.used += ref[1]
            self._count(k.chunks, +1)
            self._count(k.blobs, +1)
        if ref[0] == 0:
            self._count(k.chunks, -1)
            self._count(k.blobs, -1)

    def _count(self, blocks, sign: int) -> None:
        """Count pages (or pieces of a kernel image) in or out, each distinct one once."""
        refs = self._page_refs
        for block in blocks:
            ref = refs.get(id(block))
            if ref is None:
                ref = refs[id(block)] = [0, len(block), block]
            ref[0] += sign
            if ref[0] == 0:
                del refs[id(block)]
                self.used -= ref[1]
            elif ref[0] == 1 and sign > 0:
                self.used += ref[1]

    def over_budget(self) -> bool:
        return self.used > self.budget

    def thin(self, keep_after: Mark | None = None) -> None:
        """Bring `used` under the budget, to THIN_TO of it (each pass scans the history:
        thinning a little further makes passes rare, not one per mark once the budget is
        reached). Marks at or after `keep_after` (the current position) are never touched."""
        target = self.budget * THIN_TO[0] // THIN_TO[1]
        limit = self.index(keep_after) if keep_after is not None else len(self.marks) - 1
        # 1. index marks, oldest first: rebuilt by indexing if needed again.
        for m in [m for m in self.marks[1:limit] if m.kind == "index"]:
            if self.used <= target:
                return
            self.remove(m)
        limit = self.index(keep_after) if keep_after is not None else len(self.marks) - 1
        # 2. plain stops in the older half: their state is replayed from the mark before.
        # (Not one that keeps what the kernel does next there, a fault's delivery or a
        # context switch: the point before it would no longer show it coming.)
        for m in [m for m in self.marks[1:limit // 2] if not m.applied and m.arrive is not None
                  and m.kind != "start" and "pending" not in m.info]:
            if self.used <= target:
                return
            nxt = self.next(m)
            if nxt is not None and nxt.arrive is not None:
                self.remove(m)
        # 3. the oldest history goes; it must restart from a mark holding memory. The
        # marks before each such restart point are let go together, in one cut.
        if self.used <= target or len(self.marks) <= 2:
            return
        limit = self.index(keep_after) if keep_after is not None else len(self.marks) - 1
        cut = 0
        for i in range(1, limit):
            if self.marks[i].memory is None:
                continue
            for m in self.marks[cut:i]:
                self._account(m, -1)
                m.ordinal = -1  # no longer in the history
            cut = i
            if self.used <= target:
                break
        if cut:
            self.dropped += cut
            del self.marks[:cut]
            self.marks[0].arrive = None  # nothing before it any more
            self._renumber()

"""Capturing and restoring the whole guest, for stepping backwards: every mapped page of
every live address space, the kernel model's Python state, and the host side of the guest's
standard streams. (The running task's CPU is a Unicorn context, saved and restored by its
machine; the other tasks' registers are in their Task.context, part of the kernel's state.)

Memory is kept page by page and shared between captures: a page that did not change since
the previous capture is the same bytes object, so a capture costs little more than the pages
the guest wrote. The kernel's state is a pickle of the System's and the Kernel's
attributes (every restore makes fresh objects of it, as a deep copy would), kept in pieces
shared with the previous capture; handles to the host (the Unicorn CPU, locks, the TSC
reader) are kept by reference, never copied, and are found the first time a pickle meets
one. A Machine (one process's CPU and
memory) is such a handle: processes share it by reference, and its memory is captured apart,
per address space (Spaces).
"""

from __future__ import annotations

import io
import os
import pickle
import threading
import types
import weakref
from dataclasses import dataclass
from typing import Any

from emu.machine import PAGE, Machine

_ZERO_PAGE = bytes(PAGE)


# -- memory ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MemoryImage:
    """Every region Unicorn has mapped: (start, end, prot) with end exclusive, and each
    region's pages."""

    regions: tuple[tuple[int, int, int], ...]
    pages: tuple[tuple[bytes, ...], ...]


# Regions are read this many bytes at a time: a large mapping (most of it untouched) must
# not become one bytes object of its whole size at every capture.
_READ_CHUNK = 256 * PAGE
_ZERO_CHUNK = bytes(_READ_CHUNK)


def capture_memory(machine, previous: MemoryImage | None = None, *,
                   writable_only: bool = False) -> MemoryImage:
    """The machine's memory, sharing unchanged pages with `previous`. With
    `writable_only`, regions the CPU cannot write are taken from `previous` without reading
    them: right when only user code ran since `previous` was captured."""
    regions = tuple((begin, end + 1, prot) for begin, end, prot in machine.regions())
    old = {}
    if previous is not None:
        if regions == previous.regions:
            regions = previous.regions  # one tuple for every capture of the same layout
        old = {r: pages for r, pages in zip(previous.regions, previous.pages, strict=True)}
    all_pages = []
    for start, end, prot in regions:
        before = old.get((start, end, prot))
        if writable_only and before is not None and not prot & 2:
            all_pages.append(before)
            continue
        pages = []
        i = 0
        for at in range(start, end, _READ_CHUNK):
            data = machine.read_snapshot(at, min(_READ_CHUNK, end - at))
            n = len(data) // PAGE
            if data == _ZERO_CHUNK[:len(data)]:
                # Untouched stretches of a large mapping: no page-by-page work.
                pages.extend([_ZERO_PAGE] * n)
                i += n
                continue
            for off in range(0, len(data), PAGE):
                page = data[off:off + PAGE]
                if before is not None and before[i] == page:
                    page = before[i]
                elif page == _ZERO_PAGE:
                    page = _ZERO_PAGE
                pages.append(page)
                i += 1
        if before is not None and all(a is b for a, b in zip(before, pages, strict=True)):
            all_pages.append(before)  # nothing changed: one tuple shared by both captures
        else:
            all_pages.append(tuple(pages))
    return MemoryImage(regions, tuple(all_pages))


def restore_memory(machine, image: MemoryImage, live: MemoryImage | None = None) -> None:
    """Make the machine's mappings and bytes those of `image`. `live`, when given, is an
    image known to match the machine's memory outside its writable regions: those regions
    are then rewritten only where their pages differ. Zero pages are given back to the host
    rather than written (machine.discard), so restoring a large, mostly untouched mapping
    costs the host nothing."""
    want = {r[:2]: r[2] for r in image.regions}
    have = {(b, e + 1): p for b, e, p in machine.regions()}
    for (start, end) in have:
        if (start, end) not in want:
            machine.unmap(start, end - start)
    fresh = set()
    for (start, end), prot in want.items():
        if (start, end) not in have:
            # A region that overlaps differently-shaped old ones: clear the space first.
            for b, e, _p in list(machine.regions()):
                if b < end and start < e + 1:
                    machine.unmap(b, e + 1 - b)
            machine.map(start, end - start, prot)
            fresh.add(start)
            live = None  # the new region's bytes are unknown
        elif have[(start, end)] != prot:
            machine.protect(start, end - start, prot)
    known = {}
    if live is not None:
        known = {r[:2]: pages for r, pages in zip(live.regions, live.pages, strict=True)}
    for (start, end, prot), pages in zip(image.regions, image.pages, strict=True):
        before = known.get((start, end))
        same = before is not None and all(a is b for a, b in zip(before, pages, strict=True))
        if same and not prot & 2:
            continue  # read-only, and the same pages as the live image: nothing to write
        _write_pages(machine, start, pages, zeros_known=start in fresh)


def _is_zero(page: bytes) -> bool:
    return page is _ZERO_PAGE or page == _ZERO_PAGE


def _write_pages(machine, start: int, pages: tuple[bytes, ...], *, zeros_known: bool) -> None:
    """Write a region's pages in runs: zero pages are discarded (or skipped in memory just
    mapped, which is zero), the others written."""
    i, n = 0, len(pages)
    while i < n:
        zero = _is_zero(pages[i])
        j = i + 1
        while j < n and _is_zero(pages[j]) == zero and j - i < 256:
            j += 1
        addr = start + i * PAGE
        if not zero:
            machine.write(addr, b"".join(pages[i:j]))
        elif not zeros_known:
            machine.discard(addr, (j - i) * PAGE)
        i = j


@dataclass(frozen=True)
class Spaces:
    """Every live address space at one point: (machine, image) pairs. The machines are the
    processes' own (host handles, never copied); an image shares unchanged pages with the
    capture before it, space by space."""

    images: tuple[tuple[Any, MemoryImage], ...]

    def of(self, machine) -> MemoryImage | None:
        for m, image in self.images:
            if m is machine:
                return image
        return None

    @property
    def pages(self) -> tuple[tuple[bytes, ...], ...]:
        """Every region's pages, of every space (what the history budget counts)."""
        return tuple(pages for _m, image in self.images for pages in image.pages)


def capture_spaces(machines, current, previous: Spaces | None, *,
                   writable_only: bool = False) -> Spaces:
    """The memory of `machines` (each once). Only the running one (`current`) can have
    changed through user code: with `writable_only` (only user code ran since `previous`)
    the others are taken from `previous` as they are; after kernel work they are read again,
    writable regions only (the kernel writes another process's memory only where that
    process could: a tid for CLONE_CHILD_CLEARTID, say)."""
    out = []
    for m in machines:
        before = previous.of(m) if previous is not None else None
        if m is not current and before is not None:
            out.append((m, before if writable_only else
                        capture_memory(m, before, writable_only=True)))
        else:
            out.append((m, capture_memory(m, before, writable_only=writable_only)))
    return Spaces(tuple(out))


def restore_spaces(spaces: Spaces, live: Spaces | None) -> None:
    """Put back every address space `spaces` holds. A machine it does not hold (a process
    created later, or one that had exited) is left as it is: nothing at that point runs on
    it, and going forward restores it from the mark that holds it."""
    for machine, image in spaces.images:
        restore_memory(machine, image, live.of(machine) if live is not None else None)


# -- the kernel model's Python state ------------------------------------------------------------

# Attributes that are not state: the machine, wiring between objects, the program and options
# (fixed for the whole run), and the listeners (the session itself is one).
# The call watchers' hooks hold the objects themselves: the session saves their calls apart.
# The clock is one object every reader holds (the kernel, the vDSO's timekeeper, the rdtsc
# hook): the session saves and restores its state apart (Clock.state), never a copy of it.
SYSTEM_SHARED = {"machine", "kernel", "image", "options", "arch", "layout", "era", "counter",
                 "vdso_watcher", "vsyscall_watcher", "watchers", "clock", "waiter",
                 # the CPU's hooks are bound to it; what it holds is cleared at each restore
                 "cpu_faults"}
# (The kernel's `machine`, the running task's CPU, is state: it is restored with the task
# that runs, the Machine itself shared as a handle.)
KERNEL_SHARED = {"listeners", "_dispatch", "_dispatch_x86_64", "_dispatch_i386", "system",
                 "on_first_listener", "string_limit", "_fast_tables"}

# Types that are handles to the host: a copy would be meaningless (or impossible).
_HANDLE_TYPES: tuple[type, ...] = (type(threading.Lock()), type(threading.RLock()),
                                   threading.Condition, types.ModuleType, types.FunctionType,
                                   types.BuiltinFunctionType, types.MethodType, type)


def _is_handle(obj) -> bool:
    if isinstance(obj, (Machine, *_HANDLE_TYPES)):
        return True
    mod = type(obj).__module__ or ""
    return mod.startswith(("unicorn", "capstone", "ctypes", "_ctypes", "keystone", "_io", "io"))


@dataclass(frozen=True)
class KernelImage:
    """The kernel's state at one point, pickled: a compact, immutable blob (a copy kept as
    live objects costs several times its pickle), from which every restore builds fresh
    objects. The blob is kept in pieces shared with the capture before wherever they are
    the same bytes (most of the kernel does not change from one syscall to the next), and
    the history budget counts each piece once, as it counts pages. What the pickle names
    but does not hold (host handles, large immutable bytes) is in `refs`, by position."""

    chunks: tuple[bytes, ...]
    refs: tuple
    size: int  # the bytes it holds besides its chunks and blobs, for the history budget
    # Large immutable bytes among refs (file data): shared by every image that names them,
    # and counted once, as chunks are.
    blobs: tuple[bytes, ...] = ()
    rng: tuple | None = None  # the guest's randomness, as random.Random.getstate()


# Objects copy.deepcopy keeps as they are (its atomic types): a pickle keeps them by
# reference too, so that a restored state names the very same objects a deep copy would.
_ATOMIC = (type, types.FunctionType, types.BuiltinFunctionType, types.CodeType,
           weakref.ref, property, range)
_BIG_BYTES = 1024  # immutable bytes this long or longer are shared, never pickled
_CHUNK = 512  # the least length of a piece of a pickle


def _pieces(blob: bytes, previous: dict[bytes, bytes]) -> tuple[bytes, ...]:
    """`blob` cut into pieces, each the same object as an equal piece of `previous`. A cut
    follows a MEMOIZE opcode (one after every object pickled) at least _CHUNK bytes after
    the last cut: cuts depend on the content, not on offsets, so a value that changes the
    pickle's length leaves the pieces after it as they were."""
    out = []
    start, n = 0, len(blob)
    while start < n:
        cut = blob.find(pickle.MEMOIZE, start + _CHUNK)
        end = n if cut < 0 else cut + 1
        piece = blob[start:end]
        out.append(previous.get(piece, piece))
        start = end
    return tuple(out)


class _Pickler(pickle.Pickler):
    """Pickles the state, keeping handles (and what deepcopy would share) out of the blob."""

    def __init__(self, file, state: KernelState):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.state = state
        self.refs: list = []
        self.ref_ids: dict[int, int] = {}
        self.blobs: list[bytes] = []

    def persistent_id(self, obj):
        if isinstance(obj, (int, float, str, bool, type(None))):
            return None
        if isinstance(obj, bytes):
            if len(obj) < _BIG_BYTES:
                return None
            if id(obj) not in self.state.shared and id(obj) not in self.ref_ids:
                self.blobs.append(obj)
        elif id(obj) not in self.state.shared and not isinstance(obj, _ATOMIC) and \
                not self.state.keeps_itself(obj):
            return None
        i = self.ref_ids.get(id(obj))
        if i is None:
            i = self.ref_ids[id(obj)] = len(self.refs)
            self.refs.append(obj)
        return i


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, refs: tuple):
        super().__init__(file)
        self.refs = refs

    def persistent_load(self, pid):
        return self.refs[pid]


class KernelState:
    """Pickles System/Kernel attribute dicts, sharing host handles found along the way."""

    def __init__(self, system):
        self.system = system
        self.shared: dict[int, object] = {}
        self._keeps_itself: dict[type, bool] = {}
        self._last_pieces: dict[bytes, bytes] = {}  # the last capture's, by content
        self._last_rng: tuple | None = None
        self._share(system, system.kernel, system.machine, *system.machine.shared_handles())
        for name in SYSTEM_SHARED:
            if hasattr(system, name):
                self._share(getattr(system, name))
        from kernel_model.entry.abi import ABIS

        self._share(*ABIS.values())
        # Large and never changed after exec: the program's bytes and its symbol table.
        self._share(system.process.exe_bytes, system.process.symbols)
        # The random generator is kept by its state (an immutable tuple): a copy would
        # hold its 625 words one by one.
        self.rng = getattr(system, "rng", None)
        if self.rng is not None:
            self._share(self.rng)
        self._share_handles(system)

    def _share(self, *objs) -> None:
        for obj in objs:
            self.shared[id(obj)] = obj

    def keeps_itself(self, obj) -> bool:
        """Whether obj's class makes deep copies of it the object itself (a handle to host
        memory, say): it is then kept by reference, as a deep copy would."""
        cls = type(obj)
        known = self._keeps_itself.get(cls)
        if known is None:
            hook = getattr(cls, "__deepcopy__", None)
            known = self._keeps_itself[cls] = hook is not None and \
                not isinstance(obj, (dict, list, tuple, set, frozenset)) and \
                obj.__deepcopy__({}) is obj
        if known:
            self.shared[id(obj)] = obj
        return known

    def _share_handles(self, root) -> None:
        """Walk the state once and mark every host handle in it as shared."""
        seen: set[int] = set(self.shared)
        stack = [root]
        while stack:
            obj = stack.pop()
            if id(obj) in seen or isinstance(obj, (int, float, str, bytes, bool, type(None))):
                continue
            seen.add(id(obj))
            if _is_handle(obj):
                self.shared[id(obj)] = obj
                continue
            if isinstance(obj, dict):
                stack.extend(obj.keys())
                stack.extend(obj.values())
            elif isinstance(obj, (list, tuple, set, frozenset)):
                stack.extend(obj)
            else:
                d = getattr(obj, "__dict__", None)
                if d is not None:
                    stack.extend(d.values())
                for slot in getattr(type(obj), "__slots__", ()):
                    if hasattr(obj, slot):
                        stack.append(getattr(obj, slot))

    def _split(self):
        s, k = self.system, self.system.kernel
        sys_state = {n: v for n, v in vars(s).items() if n not in SYSTEM_SHARED}
        k_state = {n: v for n, v in vars(k).items() if n not in KERNEL_SHARED}
        return sys_state, k_state

    def _pickle(self, value) -> _Pickler:
        out = io.BytesIO()
        pickler = _Pickler(out, self)
        pickler.dump(value)
        pickler.blob = out.getvalue()  # type: ignore[attr-defined]
        return pickler

    def capture(self) -> KernelImage:
        # Every process's CPU is a handle: shared before the pickle meets it.
        kernel = self.system.kernel
        self._share(kernel.machine, *(p.machine for p in kernel.processes))
        value = self._split()
        try:
            pickler = self._pickle(value)
        except (TypeError, AttributeError, pickle.PicklingError):
            # Something new holds a host handle (a lock, a CPU): share it and try again.
            self._share_handles(value)
            pickler = self._pickle(value)
        chunks = _pieces(pickler.blob, self._last_pieces)  # type: ignore[attr-defined]
        self._last_pieces = {c: c for c in chunks}
        refs = tuple(pickler.refs)
        return KernelImage(chunks, refs, 8 * (len(refs) + len(chunks)),
                           blobs=tuple(pickler.blobs), rng=self._rng_state())

    def _rng_state(self) -> tuple | None:
        """The generator's state, the same tuple as last time while it is unchanged (625
        ints are 25 KB a capture; most syscalls draw nothing)."""
        if self.rng is None:
            return None
        state = self.rng.getstate()
        if state != self._last_rng:
            self._last_rng = state
        return self._last_rng

    def restore(self, image: KernelImage) -> None:
        blob = b"".join(image.chunks)
        sys_copy, k_copy = _Unpickler(io.BytesIO(blob), image.refs).load()
        self.system.__dict__.update(sys_copy)
        self.system.kernel.__dict__.update(k_copy)
        if self.rng is not None and image.rng is not None:
            self.rng.setstate(image.rng)


# -- the host side of the standard streams ------------------------------------------------------

@dataclass(frozen=True)
class HostIo:
    """(offset, size) of each session-owned host file behind the guest's fds 0, 1, 2."""

    files: tuple[tuple[int, int, int], ...]  # (host fd, offset, size)


def capture_io(fds: tuple[int, ...]) -> HostIo:
    out = []
    for fd in fds:
        out.append((fd, os.lseek(fd, 0, os.SEEK_CUR), os.fstat(fd).st_size))
    return HostIo(tuple(out))


def restore_io(io: HostIo) -> None:
    """Put each file's offset back. Sizes are not: the files keep everything the guest ever
    wrote, since the recorded future stays replayable; what the screen shows is cut at the
    current point's recorded size. (The guest never sees the difference: in the past it only
    replays user code, and at the live end offset and size agree again.)"""
    for fd, offset, _size in io.files:
        os.lseek(fd, offset, os.SEEK_SET)

"""gdb's `monitor CMD` (qRcmd): what the TUI shows, as text. The reply is the output itself
(hex), which gdb prints. `monitor strace on` also makes output while the guest runs: it is
queued here and the server sends it as console-output (`O`) packets, which gdb prints as
they come during a continue or a step."""

from __future__ import annotations

import struct
import threading

from kernel_model.trace.tracers import StracePrinter

HELP = """\
monitor help           this list
monitor transitions    the crossings into the kernel so far (strace's lines; > marks now)
monitor maps           the memory map (/proc/PID/maps)
monitor where          the position in history and what the next instruction starts
monitor strace on|off  print strace's line for each syscall the guest makes while it runs
monitor vdso           the vDSO: where it is in this run, its entry points, calls into it
                       so far, and whether the C library holds pointers to it
"""

REPLAY_NOTE = ("strace: this stretch is replayed from history (the calls in it ran before "
               "and are not made again, so none is printed; `monitor transitions` lists "
               "them)\n")
# Bytes of data `monitor vdso` reads looking for pointers into the vDSO.
SCAN_LIMIT = 64 << 20
NOT_DATA = ("[stack]", "[vvar]", "[vvar_vclock]", "[vdso]", "[vsyscall]")


class _Gate:
    """The strace printer's stream: kept only while `monitor strace` is on."""

    def __init__(self, monitor: Monitor):
        self.monitor = monitor

    def write(self, text: str) -> int:
        if self.monitor.strace:
            self.monitor.say(text)
        return len(text)

    def flush(self) -> None:
        pass


class Monitor:
    """One per stub. The strace printer is attached from the start (so it knows the tasks
    and the calls in flight, as strace -f would) and prints only while switched on; the
    kernel emits events only for what runs live, never for a replayed stretch."""

    def __init__(self, session):
        self.s = session
        self.strace = False
        self._replay_said = False
        self._queue: list[str] = []
        self._lock = threading.Lock()
        self._printer = StracePrinter(_Gate(self))  # type: ignore[arg-type]
        attach_printer(session, self._printer)

    # -- console output while the guest runs -------------------------------------------
    def say(self, text: str) -> None:
        with self._lock:
            self._queue.append(text)

    def take_output(self) -> str:
        """What is queued for gdb's console (the server sends it as O packets)."""
        with self._lock:
            out, self._queue = "".join(self._queue), []
        return out

    def resuming(self, what: str) -> None:
        """Called as a resume starts: going back, or forward from a point in the past,
        replays history, where no syscall runs: with strace on, say so, once until the
        guest runs live again."""
        replay = what in ("rstep", "rcont") or not self.s.at_live_end()
        if not replay:
            self._replay_said = False
        elif self.strace and not self._replay_said:
            self._replay_said = True
            self.say(REPLAY_NOTE)

    # -- commands ------------------------------------------------------------------------
    def run(self, command: str) -> str:
        words = command.split()
        if not words or words[0] == "help":
            return HELP
        if words[0] == "strace":
            return self._strace(words[1:])
        if words[0] == "vdso":
            return vdso_text(self.s)
        return run(self.s, command)

    def _strace(self, args: list[str]) -> str:
        if args == ["on"]:
            self.strace = True
            return ("strace on: each syscall the guest makes is printed as it returns (a "
                    "replayed stretch makes none)\n")
        if args == ["off"]:
            self.strace = False
            return "strace off\n"
        if not args:
            return f"strace is {'on' if self.strace else 'off'} (monitor strace on|off)\n"
        return f"monitor strace {' '.join(args)!r}: say `monitor strace on` or `off`\n"


def attach_printer(session, printer) -> None:
    """Attach a tracer to a session made before it: it is first told what the start
    already emitted (the first process's start: strace's `[pid N]` prefixes count tasks
    from it), then hears the kernel's events as they come."""
    marks = session.timeline.marks
    for event in marks[0].events if marks else ():
        printer(event)
    session.kernel.attach(printer)


def run(session, command: str) -> str:
    """The commands that only read the session's view."""
    words = command.split()
    if not words or words[0] == "help":
        return HELP
    view = session.view()
    if words[0] == "transitions":
        lines = []
        for e in view.events:
            mark = ">" if e.current else " " if e.past else "~"
            lines.append(f"{mark} {e.text}")
        return "\n".join(lines) + "\n" if lines else "no transitions yet\n"
    if words[0] == "maps":
        return "".join(m.text + "\n" for m in view.maps)
    if words[0] == "where":
        up = view.upcoming
        nxt = f"; next: {up[0]}" if up else ""
        h = view.history
        return f"pc {view.pc:#x} ({view.symbol or '?'}){nxt}; {_history(h)}\n"
    return f"unknown monitor command {words[0]!r}: `monitor help` lists them\n"


def _history(h) -> str:
    where = "at the live end" if h.at_live_end else "in the past (replayed, not re-run)"
    return f"{where}, {h.marks} points kept"


# -- monitor vdso ----------------------------------------------------------------------------
def vdso_text(session) -> str:
    vdso = session.system.vdso
    if vdso is None:
        return ("no vDSO in this run (--no-vdso or the kernel era has none): the C library "
                "makes a real syscall for the time\n")
    image = vdso.image
    end = vdso.base + len(image.data)
    lines = [f"vDSO ({image.soname or 'linux-vdso'}, {image.arch}): [vdso] at "
             f"{vdso.base:#x}-{end:#x} (AT_SYSINFO_EHDR in the auxiliary vector), its data "
             f"[vvar] at {vdso.vvar:#x}"]
    # Entry points: the exported symbols, aliases (time and __vdso_time) on one line.
    by_addr: dict[int, list[str]] = {}
    for name in (image.versions or {}):
        addr = vdso.symbol(name)
        if addr is not None:
            by_addr.setdefault(addr, []).append(name)
    lines.append("entry points (exported, versioned as the kernel's vdso.lds.S):")
    for addr in sorted(by_addr):
        names = sorted(by_addr[addr], key=_preferred)
        version = (image.versions or {}).get(names[0], "")
        lines.append(f"  {addr:#x}  {' = '.join(names)}@{version}")
    calls = [e for e in session.view().events if e.kind == "vdso" and (e.past or e.current)]
    if calls:
        lines.append(f"calls into it so far: {len(calls)}; the last: {calls[-1].text}")
    else:
        lines.append("calls into it so far: none")
    held = _pointers_to(session, by_addr)
    if held:
        lines.append("the C library bound to it: pointers to its entry points in its data:")
        lines += [f"  {where:#x} ({region}) -> {name}" for where, region, name in held[:16]]
        if len(held) > 16:
            lines.append(f"  ... {len(held) - 16} more")
    else:
        lines.append("the C library holds no pointer to it (yet): a static or assembly "
                     "program may never look it up, musl looks it up at its first time "
                     "call, glibc while it starts")
    return "\n".join(lines) + "\n"


def _pointers_to(session, by_addr: dict[int, list[str]]) -> list[tuple[int, str, str]]:
    """Words in the process's data mappings (not code, not the stack) that hold an entry
    point's address: where glibc keeps what it looked up (GLRO(dl_vdso_*), in its RELRO
    data, read-only once started; a GOT slot an IFUNC filled) and musl its cached function
    pointer."""
    word = session.bits // 8
    fmt = "<Q" if word == 8 else "<I"
    found = []
    budget = SCAN_LIMIT
    for m in session.view().maps:
        if "r" not in m.perms or "x" in m.perms or m.name in NOT_DATA:
            continue
        size = m.end - m.start
        if size > budget:
            continue
        budget -= size
        data = _read(session.machine, m.start, size)
        for v, names in by_addr.items():
            needle = struct.pack(fmt, v)
            at = data.find(needle)
            while at != -1:
                if at % word == 0:  # (pointers are aligned)
                    found.append((m.start + at, m.name or "anonymous", _first(names)))
                at = data.find(needle, at + 1)
    found.sort()
    return found


def _preferred(name: str) -> tuple[bool, str]:
    return not name.startswith("__"), name  # the __vdso_ name first, as the kernel's


def _first(names: list[str]) -> str:
    return sorted(names, key=_preferred)[0]


def _read(machine, start: int, size: int) -> bytes:
    """The mapping's bytes; a page that cannot be read (not backed yet) reads as zeros."""
    try:
        return machine.read(start, size)
    except Exception:
        pass
    pages = []
    for at in range(start, start + size, 0x1000):
        try:
            pages.append(machine.read(at, 0x1000))
        except Exception:
            pages.append(bytes(0x1000))
    return b"".join(pages)

"""The clocks the guest reads:

- real: the host's clock (`run`'s default);
- frozen (`--clock frozen:EPOCH`): stands still, and only moves when the guest sleeps, for
  reproducible runs;
- virtual (`--clock virtual[:EPOCH]`, the stepping TUI's): starts at the host's time (or
  EPOCH) and then advances only with the guest's own progress, never with the host's: each
  instruction executed costs INSN_PS, each crossing into the kernel its modelled cost
  (kernel_model.entry.costs), each sleep its length. A person pausing for minutes between two
  steps leaves the guest's time where it was, and the same instructions and crossings always
  give the same readings (replays and recordings are exact).

The virtual clock's time-stamp counter ticks at 1 GHz (one cycle a nanosecond) so the vDSO's
mult/shift conversion is exact: the guest's `rdtsc` (hooked: Unicorn calls the hook only when
the guest executes one, ~0.8 us each), the vDSO, the vsyscall page and the syscalls read one
timeline to the nanosecond. The instruction count comes from `counter`: under `run` a block
hook (emu.counter, exact at any point, ~0.5 us a basic block); under the stepping session a
KnownCount the session makes exact before each time read (counting a free run by replay),
so free runs keep full speed; between reads it holds the last read's count.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emu.counter import InstructionCounter

NSEC = 1_000_000_000
# A frozen or virtual machine "booted" 1000 s before its first instant.
BOOT_AGO_NS = 1000 * NSEC
TICK_NS = NSEC // 250  # one jiffy at HZ=250: what the coarse clocks advance by
# Where file times start under a frozen or virtual clock (2020-01-01 00:00:00 UTC): a
# constant, so no file time tells the guest what its clock was set to.
FILES_EPOCH_NS = 1_577_836_800 * NSEC
# The modelled time of one instruction: one cycle at ~2 GHz with one instruction a cycle, in
# picoseconds (the costs of docs/kernel_facts.md §6 were measured on a 2.1 GHz machine).
INSN_PS = 500
VIRTUAL_TSC_HZ = NSEC

KINDS = ("real", "frozen", "virtual")
MAX_HOST_SLEEP_NS = (1 << 31) * NSEC  # 68 years: within every platform's time.sleep


class KnownCount:
    """The instruction count of a virtual clock kept by whoever drives the machine (the
    stepping session, which makes it exact where the time is read) instead of a hook."""

    def __init__(self):
        self.count = 0

    def executed(self, pc: int | None = None) -> int:
        return self.count


def _epoch(spec: str) -> int:
    kind, _, value = spec.partition(":")
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < 1 << 33:
        raise ValueError(f"bad --clock {spec!r}: expected {kind}:EPOCH, EPOCH in seconds "
                         "since 1970") from None
    return int(seconds * NSEC)


class Clock:
    def __init__(self, frozen_epoch_ns: int | None = None, *, virtual: bool = False,
                 epoch_ns: int | None = None):
        self.kind = "virtual" if virtual else "frozen" if frozen_epoch_ns is not None \
            else "real"
        self.frozen = self.kind == "frozen"
        self.virtual = self.kind == "virtual"
        self._frozen_now = frozen_epoch_ns or 0
        self._start_cpu = time.process_time_ns()
        self.on_change: list = []  # called when a frozen or virtual clock moves by itself
        # virtual: where the timeline starts, and what moved it beyond the instructions
        self.start_ns = (epoch_ns if epoch_ns is not None else time.time_ns()) \
            if virtual else 0
        self.charged_ns = 0  # crossings' modelled costs
        self.slept_ns = 0
        # the instructions executed so far (an InstructionCounter, or a KnownCount)
        self.counter: InstructionCounter | KnownCount | None = None

    @classmethod
    def parse(cls, spec: str) -> Clock:
        if spec in ("", "real"):
            return cls()
        if spec.startswith("frozen:"):
            return cls(_epoch(spec))
        if spec == "virtual":
            return cls(virtual=True)
        if spec.startswith("virtual:"):
            return cls(virtual=True, epoch_ns=_epoch(spec))
        raise ValueError(f"bad --clock {spec!r}: use 'real', 'virtual', 'virtual:EPOCH' or "
                         "'frozen:EPOCH'")

    def describe(self) -> str:
        """What the screen says about the clock in use."""
        if self.virtual:
            return "virtual clock"
        return "frozen clock" if self.frozen else "real clock"

    # -- the virtual timeline ---------------------------------------------------------------
    def elapsed_ns(self) -> int:
        """Virtual time since the timeline started: a function of the guest's progress."""
        insns = self.counter.executed() if self.counter is not None else 0
        return insns * INSN_PS // 1000 + self.charged_ns + self.slept_ns

    def tsc(self) -> int:
        """The virtual time-stamp counter (1 GHz, counting since the virtual boot)."""
        return BOOT_AGO_NS + self.elapsed_ns()

    def charge_ns(self, ns: float) -> None:
        """A crossing's modelled cost: the virtual clock moves by it (the others ignore it)."""
        if self.virtual:
            self.charged_ns += int(ns)
            for callback in self.on_change:
                callback()

    def state(self) -> tuple:
        """What the stepping session saves at each point of history, to restore it there."""
        count = self.counter.count if self.counter is not None else 0
        return (self._frozen_now, self.charged_ns, self.slept_ns, count,
                self.__dict__.get("_epoch0"))

    def restore(self, state: tuple) -> None:
        self._frozen_now, self.charged_ns, self.slept_ns, count, epoch0 = state
        if self.counter is not None:
            self.counter.count = count
        if epoch0 is not None:
            self.__dict__["_epoch0"] = epoch0

    # -- what the kernel reads -------------------------------------------------------------
    def realtime_ns(self) -> int:
        if self.virtual:
            return self.start_ns + self.elapsed_ns()
        return self._frozen_now if self.frozen else time.time_ns()

    def monotonic_ns(self) -> int:
        if self.virtual:
            return BOOT_AGO_NS + self.elapsed_ns()
        if self.frozen:
            return BOOT_AGO_NS + (self._frozen_now - self._frozen_epoch_start)
        return time.monotonic_ns()

    def coarse_ns(self, clock_id: int) -> int:
        """CLOCK_REALTIME_COARSE (5) or CLOCK_MONOTONIC_COARSE (6): the time at the last
        tick, as Linux's tick-updated timekeeper holds it, so never ahead of the precise
        clock read after it. Both move at the same monotonic tick."""
        if clock_id != 5:
            mono = self.monotonic_ns()
            return mono - (mono - BOOT_AGO_NS) % TICK_NS
        # The host's realtime and monotonic clocks are read one after the other, so their
        # difference jitters: realtime is read first (the coarse value stays at or below
        # any later precise reading) and never lets the coarse value go back.
        wall = self.realtime_ns()
        mono = self.monotonic_ns()
        coarse = wall - (mono - BOOT_AGO_NS) % TICK_NS
        last = self.__dict__.get("_last_coarse_wall", 0)
        if last <= wall:  # otherwise the clock was set back: follow it
            coarse = max(coarse, last)
        self.__dict__["_last_coarse_wall"] = coarse
        return coarse

    @property
    def _frozen_epoch_start(self) -> int:
        return self.__dict__.setdefault("_epoch0", self._frozen_now)

    def files_ns(self) -> int:
        """The time file systems stamp on inodes (the model's boot, a new or changed file).
        A real clock's own time, as Linux does. A frozen or virtual clock's epoch must not
        show in a file's times (`stat("/").st_mtime` would read a frozen clock without a
        time call): a fixed epoch of its own, moving with the guest's time since boot so
        files still order by when they changed."""
        if self.virtual or self.frozen:
            return FILES_EPOCH_NS + self.monotonic_ns() - BOOT_AGO_NS
        return time.time_ns()

    def boottime_ns(self) -> int:
        return self.monotonic_ns()

    def cputime_ns(self) -> int:
        if self.virtual:
            return self.elapsed_ns() - self.slept_ns  # a sleeping process uses no CPU
        if self.frozen:
            return self.monotonic_ns() - BOOT_AGO_NS
        return time.process_time_ns() - self._start_cpu

    def sleep_ns(self, ns: int) -> None:
        if ns <= 0:
            return
        if self.virtual:
            self.slept_ns += ns  # the guest's time moves; the host does not wait
        elif self.frozen:
            self._frozen_epoch_start  # noqa: B018  (pin the epoch before moving)
            self._frozen_now += ns
        else:
            # time.sleep refuses a length past its platform's limit (OverflowError): a
            # longer sleep lasts as long as the host's longest, i.e. until the run is ended.
            time.sleep(min(ns, MAX_HOST_SLEEP_NS) / 1e9)
            return
        for callback in self.on_change:
            callback()

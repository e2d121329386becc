"""The clocks the guest reads: the host's real clock, or a frozen one for reproducible runs
(`--clock frozen:EPOCH`), which only moves when the guest sleeps."""

from __future__ import annotations

import time


class Clock:
    def __init__(self, frozen_epoch_ns: int | None = None):
        self.frozen = frozen_epoch_ns is not None
        self._frozen_now = frozen_epoch_ns or 0
        self._boot_mono = time.monotonic_ns()
        self._start_cpu = time.process_time_ns()
        self.on_change: list = []  # called when a frozen clock moves

    @classmethod
    def parse(cls, spec: str) -> Clock:
        if spec in ("", "real"):
            return cls()
        if spec.startswith("frozen:"):
            value = spec[len("frozen:"):]
            try:
                seconds = float(value)
            except ValueError:
                raise ValueError(f"bad --clock {spec!r}: expected frozen:EPOCH_SECONDS") from None
            return cls(int(seconds * 1_000_000_000))
        raise ValueError(f"bad --clock {spec!r}: use 'real' or 'frozen:EPOCH'")

    def realtime_ns(self) -> int:
        return self._frozen_now if self.frozen else time.time_ns()

    def monotonic_ns(self) -> int:
        if self.frozen:
            # A frozen machine "booted" 1000 s before the frozen instant.
            return 1000 * 1_000_000_000 + (self._frozen_now - self._frozen_epoch_start)
        return time.monotonic_ns()

    @property
    def _frozen_epoch_start(self) -> int:
        return self.__dict__.setdefault("_epoch0", self._frozen_now)

    def boottime_ns(self) -> int:
        return self.monotonic_ns()

    def cputime_ns(self) -> int:
        if self.frozen:
            return self.monotonic_ns() - 1000 * 1_000_000_000
        return time.process_time_ns() - self._start_cpu

    def sleep_ns(self, ns: int) -> None:
        if ns <= 0:
            return
        if self.frozen:
            self._frozen_epoch_start  # noqa: B018  (pin the epoch before moving)
            self._frozen_now += ns
            for callback in self.on_change:
                callback()
        else:
            time.sleep(ns / 1e9)

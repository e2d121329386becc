"""The one place the kernel model blocks (kernel/sched/wait.c's role): a handler that must
wait for time to pass or for a host fd to become readable or writable waits here, and the
wait ends early for what ends a real task's sleep:

- the run's `--timeout` deadline: the run ends as a timeout during guest code does
  (RunLimit propagates out of the handler to System.run, which reports it);
- Ctrl-C: KeyboardInterrupt, as during guest code;
- a guest signal that can be delivered: the wait returns SIGNAL and the handler returns
  -EINTR (nanosleep with the time left in `rem`), as signal_pending() does in Linux.

Only a real clock's sleep and a host stream reach here: a frozen or virtual clock's sleep
moves the guest's time and returns at once (kernel_model.clock), and the stepping session's
streams are regular files, which never block.
"""

from __future__ import annotations

import os
import select
import time
import weakref
from typing import Callable

DONE, READY, SIGNAL = "done", "ready", "signal"
# select() takes a timeout in seconds as a C double and a struct timeval: a day at most per
# call keeps "sleep for 2^63 ns" a plain loop of waits, never an overflow.
_LONGEST_S = 86400.0


def ready_fds(readers, writers=(), timeout: float | None = None) -> tuple[set, set]:
    """The host fds among `readers` that are readable and among `writers` writable, waiting
    up to `timeout` seconds (None: until one is). poll(), not select(): select() refuses an
    fd numbered 1024 or more, which a long-lived process (a test run, a grader) reaches."""
    poller = select.poll()
    events: dict[int, int] = {}
    for fd in readers:
        events[fd] = events.get(fd, 0) | select.POLLIN
    for fd in writers:
        events[fd] = events.get(fd, 0) | select.POLLOUT
    for fd, mask in events.items():
        poller.register(fd, mask)
    ms = -1 if timeout is None else int(min(max(timeout, 0.0), _LONGEST_S) * 1000)
    done = poller.poll(ms)
    readable = {fd for fd, ev in done if ev & (select.POLLIN | select.POLLHUP | select.POLLERR)
                and fd in readers}
    writable = {fd for fd, ev in done if ev & (select.POLLOUT | select.POLLERR)
                and fd in writers}
    return readable, writable


class RunLimit(BaseException):
    """The run's deadline passed while a handler waited. A BaseException, like
    KeyboardInterrupt: it ends the run, it is no error of the handler, and no handler's
    `except Exception` may turn it into an errno."""

    def __init__(self, reason: str = "timeout"):
        super().__init__(reason)
        self.reason = reason


class Waiter:
    """What a blocked handler waits on. System.run arms it with the run's deadline; the
    timer thread (or anything that makes a signal pending from another thread) kicks it."""

    def __init__(self, signal_pending: Callable[[], bool] = lambda: False):
        self.signal_pending = signal_pending
        self.deadline: float | None = None  # host time.monotonic() when the run must end
        self.interrupted = False  # Ctrl-C, seen by the timer thread
        self._kick_r: int | None = None
        self._kick_w: int | None = None

    def _pipe(self) -> int:
        if self._kick_r is None:
            r, w = os.pipe()
            os.set_blocking(w, False)
            self._kick_r, self._kick_w = r, w
            weakref.finalize(self, _close, r, w)
        return self._kick_r

    def kick(self) -> None:
        """Wake a wait from another thread: it looks again at the deadline, Ctrl-C and the
        guest's pending signals."""
        if self._kick_w is not None:
            try:
                os.write(self._kick_w, b"\0")
            except BlockingIOError:
                pass  # already kicked and not yet seen

    def interrupt(self) -> None:
        self.interrupted = True
        self.kick()

    def _drain(self, kick: int) -> None:
        os.set_blocking(kick, False)
        try:
            while os.read(kick, 64):
                pass
        except BlockingIOError:
            pass

    def _check(self) -> None:
        if self.interrupted:
            raise KeyboardInterrupt
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise RunLimit("timeout")

    def wait(self, until: float | None = None, fd: int | None = None,
             write: bool = False) -> str:
        """Block until host time.monotonic() reaches `until` (None: no end of its own), or
        `fd` is readable (writable with `write`). Returns DONE, READY or SIGNAL; raises
        RunLimit at the run's deadline and KeyboardInterrupt on Ctrl-C."""
        kick = self._pipe()
        while True:
            self._check()
            if self.signal_pending():
                return SIGNAL
            now = time.monotonic()
            if until is not None and now >= until:
                return DONE
            ends = [t for t in (until, self.deadline) if t is not None]
            timeout = min([_LONGEST_S] + [t - now for t in ends])
            readers = [kick]
            writers: list[int] = []
            if fd is not None:
                (writers if write else readers).append(fd)
            try:
                r, w = ready_fds(readers, writers, timeout)
            except (OSError, ValueError):
                return READY  # a closed or odd fd: let the operation report its error
            if kick in r:
                self._drain(kick)
            if fd is not None and (fd in r or fd in w):
                self._check()
                return READY

    def sleep_until(self, until: float) -> str:
        return self.wait(until=until)


def _close(*fds: int) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def waiter_of(k) -> Waiter:
    """The kernel's waiter; a bare one for a stand-in kernel without one (unit tests),
    which only waits."""
    waiter = getattr(k, "waiter", None)
    return waiter if waiter is not None else Waiter()

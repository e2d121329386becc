"""The host thread beside the CPU during a run: the timer tick, the deadline, Ctrl-C."""

from __future__ import annotations

import os
import signal
import threading
import time

from kernel_model.proc.wait import ready_fds

TICK_US = 4000  # HZ=250: how often the timer thread refreshes the clock data user mode reads


class KernelTimer:
    """A host thread beside the CPU, for what a real kernel does asynchronously: the timer
    tick (the clock data user mode reads, written straight into host-backed pages while the
    CPU runs), the --timeout deadline, and Ctrl-C (the C-level signal handler writes to a
    wakeup fd even while the main thread is inside Unicorn, where Python code cannot run).

    It never stops the CPU to let it go on: Unicorn 2.1.4 re-executes part of a block
    interrupted from another thread (a `lock inc` loop counts too far). The deadline and
    Ctrl-C end the run, so there stopping is safe."""

    def __init__(self, system):
        self.system = system
        self.expired = False
        self.interrupted = False
        timeout = system.options.timeout
        self.deadline = time.monotonic() + timeout if timeout else None
        self._done = threading.Event()
        self._wake_r = self._wake_w = None
        self._old_wakeup = None

    def __enter__(self) -> KernelTimer:
        self.system.waiter.deadline = self.deadline
        self.system.waiter.interrupted = False
        if threading.current_thread() is threading.main_thread():
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_w, False)
            self._old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        # A virtual clock's page is refreshed at crossings, by the guest's own time: a host
        # timer would make its bytes depend on the host's speed.
        self.jobs = () if self.system.clock.virtual else self.system.tick_jobs
        if self.jobs or self.deadline is not None or self._wake_r is not None:
            self._thread: threading.Thread | None = threading.Thread(target=self._loop,
                                                                     daemon=True)
            self._thread.start()
        else:
            self._thread = None
        return self

    def __exit__(self, *exc) -> None:
        self.system.waiter.deadline = None
        self._done.set()
        if self._wake_w is not None:
            os.write(self._wake_w, b"\0")  # wake the thread's poll
        if self._thread is not None:
            self._thread.join()
        if self._wake_r is not None:
            signal.set_wakeup_fd(self._old_wakeup)
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _loop(self) -> None:
        tick = TICK_US / 1e6
        kernel = self.system.kernel
        while not self._done.is_set():
            wait = tick if self.deadline is None else max(0.0, min(
                tick, self.deadline - time.monotonic()))
            if self._wake_r is not None:
                ready, _ = ready_fds([self._wake_r], (), wait)
                if ready and not self._done.is_set():
                    data = os.read(self._wake_r, 64)
                    if any(b == signal.SIGINT for b in data):
                        self.interrupted = True
                        self.system.waiter.interrupt()  # a handler may be waiting
                        self._stop_until_done(kernel)
                        return
            else:
                self._done.wait(wait)
            if self._done.is_set():
                return
            for job in self.jobs:
                job()
            if self.deadline is not None and time.monotonic() >= self.deadline:
                self.expired = True
                self.system.waiter.kick()
                self._stop_until_done(kernel)
                return

    def _stop_until_done(self, kernel) -> None:
        """Stop whichever task's CPU runs, until the run loop has seen it: a stop that
        lands while the loop is between two tasks would be lost, so it is repeated each
        tick (the run ends here: no resume follows, see the class's docstring)."""
        while True:
            kernel.machine.stop()
            if self._done.wait(TICK_US / 1e6):
                return

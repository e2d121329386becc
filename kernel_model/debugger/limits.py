"""--timeout, --max-insns and Ctrl-C for a session driven without a screen (`run --record`).

The stepping engine ignores System.run's limits (it runs the CPU itself, and a person at the
screen stops a run with Esc), so a headless driver arms these instead. Each one interrupts
the session the way Esc does (DebugSession.interrupt: from another thread, since a free run
of `jmp $` never returns to Python), and `reason`/`text` then say which limit it was, in
System.run's words:

- the deadline and Ctrl-C are watched by a host thread (Ctrl-C through the signal wakeup
  fd: the C-level handler writes it even while the main thread is inside Unicorn, where no
  Python handler can run; KeyboardInterrupt is held back so the recording can be saved);
- the instruction budget counts the guest's own instructions with a block hook that is
  paused while the session replays history (re-running a stretch to count it for the
  virtual clock is the engine's work, not the guest's).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable

from kernel_model.proc.wait import ready_fds

if TYPE_CHECKING:
    from emu.counter import InstructionCounter

# What signal.signal returns and takes back: a function, SIG_DFL/SIG_IGN, or None (a
# handler not installed from Python).
SignalHandler = Callable[[int, FrameType | None], Any] | int | None


class SessionLimits:
    def __init__(self, session, *, timeout: float | None = None,
                 max_insns: int | None = None):
        self.session = session
        self.timeout = timeout
        self.max_insns = max_insns
        self.deadline = time.monotonic() + timeout if timeout else None
        self.reason: str | None = None  # "timeout", "max-insns", "interrupt"
        self.text = ""
        self.counter: InstructionCounter | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._old_wakeup = -1  # set_wakeup_fd's "none"
        self._old_handler: SignalHandler = None

    # -- arming ------------------------------------------------------------------------------
    def __enter__(self) -> SessionLimits:
        if self.max_insns is not None:
            from emu.counter import InstructionCounter

            s = self.session
            self.counter = InstructionCounter(
                s.machine, self.max_insns, on_exceeded=self._over_budget,
                paused=lambda: s._replaying)
            s.machine.flush_translations()  # blocks translated before the hook would skip it
        if threading.current_thread() is threading.main_thread():
            wake_r, wake_w = os.pipe()
            self._wake_r, self._wake_w = wake_r, wake_w
            os.set_blocking(wake_w, False)
            self._old_handler = signal.signal(signal.SIGINT, lambda *_: None)
            self._old_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        if self.deadline is not None or self._wake_r is not None:
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        if self._wake_w is not None:
            os.write(self._wake_w, b"\0")
        if self._thread is not None:
            self._thread.join()
        if self._wake_r is not None and self._wake_w is not None:
            signal.set_wakeup_fd(self._old_wakeup)
            signal.signal(signal.SIGINT, self._old_handler)
            os.close(self._wake_r)
            os.close(self._wake_w)
        if self.counter is not None:
            if self.reason == "max-insns":  # settled now: the instructions that ran
                self.text = f"stopped after {self.counter.count} instructions (--max-insns)"
            self.counter.remove()
            self.session.machine.flush_translations()

    # -- firing ------------------------------------------------------------------------------
    def _fire(self, reason: str, text: str) -> None:
        with self._lock:
            if self.reason is not None:
                return
            self.reason, self.text = reason, text
        s = self.session
        s._interrupt.set()  # what Esc sets: the command returns at its next check
        if not s._replaying:
            s.machine.stop()
        # As DebugSession.interrupt, stop again for as long as the command runs (it may be
        # between two runs), but never in the middle of the engine's own replay, which would
        # then miss the recorded point.
        threading.Thread(target=self._keep_stopping, daemon=True).start()

    def _keep_stopping(self) -> None:
        s = self.session
        while s._running and not self._done.is_set():
            if not s._replaying:
                s.machine.stop()
            time.sleep(0.01)

    def _over_budget(self) -> None:
        self._fire("max-insns", f"stopped after {self.max_insns} instructions (--max-insns)")

    def _watch(self) -> None:
        while not self._done.is_set():
            wait = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
            if self._wake_r is not None:
                ready, _ = ready_fds([self._wake_r], (), wait)
                if ready:
                    data = os.read(self._wake_r, 64)
                    if self._done.is_set():
                        return
                    if signal.SIGINT in data:
                        self._fire("interrupt", "interrupted")
                        return
            else:
                self._done.wait(wait)
            if self.deadline is not None and time.monotonic() >= self.deadline \
                    and not self._done.is_set():
                self._fire("timeout", f"stopped after {self.timeout:g} s (--timeout): the "
                                      "guest did not finish")
                return

    @property
    def stopped(self) -> bool:
        return self.reason is not None

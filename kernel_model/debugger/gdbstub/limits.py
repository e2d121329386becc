"""--max-insns and --timeout under gdb (`run --gdb`).

The stepping engine ignores System.run's limits; kernel_model.debugger.limits arms them for a
run nobody watches, with a wall-clock deadline. Under gdb the guest spends most of its time
stopped at a prompt, so here the time limit counts only the time the guest runs forward
(each c/s/vCont until its stop), and the instruction budget only what ran live (a replayed
stretch re-runs instructions that were already counted).

At a limit the running command stops as for gdb's interrupt, and gdb gets a SIGXCPU stop
(the signal Linux sends at RLIMIT_CPU's soft limit): the user can look at where the guest
was, and go back. Going forward again ends the run, as `run` ends it at the limit: gdb sees
the guest killed (SIGKILL, as at RLIMIT_CPU's hard limit), syscall-lab prints the limit's
line and exits with status 2, as `run --max-insns` does.
"""

from __future__ import annotations

import threading
import time

from kernel_model.debugger.gdbstub.commands import Resume

SIGXCPU = 24
SIGKILL = 9
FORWARD = ("cont", "step")


class GdbLimits:
    def __init__(self, stub, *, max_insns: int | None, timeout: float | None, log):
        self.stub = stub
        self.s = stub.s
        self.max_insns = max_insns
        self.timeout = timeout
        self.log = log
        self.used = 0.0  # seconds the guest has run forward
        self.reason: str | None = None  # "max-insns" or "timeout" once one is reached
        self.text = ""
        self._lock = threading.Lock()
        self._counters: dict[int, object] = {}  # id(machine) -> its InstructionCounter
        if max_insns is not None:
            self._count_every_cpu()
            # A fork or an exec makes a CPU: counted from its first instruction (the
            # kernel's events come before it runs).
            self.s.kernel.attach(lambda _event: self._count_every_cpu())

    @property
    def armed(self) -> bool:
        return self.max_insns is not None or self.timeout is not None

    # -- counting ----------------------------------------------------------------------------
    def _count_every_cpu(self) -> None:
        from emu.counter import InstructionCounter

        for process in list(self.s.kernel.processes):
            m = process.machine
            if id(m) not in self._counters:
                # One counter per CPU (each decodes its own memory); the budget is their
                # sum, one for every process of the run, as `run` counts it.
                self._counters[id(m)] = InstructionCounter(m, None, paused=self._paused)
                m.flush_translations()  # blocks translated before would skip the hook

    def count(self) -> int:
        return sum(c.count for c in self._counters.values())  # type: ignore[attr-defined]

    def _paused(self) -> bool:
        """Called at each block: a replay is not counted; past the budget, stop."""
        if self.s._replaying:
            return True
        if self.reason is None and self.max_insns is not None \
                and self.count() >= self.max_insns:
            self._fire("max-insns")
        return False

    # -- stopping ----------------------------------------------------------------------------
    def _fire(self, reason: str) -> None:
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
        s = self.s
        s._interrupt.set()  # what gdb's interrupt sets: the command returns at its next check
        if not s._replaying:
            s.machine.stop()
        threading.Thread(target=self._keep_stopping, daemon=True).start()

    def _keep_stopping(self) -> None:
        # As DebugSession.interrupt: the command may be between two runs when asked; never
        # in the middle of the engine's own replay, which would then miss its point.
        s = self.s
        for _ in range(500):
            if not s._running:
                return
            if not s._replaying:
                s.machine.stop()
            time.sleep(0.01)

    def _settle_text(self) -> None:
        if self.reason == "max-insns":
            self.text = f"stopped after {self.count()} instructions (--max-insns)"
        elif self.reason == "timeout":
            self.text = (f"stopped after {self.timeout:g} s of guest run time (--timeout): "
                         "the guest did not finish")

    # -- resuming ----------------------------------------------------------------------------
    def run_forward(self, fn):
        """Run one forward command under the limits."""
        timer = None
        if self.timeout is not None:
            left = max(0.0, self.timeout - self.used)
            timer = threading.Timer(left, self._fire, ("timeout",))
            timer.daemon = True
            timer.start()
        started = time.monotonic()
        try:
            return fn()
        finally:
            self.used += time.monotonic() - started
            if timer is not None:
                timer.cancel()
            if self.reason is not None:
                self._settle_text()

    def wrap(self, resume: Resume) -> Resume:
        if not self.armed or resume.what not in FORWARD:
            return resume  # going back runs nothing new

        def run():
            if self.reason is not None:
                return self._end()
            stop = self.run_forward(resume.run)
            if self.reason is None or getattr(stop, "reason", "") == "exited":
                return stop  # (a limit reached just as the run ended did not cut it)
            if self.s.system.process.exited:
                # gdb's process is gone; the limit cut its children: gdb hears of its exit
                self._say(f"{self.text}: the run ends (the other processes are killed)")
                return stop
            self._say(f"{self.text}: the guest is stopped here (SIGXCPU for gdb); going "
                      "back works, going on ends the run as `run` ends it")
            return self.stub.stop_reply_here(signal=SIGXCPU)

        return Resume(run, resume.what)

    def _end(self) -> bytes:
        self._say(f"{self.text}: the run ends (the guest is killed)")
        self.stub.over = True
        return b"X%02x" % SIGKILL

    def _say(self, text: str) -> None:
        self.log(text)
        self.stub.monitor.say(f"syscall-lab: {text}\n")  # on gdb's console too

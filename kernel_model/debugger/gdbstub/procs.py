"""Which process gdb debugs: the first one only (this round). gdb's multiprocess extensions
(fork-events, follow-fork-mode) are not offered, so gdb knows of one process; a child the
guest forks runs on its own, as with gdb's default `detach-on-fork on` and
`follow-fork-mode parent`.

The stepping engine stops wherever its rules say, in any process (a breakpoint's address
is in the child's copy of the code too, a caught syscall, a watched address, a context
switch a stepi goes through). A stop in another process is no stop for gdb: the command
goes on until the first process stops (or the run is over). Only an interrupt (gdb's ^C,
a run limit) is reported where it happened, with a line saying which process that is,
since going on could wait for ever.

The first fork is announced once, on gdb's console (an O packet) and on syscall-lab's
stderr.
"""

from __future__ import annotations

from kernel_model.debugger.gdbstub.commands import Resume
from kernel_model.trace.events import ProcessForked

FORWARD = ("cont", "step")
# Commands that bring the first process back, one transition (or switch) at a time.
MAX_HOPS = 100_000


class FirstProcessOnly:
    def __init__(self, stub, log):
        self.stub = stub
        self.s = stub.s
        self.pid = self.s.system.process.pid
        self.log = log
        self.announced = False
        self.s.kernel.attach(self._on_event)

    def _on_event(self, event) -> None:
        if isinstance(event, ProcessForked) and not event.thread and not self.announced:
            self.announced = True
            self._say(f"process {event.parent_pid} forked child {event.pid}: only the first "
                      "process is debugged; the child runs on its own (as any later one)")

    def _say(self, text: str) -> None:
        self.log(text)
        self.stub.monitor.say(f"syscall-lab: {text}\n")

    def current_pid(self) -> int:
        return self.s.kernel.process.pid

    def _elsewhere(self, stop) -> bool:
        """Whether `stop` is no stop for gdb: the run goes on, in another process, or the
        first process is about to give the CPU away (it blocked: as a native stepi over
        wait4, the step ends when the call returns), or it is gone while others still
        run (gdb hears of its exit once the run is over and every output is out)."""
        if isinstance(stop, bytes) or getattr(stop, "reason", "") in ("exited", "start"):
            return False
        if self.s.system.process.exited:
            return True
        if self.current_pid() != self.pid:
            return True
        up = self.s.upcoming()
        return up is not None and up[0] == "switch"

    # -- resuming ----------------------------------------------------------------------------
    def wrap(self, resume: Resume) -> Resume:
        forward = resume.what in FORWARD

        def run():
            stop = resume.run()
            hops = 0
            while self._elsewhere(stop) and hops < MAX_HOPS:
                if getattr(stop, "reason", "") in ("interrupted", "input"):
                    self._say(f"stopped in process {self.current_pid()}, which gdb does not "
                              f"debug (its registers are shown as process {self.pid}'s)")
                    return stop
                hops += 1
                stop = self._onwards(resume.what, forward)
            return stop

        return Resume(run, resume.what)

    def _onwards(self, what: str, forward: bool):
        """One more leg towards the first process: a continue goes on as a continue (its
        next stop may be the first process's); a step goes from transition to transition
        (a context switch is one) until the first process runs again."""
        s = self.s
        if what == "cont" or (forward and s.system.process.exited):
            return s.cont()
        if what == "rcont":
            return s.reverse_continue()
        if not forward:
            return s.reverse_to_transition() if s.upcoming() is None else s.reverse_step()
        up = s.upcoming()
        if up is not None and up[0] == "switch":
            return s.next()
        return s.run_to_transition() if up is None else self.stub.step_insn()

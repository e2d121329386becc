"""Which process gdb debugs: the first one only (this round). gdb's multiprocess extensions
(fork-events, follow-fork-mode) are not offered, so gdb knows of one process; a child the
guest forks runs on its own, as with gdb's default `detach-on-fork on` and
`follow-fork-mode parent`.

The stepping engine stops wherever its rules say, in any process (a breakpoint's address
is in the child's copy of the code too, a caught syscall, a watched address, a context
switch a stepi goes through). A stop in another process is no stop for gdb: the command
goes on until the first process stops, or exits (the others then run on, undebugged,
to their end: tui/gdb_run.py). Only an interrupt (gdb's ^C,
a run limit) is reported where it happened, with a line saying which process that is,
since going on could wait for ever.

The first fork is announced once, on gdb's console (an O packet) and on syscall-lab's
stderr.

An execve of the first process is reported as gdbserver reports it (with exec-events,
which gdb offers in qSupported): the running command stops right after the call, the stop
reply says `exec:HEXPATH;`, and gdb loads the new program's symbols and goes on (or stops,
with `catch exec`). The old image's breakpoints went with it: gdb inserts them again where
the new symbols put them.
"""

from __future__ import annotations

from kernel_model.debugger.gdbstub.commands import Resume
from kernel_model.trace.events import ProcessExited, ProcessForked, ProcessStarted

FORWARD = ("cont", "step")
# Stops in other processes a command goes past before it gives up (and says so).
MAX_HOPS = 100_000


class FirstProcessOnly:
    def __init__(self, stub, log):
        self.stub = stub
        self.s = stub.s
        self.pid = self.s.system.process.pid
        self.log = log
        self.announced = False
        self.exec_path: str | None = None  # the first process exec'd this file: not told yet
        self.s.kernel.attach(self._on_event)

    def _on_event(self, event) -> None:
        if isinstance(event, ProcessExited) and event.pid == self.pid:
            # gdb hears of its process's exit now, as natively; the others run on undebugged
            # (tui/gdb_run.py) and the command stops at its next check.
            self.s._interrupt.set()
        if isinstance(event, ProcessStarted) and event.pid == self.pid:
            self.exec_path = event.path
            # The command stops at its next check, right after the execve (no CPU stop:
            # the kernel is inside the call, which the session runs itself).
            self.s._interrupt.set()
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
        wait4, the step ends when the call returns). Its exit is a stop (the exit reply)
        even while others still run."""
        if isinstance(stop, bytes) or getattr(stop, "reason", "") in ("exited", "start"):
            return False
        if self.s.system.process.exited:
            return False
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
            while self.exec_path is None and self._elsewhere(stop) and hops < MAX_HOPS:
                if getattr(stop, "reason", "") in ("interrupted", "input"):
                    self._say(f"stopped in process {self.current_pid()}, which gdb does not "
                              f"debug (its registers are shown as process {self.pid}'s)")
                    return stop
                hops += 1
                stop = self._onwards(resume.what, forward)
            if hops >= MAX_HOPS and self._elsewhere(stop):
                self._say(f"gave up going on to process {self.pid}'s next stop after "
                          f"{MAX_HOPS} stops in other processes: stopped in process "
                          f"{self.current_pid()}")
            if self.exec_path is not None and forward:
                return self._exec_stop()
            return stop

        return Resume(run, resume.what)

    def _exec_stop(self) -> bytes:
        # The guest's path, as gdbserver gives it: gdb reads the file through vFile from
        # the guest's own tree (vfile.py), as it read the first program.
        path = self.s.system.process.guest_exe or self.exec_path or ""
        self.exec_path = None
        stub = self.stub
        for b in stub.bps.values():
            self.s.remove_breakpoint(b)
        stub.bps.clear()
        stub.exec_path = path  # qXfer:exec-file names the new program now
        return stub.stop_reply_here(reason=f"exec:{path.encode().hex()};")

    def _onwards(self, what: str, forward: bool):
        """One more leg towards the first process: a continue goes on as a continue (its
        next stop may be the first process's); a step goes from transition to transition
        (a context switch is one) until the first process runs again."""
        s = self.s
        if what == "cont":
            return s.cont()
        if what == "rcont":
            return s.reverse_continue()
        if not forward:
            return s.reverse_to_transition() if s.upcoming() is None else s.reverse_step()
        up = s.upcoming()
        if up is not None and up[0] == "switch":
            return s.next()
        return s.run_to_transition() if up is None else self.stub.step_insn()
